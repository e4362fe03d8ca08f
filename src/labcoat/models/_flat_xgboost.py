"""An XGBoost booster's trees as :class:`FlatTrees`, for a few rows.

XGBoost's own predictor costs ~0.6 µs a tree for one row (0.5 ms for 800 trees), plus ~0.05 ms
a call; walked together in numpy, the trees cost a few µs a level (a booster's trees are at most
``max_depth`` deep). The routing is XGBoost's: inputs as float32; a numeric node sends ``x``
left when ``x < split_condition`` (the walker's ``x <= t`` with ``t`` the float32 just below);
a missing ``x`` follows ``default_left``; a categorical node sends the categories of its set
right and every other code, invalid ones included, left. The margin is summed as XGBoost sums
it, in float32, tree after tree in the booster's order from the base score, so it is the
booster's to the bit; the probabilities are computed from it in float32 as XGBoost does, up to
its ``expf`` (a float32 rounding: ~1e-7 relative). Each walker is checked against the booster
on rows made from its own split values when it is built, and not used if they differ.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

from labcoat.models._flat_trees import FlatTrees, Tree
from labcoat.models._merged_boosters import Additive, Link

log = logging.getLogger(__name__)

#: Objectives whose output transformation :meth:`FlatXGBoost.predict` applies.
OBJECTIVES = ("binary:logistic", "multi:softprob", "reg:squarederror")
_LINKS: dict[str, Link] = {"binary:logistic": "logistic", "multi:softprob": "softmax", "reg:squarederror": "identity"}


class FlatXGBoost:
    """The trees of a fitted XGBClassifier or XGBRegressor (gbtree, objectives in
    :data:`OBJECTIVES`), up to its best iteration when early stopping set one."""

    def __init__(self, estimator: Any) -> None:
        booster = estimator.get_booster()
        learner = json.loads(booster.save_raw("json"))["learner"]
        self.objective = learner["objective"]["name"]
        if learner["gradient_booster"]["name"] != "gbtree" or self.objective not in OBJECTIVES:
            raise ValueError(f"not a gbtree booster of {OBJECTIVES}")
        model = learner["gradient_booster"]["model"]
        param = learner["learner_model_param"]
        if int(param.get("num_target", "1")) != 1:
            raise ValueError("several targets")
        groups = max(1, int(param["num_class"]))
        rounds = len(model["iteration_indptr"]) - 1
        best = getattr(estimator, "best_iteration", None)  # set by early stopping only
        if best is not None:
            rounds = min(rounds, int(best) + 1)
        used = model["trees"][:int(model["iteration_indptr"][rounds])]
        info = np.asarray(model["tree_info"][:len(used)], dtype=np.int64)
        if not np.array_equal(info, np.tile(np.arange(groups), len(used) // groups)):
            raise ValueError("trees not one per class per round")
        self.groups, self.rounds = groups, len(used) // groups
        self.n_features = int(param["num_feature"])
        self.base = _base_margin(param["base_score"], self.objective, groups)
        trees = [_tree(t) for t in used]
        self.trees = FlatTrees(trees, self.n_features)
        #: The same trees for :class:`MergedBoosters` (leaf values in float64 there).
        self.additive = Additive(trees=trees, output=info % groups, base=self.base.ravel().astype(np.float64),
                                 link=_LINKS[self.objective])
        values = np.concatenate([np.asarray(t["split_conditions"], dtype=np.float32) for t in used])
        self.leaf_value = values[self._sorted_nodes(used)]
        #: Where each tree of the booster's order sits in the walker's (deepest-first) order.
        self.position = np.argsort(self.trees.order)

    def _sorted_nodes(self, used: list[dict[str, Any]]) -> np.ndarray:
        """For each node of the walker (trees deepest first), its index in the booster's order."""
        sizes = np.array([len(t["left_children"]) for t in used], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return np.concatenate([np.arange(starts[i], starts[i] + sizes[i]) for i in self.trees.order])

    def margin(self, X: np.ndarray) -> np.ndarray:
        """The raw scores, float32: ``(rows, classes)``, one column for one output."""
        with np.errstate(over="ignore"):  # beyond float32's range: infinity, as XGBoost casts
            rounded = np.asarray(X, dtype=np.float64).astype(np.float32).astype(np.float64)
        leaves = self.trees.leaves(rounded)
        values = self.leaf_value[leaves][:, self.position]  # (rows, trees), booster's order
        values = values.reshape(len(X), self.rounds, self.groups)
        start = np.broadcast_to(self.base, (len(X), 1, self.groups))
        # Sequential float32 sums from the base score, tree after tree, as XGBoost adds them.
        return np.cumsum(np.concatenate([start, values], axis=1), axis=1, dtype=np.float32)[:, -1, :]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """What the booster's ``inplace_predict`` gives: float32 values (one output: 1-D)."""
        margin = self.margin(X)
        if self.objective == "binary:logistic":
            return (np.float32(1) / (np.float32(1) + np.exp(-margin[:, 0])))
        if self.objective == "multi:softprob":
            exp = np.exp(margin - margin.max(axis=1, keepdims=True))
            return exp / exp.sum(axis=1, keepdims=True)
        return margin[:, 0]

    def agrees(self, booster: Any, rounds: tuple[int, int], missing: float) -> bool:
        """Whether this walker gives the booster's answers on rows made of its split values
        (each split's value, the float32 values around it, missing values, categories)."""
        thresholds = [self._probe_values(j) for j in range(self.n_features)]
        rng = np.random.default_rng(0)
        rows = np.array([[rng.choice(values) for values in thresholds] for _ in range(48)])
        rows = np.vstack([rows, np.full((1, self.n_features), np.nan), np.zeros((1, self.n_features))])
        expected = np.asarray(booster.inplace_predict(rows, iteration_range=rounds, missing=missing,
                                                      validate_features=False))
        got = self.predict(rows)
        ok = got.shape == expected.shape and bool(np.allclose(got, expected, rtol=1e-5, atol=1e-6))
        if not ok:
            log.debug("flat XGBoost walker differs from the booster; the booster predicts")
        return ok

    def _probe_values(self, feature: int) -> np.ndarray:
        nodes = self.trees.node_feature == feature
        split = self.trees.node_threshold[nodes]
        split = split[np.isfinite(split)]
        up = np.nextafter(split.astype(np.float32), np.float32(np.inf)).astype(np.float64)
        categories = np.arange(max(2, self.trees.width)) if self.trees.any_categorical else np.zeros(0)
        return np.concatenate([split, up, [np.nan, 0.0, -1.0], categories])


def _tree(tree: dict[str, Any]) -> Tree:
    """One tree of the booster's JSON in the walker's layout."""
    left = np.asarray(tree["left_children"], dtype=np.int64)
    right = np.asarray(tree["right_children"], dtype=np.int64)
    condition = np.asarray(tree["split_conditions"], dtype=np.float32)
    # x < c for float32 x is x <= the float32 just below c.
    below = np.nextafter(condition, np.float32(-np.inf)).astype(np.float64)
    category, table, outside = None, None, None
    nodes = np.asarray(tree["categories_nodes"], dtype=np.int64)
    if len(nodes):
        cats = np.asarray(tree["categories"], dtype=np.int64)
        segments = np.asarray(tree["categories_segments"], dtype=np.int64)
        sizes = np.asarray(tree["categories_sizes"], dtype=np.int64)
        width = int(cats.max(initial=0)) + 1
        table = np.ones((len(nodes), width), dtype=bool)  # left unless in the node's set
        for row, (start, size) in enumerate(zip(segments, sizes)):
            table[row, cats[start:start + size]] = False
        category = np.full(len(left), -1, dtype=np.int64)
        category[nodes] = np.arange(len(nodes))
        outside = np.ones(len(nodes), dtype=bool)  # invalid and unknown codes: left
    return Tree(left=left, right=right, feature=np.asarray(tree["split_indices"], dtype=np.int64),
                threshold=below, nan_left=np.asarray(tree["default_left"], dtype=bool),
                value=condition.astype(np.float64)[:, None],  # the leaves' (FlatXGBoost sums float32)
                category=category, category_left=table,
                category_outside_left=outside)


def _base_margin(base_score: str, objective: str, groups: int) -> np.ndarray:
    """The booster's starting score per output, float32, in margin space."""
    values = np.array([float(v) for v in str(base_score).strip("[]").split(",")], dtype=np.float32)
    if objective == "binary:logistic":  # saved as a probability
        values = -np.log(np.float32(1) / values - np.float32(1))
    if len(values) == 1 and groups > 1:
        values = np.repeat(values, groups)
    if len(values) != groups:
        raise ValueError(f"base score {base_score!r} for {groups} outputs")
    return values.astype(np.float32).reshape(1, 1, groups)
