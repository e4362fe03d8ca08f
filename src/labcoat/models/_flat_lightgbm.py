"""A LightGBM booster's trees as an :class:`Additive` model, to be walked with other boosters
(:class:`MergedBoosters`).

One booster predicts one row fastest through LightGBM's single-row C API (``lightgbm.py``,
~0.02 ms); a member with its fold models is six of them, and a model often has two LightGBM
members. Walked together in numpy their trees cost a few array operations per level.

The routing is LightGBM's (``Tree::NumericalDecision``, ``Tree::CategoricalDecision``): a
numeric node sends ``x`` left when ``x <= threshold``; a missing ``x`` goes where
``default_left`` says when the node's ``missing_type`` is NaN, and is read as 0 otherwise;
a categorical node sends the codes of its set left, and missing, negative and other codes
right (a code is truncated to an integer first). Values within 1e-35 of zero are read as zero,
as LightGBM's predictor reads them (:func:`lightgbm_inputs`). Nodes that treat zero as missing
(``zero_as_missing``, not set by labcoat) and objectives other than binary, multiclass and
the identity-link regressions are not converted: the C API predicts. The raw score is the
sum of leaf values (LightGBM starts from zero: the average is in the first tree). Each model
is compared with the booster's raw scores on rows made from its own splits when it is made,
and not used if they differ.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from labcoat.models._flat_trees import Tree
from labcoat.models._merged_boosters import Additive, Link, Walk

log = logging.getLogger(__name__)

#: LightGBM's ``kZeroThreshold``: its predictor reads magnitudes up to it as zero.
ZERO = float(np.float32(1e-35))  # a float in C++: 1.0000000180025095e-35
#: ``dump_model`` writes larger thresholds as this (LightGBM's ``AvoidInf``).
_CLAMP = 1e300
#: Objectives whose raw score is the prediction (identity link).
_IDENTITY = ("regression", "regression_l1", "huber", "fair", "quantile")


def lightgbm_additive(estimator: Any) -> Additive:
    """The fitted LGBMClassifier's or LGBMRegressor's trees up to the iteration ``predict``
    uses, checked against the booster; ValueError where they cannot be walked or disagree."""
    booster = estimator.booster_
    iteration = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
    dump = booster.dump_model(num_iteration=iteration)
    if dump.get("average_output"):
        raise ValueError("a random forest's average, not a sum")
    link, slope = _link(str(dump["objective"]))
    per_round = int(dump["num_tree_per_iteration"])
    trees = [_tree(info["tree_structure"]) for info in dump["tree_info"]]
    model = Additive(trees=trees, output=np.arange(len(trees)) % per_round, base=np.zeros(per_round),
                     link=link, slope=slope)
    n_features = int(dump["max_feature_idx"]) + 1
    rows = _probe_rows(trees, n_features)
    expected = np.asarray(booster.predict(rows, raw_score=True, num_iteration=iteration)).reshape(len(rows), -1)
    if not np.allclose(margin(model, rows), expected, rtol=1e-9, atol=1e-9):
        log.debug("flat LightGBM trees differ from the booster; the booster predicts")
        raise ValueError("the flat trees disagree with the booster")
    return model


def lightgbm_inputs(X: np.ndarray) -> np.ndarray:
    """Rows as LightGBM's predictor reads them: magnitudes up to :data:`ZERO` are zero."""
    return np.where(np.abs(X) <= ZERO, 0.0, X)


def margin(model: Additive, X: np.ndarray) -> np.ndarray:
    """The model's raw scores for rows ``X``: ``(rows, outputs)``."""
    return Walk([None], [model], [1.0], X.shape[1]).margin(lightgbm_inputs(X))[:, 0]


def _link(objective: str) -> tuple[Link, float]:
    """The link and logistic slope of LightGBM's objective (``"binary sigmoid:1"``, say)."""
    objective_name, *settings = objective.split()
    options = dict(s.split(":", 1) for s in settings if ":" in s)
    if objective_name == "binary":
        return "logistic", float(options.get("sigmoid", 1.0))
    if objective_name == "multiclass":
        return "softmax", 1.0
    if objective_name in _IDENTITY:
        return "identity", 1.0
    raise ValueError(f"objective {objective!r}")


def _tree(root: dict[str, Any]) -> Tree:
    """One tree of ``dump_model``'s JSON (nested nodes) in the walker's layout."""
    nodes = [root]
    for node in nodes:  # breadth first; the list grows as it is read
        if "left_child" in node:
            nodes += [node["left_child"], node["right_child"]]
    index = {id(node): i for i, node in enumerate(nodes)}
    n = len(nodes)
    left, right = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    feature, threshold = np.zeros(n, dtype=np.int64), np.zeros(n)
    nan_left, value = np.zeros(n, dtype=bool), np.zeros((n, 1))
    category = np.full(n, -1, dtype=np.int64)
    sets: list[list[int]] = []
    for i, node in enumerate(nodes):
        if "left_child" not in node:
            value[i, 0] = node["leaf_value"]
            continue
        left[i], right[i] = index[id(node["left_child"])], index[id(node["right_child"])]
        feature[i] = node["split_feature"]
        missing = node["missing_type"]
        if node["decision_type"] == "==":
            category[i] = len(sets)
            sets.append([int(c) for c in str(node["threshold"]).split("||")])
            # missing codes go right (nan_left stays False), whatever the node's missing_type
        elif node["decision_type"] == "<=" and missing in ("None", "NaN"):
            # the dump writes thresholds beyond +-1e300 (infinite ones, say) as +-1e300
            threshold[i] = _beyond(float(node["threshold"]))
            nan_left[i] = bool(node["default_left"]) if missing == "NaN" else 0.0 <= threshold[i]
        else:
            raise ValueError(f"a split {node['decision_type']!r} with missing values {missing!r}")
    table = None
    if sets:
        table = np.zeros((len(sets), max(max(s) for s in sets) + 1), dtype=bool)
        for row, codes in enumerate(sets):
            table[row, codes] = True
    return Tree(left=left, right=right, feature=feature, threshold=threshold, nan_left=nan_left, value=value,
                category=category if sets else None, category_left=table,
                category_outside_left=np.zeros(len(sets), dtype=bool) if sets else None)


def _beyond(threshold: float) -> float:
    """A threshold as the booster holds it: infinite where the dump clamped it to +-1e300."""
    return threshold if abs(threshold) < _CLAMP else float(np.copysign(np.inf, threshold))


def _probe_rows(trees: list[Tree], n_features: int) -> np.ndarray:
    """Rows made of each feature's split values, the doubles just above them, missing values,
    0, -1 and every category code a tree names."""
    splits: list[list[np.ndarray]] = [[np.array([np.nan, 0.0, -1.0])] for _ in range(n_features)]
    for tree in trees:
        inner = tree.left >= 0
        numeric = inner & (tree.category < 0) if tree.category is not None else inner
        for j in np.unique(tree.feature[numeric]):
            t = tree.threshold[numeric & (tree.feature == j)]
            splits[j] += [t, np.nextafter(t, np.inf)]
        if tree.category is not None and tree.category_left is not None:
            for j in np.unique(tree.feature[tree.category >= 0]):
                splits[j].append(np.arange(tree.category_left.shape[1] + 1, dtype=np.float64))
    rng = np.random.default_rng(0)
    columns = []
    for parts in splits:
        values = np.unique(np.concatenate(parts))  # NaN kept once
        columns.append(values[rng.integers(0, len(values), 64)])
    return np.vstack([np.column_stack(columns), np.full((1, n_features), np.nan), np.zeros((1, n_features))])
