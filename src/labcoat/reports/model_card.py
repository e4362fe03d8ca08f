"""The data and the model card, for the model report: one row per training column, the card
(intended use, data, metrics and limits in words) and the technical details for reproducing
the model."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from labcoat.data.columns import Role
from labcoat.model_info import ModelInfo
from labcoat.reports._format import _num, _short

if TYPE_CHECKING:
    from labcoat.data.schema import Schema
    from labcoat.model import Model


def schema_rows(schema: Schema) -> list[dict[str, Any]]:
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


def model_card(model: Model, m: dict[str, Any]) -> dict[str, Any]:
    """Intended use, data, metrics and limits, in words."""
    schema, info = model.schema, model.info
    features = m["features"]
    listed = ", ".join(features[:12]) + (f" and {len(features) - 12} more" if len(features) > 12 else "")
    use = (f"Predict '{schema.target}' ({m['task_words']}) for new rows from these {len(features)} columns: "
           f"{listed}. Use it on rows drawn from the same population as the training data, with the same "
           "columns and meanings. It is not meant for other outcomes, other populations, or as proof of "
           "cause and effect.")
    source = info.source
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
        names = ", ".join(f"{c.name} ({len(c.categories or ())} values)" for c in categorical[:6])
        limits.append(f"Unseen categories: a value not seen in training is treated as unknown, and labcoat "
                      f"warns when it meets one ({names}" + ("; …" if len(categorical) > 6 else "") + ").")
    if _time_span(schema, info) == "not recorded":
        limits.append("The time span of the training data is not recorded: if what is predicted changes over "
                      "time, check the model on recent rows before relying on it.")
    else:
        limits.append(f"Trained on data {_time_span(schema, info)}; its performance on later periods is untested "
                      "until checked.")
    if info.refit_dropped:
        limits.append(f"{len(info.refit_dropped)} ensemble member(s) did not fit in the time budget and were "
                      "dropped; the cross-validated score includes them.")
    selection = info.selection if isinstance(info.selection, dict) else {}
    gap = _num(selection.get("gap"))
    if gap is not None and abs(gap) > 0:
        limits.append(f"The search's own score is optimistic by about {abs(gap):.3g} ({m['metric']['label']}); "
                      "the corrected estimate accounts for it.")
    limits.append("The model learns associations, not causes: changing a column's value in the world need not "
                  "change the outcome the way the prediction does.")
    return {"use": use, "data": data, "metrics": metrics, "limits": limits}


def _time_span(schema: Schema, info: ModelInfo) -> str:
    spans: list[tuple[str, Any, Any]] = [(name, lo, hi) for name, (lo, hi) in info.time_span.items()] or \
        [(c.name, c.minimum, c.maximum) for c in schema.features if c.role is Role.DATETIME and c.maximum is not None]
    if spans:
        name, lo, hi = spans[0]
        return f"from {_date(lo)} up to {_date(hi)} ('{name}')"
    return "not recorded"


def details(info: ModelInfo) -> list[tuple[str, str]]:
    """Settings, timings and versions, for reproducing the model."""
    rows = []
    for key, label in (("run_id", "MLflow run"), ("registered", "registered as"), ("seed", "seed"),
                       ("n_trials", "configurations tried"), ("budget_seconds", "time budget (s)"),
                       ("search_seconds", "search time (s)"), ("fit_seconds", "total fit time (s)"),
                       ("n_jobs", "threads"), ("best_single_score", "best single configuration")):
        value = getattr(info, key)
        if value is not None:
            rows.append((label, _short(value) if isinstance(value, float) else str(value)))
    if info.versions:
        rows.append(("versions", ", ".join(f"{k} {v}" for k, v in info.versions.items())))
    return rows


def _fmt_int(value: Any) -> str:
    return f"{int(value):,}" if _num(value) is not None else "not recorded"


def _date(value: Any) -> str:
    try:
        return str(pd.Timestamp(value, unit="s").date()) if isinstance(value, (int, float)) else str(value)
    except (ValueError, OverflowError):
        return str(value)
