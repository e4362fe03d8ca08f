"""Shared code of the random-forest and extra-trees families: grown in chunks of trees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from labcoat.models._companions import Companions
from labcoat.models._flat_trees import FlatTrees, Tree
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
    merge_kind = "forest"  # random forests and extra trees alike
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
        rounded = _few_rounded(X)
        if rounded is None:
            return super().predict(estimator, X, kind, n_classes=n_classes, threads=threads)
        out = _flat(estimator).predict(rounded)
        if kind == "classifier":
            return align_classes(estimator, out, n_classes)
        return out[:, 0]

    def merge(self, estimators: list[Any], weights: list[float], kind: EstimatorType,
              n_classes: int | None) -> "MergedForests | None":
        try:
            return MergedForests(estimators, weights, kind, n_classes)
        except (AttributeError, ValueError, TypeError, IndexError):  # another layout
            return None


def _few_rounded(X: Any) -> np.ndarray | None:
    """A few rows as the forests compare them, float32, or None for the forests' own predict.

    The forest casts its input to float32 and refuses infinity, hence also numbers beyond
    float32's range (1e308 predicted here, raised there, before)."""
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[0] > SMALL_INPUT:
        return None
    with np.errstate(over="ignore"):
        rounded = X.astype(np.float32)
    return None if np.isinf(rounded).any() else rounded


class MergedForests:
    """Several forests of a model on the same input walked as one: their trees in one
    :class:`FlatTrees`, each tree's leaf values spread over all classes and scaled by its
    forest's weight over its number of trees, so that the sum over trees is the weighted sum
    of the forests' predictions (one walk instead of one per forest: credit_g's random forest
    and extra trees, 24 and 28 levels, take 28 steps)."""

    def __init__(self, forests: list[Any], weights: list[float], kind: EstimatorType,
                 n_classes: int | None) -> None:
        trees: list[Tree] = []
        width = forests[0].n_features_in_
        outputs = 1
        if kind == "classifier":  # columns, as align_classes spreads them
            outputs = n_classes or max(int(np.max(f.classes_)) + 1 for f in forests)
        for forest, weight in zip(forests, weights):
            if forest.n_features_in_ != width:
                raise ValueError("forests of different inputs")
            forest_trees = _trees(forest)
            seen = np.asarray(forest.classes_ if kind == "classifier" else [0], dtype=np.int64)
            for tree in forest_trees:
                value = np.zeros((len(tree.value), outputs))
                value[:, seen] = tree.value * (weight / len(forest_trees))
                tree.value = value
                trees.append(tree)
        self.trees = FlatTrees(trees, width)
        self.kind = kind

    def __call__(self, X: Any) -> np.ndarray | None:
        rounded = _few_rounded(X)
        if rounded is None or rounded.shape[1] != self.trees.n_features:
            return None
        out = self.trees.predict_sum(rounded)
        return out if self.kind == "classifier" else out[:, 0]


#: Flat forests by fitted forest (not kept on the forest: models saved before kept one in its
#: ``_labcoat_flat`` attribute, of the old layout, which is ignored).
_FLAT: Companions[FlatForest] = Companions(lambda forest: FlatForest(forest),
                                           version=lambda forest: (forest.estimators_, len(forest.estimators_)))


def _flat(forest: Any) -> "FlatForest":
    flat = _FLAT.get(forest)
    assert flat is not None  # building raises rather than giving None
    return flat


def _trees(forest: Any) -> list[Tree]:
    """A fitted forest's trees; a classifier's leaf values as class fractions."""
    trees = [est.tree_ for est in forest.estimators_]
    # scikit-learn < 1.4 has no missing_go_to_left (and refuses NaN): left, as before.
    known = all(getattr(t, "missing_go_to_left", None) is not None for t in trees)
    classifier = hasattr(forest, "classes_")
    flat = []
    for tree in trees:
        values = tree.value[:, 0, :]
        if classifier:
            values = values / np.maximum(values.sum(axis=1, keepdims=True), 1e-300)
        nan_left = tree.missing_go_to_left if known else np.ones(tree.node_count, dtype=bool)
        flat.append(Tree(left=tree.children_left, right=tree.children_right, feature=tree.feature,
                         threshold=tree.threshold, value=values, nan_left=np.asarray(nan_left)))
    return flat


class FlatForest:
    """All trees of a fitted scikit-learn forest as :class:`FlatTrees`, walked together.

    scikit-learn predicts tree by tree with fixed costs per tree (~35 µs): 11 ms for one row
    through 300 trees; walking all trees at once costs well under 1 ms, so labcoat uses this
    for small inputs. Results equal the forest's own (same splits, same leaf values, same NaN
    routing; the mean over trees summed in another order).
    """

    def __init__(self, forest: Any) -> None:
        self.trees = FlatTrees(_trees(forest), forest.n_features_in_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Mean leaf value over trees: class probabilities, or the regression value in column 0."""
        return self.trees.predict_sum(X) / self.trees.n_trees
