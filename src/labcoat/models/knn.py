"""k-nearest neighbours on scaled features."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labcoat.models._base import EstimatorType, TABULAR_TASKS, BuildContext, Family, Params

if TYPE_CHECKING:
    import optuna


class KNNFamily(Family):
    name = "knn"
    tasks = TABULAR_TASKS
    #: Above this, pairwise comparisons would dominate the budget.
    max_rows = 30_000
    style = "linear"
    compact = False

    def search_space(self, trial: optuna.Trial, kind: EstimatorType) -> Params:
        p = "knn."
        return {
            "n_neighbors": trial.suggest_int(p + "n_neighbors", 2, 100, log=True),
            "weights": trial.suggest_categorical(p + "weights", ["uniform", "distance"]),
        }

    def portfolio(self, kind: EstimatorType) -> list[Params]:
        return [{"n_neighbors": 15, "weights": "distance"}]

    def build(self, params: Params, context: BuildContext) -> Any:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        cls = KNeighborsRegressor if context.kind == "regressor" else KNeighborsClassifier
        return cls(n_jobs=context.n_jobs, **params)

    def cost(self, n_rows: int, n_columns: int, params: Params, n_classes: int = 2) -> float:
        # Fitting stores the data; predicting the validation fold compares every pair of rows.
        return 2e-9 * n_rows * n_rows * max(n_columns, 1) / 5 + 0.05
