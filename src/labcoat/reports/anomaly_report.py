"""The report of an anomaly model: where the training rows' scores fall and where the threshold
cuts them (the alert volume it gives, per day with a time column), the most unusual training
rows with the columns that make them so, how far the detectors agree (rank correlations), the
leaderboard and, with labels, the metrics with their 95% intervals and the precision-recall
curve.

Examples
--------
>>> html = anomaly_report(model)                                   # doctest: +SKIP
>>> Path("anomaly.html").write_text(html)                          # doctest: +SKIP
>>> agreement(pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 2, 4, 3], "c": [4, 3, 2, 1]})).round(1).values.tolist()
[[1.0, 0.8, -1.0], [0.8, 1.0, -0.8], [-1.0, -0.8, 1.0]]
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.reports import figures
from labcoat.reports.render import figure, render_page

#: Training rows shown with their reasons.
TOP_ROWS = 15
#: Histogram bins of the score distribution.
BINS = 50


def anomaly_report(model: Any, *, title: str | None = None) -> str:
    """The report as one self-contained HTML page."""
    info = model.info
    scores = np.asarray(model.training_scores, dtype=float)
    threshold = float(model.threshold)
    examples = getattr(model, "examples", None) or {}
    plots = {"scores": figure(score_histogram(scores, threshold))}
    days = examples.get("days")
    if days is not None and len(days):
        plots["days"] = figure(_day_bars(days))
    ranks = examples.get("ranks")
    matrix = agreement(ranks) if isinstance(ranks, pd.DataFrame) and ranks.shape[1] > 1 else None
    if matrix is not None:
        plots["agreement"] = figure(figures.heatmap(matrix.to_numpy(), list(matrix.columns),
                                                    title="Rank correlation (Spearman) of the detectors' scores"))
    labelled = examples.get("labelled")
    if labelled is not None and len(labelled.get("y", [])):
        plots["pr"] = figure(_pr_curve(np.asarray(labelled["y"]), np.asarray(labelled["scores"], dtype=float)))
    alerts = int((scores >= threshold).sum())
    return render_page("anomaly_report.html.j2", title=title or "Anomaly detection", info=info, model=model,
                       figures=plots, threshold=threshold, alerts=alerts, rows=len(scores),
                       per_day=_day_summary(days), top=top_rows(examples.get("top")),
                       leaderboard=_records(model.leaderboard), columns=model.columns,
                       agreement=_records(matrix.reset_index(names="detector")) if matrix is not None else [],
                       metrics=_metrics(info.get("metrics")))


def score_histogram(scores: np.ndarray, threshold: float) -> Any:
    """The training rows' scores in :data:`BINS` bins over 0..1, the threshold marked with the
    alerts it gives."""
    edges = np.linspace(0, 1, BINS + 1)
    counts = np.histogram(np.clip(scores, 0, 1), edges)[0]
    fig = figures.histogram(edges, counts, title="Anomaly score of the training rows", x_title="anomaly score")
    flagged = int((scores >= threshold).sum())
    fig.add_vline(x=threshold, line=dict(color=figures.RED, dash="dash"),
                  annotation_text=f"threshold {threshold:.3f}: {flagged:,} alerts ({flagged / max(len(scores), 1):.1%})",
                  annotation_position="top left")
    fig.update_layout(height=300)
    return fig


def _day_bars(days: pd.DataFrame) -> Any:
    go = figures._go()
    fig = go.Figure(go.Bar(x=days["day"].tolist(), y=days["alerts"].tolist(), marker_color=figures.BLUE,
                           customdata=days["rows"].tolist(),
                           hovertemplate="%{x}: %{y:,} alerts of %{customdata:,} rows<extra></extra>"))
    fig.update_layout(**figures._layout(height=260, title_text="Alerts per day in training at the threshold",
                                        showlegend=False, bargap=0.1))
    fig.update_yaxes(title_text="alerts", rangemode="tozero")
    return fig


def _day_summary(days: pd.DataFrame | None) -> dict[str, Any] | None:
    if days is None or not len(days):
        return None
    alerts = days["alerts"].to_numpy(dtype=float)
    return {"days": len(days), "mean": float(alerts.mean()), "median": float(np.median(alerts)),
            "max": float(alerts.max()), "busiest": str(days["day"].iloc[int(alerts.argmax())])}


def agreement(ranks: pd.DataFrame) -> pd.DataFrame:
    """Spearman rank correlation between the detectors' scores (one column per detector)."""
    return ranks.rank().corr(method="pearson")


def _pr_curve(y: np.ndarray, scores: np.ndarray) -> Any:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, scores)
    return figures.pr_curves([{"name": "anomaly score", "recall": recall, "precision": precision,
                               "ap": float(average_precision_score(y, scores)), "base": float(np.mean(y))}])


def top_rows(top: pd.DataFrame | None, n: int = TOP_ROWS) -> dict[str, Any]:
    """The most unusual training rows: ``columns`` (the inputs shown) and ``rows`` (score,
    reasons and values, as text)."""
    if top is None or not len(top):
        return {"columns": [], "rows": []}
    shown = top.sort_values("anomaly_score", ascending=False).head(n)
    columns = [c for c in shown.columns if c not in ("anomaly_score", "reasons", "is_anomaly")]
    rows = [{"score": float(r["anomaly_score"]), "reasons": str(r.get("reasons") or ""),
             "values": ["" if pd.isna(r[c]) else str(r[c]) for c in columns]} for _, r in shown.iterrows()]
    return {"columns": columns, "rows": rows}


def _metrics(metrics: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for name, m in (metrics or {}).items():
        if isinstance(m, dict) and "value" in m:
            out.append({"name": name, "value": m["value"], "low": m.get("low"), "high": m.get("high"),
                        "note": m.get("note", "")})
    return out


def _records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    if frame is None:
        return []
    return [{str(k): v for k, v in row.items()} for row in frame.replace({np.nan: None}).to_dict("records")]


def write_anomaly_report(model: Any, out_dir: str | Path) -> Path:
    """Write ``anomaly_report.html`` in ``out_dir``; returns its path."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "anomaly_report.html"
    path.write_text(anomaly_report(model), encoding="utf-8")
    return path
