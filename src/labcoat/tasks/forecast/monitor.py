"""Realised accuracy of a forecast model: its forecasts against the actuals that came after,
compared with what the backtest promised, series by series.

For every series with actuals inside the forecast horizon, the realised MASE (the same scale
as the backtest's) is paired with the series' backtest MASE; the mean difference gets a 95%
bootstrap interval over series. The model has degraded when that interval lies above
``tolerance`` × the backtest's mean (exit code 1), else the check passes (0). The realised
coverage of the 80% interval is reported beside it.

Examples
--------
>>> check = check_actuals(model, actuals)        # doctest: +SKIP
>>> check.exit_code, check.summary[0]            # doctest: +SKIP
(0, 'No degradation: realised MASE 0.71 against 0.69 in the backtest ...')
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labcoat.errors import DataError
from labcoat.tasks.forecast.data import KEY, TIME, series_keys
from labcoat.tasks.forecast.metrics import scales
from labcoat.tasks.forecast.model import ForecastModel
from labcoat.tasks.forecast.periods import mase_season

#: Relative increase of the mean MASE tolerated before a degradation is called.
TOLERANCE = 0.1


@dataclass
class ForecastCheck:
    """The outcome of :func:`check_actuals`."""

    degraded: bool
    realised_mase: float
    backtest_mase: float
    difference: float
    low: float
    high: float
    series: int
    values: int
    coverage_80: float
    summary: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.degraded else 0

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("degraded", "realised_mase", "backtest_mase", "difference", "low",
                                              "high", "series", "values", "coverage_80", "summary")} | {
            "exit_code": self.exit_code}


def check_actuals(model: ForecastModel, actuals: pd.DataFrame, *, tolerance: float = TOLERANCE,
                  seed: int = 0) -> ForecastCheck:
    """Compare ``model``'s forecasts with ``actuals`` (rows of the training table's series,
    time and target columns, after its end; known covariates are taken from them too)."""
    panel = model.panel
    needed = [*panel.series, panel.time_column, panel.target]
    absent = [c for c in needed if c not in actuals.columns]
    if absent:
        raise DataError(f"The actuals lack column(s) {', '.join(absent)}; give the series, time and target columns.")
    rows = actuals.copy()
    rows[panel.time_column] = pd.to_datetime(rows[panel.time_column], format="mixed")
    known = [c for c in panel.known if not c.startswith("holiday_")]
    forecast = _forecast_known(model, rows) if known else model.forecast(quantiles=(0.1, 0.9))
    joined = forecast.merge(rows[needed], on=[*panel.series, panel.time_column], how="inner")
    joined = joined[joined[panel.target].notna()]
    if joined.empty:
        raise DataError(f"None of the actuals falls in the {model.horizon} steps after the training data's end "
                        f"({panel.frame[TIME].max()}); give actuals of that period.")
    keys = series_keys(joined, panel.series)
    position = pd.Index(panel.keys).get_indexer(keys)
    scale = scales(panel.histories(), mase_season(panel.freq))
    joined["scaled"] = np.abs(joined[panel.target] - joined["forecast"]) / scale[position]
    joined[KEY] = position
    realised = joined.groupby(KEY)["scaled"].mean()
    promised = model.series_mase[realised.index.to_numpy()]
    usable = np.isfinite(promised)
    if not usable.any():
        raise DataError("No series with actuals had a backtest estimate to compare with (all were too short).")
    r, b = realised.to_numpy()[usable], promised[usable]
    diff = r - b
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(diff), (2000, len(diff)))
    low, high = np.percentile(diff[draws].mean(axis=1), [2.5, 97.5]) if len(diff) > 1 else (diff[0], diff[0])
    degraded = bool(low > tolerance * b.mean())
    inside = float(((joined[panel.target] >= joined["p10"]) & (joined[panel.target] <= joined["p90"])).mean())
    verdict = "Degraded" if degraded else "No degradation"
    summary = [f"{verdict}: realised MASE {r.mean():.3f} against {b.mean():.3f} in the backtest, on {len(r)} series "
               f"({len(joined)} values); difference {diff.mean():+.3f} [{low:+.3f}, {high:+.3f}] (95%, paired over "
               f"series; degraded when the interval lies above {tolerance:.0%} of the backtest's {b.mean():.3f}).",
               f"80% intervals covered {100 * inside:.1f}% of the actual values."]
    return ForecastCheck(degraded, float(r.mean()), float(b.mean()), float(diff.mean()), float(low), float(high),
                         int(len(r)), int(len(joined)), inside, summary)


def _forecast_known(model: ForecastModel, rows: pd.DataFrame) -> pd.DataFrame:
    """Forecasts of the series the actuals hold, their known covariates taken from them."""
    panel = model.panel
    series = rows[list(panel.series)].drop_duplicates() if panel.series else None
    return model.forecast(future=rows, quantiles=(0.1, 0.9), series=series)
