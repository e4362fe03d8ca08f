"""Linear models: logistic regression for classes, ridge or elastic net for numbers."""

from __future__ import annotations

from typing import Any

from labcoat.data.schema import Task
from labcoat.models._base import BuildContext, Family, Params


class LinearFamily(Family):
    name = "linear"
    style = "linear"
    seconds_per_million_cells = 0.5

    def search_space(self, trial: Any, task: Task) -> Params:
        p = "linear."
        if task is Task.REGRESSION:
            return {
                "alpha": trial.suggest_float(p + "alpha", 1e-4, 100.0, log=True),
                "l1_ratio": trial.suggest_float(p + "l1_ratio", 0.0, 1.0),
            }
        return {"C": trial.suggest_float(p + "C", 1e-3, 100.0, log=True)}

    def portfolio(self, task: Task) -> list[Params]:
        if task is Task.REGRESSION:
            return [{"alpha": 1.0, "l1_ratio": 0.0}]
        return [{"C": 1.0}]

    def build(self, params: Params, context: BuildContext) -> Any:
        from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge

        if context.task is Task.REGRESSION:
            if params.get("l1_ratio", 0.0) < 0.05:
                return Ridge(alpha=params["alpha"], random_state=context.seed)
            # ElasticNet's alpha scales the loss per sample, Ridge's does not: rescale to keep
            # the search space's meaning comparable across the two.
            return ElasticNet(alpha=params["alpha"] / 100, l1_ratio=params["l1_ratio"],
                              max_iter=5000, random_state=context.seed, selection="cyclic")
        return LogisticRegression(C=params["C"], max_iter=2000, random_state=context.seed)
