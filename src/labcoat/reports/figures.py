"""Plotly figure builders for the reports. Each takes plain numbers and returns a Figure.

The figures are deliberately plain: one message each, axis titles in words, no legends
where a title says it all. Heavy inputs are reduced before they get here (histograms are
passed as bin counts, curves thinned, scatter plots sampled) so that the pages stay small.
"""
from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt
    from plotly.graph_objects import Figure  # plotly ships no types: Any to the checker

BLUE = "#2f6fb3"
ORANGE = "#e07b28"
GREEN = "#3a9a5b"
RED = "#c0392b"
GREY = "#9aa5b1"
PALETTE = [BLUE, ORANGE, GREEN, "#8e5ea2", RED, "#17a2b8", "#b8860b", "#6c757d", "#d63384", "#20c997"]
#: At most this many points per curve (ROC, PR); the shape is unchanged at screen resolution.
CURVE_POINTS = 400


def _go() -> ModuleType:
    import plotly.graph_objects as go

    return go


def _layout(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(template="plotly_white", height=360,
                                margin=dict(l=60, r=20, t=40, b=50),
                                font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                                          size=13, color="#1f2933"),
                                title=dict(font=dict(size=15), x=0.01, xanchor="left"))
    base.update(extra)
    return base


def _clip(label: str, width: int = 28) -> str:
    """A label short enough for an axis; duplicates stay distinct through their ending."""
    return label if len(label) <= width else label[: width - 9] + "…" + label[-8:]


