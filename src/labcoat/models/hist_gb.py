"""scikit-learn's histogram gradient boosting, grown in chunks so a deadline can stop it."""

from __future__ import annotations

from typing import Any

import numpy as np

from labcoat.data.schema import Task
from labcoat.models._base import BuildContext, Family, FitOutcome, Params, past

MAX_ROUNDS = 1000
CHUNK = 50


class HistGBFamily(Family):
    name = "hist_gb"
    style = "tree"
    seconds_per_million_cells = 2.5

    def search_space(self, trial: Any, task: Task) -> Params:
        p = "hist_gb."
        return {
            "learning_rate": trial.suggest_float(p + "learning_rate", 0.02, 0.3, log=True),
            "max_leaf_nodes": trial.suggest_int(p + "max_leaf_nodes", 7, 127, log=True),
            "min_samples_leaf": trial.suggest_int(p + "min_samples_leaf", 2, 100, log=True),
            "l2_regularization": trial.suggest_float(p + "l2_regularization", 1e-4, 10.0, log=True),
            "max_features": trial.suggest_float(p + "max_features", 0.3, 1.0),
        }

    def portfolio(self, task: Task) -> list[Params]:
        return [{"learning_rate": 0.08, "max_leaf_nodes": 31, "min_samples_leaf": 20,
                 "l2_regularization": 1e-4, "max_features": 1.0}]

    def build(self, params: Params, context: BuildContext) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        params = dict(params)
        rounds = params.pop("max_iter", None)
        cls = HistGradientBoostingRegressor if context.task is Task.REGRESSION else HistGradientBoostingClassifier
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
