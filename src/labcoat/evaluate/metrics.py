"""Metrics, with one calling convention for every task.

Predictions are what the search keeps out of fold: for classification a probability matrix
of shape ``(n_rows, n_classes)`` (columns in the order of the encoded classes), for
regression a vector. Targets are encoded class indices (classification) or numbers.
A :class:`Metric` knows whether greater is better; the search minimises :meth:`Metric.loss`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn import metrics as skm

from labcoat.errors import ConfigError
from labcoat.evaluate import vectorised as vec

# The tasks (``labcoat.tasks`` names) each metric applies to: the one place that says so.
_CLASSIFICATION = frozenset({"binary", "multiclass"})
_REGRESSION = frozenset({"regression"})


@dataclass(frozen=True)
class Metric:
    """A named score over ``(y_true, predictions)``.

    Examples
    --------
    >>> m = get_metric("rmse", "regression")
    >>> m.score(np.array([1.0, 2.0]), np.array([1.0, 4.0])), m.greater_is_better
    (1.4142135623730951, False)
    """

    name: str
    greater_is_better: bool
    #: Names of the tasks it applies to.
    tasks: frozenset[str]
    function: Callable[[np.ndarray, np.ndarray, int], float]
    label: str
    #: The metric on many bootstrap draws at once, ``(y, predictions, counts) -> scores``
    #: (:mod:`labcoat.evaluate.vectorised`); None: scored draw by draw.
    bootstrap_fast: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = field(
        default=None, repr=False, compare=False)
    #: The loss of many candidate blends at once for ensemble selection, ``(y, stack) -> losses``,
    #: the blends' values as ``vector_input(y, predictions)`` gives them (the predictions when
    #: None); no ``vector_loss``: one metric call per blend.
    vector_loss: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = field(
        default=None, repr=False, compare=False)
    vector_input: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = field(
        default=None, repr=False, compare=False)
    #: The vectorised forms are written for two classes only.
    fast_binary_only: bool = field(default=False, repr=False, compare=False)

    def score(self, y_true: np.ndarray, predictions: np.ndarray) -> float:
        """The metric's value, in its natural direction."""
        n_classes = predictions.shape[1] if predictions.ndim == 2 else 0
        return float(self.function(np.asarray(y_true), np.asarray(predictions), n_classes))

    def loss(self, y_true: np.ndarray, predictions: np.ndarray) -> float:
        """The value to minimise: the score, negated when greater is better."""
        value = self.score(y_true, predictions)
        return -value if self.greater_is_better else value

    def to_loss(self, value: float) -> float:
        return -value if self.greater_is_better else value


def _labels(p: np.ndarray) -> np.ndarray:
    return p.argmax(axis=1)


def _roc_auc(y: np.ndarray, p: np.ndarray, k: int) -> float:
    if k == 2:
        return skm.roc_auc_score(y, p[:, 1])
    return skm.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=np.arange(k))


def _pr_auc(y: np.ndarray, p: np.ndarray, k: int) -> float:
    if k == 2:
        return skm.average_precision_score(y, p[:, 1])
    onehot = np.eye(k)[y]
    return skm.average_precision_score(onehot, p, average="macro")


def _log_loss(y: np.ndarray, p: np.ndarray, k: int) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    if p.ndim == 2:  # rows that sum to 1 in float32 only (XGBoost's softmax): scikit-learn warns
        p = p / p.sum(axis=1, keepdims=True)
    return skm.log_loss(y, p, labels=np.arange(k))


def _brier(y: np.ndarray, p: np.ndarray, k: int) -> float:
    return skm.brier_score_loss(y, p, labels=np.arange(k))


def _mape(y: np.ndarray, p: np.ndarray, k: int) -> float:
    return skm.mean_absolute_percentage_error(y, p)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", True, _CLASSIFICATION, _roc_auc, "ROC AUC",
               bootstrap_fast=vec.roc_auc_counts, vector_loss=vec.roc_auc_blends,
               vector_input=vec.positive_column, fast_binary_only=True),
        Metric("pr_auc", True, _CLASSIFICATION, _pr_auc, "PR AUC",
               bootstrap_fast=vec.pr_auc_counts, fast_binary_only=True),
        Metric("log_loss", False, _CLASSIFICATION, _log_loss, "log loss",
               bootstrap_fast=vec.log_loss_counts, vector_loss=vec.log_loss_blends,
               vector_input=vec.truth_column),
        Metric("brier", False, _CLASSIFICATION, _brier, "Brier score",
               bootstrap_fast=vec.brier_counts, fast_binary_only=True),
        Metric("accuracy", True, _CLASSIFICATION,
               lambda y, p, k: skm.accuracy_score(y, _labels(p)), "accuracy",
               bootstrap_fast=vec.accuracy_counts, vector_loss=vec.accuracy_blends),
        Metric("balanced_accuracy", True, _CLASSIFICATION,
               lambda y, p, k: skm.balanced_accuracy_score(y, _labels(p)), "balanced accuracy"),
        Metric("f1", True, _CLASSIFICATION,
               lambda y, p, k: skm.f1_score(y, _labels(p), average="binary" if k == 2 else "macro"),
               "F1"),
        Metric("f1_macro", True, _CLASSIFICATION,
               lambda y, p, k: skm.f1_score(y, _labels(p), average="macro"), "F1 (macro)"),
        Metric("f1_weighted", True, _CLASSIFICATION,
               lambda y, p, k: skm.f1_score(y, _labels(p), average="weighted"), "F1 (weighted)"),
        Metric("rmse", False, _REGRESSION,
               lambda y, p, k: float(np.sqrt(skm.mean_squared_error(y, p))), "RMSE",
               bootstrap_fast=vec.rmse_counts, vector_loss=vec.rmse_blends),
        Metric("mae", False, _REGRESSION, lambda y, p, k: skm.mean_absolute_error(y, p), "MAE",
               bootstrap_fast=vec.mae_counts, vector_loss=vec.mae_blends),
        Metric("r2", True, _REGRESSION, lambda y, p, k: skm.r2_score(y, p), "R²",
               bootstrap_fast=vec.r2_counts, vector_loss=vec.r2_blends),
        Metric("mape", False, _REGRESSION, _mape, "MAPE", bootstrap_fast=vec.mape_counts),
    ]
}
_ALIASES = {"auc": "roc_auc", "logloss": "log_loss", "acc": "accuracy", "mse": "rmse",
            "average_precision": "pr_auc", "f1_binary": "f1", "brier_score": "brier"}


def get_metric(name: str, task: str | None = None) -> Metric:
    """Look up a metric by name (or alias) and, given a task's name, check that it applies.

    Examples
    --------
    >>> get_metric("auc", "binary").name
    'roc_auc'
    """
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in METRICS:
        raise ConfigError(
            f"Unknown metric {name!r}. Choose one of: {', '.join(METRICS)}."
        )
    metric = METRICS[key]
    if task is not None and task not in metric.tasks:
        fitting = [m for m, v in METRICS.items() if task in v.tasks]
        raise ConfigError(
            f"Metric '{key}' does not apply to a {task} task. Use one of: {', '.join(fitting)}."
        )
    return metric
