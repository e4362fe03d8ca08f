"""The model report: what a fitted model is, how good it is and where it may fail.

Sections (each shown only when the model carries its data, "not available" otherwise):
a summary in words; the performance estimates with their intervals (cross-validated,
selection-corrected, outer test, and on data given to the report); diagnostics (ROC and
precision-recall curves, confusion matrix, calibration for classifiers; predicted against
actual and errors for regression) from the out-of-fold predictions and from the given data;
what drives the predictions (importance, SHAP, partial dependence); the leaderboard; the
search history; the ensemble; findings; the data; a model card; technical details.

Every lookup into the model is defensive: a model saved by an older labcoat, or one whose
search kept less, still gets a report.
"""
from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.columns import Role
from labcoat.tasks import get_task

#: Leaderboard rows shown in the table and the interval plot.
MAX_LEADERBOARD_ROWS = 50
MAX_INTERVAL_ROWS = 15
#: Classes drawn as separate ROC/PR curves (the most frequent ones).
MAX_CURVE_CLASSES = 8
MAX_CONFUSION_CLASSES = 20
#: Points in a scatter plot of predictions.
MAX_SCATTER_POINTS = 3_000
#: Partial dependence plots shown.
MAX_PDP = 6

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


def model_report(model: Any, *, data: Any = None, title: str | None = None) -> str:
    """The report of a fitted :class:`~labcoat.model.Model` as one self-contained HTML page.

    ``data`` (a frame or file with the target column) is also scored and diagnosed: use rows
    the model has not seen, to check it on fresh data.
    """
    from labcoat.reports.render import render_page

    m = report_data(model, data)
    return render_page("model_report.html.j2", title=title or f"Model report: {m['target']}", m=m,
                       figures=report_figures(m))


def report_data(model: Any, data: Any = None) -> dict[str, Any]:
    """Every number of the model report, as plain data (figures are drawn from it)."""
    info = dict(getattr(model, "info", None) or {})
    schema = model.schema
    metric = _metric(model, info)
    m: dict[str, Any] = {
        "target": schema.target, "task": schema.task, "task_words": _task_words(schema),
        "classes": [str(c) for c in schema.classes] if schema.classes else None,
        "metric": metric, "features": [c.name for c in schema.features], "info": info,
        "n_rows": info.get("n_rows") or getattr(schema, "n_rows", None),
        "resampling": info.get("resampling"),
    }
    m["estimates"] = estimates(model, info, metric)
    m["diagnostics"] = []
    threshold = _threshold_value(getattr(model, "threshold", None) if getattr(model, "threshold", None) is not None
                                 else info.get("threshold"))
    oof = getattr(model, "oof", None)
    if isinstance(oof, dict) and oof.get("y") is not None and oof.get("pred") is not None:
        m["diagnostics"].append(diagnostics(oof["y"], oof["pred"], schema, threshold,
                                            source="Out of fold",
                                            words="each row predicted by a model that did not see it during "
                                                  "the search (the ensemble's out-of-fold predictions)"))
    notes: list[str] = []
    if data is not None:
        evaluated = evaluate_on(model, data, metric)
        notes += evaluated.pop("notes")
        m["estimates"].append(evaluated["estimate"])
        m["diagnostics"].append(diagnostics(evaluated["y"], evaluated["pred"], schema, threshold,
                                            source="On the data given",
                                            words=f"the {len(evaluated['y']):,} rows given to this report"))
    m["calibration"] = _flat(info.get("calibration"), depth=2)
    m["threshold"] = _flat(info.get("threshold"), depth=1)
    m["explanations"] = explanation_tables(getattr(model, "explanations", None))
    m["leaderboard"] = leaderboard_rows(getattr(model, "leaderboard", None))
    m["history"] = search_history(getattr(model, "leaderboard", None), metric["greater_is_better"])
    m["ensemble"] = _records(getattr(model, "ensemble", None))
    m["findings"] = _findings(info.get("findings"))
    m["columns"] = schema_rows(schema)
    m["card"] = model_card(model, m)
    m["details"] = details(info)
    m["notes"] = notes
    m["summary"] = summary_sentences(m)
    return m


