"""Several boosters of one family on one input walked together, for a few rows.

A member with fold models is six boosters (``labcoat.train.fold_bag``), and a model often has
two or three members of one booster family: each booster walked on its own costs a few dozen
numpy calls (or one C call) per row, and within a real call, the other members' data having
evicted its own, ~0.05-0.1 ms (credit_g, 60 s fit: six XGBoost boosters 0.59 ms of a 3.2 ms
row). :class:`MergedBoosters` puts every booster's trees in one :class:`FlatTrees`, walks them
in one pass, and sums each booster's leaf values apart, so that each booster's margin goes
through its own link (a mean of probabilities, as :meth:`Member.output` averages them, not a
probability of the mean margin).

The boosters come as :class:`Additive` models (trees in margin space, a base margin, a link):
``_flat_lightgbm``, ``_flat_xgboost`` and ``hist_gb`` make them, each checked against its
library (LightGBM's and XGBoost's on rows made of their splits, histogram GB's by the tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from labcoat.models._base import SMALL_INPUT, align_classes
from labcoat.models._flat_trees import FlatTrees, Tree

Link = Literal["logistic", "softmax", "identity"]


@dataclass
class Additive:
    """A booster as a sum of trees: its output ``o`` is ``link(base[o] + the sum over its trees
    of output o of the leaf values)``."""

    #: The trees; each tree's ``value`` is ``(nodes, 1)``, its leaf values in margin space.
    trees: list[Tree]
    #: Per tree, the output (class) it adds to.
    output: np.ndarray
    #: ``(outputs,)``: the starting margin.
    base: np.ndarray
    link: Link
    #: The logistic link's slope (LightGBM's ``sigmoid``): ``1 / (1 + exp(-slope * margin))``.
    slope: float = 1.0

    @property
    def outputs(self) -> int:
        return len(self.base)


class MergedBoosters:
    """Boosters' weighted outputs for a few rows, one tree walk per kind of booster output
    (boosters of different links or classes seen, a fold that lacked a class, walk apart).

    ``inputs``: the library's own reading of the input values, applied first (XGBoost rounds
    them to float32).
    """

    def __init__(self, estimators: list[Any], models: list[Additive], weights: list[float], n_classes: int | None,
                 n_features: int, *,
                 inputs: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, (estimator, model) in enumerate(zip(estimators, models)):
            seen = tuple(np.asarray(getattr(estimator, "classes_", ())).tolist())
            groups.setdefault((model.link, model.outputs, model.slope, seen), []).append(i)
        self.walks = [Walk([estimators[i] for i in at], [models[i] for i in at], [weights[i] for i in at],
                            n_features) for at in groups.values()]
        self.n_classes, self.n_features = n_classes, n_features
        self.inputs = inputs

    def __call__(self, X: Any) -> np.ndarray | None:
        if not isinstance(X, np.ndarray) or X.ndim != 2 or not 0 < len(X) <= SMALL_INPUT \
                or X.shape[1] != self.n_features:
            return None
        X = np.asarray(X, dtype=np.float64)
        if self.inputs is not None:
            X = self.inputs(X)
        total: np.ndarray | None = None
        for walk in self.walks:
            out = walk.output(X, self.n_classes)
            total = out if total is None else total + out
        return total


def merge_boosters(estimators: list[Any], models: list[Additive | None], weights: list[float], n_classes: int | None,
                   widths: set[int], *,
                   inputs: Callable[[np.ndarray], np.ndarray] | None = None) -> MergedBoosters | None:
    """What a booster family's ``Family.merge`` gives: its estimators' trees (``models``, None for
    one its library must predict) walked together, or None where one is None, their inputs
    differ (``widths``: each one's number of input columns) or their trees cannot be merged."""
    known = [m for m in models if m is not None]
    if len(known) != len(models) or len(widths) != 1:
        return None
    try:
        return MergedBoosters(estimators, known, weights, n_classes, next(iter(widths)), inputs=inputs)
    except ValueError:
        return None


class Walk:
    """Boosters of one link, output count and classes seen, their trees in one walker."""

    def __init__(self, estimators: list[Any], models: list[Additive], weights: list[float], n_features: int) -> None:
        first = models[0]
        self.link, self.slope, self.outputs = first.link, first.slope, first.outputs
        self.estimator = estimators[0]  # for the classes it saw
        self.trees = FlatTrees([t for m in models for t in m.trees], n_features)
        # Each tree's (booster, output) column; the walker's trees sorted by it, so that one
        # reduceat sums each column's leaf values.
        column = np.concatenate([b * self.outputs + np.asarray(m.output, dtype=np.int64)
                                 for b, m in enumerate(models)])[self.trees.order]
        if len(np.unique(column)) != len(models) * self.outputs:
            raise ValueError("a booster without a tree for one of its outputs")
        self.by_column = np.argsort(column, kind="stable")
        self.starts = np.flatnonzero(np.diff(column[self.by_column], prepend=-1))
        self.leaf_value = self.trees.value[:, 0]
        self.base = np.stack([m.base for m in models])  # (boosters, outputs)
        self.weights = np.asarray(weights, dtype=np.float64)

    def margin(self, X: np.ndarray) -> np.ndarray:
        """Each booster's raw scores: ``(rows, boosters, outputs)``."""
        values = self.leaf_value[self.trees.leaves(X)][:, self.by_column]  # (rows, trees by column)
        margin = np.add.reduceat(values, self.starts, axis=1).reshape(len(X), len(self.weights), self.outputs)
        return margin + self.base

    def output(self, X: np.ndarray, n_classes: int | None) -> np.ndarray:
        return weighted_output(self.margin(X), self.link, self.slope, self.weights, self.estimator, n_classes)


def weighted_output(margin: np.ndarray, link: Link, slope: float, weights: np.ndarray, estimator: Any,
                    n_classes: int | None) -> np.ndarray:
    """The weighted sum over models of ``link(margin)``, margins ``(rows, models, outputs)``:
    values, or probabilities spread over all classes as ``estimator`` saw them."""
    if link == "identity":
        return np.einsum("m,rm->r", weights, margin[:, :, 0])
    if link == "logistic":
        positive = 1.0 / (1.0 + np.exp(-slope * margin[:, :, 0]))
        proba = np.stack([1.0 - positive, positive], axis=2)
    else:
        margin = margin - margin.max(axis=2, keepdims=True)
        proba = np.exp(margin)
        proba /= proba.sum(axis=2, keepdims=True)
    return align_classes(estimator, np.einsum("m,rmc->rc", weights, proba), n_classes)
