"""Several CatBoost models of one input predicted together, for a few rows.

A CatBoost member with its fold models is six :class:`FlatCatBoost` models; each computes its
row values (category hashes, each CTR's projection hash) and walks its trees on its own: on
credit_g (60 s fit), 0.6 ms of a 3.2 ms row. :class:`MergedCatBoost` computes the category
hashes once, each projection's hash once for every model that uses it (fold models mostly
share them), looks up each model's CTRs, and walks every model's trees in one pass; each
model's sum goes through its own link (a mean of probabilities, as ``Member.output`` takes it).
Every model is first checked against CatBoost as on its own (``catboost._flat_predict``): until
each was, the models predict one by one.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from labcoat.models._base import SMALL_INPUT
from labcoat.models._flat_catboost import FlatCatBoost, Projection, row_values
from labcoat.models._merged_boosters import Link, weighted_output

#: CatBoost's losses (:data:`labcoat.models._flat_catboost.LOSSES`) as links.
_LINKS: dict[str, Link] = {"Logloss": "logistic", "MultiClass": "softmax", "RMSE": "identity"}


class MergedCatBoost:
    """The weighted sum of several fitted CatBoost models' outputs for a few rows."""

    def __init__(self, estimators: list[Any], flats: list[FlatCatBoost], weights: list[float],
                 n_classes: int | None) -> None:
        first = flats[0]
        if any(not np.array_equal(f.float_columns, first.float_columns) or f.cat_columns != first.cat_columns
               for f in flats):
            raise ValueError("models of different inputs")
        self.flats, self.n_classes = flats, n_classes
        self.float_columns, self.cat_columns = first.float_columns, first.cat_columns
        self.n_inputs = 1 + max([*self.cat_columns, *self.float_columns.tolist()], default=-1)
        shared = len(self.float_columns) + len(self.cat_columns)  # row values every model reads alike
        # Each model's CTRs get their own columns after the shared values.
        ctr_start: list[int] = []
        projections: dict[str, Projection] = {}
        at = shared
        for flat in flats:
            ctr_start.append(at)
            for elements, ctrs in flat.projections:  # a CTR's column among the model's values
                uses = projections.setdefault(json.dumps(elements), (elements, []))[1]
                uses.extend((column - shared + at, table, default) for column, table, default in ctrs)
            at += flat.n_values - shared
        self.projections = list(projections.values())
        self.n_values = at
        groups: dict[tuple[Any, ...], list[int]] = {}
        for m, (estimator, flat) in enumerate(zip(estimators, flats)):
            seen = tuple(np.asarray(getattr(estimator, "classes_", ())).tolist())
            groups.setdefault((flat.loss, flat.dimension, seen), []).append(m)
        self.walks = [_Walk([flats[m] for m in group], [ctr_start[m] - shared for m in group], shared,
                            [weights[m] for m in group], estimators[group[0]]) for group in groups.values()]
        self.ready = False

    def __call__(self, X: Any) -> np.ndarray | None:
        if not self.ready:  # every model checked against CatBoost on its own first
            self.ready = all(f.checked for f in self.flats)
            if not self.ready:
                return None
        if not isinstance(X, np.ndarray) or X.ndim != 2 or not 0 < len(X) <= SMALL_INPUT \
                or X.shape[1] < self.n_inputs:
            return None
        try:
            values = self.values(X)
        except (TypeError, ValueError):  # values CatBoost converts itself (not strings, say)
            return None
        total: np.ndarray | None = None
        for walk in self.walks:
            out = walk.output(values, self.n_classes)
            total = out if total is None else total + out
        return total

    def values(self, X: np.ndarray) -> np.ndarray:
        """Each row's inputs to every model's splits: float32 numbers, category hashes, then
        each model's CTRs (each projection hashed once)."""
        return row_values(X, self.float_columns, self.cat_columns, self.projections, self.n_values)


class _Walk:
    """Models of one loss, output count and classes seen: their splits and trees end to end."""

    def __init__(self, flats: list[FlatCatBoost], ctr_shift: list[int], shared: int, weights: list[float],
                 estimator: Any) -> None:
        self.loss, self.dimension, self.estimator = flats[0].loss, flats[0].dimension, estimator
        # A model's split reading one of its CTRs reads that CTR's column among the merged values.
        self.split_column = np.concatenate([np.where(f.split_column >= shared, f.split_column + shift, f.split_column)
                                            for f, shift in zip(flats, ctr_shift)])
        self.split_border = np.concatenate([f.split_border for f in flats])
        self.split_equal = np.concatenate([f.split_equal for f in flats])
        self.split_nan = np.concatenate([f.split_nan for f in flats])
        padding = len(self.split_column)  # a bit that is always 0
        depth = max(f.tree_splits.shape[1] for f in flats)
        tree_splits, tree_offset, starts = [], [], []
        split_at = leaf_at = trees = 0
        for f in flats:
            own = f.tree_splits
            shifted = np.where(own == len(f.split_column), padding, own + split_at)
            tree_splits.append(np.pad(shifted, ((0, 0), (0, depth - own.shape[1])), constant_values=padding))
            tree_offset.append(f.tree_offset + leaf_at)
            starts.append(trees)
            split_at, leaf_at, trees = split_at + len(f.split_column), leaf_at + len(f.leaf_values), trees + len(own)
        if any(len(f.tree_offset) == 0 for f in flats):
            raise ValueError("a model without trees")
        self.tree_splits = np.concatenate(tree_splits)
        self.tree_offset = np.concatenate(tree_offset)
        self.starts = np.array(starts, dtype=np.intp)
        self.leaf_values = np.concatenate([f.leaf_values for f in flats])
        self.level_weight = (1 << np.arange(depth)).astype(np.intp)
        self.scale = np.array([f.scale for f in flats])[:, None]
        self.bias = np.stack([f.bias for f in flats])
        self.weights = np.asarray(weights, dtype=np.float64)

    def output(self, values: np.ndarray, n_classes: int | None) -> np.ndarray:
        x = values[:, self.split_column]
        bits = np.where(self.split_equal, x == self.split_border, x > self.split_border)
        if np.isnan(x).any():
            bits = np.where(np.isnan(x), self.split_nan, bits)
        bits = np.concatenate([bits, np.zeros((len(values), 1), dtype=bool)], axis=1)
        leaf = bits[:, self.tree_splits].astype(np.intp) @ self.level_weight  # (rows, trees)
        at = self.tree_offset + leaf * self.dimension
        leaves = self.leaf_values[at[:, :, None] + np.arange(self.dimension)]  # (rows, trees, dims)
        raw = self.scale * np.add.reduceat(leaves, self.starts, axis=1) + self.bias  # (rows, models, dims)
        return weighted_output(raw, _LINKS[self.loss], 1.0, self.weights, self.estimator, n_classes)
