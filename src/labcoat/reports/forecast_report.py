"""The report of a forecast model: what was learned, how accurate the backtest says it is (with
intervals), how the error grows with the horizon, whether the intervals hold, and the
forecasts of the largest, the best and the worst forecast series drawn over their history.

Examples
--------
>>> html = forecast_report(model)                                  # doctest: +SKIP
>>> Path("forecast.html").write_text(html)                         # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from labcoat.reports import figures
from labcoat.reports.render import figure, render_page, write_page
from labcoat.tasks.forecast.data import TARGET, TIME

if TYPE_CHECKING:
    from labcoat.tasks.forecast.model import ForecastModel

#: History drawn before the forecast, in horizons.
HISTORY_HORIZONS = 4


def forecast_report(model: ForecastModel, *, title: str | None = None) -> str:
    """The report as one self-contained HTML page."""
    info = model.info
    board = model.leaderboard.replace({np.nan: None}).to_dict("records")
    plots = {}
    shown = _series_to_show(model)
    forecast = model.forecast(quantiles=(0.1, 0.9)) if model.stored is not None else None
    cards = []
    if forecast is not None:
        panel = model.panel
        span = HISTORY_HORIZONS * model.horizon
        for n, (position, why) in enumerate(shown):
            history = panel.frame.iloc[panel.indptr[position]:panel.indptr[position + 1]].tail(span)
            rows = forecast.iloc[position * model.horizon:(position + 1) * model.horizon]
            name = " / ".join(str(v) for v in panel.ids.iloc[position][list(panel.series)]) or "the series"
            plots[f"series{n}"] = figure(figures.forecast_band(
                history[TIME].tolist(), history[TARGET].tolist(), rows[panel.time_column].tolist(),
                rows["forecast"].tolist(), rows["p10"].tolist(), rows["p90"].tolist(), title=f"{name} ({why})",
                y_title=panel.target))
            cards.append({"name": name, "why": why, "backtest_mase": _num(model.series_mase[position])})
    steps = info.get("error_by_step") or []
    if steps:
        plots["steps"] = figure(figures.by_step(list(range(1, len(steps) + 1)), steps,
                                                title="Backtest error by steps ahead", y_title="MASE"))
    ensemble = next((r for r in board if r["candidate"] == "ensemble"), None)
    return render_page("forecast_report.html.j2", title=title or f"Forecast of {model.target}", info=info,
                       board=board, ensemble=ensemble, cards=cards, figures=plots,
                       needs_future=forecast is None)


def write_forecast_report(model: ForecastModel, out_dir: str | Path) -> Path:
    """Write ``forecast_report.html`` in ``out_dir``; returns its path."""
    return write_page(out_dir, "forecast_report.html", forecast_report(model))


def _series_to_show(model: ForecastModel) -> list[tuple[int, str]]:
    """The largest series (by total), the best and the worst forecast (backtest MASE)."""
    panel = model.panel
    totals = np.add.reduceat(np.abs(panel.y), panel.indptr[:-1]) if panel.n_series else np.zeros(0)
    out = [(int(np.argmax(totals)), "the largest")]
    scored = np.flatnonzero(np.isfinite(model.series_mase))
    if len(scored) > 1:
        best = int(scored[np.argmin(model.series_mase[scored])])
        worst = int(scored[np.argmax(model.series_mase[scored])])
        out += [(best, "the best forecast in the backtest"), (worst, "the worst forecast in the backtest")]
    unique: dict[int, str] = {}
    for position, why in out:
        unique.setdefault(position, why)
    return list(unique.items())


def _num(value: Any) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None
