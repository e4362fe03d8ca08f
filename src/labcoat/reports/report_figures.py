"""The model report's figures: each one drawn (with ``reports.figures``) from the report's
plain data and rendered to HTML, by name."""
from __future__ import annotations

from typing import Any

from labcoat.reports._format import _num

#: Leaderboard rows shown in the interval plot.
MAX_INTERVAL_ROWS = 15


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


def _nan(value: Any) -> float:
    v = _num(value)
    return float("nan") if v is None else v
