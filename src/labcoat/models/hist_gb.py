"""scikit-learn's histogram gradient boosting, grown in chunks so a deadline can stop it."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from labcoat.models._companions import Companions
from labcoat.models._flat_trees import FlatTrees, Tree, bits_to_table
from labcoat.models._merged_boosters import Additive, Link, MergedBoosters, merge_boosters
from labcoat.models._base import (EstimatorType, TABULAR_TASKS, SMALL_INPUT, BuildContext, Family, FitOutcome, Params, align_classes,
                                  past)

if TYPE_CHECKING:
    import optuna

MAX_ROUNDS = 1000
CHUNK = 50


class HistGBFamily(Family):
    name = "hist_gb"
    bags_folds = True
    merge_kind = "hist_gb"
    tasks = TABULAR_TASKS
    style = "tree"
    seconds_per_million_cells = 2.5
    seconds_per_fold = 0.1
    class_cost_exponent = 0.6

    def search_space(self, trial: optuna.Trial, kind: EstimatorType) -> Params:
        p = "hist_gb."
        return {
            "learning_rate": trial.suggest_float(p + "learning_rate", 0.02, 0.3, log=True),
            "max_leaf_nodes": trial.suggest_int(p + "max_leaf_nodes", 7, 127, log=True),
            "min_samples_leaf": trial.suggest_int(p + "min_samples_leaf", 2, 100, log=True),
            "l2_regularization": trial.suggest_float(p + "l2_regularization", 1e-4, 10.0, log=True),
            "max_features": trial.suggest_float(p + "max_features", 0.3, 1.0),
        }

    def portfolio(self, kind: EstimatorType) -> list[Params]:
        return [{"learning_rate": 0.08, "max_leaf_nodes": 31, "min_samples_leaf": 20,
                 "l2_regularization": 1e-4, "max_features": 1.0}]

    def build(self, params: Params, context: BuildContext) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        params = dict(params)
        rounds = params.pop("max_iter", None)
        cls = HistGradientBoostingRegressor if context.kind == "regressor" else HistGradientBoostingClassifier
        model = cls(max_iter=CHUNK, early_stopping=rounds is None, validation_fraction=0.1,
                    n_iter_no_change=20, random_state=context.seed, warm_start=True, **params)
        model._labcoat_rounds = rounds or MAX_ROUNDS
        model._labcoat_categoricals = context.native_categoricals
        return model

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, valid: tuple[Any, np.ndarray] | None = None,
            deadline: float | None = None) -> FitOutcome:
        k = estimator._labcoat_categoricals
        if k:
            mask = np.zeros(X.shape[1], dtype=bool)
            mask[:k] = True
            estimator.set_params(categorical_features=mask)
        total = estimator._labcoat_rounds
        extra = {}
        if valid is not None and estimator.early_stopping:
            extra = {"X_val": valid[0], "y_val": valid[1]}
        stopped = False
        while True:
            estimator.set_params(max_iter=min(total, estimator.max_iter))
            estimator.fit(X, y, **extra)
            done = estimator.n_iter_ < estimator.max_iter or estimator.max_iter >= total
            if done:
                break
            if past(deadline):
                stopped = True
                break
            estimator.set_params(max_iter=estimator.max_iter + CHUNK)
        return FitOutcome(iterations=int(estimator.n_iter_), stopped=stopped)

    def refit_params(self, params: Params, iterations: int | None) -> Params:
        return {**params, "max_iter": max(1, int(round((iterations or 100) * 1.1)))}

    def predict(self, estimator: Any, X: Any, kind: EstimatorType, *, n_classes: int | None = None,
                threads: int | None = None) -> np.ndarray:
        flat = _flat(estimator) if isinstance(X, np.ndarray) and X.shape[0] <= SMALL_INPUT else None
        if flat is None:
            return super().predict(estimator, X, kind, n_classes=n_classes, threads=threads)
        raw = flat.raw_predict(X)
        if kind == "regressor":
            return np.asarray(estimator._loss.link.inverse(raw[:, 0]), dtype=np.float64)
        proba = estimator._loss.predict_proba(raw if raw.shape[1] > 1 else raw[:, 0])
        return align_classes(estimator, np.asarray(proba, dtype=np.float64), n_classes)

    def merge(self, estimators: list[Any], weights: list[float], kind: EstimatorType,
              n_classes: int | None) -> MergedBoosters | None:
        flats = [_flat(e) for e in estimators]
        first = flats[0]
        if first is None or not all(f is not None and f.same_inputs(first) for f in flats):
            return None  # categorical columns coded differently by some model's encoder
        return merge_boosters(estimators, [f.additive if f is not None else None for f in flats], weights, n_classes,
                              {first.trees.n_features}, inputs=first.inputs)


#: The estimator's flat walker; None where its layout is not the expected one.
_FLAT: "Companions[FlatHistGB]" = Companions(
    lambda estimator: FlatHistGB(estimator),
    version=lambda estimator: (getattr(estimator, "_predictors", None), len(getattr(estimator, "_predictors", None) or ())),
    failures=(AttributeError, KeyError, ValueError, TypeError, IndexError))  # another layout
_flat = _FLAT.get


#: scikit-learn's losses whose link :class:`MergedBoosters` applies.
_LINKS: dict[str, Link] = {"HalfBinomialLoss": "logistic", "HalfMultinomialLoss": "softmax",
                           "HalfSquaredError": "identity"}


class FlatHistGB:
    """All trees of a fitted histogram gradient boosting model as :class:`FlatTrees`.

    scikit-learn calls each tree's predictor separately at ~15 µs a tree: 2.5 ms for one row
    through 150 trees; walked together, a fraction of that. The routing is scikit-learn's
    (``_predict_one_from_raw_data``): NaN follows ``missing_go_to_left``; a categorical split
    sends a category left if its bit is set in the node's bitset, right if the category was
    seen in training, and treats negative and unseen categories as missing. Categorical inputs
    are first coded as scikit-learn's own encoder codes them (categorical columns first, each
    value its index among the sorted training categories, unseen -> NaN). Results equal the
    model's own (checked in ``tests/test_search_parts.py`` and ``tests/test_fastpath.py``).
    """

    def __init__(self, estimator: Any) -> None:
        self.order, self.categories = None, []
        if estimator._preprocessor is not None:
            (_, encoder, categorical), (_, _, numeric) = estimator._preprocessor.transformers_[:2]
            self.order = np.concatenate([np.flatnonzero(categorical), np.flatnonzero(numeric)])
            self.categories = [np.asarray(c, dtype=np.float64) for c in encoder.categories_]
        # Exact float equality, as the encoder matches values; NaN is never a category.
        self.codes = [{v: float(i) for i, v in enumerate(c.tolist()) if v == v} for c in self.categories]
        predictors = estimator._predictors
        self.rounds = len(predictors)
        per_iteration = len(predictors[0])
        known, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
        seen = bits_to_table(known) if len(known) else np.zeros((0, 256), dtype=bool)
        trees = []
        for i, predictor in enumerate(tree for iteration in predictors for tree in iteration):
            nodes = predictor.nodes
            leaf = nodes["is_leaf"].astype(bool)
            value = np.zeros((len(nodes), per_iteration))
            value[:, i % per_iteration] = nodes["value"]  # the raw column this tree adds to
            feature = nodes["feature_idx"].astype(np.int64)
            categorical = nodes["is_categorical"].astype(bool) & ~leaf
            nan_left = nodes["missing_go_to_left"].astype(bool)
            category, table = None, None
            if categorical.any():
                at = np.flatnonzero(categorical)
                category = np.full(len(nodes), -1, dtype=np.int64)
                category[at] = np.arange(len(at))
                in_left = bits_to_table(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][at]])
                known_here = seen[np.asarray(f_idx_map, dtype=np.int64)[feature[at]]]
                # Left if in the node's set; else right if seen in training; else as missing.
                table = in_left | (~known_here & nan_left[at, None])
            trees.append(Tree(left=np.where(leaf, -1, nodes["left"].astype(np.int64)),
                              right=np.where(leaf, -1, nodes["right"].astype(np.int64)),
                              feature=feature, threshold=nodes["num_threshold"], nan_left=nan_left,
                              value=value, category=category, category_left=table))
        self.trees = FlatTrees(trees, estimator.n_features_in_)
        self.baseline = np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(1, -1)
        #: The same trees for :class:`MergedBoosters`; None where the loss's link is not one it applies.
        self.additive: Additive | None = None
        link = _LINKS.get(type(estimator._loss).__name__)
        if link is not None:
            self.additive = Additive(
                trees=[replace(t, value=t.value.sum(axis=1, keepdims=True)) for t in trees],  # its one column
                output=np.arange(len(trees)) % per_iteration, base=self.baseline.ravel(), link=link)

    def inputs(self, X: np.ndarray) -> np.ndarray:
        """Rows as the trees read them: categorical columns first, coded as the model's encoder
        codes them."""
        X = np.asarray(X, dtype=np.float64)
        if self.order is not None:
            X = X[:, self.order]
            if self.codes:  # a category's code: its index among the training categories
                k, nan = len(self.codes), np.nan
                X[:, :k] = [[codes.get(v, nan) for codes, v in zip(self.codes, row)]
                            for row in X[:, :k].tolist()]
        return X

    def same_inputs(self, other: "FlatHistGB") -> bool:
        """Whether ``other``'s trees read rows as these do (the same columns, the same codes)."""
        if self.order is None or other.order is None:
            return self.order is other.order and self.trees.n_features == other.trees.n_features
        return np.array_equal(self.order, other.order) and len(self.categories) == len(other.categories) \
            and all(np.array_equal(a, b, equal_nan=True) for a, b in zip(self.categories, other.categories))

    def raw_predict(self, X: np.ndarray) -> np.ndarray:
        """Baseline plus the sum of leaf values: shape (rows, trees per iteration)."""
        return self.trees.predict_sum(self.inputs(X)) + self.baseline
