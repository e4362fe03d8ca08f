"""The model report: what a fitted model is, how good it is and where it may fail.

Sections (each shown only when the model carries its data, "not available" otherwise):
a summary in words; the performance estimates with their intervals (cross-validated,
selection-corrected, outer test, and on data given to the report); diagnostics (ROC and
precision-recall curves, confusion matrix, calibration for classifiers; predicted against
actual and errors for regression) from the out-of-fold predictions and from the given data;
what drives the predictions (importance, SHAP, partial dependence; for a text-first model, the
n-grams of each class and highlighted documents); the leaderboard; the
search history; the ensemble; findings; the data; a model card; technical details.

Every lookup into the model is defensive: a model saved by an older labcoat, or one whose
search kept less, still gets a report.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from labcoat.model_info import ModelInfo
from labcoat.reports._format import _num, _short
from labcoat.reports.diagnostics import _threshold_value, diagnostics
from labcoat.reports.estimates import _metric, estimates, evaluate_on
from labcoat.reports.explanation_tables import explanation_tables
from labcoat.reports.model_card import details, model_card, schema_rows
from labcoat.reports.report_figures import report_figures
from labcoat.reports.report_words import summary_sentences
from labcoat.reports.search_tables import leaderboard_rows, search_history
from labcoat.reports.text_tables import text_tables
from labcoat.search.trial import STOPPED_NOTE
from labcoat.tasks import get_task

if TYPE_CHECKING:
    from labcoat.data.io import DataSource
    from labcoat.data.schema import Schema
    from labcoat.model import Model


def model_report(model: Model, *, data: DataSource | None = None, title: str | None = None) -> str:
    """The report of a fitted :class:`~labcoat.model.Model` as one self-contained HTML page.

    ``data`` (a frame or file with the target column) is also scored and diagnosed: use rows
    the model has not seen, to check it on fresh data.
    """
    from labcoat.reports.render import render_page

    m = report_data(model, data)
    return render_page("model_report.html.j2", title=title or f"Model report: {m['target']}", m=m,
                       figures=report_figures(m))


def report_data(model: Model, data: DataSource | None = None) -> dict[str, Any]:
    """Every number of the model report, as plain data (figures are drawn from it)."""
    info: ModelInfo = model.info
    schema = model.schema
    metric = _metric(model, info)
    m: dict[str, Any] = {
        "target": schema.target, "task": schema.task, "task_words": _task_words(schema),
        "classes": [str(c) for c in schema.classes] if schema.classes else None,
        "metric": metric, "features": [c.name for c in schema.features], "info": info,
        "n_rows": info.n_rows or getattr(schema, "n_rows", None),
        "resampling": info.resampling,
    }
    m["estimates"] = estimates(model, info, metric)
    m["diagnostics"] = []
    threshold = _threshold_value(getattr(model, "threshold", None) if getattr(model, "threshold", None) is not None
                                 else info.threshold)
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
    m["calibration"] = _flat(info.calibration, depth=2)
    m["threshold"] = _flat(info.threshold, depth=1)
    m["explanations"] = explanation_tables(getattr(model, "explanations", None))
    m["text"] = text_tables(model) if getattr(model.schema, "documents", None) is not None else None
    m["leaderboard"] = leaderboard_rows(getattr(model, "leaderboard", None))
    m["leaderboard_notes"] = [STOPPED_NOTE] if any(r["status"] == "stopped" for r in m["leaderboard"]) else []
    m["history"] = search_history(getattr(model, "leaderboard", None), metric["greater_is_better"])
    m["ensemble"] = _records(getattr(model, "ensemble", None))
    m["findings"] = _findings(info.findings)
    m["columns"] = schema_rows(schema)
    m["card"] = model_card(model, m)
    m["details"] = details(info)
    m["notes"] = notes
    m["summary"] = summary_sentences(m)
    return m


def _task_words(schema: Schema) -> str:
    """"a number", "two classes: no, yes", "5 classes: a, b, c, …"."""
    return get_task(schema.task).target_words(schema.classes)


# ---------------------------------------------------------------------- small helpers
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
