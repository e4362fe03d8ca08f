"""CatBoost gradient boosting, with its own categorical encoding and early stopping."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from labcoat.models._base import (EstimatorType, TABULAR_TASKS, SMALL_INPUT, BuildContext, Family, FitOutcome, Params,
                                  align_classes, past)
from labcoat.models._companions import Companions
from labcoat.models._flat_catboost import FlatCatBoost
from labcoat.models._merged_catboost import MergedCatBoost

if TYPE_CHECKING:
    import optuna

MAX_ROUNDS = 2000
PATIENCE = 50


class CatBoostFamily(Family):
    name = "catboost"
    bags_folds = True
    merge_kind = "catboost"
    tasks = TABULAR_TASKS
    style = "catboost"
    seconds_per_million_cells = 6.0
    seconds_per_fold = 0.4
    class_cost_exponent = 1.25

    def search_space(self, trial: optuna.Trial, kind: EstimatorType) -> Params:
        p = "catboost."
        return {
            "learning_rate": trial.suggest_float(p + "learning_rate", 0.02, 0.2, log=True),
            "depth": trial.suggest_int(p + "depth", 4, 9),
            "l2_leaf_reg": trial.suggest_float(p + "l2_leaf_reg", 1.0, 10.0, log=True),
            "random_strength": trial.suggest_float(p + "random_strength", 0.1, 5.0, log=True),
        }

    def portfolio(self, kind: EstimatorType) -> list[Params]:
        base = {"learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0, "random_strength": 1.0}
        return [base, {**base, "learning_rate": 0.05, "depth": 8, "l2_leaf_reg": 5.0}]

    def build(self, params: Params, context: BuildContext) -> Any:
        import catboost as cb

        params = dict(params)
        rounds = params.pop("iterations", MAX_ROUNDS)
        common = dict(iterations=rounds, random_seed=context.seed, thread_count=context.n_jobs,
                      verbose=False, allow_writing_files=False,
                      cat_features=list(range(context.native_categoricals)) or None, **params)
        if context.kind == "regressor":
            return cb.CatBoostRegressor(loss_function="RMSE", **common)
        loss = "Logloss" if context.n_classes == 2 else "MultiClass"
        return cb.CatBoostClassifier(loss_function=loss, **common)

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, valid: tuple[Any, np.ndarray] | None = None,
            deadline: float | None = None) -> FitOutcome:
        class StopAtDeadline:
            stopped = False

            def after_iteration(self, info: Any) -> bool:
                if past(deadline):
                    StopAtDeadline.stopped = True
                    return False
                return True

        kwargs: dict[str, Any] = {"callbacks": [StopAtDeadline()]}
        if valid is not None:
            kwargs.update(eval_set=valid, early_stopping_rounds=PATIENCE, use_best_model=True)
        _FLAT.forget(estimator)  # its trees change
        estimator.fit(X, y, **kwargs)
        best = estimator.get_best_iteration()
        rounds = (best + 1) if best is not None else estimator.tree_count_
        return FitOutcome(iterations=int(rounds), stopped=StopAtDeadline.stopped)

    def predict(self, estimator: Any, X: Any, kind: EstimatorType, *, n_classes: int | None = None,
                threads: int | None = None) -> np.ndarray:
        if isinstance(X, np.ndarray) and X.ndim == 2 and 0 < X.shape[0] <= SMALL_INPUT:
            out = _flat_predict(estimator, X, kind, threads)
            if out is not None:
                if kind == "classifier":
                    return align_classes(estimator, out, n_classes)
                return out
        return _native(estimator, X, kind, n_classes, threads)

    def refit_params(self, params: Params, iterations: int | None) -> Params:
        return {**params, "iterations": max(1, int(round((iterations or 100) * 1.1)))}

    def merge(self, estimators: list[Any], weights: list[float], kind: EstimatorType,
              n_classes: int | None) -> MergedCatBoost | None:
        flats = [_FLAT.get(e) for e in estimators]
        try:
            return MergedCatBoost(estimators, [f for f in flats if f is not None], weights, n_classes) \
                if all(f is not None for f in flats) else None
        except ValueError:
            return None


def _native(estimator: Any, X: Any, kind: EstimatorType, n_classes: int | None, threads: int | None) -> np.ndarray:
    """CatBoost's own predict_proba (spread over all classes) or predict."""
    out = _library_output(estimator, X, kind, threads)
    return align_classes(estimator, out, n_classes) if kind == "classifier" else out


def _library_output(estimator: Any, X: Any, kind: EstimatorType, threads: int | None) -> np.ndarray:
    # A fitted CatBoost model refuses set_params; it takes the thread count per call.
    kwargs = {"thread_count": threads} if threads is not None else {}
    if kind == "classifier":
        return np.asarray(estimator.predict_proba(X, **kwargs), dtype=np.float64)
    return np.asarray(estimator.predict(X, **kwargs), dtype=np.float64).ravel()


#: Flat models by fitted estimator (None: not convertible, or different from CatBoost's
#: answer on the first rows).
_FLAT: "Companions[FlatCatBoost]" = Companions(lambda estimator: FlatCatBoost(estimator),
                                               version=lambda estimator: (estimator.tree_count_,),
                                               failures=(KeyError, ValueError, TypeError, IndexError))


def _flat_predict(estimator: Any, X: np.ndarray, kind: EstimatorType, threads: int | None) -> np.ndarray | None:
    """The flat model's answer for a few rows (0.03-0.05 ms against CatBoost's 0.07-0.19 ms
    for one row of the benchmark sets), or None where CatBoost should answer."""
    flat = _FLAT.get(estimator)
    if flat is None:
        return None
    try:
        out = flat.predict(X)
    except (TypeError, ValueError):  # values CatBoost converts itself (not strings, say)
        return None
    if not flat.checked:  # the first rows: also CatBoost's, which must agree
        expected = _library_output(estimator, X, kind, threads)
        if out.shape != expected.shape or not np.allclose(out, expected, rtol=1e-9, atol=1e-12):
            _FLAT.reject(estimator)
            return expected
        flat.checked = True
    return out
