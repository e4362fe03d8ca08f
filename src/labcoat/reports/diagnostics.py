"""Diagnostics from targets and predictions, for the model report: ROC and precision-recall
curves, confusion matrix and calibration for a classifier; predicted against actual and the
errors for a regressor. Which kind applies is the task's (``Task.diagnostics``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from labcoat.reports._format import _num
from labcoat.tasks import get_task

if TYPE_CHECKING:
    from labcoat.data.schema import Schema

#: Classes drawn as separate ROC/PR curves (the most frequent ones).
MAX_CURVE_CLASSES = 8
MAX_CONFUSION_CLASSES = 20
#: Points in a scatter plot of predictions.
MAX_SCATTER_POINTS = 3_000


def diagnostics(y: Any, pred: Any, schema: Schema, threshold: float | None = None, *, source: str,
                words: str) -> dict[str, Any]:
    """Curves and tables from targets ``y`` and predictions ``pred`` (probabilities for a
    classifier, values for a regressor); rows with a missing prediction are left out.
    ``threshold`` is a binary classifier's decision threshold (None: the most probable class)."""
    y = np.asarray(y)
    pred = np.asarray(pred, dtype=float)
    finite = np.isfinite(pred.reshape(len(pred), -1)).all(axis=1) & np.isfinite(y.astype(float))
    y, pred = y[finite], pred[finite]
    out: dict[str, Any] = {"source": source, "words": words, "n": len(y), "task": schema.task}
    if len(y) == 0:
        return out
    out.update(_DIAGNOSTICS[get_task(schema.task).diagnostics](y, pred, schema, threshold))
    return out


def _classification(y: np.ndarray, p: np.ndarray, classes: list[str], threshold: float | None) -> dict[str, Any]:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import (average_precision_score, brier_score_loss, confusion_matrix,
                                 precision_recall_curve, roc_auc_score, roc_curve)

    k = p.shape[1] if p.ndim == 2 else 2
    if p.ndim == 1:
        p = np.column_stack([1 - p, p])
    classes = classes if len(classes) == k else [str(i) for i in range(k)]
    counts = np.bincount(y, minlength=k)
    shown = [1] if k == 2 else [int(i) for i in np.argsort(-counts)[:MAX_CURVE_CLASSES] if counts[i] > 0]
    roc, pr = [], []
    for i in shown:
        positive = y == i
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, p[:, i])
        precision, recall, _ = precision_recall_curve(positive, p[:, i])
        name = classes[i] if k > 2 else f"'{classes[1]}'"
        roc.append({"name": name, "fpr": fpr, "tpr": tpr, "auc": float(roc_auc_score(positive, p[:, i]))})
        pr.append({"name": name, "recall": recall[::-1], "precision": precision[::-1],
                   "ap": float(average_precision_score(positive, p[:, i])), "base": float(positive.mean())})
    threshold = threshold if k == 2 else None
    labels = (p[:, 1] >= threshold).astype(int) if threshold is not None else p.argmax(axis=1)
    out: dict[str, Any] = {"roc": roc, "pr": pr, "threshold": threshold,
                           "accuracy": float((labels == y).mean())}
    if k <= MAX_CONFUSION_CLASSES:
        out["confusion"] = {"matrix": confusion_matrix(y, labels, labels=list(range(k))), "labels": classes}
    if k == 2:
        truth, prob, name = y == 1, p[:, 1], f"P('{classes[1]}')"
        out["brier"] = float(brier_score_loss(truth, prob))
    else:
        truth, prob, name = labels == y, p.max(axis=1), "confidence in the predicted class"
    bins = min(10, max(2, len(y) // 40))
    if 0 < truth.sum() < len(truth):
        observed, predicted = calibration_curve(truth, prob, n_bins=bins, strategy="quantile")
        edges = np.unique(np.quantile(prob, np.linspace(0, 1, bins + 1)))
        count = np.histogram(prob, bins=edges)[0] if len(edges) > 1 else None
        out["reliability"] = [{"name": name, "predicted": predicted, "observed": observed,
                               "count": count if count is not None and len(count) == len(predicted) else None}]
    return out


def _regression(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    residual = y - pred
    keep = np.arange(len(y))
    if len(y) > MAX_SCATTER_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(len(y), MAX_SCATTER_POINTS, replace=False))
    total = float(((y - y.mean()) ** 2).sum())
    return {"actual": y[keep], "predicted": pred[keep], "residual": residual[keep], "all_residuals": residual,
            "sampled": len(keep) < len(y),
            "stats": {"RMSE": float(np.sqrt(np.mean(residual ** 2))), "MAE": float(np.mean(np.abs(residual))),
                      "median absolute error": float(np.median(np.abs(residual))),
                      "R²": 1 - float((residual ** 2).sum()) / total if total > 0 else None,
                      "mean error (bias)": float(residual.mean())}}


#: The diagnostics of each kind a task names (``Task.diagnostics``): targets, predictions,
#: schema and decision threshold in, the report's curves and tables out.
_DIAGNOSTICS: dict[str, Any] = {
    "classification": lambda y, pred, schema, threshold: _classification(
        y.astype(int), pred, [str(c) for c in schema.classes or []], threshold),
    "regression": lambda y, pred, schema, threshold: _regression(y.astype(float), pred.reshape(-1)),
}


def _threshold_value(value: Any) -> float | None:
    """A binary decision threshold from ``info.threshold`` (a number, or a dict holding one
    under ``threshold`` or ``value``)."""
    if isinstance(value, dict):
        value = value.get("threshold", value.get("value"))
    v = _num(value)
    return v if v is not None and 0 < v < 1 else None
