"""The page of ``labcoat monitor`` for an anomaly model, from the check's JSON document
(:func:`labcoat.lifecycle.anomaly_monitor.monitor_anomaly`): the verdict, the alert rate of
the window against training's, and the share of rows in each decile of the training scores,
then and now.

Examples
--------
>>> html = anomaly_monitor_report(document)                     # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any

from labcoat.reports.figures import BLUE, _go, _layout
from labcoat.reports.monitor_report import distribution
from labcoat.reports.render import figure, render_page


def anomaly_monitor_report(document: dict[str, Any], *, title: str | None = None) -> str:
    """The check as one self-contained HTML page."""
    plots = {"scores": figure(distribution(document["scores"]["plot"], title="Rows per decile of the training scores"))}
    days = document.get("per_day")
    if days:
        go = _go()
        fig = go.Figure(go.Bar(x=[d["day"] for d in days], y=[d["alerts"] for d in days], marker_color=BLUE,
                               customdata=[d["rows"] for d in days],
                               hovertemplate="%{x}: %{y:,} alerts of %{customdata:,} rows<extra></extra>"))
        fig.update_layout(**_layout(height=240, title_text="Alerts per day in the window", showlegend=False))
        plots["days"] = figure(fig)
    return render_page("anomaly_monitor.html.j2", r=document, figures=plots,
                       title=title or f"Monitoring: {document['model']['label']}")
