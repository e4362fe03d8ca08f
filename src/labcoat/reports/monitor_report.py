"""The monitoring report: one self-contained HTML page from a monitoring check's JSON document
(:meth:`labcoat.lifecycle.check.MonitorResult.to_dict`), so a saved ``monitor.json`` can be
rendered again.

A verdict in words on top, the columns sorted by drift, reference-vs-current distributions of
the changed and most changed columns, prediction drift, performance with intervals, schema
checks and the details of the check.

Examples
--------
>>> html = monitor_report(result.to_dict())          # doctest: +SKIP
>>> Path("monitor-report.html").write_text(html)     # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from labcoat.reports.figures import BLUE, GREY, ORANGE, _clip, _go, _layout
from labcoat.errors import ConfigError
from labcoat.reports.render import figure, fmt, render_page
from labcoat.tasks import get_task

if TYPE_CHECKING:
    from markupsafe import Markup
    from plotly.graph_objects import Figure  # plotly ships no types: Any to the checker

#: Columns with a distribution plot: every changed one, then the most changed, up to this many.
PLOTTED = 12
_AXIS = {"datetime": "date", "text": "length in characters"}


def _summary_words(task: str | None) -> str:
    """What the monitored prediction is, in words (``Task.summary_words``)."""
    try:
        return get_task(str(task)).summary_words
    except ConfigError:  # a task this version does not know
        return "the prediction"


def monitor_report(document: dict[str, Any], *, plotted: int = PLOTTED, title: str | None = None) -> str:
    """The HTML page of one monitoring check (see the module docstring)."""
    columns = document["drift"]["columns"]
    shown = [c for c in columns if c.get("drifted")]
    shown += [c for c in columns if not c.get("drifted")][:max(0, plotted - len(shown))]
    figures: dict[str, Markup] = {}
    for i, c in enumerate(shown):
        figures[f"column{i}"] = figure(distribution(c.get("plot") or {}, role=c.get("role", "")), compact=True)
    prediction = document["drift"].get("prediction")
    if prediction and prediction.get("plot"):
        figures["prediction"] = figure(distribution(prediction["plot"], title="Predictions"))
    perf = document.get("performance")
    if perf and perf.get("current"):
        figures["performance"] = figure(estimates(perf))
    model = document["model"]
    view = {**document, "plotted": shown, "points": _points(document),
            "prediction_words": _summary_words(model.get("task")),
            "details": details(document)}
    return render_page("monitor_report.html.j2", r=view, figures=figures,
                       title=title or f"Monitoring: {model.get('label') or model.get('target')}")


def distribution(plot: dict[str, Any], *, role: str = "", title: str = "") -> Figure:
    """Grouped bars: the share of rows per bin or category, in training and now. Bars sit at
    positions 0, 1, ... (labels of close bins may print alike); numeric bins are labelled by
    their upper bound, a few of them on the axis, all in the hover text."""
    go = _go()
    full = [str(v) for v in plot.get("labels", [])]
    ticks, hover = _bin_names(plot, role) if plot.get("edges") else ([_clip(v, 18) for v in full], full)
    x = list(range(len(full)))
    step = max(1, -(-len(x) // 8)) if plot.get("edges") else 1
    fig = go.Figure([
        go.Bar(x=x, y=plot.get(side, []), name=name, marker_color=color, customdata=hover,
               hovertemplate=f"%{{customdata}}<br>{name}: %{{y:.1%}}<extra></extra>")
        for side, name, color in (("reference", "training", GREY), ("current", "now", BLUE))])
    fig.update_layout(**_layout(height=250, margin=dict(l=50, r=10, t=30 if title else 12, b=70), title_text=title,
                                barmode="group", bargap=0.15, legend=dict(orientation="h", y=1.14, x=1,
                                                                           xanchor="right")))
    fig.update_yaxes(title_text="share of rows", tickformat=".0%")
    fig.update_xaxes(tickmode="array", tickvals=x[::step], ticktext=ticks[::step], tickangle=-35 if len(x) > 5 else 0,
                     title_text=_AXIS.get(role, ""))
    return fig


def _bin_names(plot: dict[str, Any], role: str) -> tuple[list[str], list[str]]:
    """Short axis labels (the bin's upper bound) and full hover labels of numeric bins:
    below the training range, the inner bins, above it. Datetimes (seconds) print as dates."""
    edges = [float(e) for e in plot["edges"]]
    show = _date if role == "datetime" else (lambda v: f"{v:.3g}")
    ticks = [f"< {show(edges[0])}"] + [f"≤ {show(e)}" for e in edges[1:]] + [f"> {show(edges[-1])}"]
    hover = [f"below the training range (< {show(edges[0])})"]
    hover += [f"{show(a)} to {show(b)}" for a, b in zip(edges[:-1], edges[1:])]
    hover += [f"above the training range (> {show(edges[-1])})"]
    n = len(plot.get("labels", []))
    return (ticks + [""] * n)[:n], (hover + [""] * n)[:n]


def _date(seconds: float) -> str:
    from datetime import datetime, timezone

    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return f"{seconds:.3g} s"


def estimates(perf: dict[str, Any]) -> Figure:
    """The training estimate and the current score, each with its 95% interval."""
    go = _go()
    rows: Sequence[tuple[str, dict[str, Any], str]] = [
        (name, perf[key], color) for name, key, color in (("estimated at training", "training", GREY),
                                                          ("now", "current", ORANGE if perf.get("degraded") else BLUE))
        if perf.get(key)]
    fig = go.Figure()
    for name, e, color in rows:
        fig.add_trace(go.Scatter(
            x=[e["score"]], y=[name], mode="markers", marker=dict(size=12, color=color), showlegend=False,
            error_x=dict(type="data", symmetric=False, array=[(e["high"] or e["score"]) - e["score"]],
                         arrayminus=[e["score"] - (e["low"] or e["score"])], color=color, thickness=2),
            hovertemplate=f"{name}: %{{x:.4f}} [{fmt(e['low'])}, {fmt(e['high'])}]<extra></extra>"))
    fig.update_layout(**_layout(height=200, margin=dict(l=150, r=20, t=40, b=45),
                                title_text=f"{perf['label']} with 95% intervals"))
    fig.update_xaxes(title_text=perf["label"])
    return fig


def _points(document: dict[str, Any]) -> list[str]:
    """The summary under the headline, without repeating it."""
    lines = list(document.get("summary", []))
    head = document.get("headline", "")
    if lines and head and lines[0].startswith(head):
        rest = lines[0][len(head):].lstrip(":. ")
        lines[0] = rest[:1].upper() + rest[1:]
    return [line for line in lines if line]


def details(document: dict[str, Any]) -> list[tuple[str, str]]:
    """The facts of the check as (what, value) rows."""
    model, window, drift = document["model"], document["window"], document["drift"]
    rows = [("model", model.get("reference") or "in-memory model")]
    if model.get("registered"):
        rows.append(("registered as", model["registered"]))
    if model.get("source_run"):
        rows.append(("trained in run", model["source_run"]))
    rows += [("target, task, metric", f"{model.get('target')}, {model.get('task')}, {model.get('metric')}"),
             ("current rows", f"{fmt(window.get('rows'))} from {window.get('source')}")]
    for key in ("since", "first", "last", "requests", "labelled", "labels"):
        if window.get(key) not in (None, ""):
            rows.append((key.replace("_", " "), str(window[key])))
    rows += [("dataset drift rule", f"drift when at least {drift['share_threshold']:.0%} of the columns changed"),
             ("checked on", document.get("created", ""))]
    if document.get("run_id"):
        rows.append(("tracking run", document["run_id"]))
    return rows
