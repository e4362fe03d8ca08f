"""What drives the predictions, for the model report: ``model.explanations`` read into ranked
importance and SHAP tables and partial dependence curves."""
from __future__ import annotations

from typing import Any

import pandas as pd

from labcoat.reports._format import _num

#: Partial dependence plots shown.
MAX_PDP = 6


def explanation_tables(explanations: Any) -> dict[str, Any] | None:
    """``model.explanations`` in the report's terms: ``importance`` (records of feature, value,
    std), ``shap`` (records of feature, value: mean |SHAP|), ``pdp`` (records of feature, grid,
    values, series), ``output`` (what is explained), ``errors`` (part → why it is missing).

    This is the one place that knows the layout of ``model.explanations`` (that of
    :func:`labcoat.evaluate.explain_summary.summarize`: ``importance.table``, ``shap.mean_abs``,
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