def thin(x: np.ndarray, y: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most ``points`` evenly spaced points of a curve, first and last included."""
    if len(x) <= points:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, points).round().astype(int))
    return x[keep], y[keep]


# ---------------------------------------------------------------------- profile
def histogram(edges: npt.ArrayLike, counts: npt.ArrayLike, *, title: str = "", x_title: str = "",
              dates: bool = False) -> Figure:
    """A histogram from precomputed bins (``len(edges) == len(counts) + 1``)."""
    go = _go()
    bounds = np.asarray(edges, dtype=float)
    centers = (bounds[:-1] + bounds[1:]) / 2
    widths = np.diff(bounds)
    x: np.ndarray = centers
    if dates:
        x = np.asarray(centers * 1e9, dtype="datetime64[ns]").astype(str)
        widths = widths * 1000  # plotly measures date widths in milliseconds
    fig = go.Figure(go.Bar(x=x, y=np.asarray(counts), width=widths, marker_color=BLUE,
                           marker_line_width=0, hovertemplate="%{x}<br>%{y:,} rows<extra></extra>"))
    fig.update_layout(**_layout(height=210, margin=dict(l=45, r=10, t=30 if title else 10, b=35),
                                title_text=title, bargap=0.02, showlegend=False))
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text="rows")
    return fig


def bars(labels: Sequence[str], values: Sequence[float], *, title: str = "", x_title: str = "rows",
         errors: Sequence[float] | None = None, height: int | None = None, color: str = BLUE,
         percent: bool = False, compact: bool = False) -> Figure:
    """Horizontal bars, largest on top (``labels`` in display order, top first)."""
    go = _go()
    full = [str(v) for v in labels][::-1]
    labels = [_clip(v) for v in full]
    values = list(values)[::-1]
    error_x = None
    if errors is not None:
        error_x = dict(type="data", array=[0 if e is None or e != e else e for e in list(errors)[::-1]],
                       color=GREY, thickness=1.2)
    text_format = "%{x:.1%}" if percent else "%{x:,.4g}"
    fig = go.Figure(go.Bar(y=labels, x=values, orientation="h", marker_color=color, error_x=error_x,
                           customdata=full, hovertemplate=f"%{{customdata}}: {text_format}<extra></extra>"))
    rows = len(labels)
    auto = max(170, 60 + 22 * rows) if compact else max(220, 80 + 26 * rows)
    fig.update_layout(**_layout(height=height or auto,
                                margin=dict(l=10, r=15, t=30 if title else 10, b=35),
                                title_text=title, showlegend=False, bargap=0.25))
    fig.update_yaxes(automargin=True, type="category")
    fig.update_xaxes(title_text=x_title, tickformat=".0%" if percent else None, rangemode="tozero")
    return fig


def heatmap(matrix: np.ndarray, labels: Sequence[str], *, title: str = "") -> Figure:
    """A symmetric correlation heatmap, -1 (red) to 1 (blue), values on hover."""
    go = _go()
    labels = [str(v) for v in labels]
    z = np.round(np.asarray(matrix, dtype=float), 3)
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, zmin=-1, zmax=1, colorscale="RdBu",
                               colorbar=dict(title="corr.", thickness=12),
                               hovertemplate="%{y} × %{x}: %{z:.2f}<extra></extra>"))
    size = max(360, min(900, 120 + 24 * len(labels)))
    fig.update_layout(**_layout(height=size, title_text=title, margin=dict(l=10, r=10, t=40, b=10)))
    fig.update_xaxes(automargin=True, tickangle=-45, showgrid=False)
    fig.update_yaxes(automargin=True, autorange="reversed", showgrid=False)
    return fig


# ---------------------------------------------------------------------- model: classification
def roc_curves(curves: list[dict[str, Any]]) -> Figure:
    """ROC curves: ``curves`` holds ``{"name", "fpr", "tpr", "auc"}`` per class or model."""
    go = _go()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color=GREY, dash="dash", width=1),
                             name="coin toss", hoverinfo="skip"))
    for i, c in enumerate(curves):
        x, y = thin(np.asarray(c["fpr"]), np.asarray(c["tpr"]))
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color=PALETTE[i % len(PALETTE)], width=2),
                                 name=f"{c['name']} (AUC {c['auc']:.3f})",
                                 hovertemplate="false alarms %{x:.1%}<br>caught %{y:.1%}<extra></extra>"))
    fig.update_layout(**_layout(title_text="ROC curve", legend=dict(x=0.98, y=0.02, xanchor="right",
                                                                     yanchor="bottom")))
    fig.update_xaxes(title_text="false positive rate (false alarms)", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(title_text="true positive rate (cases caught)", range=[0, 1.02], tickformat=".0%")
    return fig


def pr_curves(curves: list[dict[str, Any]]) -> Figure:
    """Precision-recall curves: ``{"name", "recall", "precision", "ap", "base"}`` per class."""
    go = _go()
    fig = go.Figure()
    for i, c in enumerate(curves):
        color = PALETTE[i % len(PALETTE)]
        x, y = thin(np.asarray(c["recall"]), np.asarray(c["precision"]))
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line=dict(color=color, width=2),
                                 name=f"{c['name']} (AP {c['ap']:.3f})",
                                 hovertemplate="caught %{x:.1%}<br>correct when flagged %{y:.1%}"
                                               "<extra></extra>"))
        fig.add_trace(go.Scatter(x=[0, 1], y=[c["base"], c["base"]], mode="lines", showlegend=False,
                                 line=dict(color=color, dash="dot", width=1), hoverinfo="skip"))
    fig.update_layout(**_layout(title_text="Precision-recall curve (dotted: guessing)",
                                legend=dict(x=0.02, y=0.02, xanchor="left", yanchor="bottom")))
    fig.update_xaxes(title_text="recall (share of cases caught)", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(title_text="precision (correct when flagged)", range=[0, 1.02], tickformat=".0%")
    return fig


def confusion(matrix: np.ndarray, labels: Sequence[str]) -> Figure:
    """Counts of actual (rows) against predicted (columns) classes; each cell also shows the
    share of its actual class."""
    go = _go()
    counts = np.asarray(matrix, dtype=float)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    labels = [str(v) for v in labels]
    text = [[f"{int(n):,}<br>{s:.0%}" for n, s in zip(row, srow)] for row, srow in zip(counts, share)]
    fig = go.Figure(go.Heatmap(z=share, x=labels, y=labels, text=text, texttemplate="%{text}",
                               colorscale="Blues", zmin=0, zmax=1, showscale=False,
                               hovertemplate="actual %{y}, predicted %{x}: %{text}<extra></extra>"))
    size = max(300, min(700, 140 + 60 * len(labels)))
    fig.update_layout(**_layout(height=size, title_text="Confusion matrix"))
    fig.update_xaxes(title_text="predicted", type="category", side="bottom", showgrid=False)
    fig.update_yaxes(title_text="actual", type="category", autorange="reversed", showgrid=False)
    return fig


def reliability(points: list[dict[str, Any]]) -> Figure:
    """Reliability diagram: ``{"name", "predicted", "observed", "count"}`` per curve."""
    go = _go()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color=GREY, dash="dash", width=1),
                             name="perfectly calibrated", hoverinfo="skip"))
    for i, p in enumerate(points):
        fig.add_trace(go.Scatter(x=p["predicted"], y=p["observed"], mode="lines+markers", name=p["name"],
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=2),
                                 customdata=p.get("count"),
                                 hovertemplate="predicted %{x:.1%}<br>observed %{y:.1%}"
                                               + ("<br>%{customdata:,} rows" if p.get("count") is not None else "")
                                               + "<extra></extra>"))
    fig.update_layout(**_layout(title_text="Calibration: predicted vs observed frequency",
                                legend=dict(x=0.02, y=0.98, yanchor="top")))
    fig.update_xaxes(title_text="predicted probability", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(title_text="observed frequency", range=[0, 1.02], tickformat=".0%")
    return fig


# ---------------------------------------------------------------------- model: regression
def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, target: str) -> Figure:
    go = _go()
    lo = float(np.nanmin([actual.min(), predicted.min()]))
    hi = float(np.nanmax([actual.max(), predicted.max()]))
    fig = go.Figure([
        go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=dict(color=GREY, dash="dash", width=1),
                   name="perfect prediction", hoverinfo="skip"),
        go.Scatter(x=predicted, y=actual, mode="markers", name="rows",
                   marker=dict(color=BLUE, size=5, opacity=0.5),
                   hovertemplate="predicted %{x:.4g}<br>actual %{y:.4g}<extra></extra>"),
    ])
    fig.update_layout(**_layout(title_text="Predicted against actual", showlegend=False))
    fig.update_xaxes(title_text=f"predicted {target}")
    fig.update_yaxes(title_text=f"actual {target}")
    return fig


def residuals(predicted: np.ndarray, residual: np.ndarray) -> Figure:
    go = _go()
    fig = go.Figure([
        go.Scatter(x=predicted, y=residual, mode="markers", marker=dict(color=BLUE, size=5, opacity=0.5),
                   hovertemplate="predicted %{x:.4g}<br>error %{y:.4g}<extra></extra>"),
    ])
    fig.add_hline(y=0, line=dict(color=GREY, dash="dash", width=1))
    fig.update_layout(**_layout(title_text="Errors against prediction (should be a band around 0)",
                                showlegend=False))
    fig.update_xaxes(title_text="predicted value")
    fig.update_yaxes(title_text="actual − predicted")
    return fig


def residual_histogram(residual: np.ndarray) -> Figure:
    edges = np.histogram_bin_edges(residual, bins=min(40, max(10, int(np.sqrt(len(residual))))))
    counts, _ = np.histogram(residual, bins=edges)
    fig = histogram(edges, counts, x_title="actual − predicted")
    fig.update_layout(height=360, title_text="Distribution of errors", margin=dict(l=60, r=20, t=40, b=50))
    return fig


# ---------------------------------------------------------------------- model: search and explanations
def interval_plot(labels: Sequence[str], scores: Sequence[float], lows: Sequence[float],
                  highs: Sequence[float], *, metric: str, highlight: Sequence[bool] | None = None) -> Figure:
    """Scores with 95% intervals as horizontal error bars, first label on top."""
    go = _go()
    labels = [str(v) for v in labels][::-1]
    s = np.asarray(scores, dtype=float)[::-1]
    lo = np.asarray(lows, dtype=float)[::-1]
    hi = np.asarray(highs, dtype=float)[::-1]
    plus = np.where(np.isnan(hi), 0, hi - s)
    minus = np.where(np.isnan(lo), 0, s - lo)
    marked = list(highlight)[::-1] if highlight is not None else [False] * len(s)
    colors = [ORANGE if h else BLUE for h in marked]
    fig = go.Figure(go.Scatter(
        x=s, y=labels, mode="markers", marker=dict(color=colors, size=9),
        error_x=dict(type="data", symmetric=False, array=plus, arrayminus=minus, color=GREY, thickness=1.5),
        hovertemplate="%{y}: %{x:.4g}<extra></extra>"))
    fig.update_layout(**_layout(height=max(220, 80 + 28 * len(labels)), showlegend=False,
                                title_text="Score of each configuration, with its 95% interval",
                                margin=dict(l=10, r=20, t=40, b=50)))
    fig.update_yaxes(automargin=True, type="category")
    fig.update_xaxes(title_text=metric)
    return fig


def search_history(x: Sequence[float], scores: Sequence[float], best: Sequence[float],
                   families: Sequence[str], *, metric: str, x_title: str) -> Figure:
    """Each trial's score as a dot (coloured by family) and the best so far as a step line."""
    go = _go()
    fig = go.Figure()
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(scores, dtype=float)
    for i, family in enumerate(dict.fromkeys(families)):
        mask = np.asarray([f == family for f in families])
        fig.add_trace(go.Scatter(x=xs[mask], y=ys[mask], mode="markers", name=family,
                                 marker=dict(color=PALETTE[i % len(PALETTE)], size=8, opacity=0.8),
                                 hovertemplate=f"{family}<br>%{{x:.4g}}: %{{y:.4g}}<extra></extra>"))
    fig.add_trace(go.Scatter(x=xs, y=best, mode="lines", line=dict(color="#1f2933", shape="hv", width=2),
                             name="best so far", hovertemplate="best so far %{y:.4g}<extra></extra>"))
    fig.update_layout(**_layout(title_text="Search history: best score so far",
                                legend=dict(orientation="h", y=-0.25)))
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=metric)
    return fig


