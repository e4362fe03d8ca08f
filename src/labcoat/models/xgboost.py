"""XGBoost gradient boosting (histogram method), with native categoricals and early stopping."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from labcoat.models._companions import Companions
from labcoat.models._flat_xgboost import OBJECTIVES, FlatXGBoost
from labcoat.models._merged_boosters import MergedBoosters, merge_boosters
from labcoat.models._base import (EstimatorType, TABULAR_TASKS, SMALL_INPUT, BuildContext, Family, FitOutcome, Params,
                                  align_classes, past)

if TYPE_CHECKING:
    import optuna

MAX_ROUNDS = 3000
PATIENCE = 50


class XGBoostFamily(Family):
    name = "xgboost"
    bags_folds = True
    tasks = TABULAR_TASKS
    tree_shap = "single_output"
    float32_splits = True
    merge_kind = "xgboost"
    style = "tree"
    seconds_per_million_cells = 2.5
    seconds_per_fold = 0.1
    class_cost_exponent = 0.9

    def search_space(self, trial: optuna.Trial, kind: EstimatorType) -> Params:
        p = "xgboost."
        return {
            "learning_rate": trial.suggest_float(p + "learning_rate", 0.01, 0.2, log=True),
            "max_depth": trial.suggest_int(p + "max_depth", 3, 10),
            "min_child_weight": trial.suggest_float(p + "min_child_weight", 0.5, 20.0, log=True),
            "subsample": trial.suggest_float(p + "subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float(p + "colsample_bytree", 0.3, 1.0),
            "reg_lambda": trial.suggest_float(p + "reg_lambda", 1e-3, 10.0, log=True),
        }

    def portfolio(self, kind: EstimatorType) -> list[Params]:
        base = {"learning_rate": 0.05, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0,
                "colsample_bytree": 1.0, "reg_lambda": 1.0}
        return [base, {**base, "learning_rate": 0.03, "max_depth": 8, "colsample_bytree": 0.7,
                       "subsample": 0.8}]

    def build(self, params: Params, context: BuildContext) -> Any:
        import xgboost as xgb

        params = dict(params)
        rounds = params.pop("n_estimators", MAX_ROUNDS)
        cls = xgb.XGBRegressor if context.kind == "regressor" else xgb.XGBClassifier
        k = context.native_categoricals
        model = cls(n_estimators=rounds, tree_method="hist", random_state=context.seed,
                    n_jobs=context.n_jobs, enable_categorical=bool(k), max_cat_to_onehot=8,
                    verbosity=0, **params)
        model._labcoat_categoricals = k
        return model

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, valid: tuple[Any, np.ndarray] | None = None,
            deadline: float | None = None) -> FitOutcome:
        import xgboost as xgb

        class StopAtDeadline(xgb.callback.TrainingCallback):
            stopped = False

            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                if past(deadline):
                    StopAtDeadline.stopped = True
                    return True
                return False

        callbacks: list[Any] = [StopAtDeadline()]
        kwargs: dict[str, Any] = {"verbose": False}
        if valid is not None:
            kwargs["eval_set"] = [valid]
            callbacks.append(xgb.callback.EarlyStopping(rounds=PATIENCE, save_best=False))
        estimator.set_params(callbacks=callbacks, feature_types=self._feature_types(estimator, X))
        estimator.fit(X, y, **kwargs)
        estimator.set_params(callbacks=None)
        best = getattr(estimator, "best_iteration", None)
        rounds = (best + 1) if best is not None else estimator.get_booster().num_boosted_rounds()
        return FitOutcome(iterations=int(rounds), stopped=StopAtDeadline.stopped)

    @staticmethod
    def _feature_types(estimator: Any, X: Any) -> list[str] | None:
        if not estimator.get_params()["enable_categorical"]:
            return None
        k = getattr(estimator, "_labcoat_categoricals", None)
        return None if k is None else ["c"] * k + ["q"] * (X.shape[1] - k)

    def refit_params(self, params: Params, iterations: int | None) -> Params:
        return {**params, "n_estimators": max(1, int(round((iterations or 100) * 1.1)))}

    def predict(self, estimator: Any, X: Any, kind: EstimatorType, *, n_classes: int | None = None,
                threads: int | None = None) -> np.ndarray:
        if not isinstance(X, np.ndarray) or X.shape[0] > SMALL_INPUT \
                or getattr(estimator, "objective", None) not in OBJECTIVES:
            return super().predict(estimator, X, kind, n_classes=n_classes, threads=threads)
        if threads is not None and estimator.n_jobs != threads:
            estimator.set_params(n_jobs=threads)  # also sets the booster's nthread
        flat = _flat(estimator)
        if flat is not None and X.shape[1] == flat.n_features:
            out = flat.predict(X)
        else:  # the wrapper's predict without its per-call work (~0.1 ms): the same call
            out = estimator.get_booster().inplace_predict(X, iteration_range=_rounds(estimator),
                                                          missing=estimator.missing, validate_features=False)
        if kind == "regressor":
            return np.asarray(out, dtype=np.float64).ravel()
        if out.ndim == 1:  # binary: the positive class, as predict_proba spreads it
            out = np.vstack((1.0 - out, out)).transpose()
        return align_classes(estimator, np.asarray(out, dtype=np.float64), n_classes)

    def merge(self, estimators: list[Any], weights: list[float], kind: EstimatorType,
              n_classes: int | None) -> MergedBoosters | None:
        walkers = [_flat(e) if getattr(e, "objective", None) in OBJECTIVES else None for e in estimators]
        return merge_boosters(estimators, [w.additive if w is not None else None for w in walkers], weights, n_classes,
                              {e.n_features_in_ for e in estimators}, inputs=_float32)


def _float32(X: np.ndarray) -> np.ndarray:
    """Rows as XGBoost compares them: float32 (beyond its range: infinity, as XGBoost casts)."""
    with np.errstate(over="ignore"):
        return X.astype(np.float32).astype(np.float64)


def _rounds(estimator: Any) -> tuple[int, int]:
    """The wrapper's iteration range: up to the best iteration when early stopping set one."""
    best = getattr(estimator, "best_iteration", None)
    return (0, best + 1) if best is not None else (0, 0)


def _walker(estimator: Any) -> FlatXGBoost | None:
    """The estimator's trees as a flat walker, if it agrees with the booster."""
    flat = FlatXGBoost(estimator)
    return flat if flat.agrees(estimator.get_booster(), _rounds(estimator), estimator.missing) else None


#: Flat walkers by fitted estimator (None: not walkable, the booster predicts).
_FLAT: "Companions[FlatXGBoost]" = Companions(_walker, version=lambda estimator: (estimator.get_booster(),),
                                              failures=(KeyError, ValueError, TypeError, IndexError))
_flat = _FLAT.get
