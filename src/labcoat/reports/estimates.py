"""The model's performance estimates for the report: its metric in words, and each score with a
95% interval and where it comes from (cross-validated search, corrected for selection, held-out
test rows, and the data given to the report, scored here with a bootstrap interval)."""
from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any

import pandas as pd

from labcoat.model_info import ModelInfo
from labcoat.reports._format import _num

if TYPE_CHECKING:
    from labcoat.data.io import DataSource
    from labcoat.model import Model

METRIC_WORDS = {
    "roc_auc": "the chance that the model ranks a random positive case above a random negative one: "
               "0.5 is a coin toss, 1 is perfect",
    "pr_auc": "how precise the model's alerts are across all levels of recall: guessing scores the "
              "share of positive cases, 1 is perfect",
    "log_loss": "how little probability the model gives to the true class: 0 is perfect, lower is better",
    "accuracy": "the share of rows classified correctly",
    "balanced_accuracy": "the share classified correctly, averaged over the classes so that rare "
                         "classes count as much as common ones",
    "f1": "the balance of precision (alerts that are right) and recall (cases caught), 0 to 1",
    "f1_macro": "the balance of precision and recall averaged over classes, 0 to 1",
    "f1_weighted": "the balance of precision and recall averaged over classes by their size, 0 to 1",
    "rmse": "the typical size of an error, in the units of the target (large errors count more); lower "
            "is better",
    "mae": "the average size of an error, in the units of the target; lower is better",
    "r2": "the share of the target's variation the model explains: 0 is no better than always "
          "predicting the average, 1 is perfect",
    "mape": "the average error as a share of the true value; lower is better",
}


def _metric(model: Model, info: ModelInfo) -> dict[str, Any]:
    from labcoat.evaluate.metrics import get_metric

    name = str(info.metric)
    try:
        found = get_metric(name, model.task.name)
        label, greater = found.label, found.greater_is_better
    except Exception:  # an unknown or missing metric name still gets a report
        label, greater = name or "score", bool(info.greater_is_better)
    return {"name": name, "label": label, "greater_is_better": greater, "words": METRIC_WORDS.get(name, "")}


def estimates(model: Model, info: ModelInfo, metric: dict[str, Any]) -> list[dict[str, Any]]:
    """The model's score, each with its 95% interval and where it comes from."""
    out = []
    score = _num(info.ensemble_score)
    if score is not None:
        low, high = _search_interval(model, info)
        std = _num(info.ensemble_score_std)
        spread = f"; ± {std:.3g} across folds" if std is not None else ""
        out.append({"key": "search", "label": "Cross-validated (search)", "score": score, "low": low,
                    "high": high, "note": f"{info.resampling or 'resampling'}{spread}",
                    "words": "on rows held out from each fit, during the search"})
    selection = info.selection
    if isinstance(selection, dict) and _num(selection.get("corrected_score")) is not None:
        gap = _num(selection.get("gap"))
        optimism = f"; search optimism {gap:+.3g}" if gap is not None else ""
        out.append({"key": "selection", "label": "Corrected for selection",
                    "score": _num(selection["corrected_score"]),
                    "low": _num(selection.get("low")), "high": _num(selection.get("high")),
                    "note": f"{selection.get('method') or ''}{optimism}",
                    "words": "the search keeps what looked best, which flatters it; "
                             "this estimate removes that luck"})
    test = info.test
    if isinstance(test, dict) and _num(test.get("score")) is not None:
        rows = _num(test.get("rows"))
        note = [f"{int(rows):,} rows" if rows else "", str(test.get("source") or "")]
        out.append({"key": "test", "label": "On held-out test rows", "score": _num(test["score"]),
                    "low": _num(test.get("low")), "high": _num(test.get("high")),
                    "note": ", ".join(x for x in note if x),
                    "words": "rows set aside before the search and never used to choose or fit the model"})
    return out


def _search_interval(model: Model, info: ModelInfo) -> tuple[float | None, float | None]:
    """The ensemble's 95% interval: the corrected resampled t interval from its spread over
    folds (as the leaderboard's intervals are)."""
    std, score = _num(info.ensemble_score_std), _num(info.ensemble_score)
    sizes = info.fold_rows
    board = getattr(model, "leaderboard", None)
    if std is None or score is None or not sizes or len(sizes) != 2 or board is None or board.empty:
        return None, None
    try:
        k = len(json.loads(board["fold_scores"].iloc[0]))
    except Exception:
        return None, None
    if k < 2:
        return None, None
    from labcoat.evaluate.stats import corrected_half_width

    half = corrected_half_width(std, k, n_train=float(sizes[0]), n_test=float(sizes[1]))
    return score - half, score + half


def evaluate_on(model: Model, data: DataSource, metric: dict[str, Any]) -> dict[str, Any]:
    """Score ``model`` on ``data`` (which holds the target) with the model's metric and a 95%
    bootstrap interval; also return the targets and predictions for the diagnostics."""
    from labcoat.data.io import read_table
    from labcoat.errors import LabcoatNotice, TargetError, did_you_mean
    from labcoat.evaluate.intervals import bootstrap_interval
    from labcoat.evaluate.metrics import get_metric

    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    schema = model.schema
    target = schema.target
    if target not in frame.columns:
        raise TargetError(f"The data given to the report has no target column '{target}'"
                          f"{did_you_mean(target, frame.columns)}; it is needed to score the model. "
                          "Give rows with known outcomes, or leave the data out.")
    notes = []
    known = frame[target].notna()
    if not known.all():
        notes.append(f"{int((~known).sum()):,} rows of the given data have no '{target}' and are not scored.")
    frame = frame.loc[known]
    y, usable = model.task.encode_labels(frame[target], schema.classes)
    if not usable.all():
        example = frame.loc[~usable, target].iloc[0]
        what = "a class the model never saw" if schema.classes is not None else "a value that is not a number"
        notes.append(f"{int((~usable).sum()):,} rows have {what} (e.g. {example!r}) and are not scored.")
        frame, y = frame.loc[usable], y[usable]
    if len(frame) == 0:
        raise TargetError(f"No row of the data given to the report can be scored: '{target}' is missing "
                          "or unknown on every row.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LabcoatNotice)
        pred = model.raw_output(frame)
    notes += [str(w.message) for w in caught if issubclass(w.category, LabcoatNotice)]
    scorer = get_metric(metric["name"], schema.task)
    score = scorer.score(y, pred)
    try:
        low, high = bootstrap_interval(y, pred, scorer, stratify=model.task.stratified, seed=0)
    except Exception:  # too few rows of a class for a stratified bootstrap
        low, high = float("nan"), float("nan")
    estimate = {"key": "data", "label": "On the data given", "score": score, "low": _num(low), "high": _num(high),
                "note": f"{len(y):,} rows; bootstrap interval",
                "words": "the rows given to this report (a fair check only if the model never saw them)"}
    return {"estimate": estimate, "y": y, "pred": pred, "notes": notes}
