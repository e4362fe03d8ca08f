"""Shared code of the random-forest and extra-trees families: grown in chunks of trees."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from labcoat.data.schema import Task
from labcoat.models._base import BuildContext, Family, FitOutcome, Params, past

N_TREES = 300
CHUNK = 50


class ForestFamily(Family):
    """Random forest or extra trees, depending on the classes given by the subclass."""

    style = "tree"
    classifier: ClassVar[str]
    regressor: ClassVar[str]

    def search_space(self, trial: Any, task: Task) -> Params:
        p = self.name + "."
        return {
            "max_features": trial.suggest_float(p + "max_features", 0.1, 1.0),
            "min_samples_leaf": trial.suggest_int(p + "min_samples_leaf", 1, 20, log=True),
        }

    def portfolio(self, task: Task) -> list[Params]:
        share = 0.5 if task is Task.REGRESSION else 0.3
        return [{"max_features": share, "min_samples_leaf": 1}]

    def build(self, params: Params, context: BuildContext) -> Any:
        import sklearn.ensemble as ensemble

        params = dict(params)
        trees = params.pop("n_estimators", N_TREES)
        name = self.regressor if context.task is Task.REGRESSION else self.classifier
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
