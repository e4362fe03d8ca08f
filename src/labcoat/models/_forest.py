"""Shared code of the random-forest and extra-trees families: grown in chunks of trees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from labcoat.models._base import (EstimatorType, TABULAR_TASKS, SMALL_INPUT, BuildContext, Family, FitOutcome, Params, align_classes,
                                  past)

if TYPE_CHECKING:
    import optuna

N_TREES = 300
CHUNK = 50
#: Bytes a forest may take in memory. A fully grown forest on 30,000 rows takes ~1 GB, which
#: set the peak memory of a whole study; leaves are capped so the forest fits in this
#: (measured on adult, 60 s study: peak RSS 1.05 GB uncapped, 645 MB at 128 MB, 573 MB at 64 MB).
FOREST_BYTES = 64 * 2**20


class ForestFamily(Family):
    """Random forest or extra trees, depending on the classes given by the subclass."""

    style = "tree"
    compact = False
    tasks = TABULAR_TASKS
    tree_shap = "always"
    float32_splits = True
    classifier: ClassVar[str]
    regressor: ClassVar[str]

    def search_space(self, trial: optuna.Trial, kind: EstimatorType) -> Params:
        p = self.name + "."
        return {
            "max_features": trial.suggest_float(p + "max_features", 0.1, 1.0),
            "min_samples_leaf": trial.suggest_int(p + "min_samples_leaf", 1, 20, log=True),
        }

    def portfolio(self, kind: EstimatorType) -> list[Params]:
        share = 0.5 if kind == "regressor" else 0.3
        return [{"max_features": share, "min_samples_leaf": 1}]

    def build(self, params: Params, context: BuildContext) -> Any:
        import sklearn.ensemble as ensemble

        params = dict(params)
        trees = params.pop("n_estimators", N_TREES)
        name = self.regressor if context.kind == "regressor" else self.classifier
        node_bytes = 64 + 8 * max(context.n_classes, 1)
        max_leaves = max(16, int(FOREST_BYTES / (trees * 2 * node_bytes)))
        if context.n_rows / params.get("min_samples_leaf", 1) > max_leaves:
            params.setdefault("max_leaf_nodes", max_leaves)
        model = getattr(ensemble, name)(n_estimators=min(CHUNK, trees), warm_start=True,
                                        random_state=context.seed, n_jobs=context.n_jobs, **params)
        model._labcoat_trees = trees
        return model

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, valid: tuple[Any, np.ndarray] | None = None,
            deadline: float | None = None) -> FitOutcome:
        total = estimator._labcoat_trees
        while True:
            estimator.fit(X, y)
            if estimator.n_estimators >= total:
                return FitOutcome(iterations=estimator.n_estimators)
            if past(deadline):
                return FitOutcome(iterations=estimator.n_estimators, stopped=True)
            estimator.set_params(n_estimators=min(total, estimator.n_estimators + CHUNK))

    def refit_params(self, params: Params, iterations: int | None) -> Params:
        return {**params, "n_estimators": iterations or N_TREES}

    def predict(self, estimator: Any, X: Any, kind: EstimatorType, *, n_classes: int | None = None,
                threads: int | None = None) -> np.ndarray:
        if X.shape[0] > SMALL_INPUT or not isinstance(X, np.ndarray):
            return super().predict(estimator, X, kind, n_classes=n_classes, threads=threads)
        # The forest compares float32 inputs (its validation casts them) and refuses infinity,
        # hence also numbers beyond float32's range (1e308 predicted here, raised there, before).
        rounded = X.astype(np.float32)
        if np.isinf(rounded).any():
            return super().predict(estimator, X, kind, n_classes=n_classes, threads=threads)
        flat = getattr(estimator, "_labcoat_flat", None)
        if flat is None:
            flat = estimator._labcoat_flat = FlatForest(estimator)
        out = flat.predict(rounded)
        if kind == "classifier":
            return align_classes(estimator, out, n_classes)
        return out[:, 0]


class FlatForest:
    """All trees of a fitted scikit-learn forest in flat arrays, walked level by level in numpy.

    scikit-learn predicts tree by tree with fixed costs per tree (~35 µs): 11 ms for one row
    through 300 trees. Walking all trees at once, every row and tree one level per step
    (leaves point to themselves), costs well under 1 ms, so labcoat uses this for small inputs.
    Results equal the forest's own (same splits, same leaf values, same NaN routing).
    """

    def __init__(self, forest: Any) -> None:
        trees = [est.tree_ for est in forest.estimators_]
        sizes = np.array([t.node_count for t in trees])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.roots = offsets
        left = np.concatenate([t.children_left for t in trees]).astype(np.int64)
        right = np.concatenate([t.children_right for t in trees]).astype(np.int64)
        shift = np.repeat(offsets, sizes)
        index = np.arange(len(left))
        leaf = left < 0
        self.left = np.where(leaf, index, left + shift)
        self.right = np.where(leaf, index, right + shift)
        self.feature = np.where(leaf, 0, np.concatenate([t.feature for t in trees])).astype(np.int64)
        self.threshold = np.where(leaf, np.inf, np.concatenate([t.threshold for t in trees]))
        missing = [getattr(t, "missing_go_to_left", None) for t in trees]
        known = [m for m in missing if m is not None]
        self.nan_left = (np.concatenate(known).astype(bool) if len(known) == len(missing)
                         else np.ones(len(index), dtype=bool)) | leaf
        self.depth = int(max(t.max_depth for t in trees))
        values = np.concatenate([t.value[:, 0, :] for t in trees])
        if hasattr(forest, "classes_"):
            values = values / np.maximum(values.sum(axis=1, keepdims=True), 1e-300)
        self.value = values

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Mean leaf value over trees: class probabilities, or the regression value in column 0."""
        X = np.asarray(X, dtype=np.float64)
        rows = np.arange(X.shape[0])[:, None]
        node = np.broadcast_to(self.roots, (X.shape[0], len(self.roots))).copy()
        for _ in range(self.depth):
            x = X[rows, self.feature[node]]
            go_left = np.where(np.isnan(x), self.nan_left[node], x <= self.threshold[node])
            node = np.where(go_left, self.left[node], self.right[node])
        return self.value[node].mean(axis=1)