def _task_words(schema: Any) -> str:
    """"a number", "two classes: no, yes", "5 classes: a, b, c, …"."""
    return get_task(schema.task).target_words(schema.classes)


# ---------------------------------------------------------------------- estimates
def _metric(model: Any, info: dict[str, Any]) -> dict[str, Any]:
    from labcoat.evaluate.metrics import get_metric

    name = str(info.get("metric", ""))
    try:
        found = get_metric(name, model.task.name)
        label, greater = found.label, found.greater_is_better
    except Exception:  # an unknown or missing metric name still gets a report
        label, greater = name or "score", bool(info.get("greater_is_better", True))
    return {"name": name, "label": label, "greater_is_better": greater, "words": METRIC_WORDS.get(name, "")}


def estimates(model: Any, info: dict[str, Any], metric: dict[str, Any]) -> list[dict[str, Any]]:
    """The model's score, each with its 95% interval and where it comes from."""
    out = []
    score = _num(info.get("ensemble_score"))
    if score is not None:
        low, high = _search_interval(model, info)
        std = _num(info.get("ensemble_score_std"))
        spread = f"; ± {std:.3g} across folds" if std is not None else ""
        out.append({"key": "search", "label": "Cross-validated (search)", "score": score, "low": low,
                    "high": high, "note": f"{info.get('resampling') or 'resampling'}{spread}",
                    "words": "on rows held out from each fit, during the search"})
    selection = info.get("selection")
    if isinstance(selection, dict) and _num(selection.get("corrected_score")) is not None:
        gap = _num(selection.get("gap"))
        optimism = f"; search optimism {gap:+.3g}" if gap is not None else ""
        out.append({"key": "selection", "label": "Corrected for selection",
                    "score": _num(selection["corrected_score"]),
                    "low": _num(selection.get("low")), "high": _num(selection.get("high")),
                    "note": f"{selection.get('method') or ''}{optimism}",
                    "words": "the search keeps what looked best, which flatters it; "
                             "this estimate removes that luck"})
    test = info.get("test")
    if isinstance(test, dict) and _num(test.get("score")) is not None:
        rows = _num(test.get("rows"))
        note = [f"{int(rows):,} rows" if rows else "", str(test.get("source") or "")]
        out.append({"key": "test", "label": "On held-out test rows", "score": _num(test["score"]),
                    "low": _num(test.get("low")), "high": _num(test.get("high")),
                    "note": ", ".join(x for x in note if x),
                    "words": "rows set aside before the search and never used to choose or fit the model"})
    return out


def _search_interval(model: Any, info: dict[str, Any]) -> tuple[float | None, float | None]:
    """The ensemble's 95% interval: from ``info`` if the search kept one, else the corrected
    resampled t interval from its spread over folds (as the leaderboard's intervals are)."""
    low, high = _num(info.get("ensemble_score_low")), _num(info.get("ensemble_score_high"))
    if low is not None and high is not None:
        return low, high
    std, score = _num(info.get("ensemble_score_std")), _num(info.get("ensemble_score"))
    sizes = info.get("fold_rows")
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


def evaluate_on(model: Any, data: Any, metric: dict[str, Any]) -> dict[str, Any]:
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


