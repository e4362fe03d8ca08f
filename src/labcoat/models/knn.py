"""k-nearest neighbours on scaled features."""

from __future__ import annotations

from typing import Any

from labcoat.data.schema import Task
from labcoat.models._base import BuildContext, Family, Params


class KNNFamily(Family):
    name = "knn"
    style = "linear"
    compact = False

    def search_space(self, trial: Any, task: Task) -> Params:
        p = "knn."
        return {
            "n_neighbors": trial.suggest_int(p + "n_neighbors", 2, 100, log=True),
            "weights": trial.suggest_categorical(p + "weights", ["uniform", "distance"]),
        }

    def portfolio(self, task: Task) -> list[Params]:
        return [{"n_neighbors": 15, "weights": "distance"}]

    def build(self, params: Params, context: BuildContext) -> Any:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        cls = KNeighborsRegressor if context.task is Task.REGRESSION else KNeighborsClassifier
        return cls(n_jobs=context.n_jobs, **params)

    def cost(self, n_rows: int, n_columns: int, params: Params) -> float:
        # Fitting stores the data; predicting the validation fold compares every pair of rows.
        return 2e-9 * n_rows * n_rows * max(n_columns, 1) / 5 + 0.05
