"""Forecast accuracy: MASE, sMAPE, WAPE, RMSSE and the weighted quantile loss, per series and
window, aggregated with a 95% bootstrap interval over series.

Every metric is a ratio of sums over series (a mean of per-series values is the ratio with
one per series below), so one resampling of series serves them all and the interval is the
series-level uncertainty, the unit a forecaster cares about.

Examples
--------
>>> import numpy as np
>>> actual = np.array([[10.0, 12.0], [5.0, 5.0]])
>>> forecast = np.array([[11.0, 12.0], [4.0, 6.0]])
>>> history = [np.array([8.0, 9.0, 10.0, 11.0]), np.array([5.0, 6.0, 5.0, 6.0])]
>>> round(score("mase", actual, forecast, history, season=1).value, 3)
0.75
>>> round(score("wape", actual, forecast, history, season=1).value, 3)
0.094
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The point metrics, all lower-is-better.
POINT_METRICS = ("mase", "smape", "wape", "rmsse")
#: Metric names with what they say, for reports and ``--metric``.
METRIC_WORDS = {
    "mase": "mean absolute scaled error (error / in-sample seasonal naive error)",
    "smape": "symmetric mean absolute percentage error (0-200)",
    "wape": "weighted absolute percentage error (sum |error| / sum |actual|)",
    "rmsse": "root mean squared scaled error (M5)",
    "wql": "weighted quantile loss (mean over quantiles of 2 x pinball / sum |actual|)",
}


@dataclass(frozen=True)
class Score:
    """A metric's value with its 95% bootstrap interval over series."""

    name: str
    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float | str]:
        return {"metric": self.name, "value": self.value, "low": self.low, "high": self.high}


def scales(history: Sequence[np.ndarray], season: int, *, squared: bool = False) -> np.ndarray:
    """Each series' in-sample error of the seasonal naive forecast (period ``season``; 1 when
    the series is not longer than a season): MASE's denominator, RMSSE's with ``squared``.
    A flat history (zero error) is scaled by its mean level instead, else by 1."""
    out = np.empty(len(history))
    for i, y in enumerate(history):
        y = y[~np.isnan(y)]
        m = season if len(y) > season else 1
        diff = y[m:] - y[:-m] if len(y) > m else np.zeros(1)
        value = float(np.mean(diff ** 2) if squared else np.mean(np.abs(diff)))
        if value <= 0:
            level = float(np.mean(np.abs(y))) if len(y) else 0.0
            value = (level ** 2 if squared else level) or 1.0
        out[i] = value
    return out


def parts(name: str, actual: np.ndarray, forecast: np.ndarray, history: Sequence[np.ndarray], *,
          season: int, quantiles: dict[float, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-series numerator and denominator of metric ``name`` (``n_series`` each): the metric
    over any set of series is ``num.sum() / den.sum()``."""
    error = actual - forecast
    h = actual.shape[1]
    if name == "mase":
        return np.mean(np.abs(error), axis=1) / scales(history, season), np.ones(len(actual))
    if name == "rmsse":
        return np.sqrt(np.mean(error ** 2, axis=1) / scales(history, season, squared=True)), np.ones(len(actual))
    if name == "smape":
        denominator = np.abs(actual) + np.abs(forecast)
        with np.errstate(invalid="ignore", divide="ignore"):
            terms = np.where(denominator > 0, 200 * np.abs(error) / denominator, 0.0)
        return terms.mean(axis=1), np.ones(len(actual))
    if name == "wape":
        return np.abs(error).sum(axis=1), np.abs(actual).sum(axis=1)
    if name == "wql":
        if not quantiles:
            raise ValueError("wql needs quantile forecasts")
        loss = np.zeros(len(actual))
        for q, values in quantiles.items():
            below = actual - values
            loss += 2 * np.sum(np.maximum(q * below, (q - 1) * below), axis=1)
        return loss / len(quantiles), np.abs(actual).sum(axis=1)
    raise ValueError(f"unknown forecast metric {name!r} (h={h})")


def aggregate(name: str, num: np.ndarray, den: np.ndarray, *, seed: int = 0, draws: int = 1000) -> Score:
    """The metric ``num.sum() / den.sum()`` with a 95% percentile bootstrap interval over rows
    (series)."""
    total = den.sum()
    value = float(num.sum() / total) if total > 0 else float("nan")
    if len(num) < 2:
        return Score(name, value, value, value)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(num), np.full(len(num), 1 / len(num)), size=draws)
    with np.errstate(invalid="ignore", divide="ignore"):
        resampled = (counts @ num) / (counts @ den)
    low, high = np.nanpercentile(resampled, [2.5, 97.5])
    return Score(name, value, float(low), float(high))


def score(name: str, actual: np.ndarray, forecast: np.ndarray, history: Sequence[np.ndarray], *,
          season: int, quantiles: dict[float, np.ndarray] | None = None, seed: int = 0) -> Score:
    """Metric ``name`` of ``forecast`` against ``actual`` (``n_series`` × horizon), with its
    interval; ``history`` scales MASE and RMSSE."""
    num, den = parts(name, actual, forecast, history, season=season, quantiles=quantiles)
    return aggregate(name, num, den, seed=seed)


def owa(mase: float, smape: float, naive2_mase: float, naive2_smape: float) -> float:
    """M4's overall weighted average: the mean of MASE and sMAPE relative to Naive2's."""
    return 0.5 * (mase / naive2_mase + smape / naive2_smape)