# ---------------------------------------------------------------------- diagnostics
def diagnostics(y: Any, pred: Any, schema: Any, threshold: float | None = None, *, source: str,
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
    """A binary decision threshold from ``info["threshold"]`` (a number, or a dict holding one
    under ``threshold`` or ``value``)."""
    if isinstance(value, dict):
        value = value.get("threshold", value.get("value"))
    v = _num(value)
    return v if v is not None and 0 < v < 1 else None


# ---------------------------------------------------------------------- explanations
def explanation_tables(explanations: Any) -> dict[str, Any] | None:
    """``model.explanations`` in the report's terms: ``importance`` (records of feature, value,
    std), ``shap`` (records of feature, value: mean |SHAP|), ``pdp`` (records of feature, grid,
    values, series), ``output`` (what is explained), ``errors`` (part → why it is missing).

    This is the one place that knows the layout of ``model.explanations`` (that of
    :func:`labcoat.evaluate.explain.summarize`: ``importance.table``, ``shap.mean_abs``,
    ``partial_dependence.features``; plain tables and mappings are accepted too); anything it
    does not recognise is left out.
    """
    if not explanations:
        return None
    if not isinstance(explanations, dict):
        explanations = getattr(explanations, "__dict__", {}) or {}
    importance = _pick(explanations, "importance", "permutation_importance", "feature_importance")
    if isinstance(importance, dict) and "table" in importance:
        importance = importance["table"]
    shap = _pick(explanations, "shap", "mean_abs_shap", "shap_importance", "shap_summary")
    if isinstance(shap, dict) and "mean_abs" in shap:
        shap = shap["mean_abs"]
    raw = _pick(explanations, "partial_dependence", "pdp")
    if isinstance(raw, dict) and isinstance(raw.get("features"), dict):
        raw = raw["features"]
    if isinstance(raw, dict):
        raw = [{"feature": k, **v} for k, v in raw.items() if isinstance(v, dict)]
    pdp = []
    for item in raw if isinstance(raw, list) else []:
        grid = _pick(item, "grid", "values_grid", "x")
        values = _pick(item, "average", "y") if grid is not None or "average" in item else None
        if grid is None:  # summarize's layout: "values" is the grid, "average" the curve
            grid, values = item.get("values"), item.get("average")
        elif values is None:
            values = item.get("values")
        series = item.get("classes")
        if isinstance(values, dict):  # multiclass: one curve per class
            series, values = list(values), list(values.values())
        if grid is not None and values is not None and len(grid) > 0:
            pdp.append({"feature": str(item.get("feature", "")), "grid": list(grid), "values": values,
                        "series": series, "kind": item.get("kind")})
    errors = explanations.get("errors") if isinstance(explanations.get("errors"), dict) else {}
    out = {"importance": _ranked(importance,
                                 value_keys=("importance", "importance_mean", "mean", "value", "score")),
           "shap": _ranked(shap, value_keys=("mean_abs", "mean_abs_shap", "shap", "value", "importance", "mean")),
           "pdp": pdp[:MAX_PDP], "output": str(explanations.get("output") or ""),
           "errors": {str(k): str(v) for k, v in errors.items()},
           "method": str(explanations.get("method") or explanations.get("importance_method") or "")}
    return out if out["importance"] or out["shap"] or out["pdp"] else None


def _pick(d: Any, *keys: str) -> Any:
    if not isinstance(d, dict):
        return None
    for key in keys:
        if d.get(key) is not None:
            return d[key]
    return None


def _ranked(raw: Any, *, value_keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Records of ``feature``, ``value`` and ``std`` from a frame, records or a mapping; largest first."""
    if raw is None:
        return []
    if isinstance(raw, pd.DataFrame):
        raw = raw.to_dict("records")
    elif isinstance(raw, pd.Series):
        raw = raw.to_dict()
    if isinstance(raw, dict):
        raw = [{"feature": k, **(v if isinstance(v, dict) else {"value": v})} for k, v in raw.items()]
    out = []
    for r in raw if isinstance(raw, list) else []:
        if not isinstance(r, dict):
            continue
        name = r.get("feature", r.get("column", r.get("name")))
        value = next((_num(r[k]) for k in value_keys if _num(r.get(k)) is not None), None)
        if name is not None and value is not None:
            out.append({"feature": str(name), "value": value,
                        "std": next((_num(r[k]) for k in ("std", "importance_std", "stderr") if k in r), None)})
    return sorted(out, key=lambda r: -abs(r["value"]))


# ---------------------------------------------------------------------- search
def leaderboard_rows(board: Any) -> list[dict[str, Any]]:
    """The leaderboard's rows as records with the columns the report shows (missing ones empty)."""
    if board is None or len(board) == 0:
        return []
    rows = []
    for r in board.head(MAX_LEADERBOARD_ROWS).to_dict("records"):
        rows.append({k: r.get(k) for k in ("rank", "trial", "family", "score", "score_low", "score_high",
                                           "p_vs_best", "fit_time", "ensemble_weight", "status", "params")}
                    | {"truncated": r.get("truncated") in (True, "True", "true")})
    return rows


def search_history(board: Any, greater_is_better: bool) -> dict[str, Any] | None:
    """Each completed trial's score in the order it finished, and the best score so far.

    The x axis is seconds since the study started (the leaderboard's ``finished``, or
    ``started`` + ``fit_time``), else the trial number."""
    if board is None or len(board) == 0 or "score" not in board:
        return None
    ok = board[board["status"] == "ok"] if "status" in board else board
    ok = ok[pd.to_numeric(ok["score"], errors="coerce").notna()]
    if ok.empty:
        return None
    when, x_title = None, "trial number"
    if "finished" in ok and pd.to_numeric(ok["finished"], errors="coerce").notna().all():
        when, x_title = pd.to_numeric(ok["finished"]), "seconds since the search started"
    elif "started" in ok and pd.to_numeric(ok["started"], errors="coerce").notna().all():
        when = pd.to_numeric(ok["started"]) + pd.to_numeric(ok.get("fit_time", 0), errors="coerce").fillna(0)
        x_title = "seconds since the search started"
    order = np.argsort(when.to_numpy() if when is not None else ok["trial"].to_numpy(), kind="stable")
    ok = ok.iloc[order]
    x = (when.iloc[order] if when is not None else ok["trial"]).to_numpy(dtype=float)
    scores = ok["score"].to_numpy(dtype=float)
    best = np.maximum.accumulate(scores) if greater_is_better else np.minimum.accumulate(scores)
    return {"x": x, "scores": scores, "best": best, "families": ok["family"].astype(str).tolist(),
            "x_title": x_title, "n_failed": int((board["status"] != "ok").sum()) if "status" in board else 0}


# ---------------------------------------------------------------------- data, card
def schema_rows(schema: Any) -> list[dict[str, Any]]:
    """One row per training column: role, missing share, distinct values, range or categories."""
    rows = []
    for c in schema.columns:
        if c.role is Role.NUMERIC and c.minimum is not None:
            values = f"{_short(c.minimum)} to {_short(c.maximum)}"
        elif c.categories:
            shown = ", ".join(str(v) for v in c.categories[:5])
            values = shown + (f", … ({len(c.categories)} in all)" if len(c.categories) > 5 else "")
        else:
            values = ""
        rows.append({"name": c.name, "role": c.role.value, "used": c in schema.features,
                     "missing": c.missing_rate, "distinct": c.n_unique, "detail": values, "reason": c.reason})
    return rows


def model_card(model: Any, m: dict[str, Any]) -> dict[str, Any]:
    """Intended use, data, metrics and limits, in words."""
    schema, info = model.schema, m["info"]
    features = m["features"]
    listed = ", ".join(features[:12]) + (f" and {len(features) - 12} more" if len(features) > 12 else "")
    use = (f"Predict '{schema.target}' ({m['task_words']}) for new rows from these {len(features)} columns: "
           f"{listed}. Use it on rows drawn from the same population as the training data, with the same "
           "columns and meanings. It is not meant for other outcomes, other populations, or as proof of "
           "cause and effect.")
    lineage = info.get("lineage") if isinstance(info.get("lineage"), dict) else {}
    source = info.get("source") or info.get("data_source") or lineage.get("source")
    data = [("rows used for training", _fmt_int(m["n_rows"])),
            ("source", str(source) if source else "not recorded"),
            ("validation", str(m["resampling"] or "not recorded")),
            ("time span", _time_span(schema, info))]
    metrics = [(e["label"], e["score"], e.get("low"), e.get("high")) for e in m["estimates"]]
    limits = []
    serious = [f for f in m["findings"] if f["severity"] == "high"]
    if m["findings"]:
        limits.append(f"The data checks raised {len(m['findings'])} finding(s)"
                      + (f", {len(serious)} serious" if serious else "") + "; see Findings.")
    n = m["n_rows"]
    if isinstance(n, (int, float)) and n < 1000:
        limits.append(f"Trained on few rows ({int(n):,}): the estimates are uncertain, as the width of their "
                      "intervals shows.")
    numeric = [c for c in schema.features if c.role is Role.NUMERIC and c.minimum is not None]
    if numeric:
        ranges = "; ".join(f"{c.name} {_short(c.minimum)} to {_short(c.maximum)}" for c in numeric[:6])
        limits.append("Out of range: for values outside those seen in training the model extrapolates, "
                      f"untested ({ranges}" + ("; …" if len(numeric) > 6 else "") + ").")
    categorical = [c for c in schema.features if c.role is Role.CATEGORICAL and c.categories]
    if categorical:
        names = ", ".join(f"{c.name} ({len(c.categories)} values)" for c in categorical[:6])
        limits.append(f"Unseen categories: a value not seen in training is treated as unknown, and labcoat "
                      f"warns when it meets one ({names}" + ("; …" if len(categorical) > 6 else "") + ").")
    if _time_span(schema, info) == "not recorded":
        limits.append("The time span of the training data is not recorded: if what is predicted changes over "
                      "time, check the model on recent rows before relying on it.")
    else:
        limits.append(f"Trained on data {_time_span(schema, info)}; its performance on later periods is untested "
                      "until checked.")
    if info.get("refit_dropped"):
        limits.append(f"{len(info['refit_dropped'])} ensemble member(s) did not fit in the time budget and were "
                      "dropped; the cross-validated score includes them.")
    selection = info.get("selection") if isinstance(info.get("selection"), dict) else {}
    gap = _num(selection.get("gap"))
    if gap is not None and abs(gap) > 0:
        limits.append(f"The search's own score is optimistic by about {abs(gap):.3g} ({m['metric']['label']}); "
                      "the corrected estimate accounts for it.")
    limits.append("The model learns associations, not causes: changing a column's value in the world need not "
                  "change the outcome the way the prediction does.")
    return {"use": use, "data": data, "metrics": metrics, "limits": limits}


def _time_span(schema: Any, info: dict[str, Any]) -> str:
    for key in ("data_until", "time_span"):
        if info.get(key):
            return str(info[key]) if key == "time_span" else f"up to {info[key]}"
    spans = [(c.name, c.minimum, c.maximum) for c in schema.features
             if c.role is Role.DATETIME and c.maximum is not None]
    if spans:
        name, lo, hi = spans[0]
        return f"from {_date(lo)} up to {_date(hi)} ('{name}')"
    return "not recorded"


def details(info: dict[str, Any]) -> list[tuple[str, str]]:
    """Settings, timings and versions, for reproducing the model."""
    rows = []
    for key, label in (("run_id", "MLflow run"), ("registered", "registered as"), ("seed", "seed"),
                       ("n_trials", "configurations tried"), ("budget_seconds", "time budget (s)"),
                       ("search_seconds", "search time (s)"), ("fit_seconds", "total fit time (s)"),
                       ("n_jobs", "threads"), ("best_single_score", "best single configuration")):
        if info.get(key) is not None:
            rows.append((label, _short(info[key]) if isinstance(info[key], float) else str(info[key])))
    versions = info.get("versions")
    if isinstance(versions, dict) and versions:
        rows.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    return rows


# ---------------------------------------------------------------------- words
def summary_sentences(m: dict[str, Any]) -> list[str]:
    """The report in a few plain sentences, for the top of the page."""
    metric = m["metric"]
    rows = f", learned from {int(m['n_rows']):,} rows" if _num(m["n_rows"]) is not None else ""
    out = [f"This model predicts '{m['target']}' ({m['task_words']}) from {len(m['features'])} columns{rows}."]
    by_key = {e["key"]: e for e in m["estimates"]}
    if "search" in by_key:
        words = f"; {metric['label']} is {metric['words']}" if metric["words"] else ""
        out.append(f"Its {metric['label']} on rows it did not train on is {_scored(by_key['search'])}{words}.")
    if "selection" in by_key:
        out.append("Allowing for the luck of picking the best of many configurations, expect about "
                   f"{_scored(by_key['selection'])}.")
    if "test" in by_key:
        out.append(f"On test rows kept apart from the search it scored {_scored(by_key['test'])}.")
    if "data" in by_key:
        out.append(f"On the data given to this report it scores {_scored(by_key['data'])}.")
    info, members = m["info"], m["ensemble"]
    if members:
        seconds = f" in {info['fit_seconds']:.0f} s" if _num(info.get("fit_seconds")) is not None else ""
        blend = ", ".join(f"{r['family']} ({r['weight']:.0%})" for r in members[:4])
        final = f"a blend of {blend}" if len(members) > 1 else members[0]["family"]
        out.append(f"labcoat tried {info.get('n_trials', len(m['leaderboard']))} configurations{seconds}; "
                   f"the final model is {final}.")
    if m["explanations"]:
        top = (m["explanations"]["importance"] or m["explanations"]["shap"])[:3]
        if top:
            out.append("The columns that matter most: " + ", ".join(f"'{t['feature']}'" for t in top) + ".")
    serious = [f for f in m["findings"] if f["severity"] == "high"]
    if serious:
        out.append(f"Warning: {len(serious)} serious problem(s) in the data, first: "
                   f"{serious[0]['check']} — {serious[0]['text'][:160]} (see Findings).")
    elif m["findings"]:
        out.append(f"The data checks raised {len(m['findings'])} minor point(s); see Findings.")
    else:
        out.append("The data checks found no problem.")
    return out


def _scored(e: dict[str, Any]) -> str:
    """ "0.7721 (95% interval 0.6845 to 0.8597)", or the score alone without an interval."""
    if e.get("low") is None or e.get("high") is None:
        return _short(e["score"])
    return f"{_short(e['score'])} (95% interval {_short(e['low'])} to {_short(e['high'])})"


# ---------------------------------------------------------------------- figures
def report_figures(m: dict[str, Any]) -> dict[str, Any]:
    """The HTML of every figure of the report, by name."""
    from labcoat.reports import figures as fg
    from labcoat.reports.render import figure

    out: dict[str, Any] = {}
    label = m["metric"]["label"]
    rows = [r for r in m["leaderboard"] if r.get("status") == "ok" and _num(r.get("score")) is not None]
    if rows:
        top = rows[:MAX_INTERVAL_ROWS]
        out["leaderboard"] = figure(fg.interval_plot(
            [f"#{r['trial']} {r['family']}" for r in top], [r["score"] for r in top],
            [_nan(r.get("score_low")) for r in top], [_nan(r.get("score_high")) for r in top], metric=label,
            highlight=[bool(_num(r.get("ensemble_weight"))) for r in top]))
    h = m["history"]
    if h is not None:
        out["history"] = figure(fg.search_history(h["x"], h["scores"], h["best"], h["families"], metric=label,
                                                  x_title=h["x_title"]))
    for i, d in enumerate(m["diagnostics"]):
        if d.get("roc"):
            out[f"roc{i}"] = figure(fg.roc_curves(d["roc"]))
            out[f"pr{i}"] = figure(fg.pr_curves(d["pr"]))
        if d.get("confusion"):
            out[f"confusion{i}"] = figure(fg.confusion(d["confusion"]["matrix"], d["confusion"]["labels"]))
        if d.get("reliability"):
            out[f"reliability{i}"] = figure(fg.reliability(d["reliability"]))
        if d.get("actual") is not None:
            out[f"scatter{i}"] = figure(fg.predicted_vs_actual(d["actual"], d["predicted"], m["target"]))
            out[f"residuals{i}"] = figure(fg.residuals(d["predicted"], d["residual"]))
            out[f"errors{i}"] = figure(fg.residual_histogram(d["all_residuals"]))
    e = m["explanations"]
    if e:
        for key, axis in (("importance", "how much the score worsens when the column is shuffled"),
                          ("shap", "mean |SHAP value| (average effect on a prediction)")):
            if e[key]:
                top = e[key][:25]
                out[key] = figure(fg.bars([r["feature"] for r in top], [r["value"] for r in top], x_title=axis,
                                          errors=[r["std"] for r in top] if any(r["std"] for r in top) else None,
                                          color=fg.ORANGE if key == "shap" else fg.BLUE))
        for j, p in enumerate(e["pdp"]):
            try:
                out[f"pdp{j}"] = figure(fg.partial_dependence(p["feature"], p["grid"], p["values"],
                                                              kind=p.get("kind"), series=p.get("series")))
            except (ValueError, TypeError):
                continue  # a grid this report does not understand; the others still show
    return out


# ---------------------------------------------------------------------- small helpers
def _num(value: Any) -> float | None:
    """A finite float, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _nan(value: Any) -> float:
    v = _num(value)
    return float("nan") if v is None else v


def _short(value: Any) -> str:
    from labcoat.reports.render import fmt

    return fmt(value)


def _fmt_int(value: Any) -> str:
    return f"{int(value):,}" if _num(value) is not None else "not recorded"


def _date(value: Any) -> str:
    try:
        return str(pd.Timestamp(value, unit="s").date()) if isinstance(value, (int, float)) else str(value)
    except (ValueError, OverflowError):
        return str(value)


def _records(frame: Any) -> list[dict[str, Any]]:
    if frame is None:
        return []
    try:
        return list(frame.to_dict("records"))
    except Exception:
        return []


def _findings(items: Any) -> list[dict[str, Any]]:
    from labcoat.reports.render import parse_finding

    out = []
    for f in items or []:
        if hasattr(f, "severity") and hasattr(f, "evidence"):
            out.append({"severity": f.severity, "check": f.check, "column": f.column,
                        "text": f"{f.evidence} {f.fix}"})
        else:
            out.append({**parse_finding(str(f)), "column": None})
    return out


def _flat(value: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """A mapping as (key, value) rows for a small table: its numbers and words, with nested
    mappings flattened only while ``depth`` < 2 (``depth=2``: top level only). Lists of more
    than four values (curves, plotted from the predictions instead) are left out. At most 30 rows."""
    if value is None:
        return []
    if not isinstance(value, dict):
        return [(prefix or "value", _text(value))]
    rows: list[tuple[str, str]] = []
    for k, v in value.items():
        key = f"{prefix}{k}".replace("_", " ")
        if isinstance(v, dict):
            if depth < 2:
                rows += _flat(v, f"{prefix}{k} · ", depth + 1)
        elif isinstance(v, (list, tuple, np.ndarray)):
            if len(v) <= 4:
                rows.append((key, ", ".join(_text(x) for x in v)))
        else:
            rows.append((key, _text(v)))
    return rows[:30]


def _text(value: Any) -> str:
    return _short(value) if _num(value) is not None else str(value)
