"""A multilayer perceptron in PyTorch with embeddings for categoricals (``labcoat[torch]``).

In the default search when PyTorch is installed (see ``benchmarks/RESULTS.md``, "AutoML",
run of 2026-12-07). The estimators are in :mod:`labcoat.models.torch_mlp`,
imported only when one is built, so that ``import labcoat`` never loads PyTorch.

Examples
--------
>>> from labcoat.models import FAMILIES
>>> family = FAMILIES["mlp"]
>>> family.style, family.extra, sorted(family.portfolio("classifier")[0])[:3]
('neural', 'torch', ['batch_size', 'depth', 'dropout'])
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import numpy as np

from labcoat.models._base import TABULAR_TASKS, BuildContext, EstimatorType, Family, FitOutcome, Merged, Params

if TYPE_CHECKING:
    import optuna

#: Epochs a fit takes, about (early stopping), for the cost estimate.
EXPECTED_EPOCHS = 30
#: The refit on all rows trains this many times the epochs early stopping chose.
REFIT_EPOCHS = 1.1


class MLPFamily(Family):
    name = "mlp"
    bags_folds = True
    merge_kind = "mlp"
    tasks = TABULAR_TASKS
    style = "neural"
    extra = "torch"

    def merge(self, estimators: list[Any], weights: list[float], kind: EstimatorType,
              n_classes: int | None) -> Merged | None:
        from labcoat.models.torch_mlp import MergedNetworks

        try:
            return MergedNetworks(estimators, weights, kind, n_classes)
        except (AttributeError, ValueError):  # not fitted, or networks of different inputs
            return None

    def missing_library(self) -> str | None:
        if importlib.util.find_spec("torch") is None:
            return "The mlp family needs PyTorch: pip install 'labcoat[torch]'."
        return None

    def search_space(self, trial: optuna.Trial, kind: EstimatorType) -> Params:
        p = "mlp."
        return {
            "width": trial.suggest_categorical(p + "width", [64, 128, 256, 512]),
            "depth": trial.suggest_int(p + "depth", 1, 4),
            "dropout": trial.suggest_float(p + "dropout", 0.0, 0.5),
            "learning_rate": trial.suggest_float(p + "learning_rate", 1e-4, 1e-2, log=True),
            "weight_decay": trial.suggest_float(p + "weight_decay", 1e-6, 1e-2, log=True),
            "batch_size": trial.suggest_categorical(p + "batch_size", [64, 128, 256, 512]),
            "embedding_dim": trial.suggest_categorical(p + "embedding_dim", [4, 8, 16, 32]),
        }

    def portfolio(self, kind: EstimatorType) -> list[Params]:
        base = {"width": 256, "depth": 2, "dropout": 0.1, "learning_rate": 2e-3,
                "weight_decay": 1e-5, "batch_size": 128, "embedding_dim": 16}
        return [
            base,
            {**base, "width": 512, "depth": 3, "dropout": 0.3, "learning_rate": 1e-3,
             "weight_decay": 1e-4, "batch_size": 256},
            {**base, "width": 128, "depth": 1, "dropout": 0.0, "learning_rate": 3e-3,
             "weight_decay": 1e-3, "embedding_dim": 8},
        ]

    def build(self, params: Params, context: BuildContext) -> Any:
        from labcoat.models.torch_mlp import MLPClassifier, MLPRegressor, warm_up

        warm_up()  # PyTorch's one-time start belongs to the build, which trials time apart
        cls = MLPRegressor if context.kind == "regressor" else MLPClassifier
        return cls(n_categoricals=context.native_categoricals, random_state=context.seed,
                   n_jobs=context.n_jobs, **params)

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, valid: tuple[Any, np.ndarray] | None = None,
            deadline: float | None = None) -> FitOutcome:
        X_valid, y_valid = valid if valid is not None else (None, None)
        estimator.fit(X, y, X_valid=X_valid, y_valid=y_valid, deadline=deadline)
        return FitOutcome(iterations=int(estimator.best_epoch_), stopped=bool(estimator.stopped_))

    def refit_params(self, params: Params, iterations: int | None) -> Params:
        if not iterations:
            return params
        return {**params, "epochs": max(1, int(round(iterations * REFIT_EPOCHS)))}

    def cost(self, n_rows: int, n_columns: int, params: Params, n_classes: int = 2) -> float:
        # Seconds per row and epoch: a fixed cost per row plus one per weight. Measured on 2
        # cores, the default configuration on 600-8,000 rows x 8-30 columns, 2-12 classes (a
        # process's first fit aside): a fold took 0.25-2.97 s, 0.7-1.9 times this estimate. With
        # 5 µs a row and 0.5 s a fold it estimated 1.66 s for a 0.80 s fold (2,400 x 16), which
        # put the MLP behind XGBoost, whose fold there took 2.65 s.
        width, depth = params.get("width", 256), params.get("depth", 2)
        weights = width * (n_columns + 16) + width * width * (depth - 1)
        epochs = params.get("epochs") or EXPECTED_EPOCHS
        return n_rows * epochs * (3.5e-6 + 1e-10 * weights) + 0.05