def partial_dependence(name: str, grid: Sequence[object], values: npt.ArrayLike, *,
                       kind: str | None = None, series: Sequence[str] | None = None) -> Figure:
    """The average prediction as one feature varies (one line per class if ``values`` is 2-D).

    ``kind`` is "numeric", "datetime" or "categorical"; guessed from the grid when not given.
    The title names the feature; what the y axis is, the page says once for all of them.
    """
    go = _go()
    fig = go.Figure()
    v = np.asarray(values, dtype=float)
    lines = v.reshape(1, -1) if v.ndim == 1 else (v if v.shape[-1] == len(grid) else v.T)
    if kind is None:
        numeric = all(isinstance(g, (int, float, np.number)) and not isinstance(g, bool) for g in grid)
        kind = "numeric" if numeric else "categorical"
    axis_type = {"numeric": "linear", "datetime": "date"}.get(kind, "category")
    x = [str(g) for g in grid] if axis_type != "linear" else list(grid)
    for i, line in enumerate(lines[:10]):
        label = series[i] if series is not None and i < len(series) else f"#{i}"
        fig.add_trace(go.Scatter(x=x, y=line, mode="lines+markers" if len(grid) <= 25 else "lines",
                                 name=str(label), line=dict(color=PALETTE[i % len(PALETTE)], width=2),
                                 marker=dict(size=5), showlegend=len(lines) > 1,
                                 hovertemplate=f"{name} = %{{x}}<br>average %{{y:.4g}}<extra></extra>"))
    fig.update_layout(**_layout(height=250, title_text=name, margin=dict(l=50, r=10, t=35, b=40),
                                legend=dict(orientation="h", y=-0.3)))
    fig.update_xaxes(type=axis_type, automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def forecast_band(history_x: Sequence[Any], history_y: Sequence[float], x: Sequence[Any], point: Sequence[float],
                  low: Sequence[float], high: Sequence[float], *, title: str = "", y_title: str = "",
                  band: str = "80% interval") -> Figure:
    """A series' recent history, its point forecast and a shaded interval."""
    go = _go()
    fig = go.Figure()
    fig.add_scatter(x=list(x) + list(x)[::-1], y=list(high) + list(low)[::-1], fill="toself",
                    fillcolor="rgba(47,111,179,0.18)", line=dict(width=0), name=band, hoverinfo="skip")
    fig.add_scatter(x=list(history_x), y=list(history_y), mode="lines", line=dict(color=GREY, width=1.6),
                    name="history")
    fig.add_scatter(x=list(x), y=list(point), mode="lines", line=dict(color=BLUE, width=2.2), name="forecast")
    fig.update_layout(**_layout(title=dict(text=_clip(title, 60), font=dict(size=14), x=0.01, xanchor="left"),
                                yaxis_title=y_title, legend=dict(orientation="h", y=-0.2), height=320))
    return fig


def by_step(steps: Sequence[int], values: Sequence[float], *, title: str = "", y_title: str = "") -> Figure:
    """One value per forecast step (the error growing with the horizon)."""
    go = _go()
    fig = go.Figure(go.Bar(x=list(steps), y=list(values), marker_color=BLUE))
    fig.update_layout(**_layout(title=title, xaxis_title="steps ahead", yaxis_title=y_title, showlegend=False))
    return fig


def threshold_lines(thresholds: Sequence[float], lines: dict[str, Sequence[float]], *, chosen: float | None = None,
                    title: str = "", x_title: str = "match probability threshold") -> Figure:
    """Several scores against a threshold (precision, recall, F1...), the chosen one marked."""
    go = _go()
    fig = go.Figure()
    for (name, values), color in zip(lines.items(), PALETTE):
        fig.add_trace(go.Scatter(x=list(thresholds), y=list(values), mode="lines", name=name, line=dict(color=color),
                                 hovertemplate=f"{name} %{{y:.4f}} at %{{x:.3f}}<extra></extra>"))
    if chosen is not None:
        fig.add_vline(x=chosen, line=dict(color=GREY, dash="dash"), annotation_text="chosen")
    fig.update_layout(**_layout(title=title, height=300, margin=dict(l=45, r=10, t=40, b=45)))
    fig.update_xaxes(title_text=x_title, range=[0, 1])
    fig.update_yaxes(rangemode="tozero")
    return fig
