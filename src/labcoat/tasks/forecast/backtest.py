"""Rolling-origin backtests of the candidates under a time budget, the greedy ensemble chosen
over their windows, and the conformal quantiles of its errors.

Window ``w`` (1 = the latest) trains on each series without its last ``w × horizon`` values
and scores the next ``horizon``: no forecast ever sees its future. Series too short for a
window sit it out; series too short for any (``horizon + MIN_TRAIN`` values) are forecast by
a baseline, with a notice.

The ensemble's weights are chosen on windows 2..k and scored on window 1, so its reported
score is not the one it was selected on; the same split measures the coverage of its
conformal intervals. The final weights are chosen again on all windows.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from labcoat.tasks.forecast.candidates import Candidate, intermittent
from labcoat.tasks.forecast.data import KEY, TIME, Panel
from labcoat.tasks.forecast.metrics import POINT_METRICS, aggregate, parts, scales
from labcoat.tasks.forecast.periods import mase_season

#: The fewest values a series keeps to train on in a backtest window.
MIN_TRAIN = 4
#: Quantile levels kept of the scaled errors (any level asked for is interpolated).
LEVELS = np.round(np.arange(0.01, 1.0, 0.01), 2)


@dataclass
class Window:
    """One backtest window: which series it holds, their histories and actuals."""

    number: int
    series: np.ndarray
    panel: Panel
    actual: np.ndarray
    scale: np.ndarray  #: MASE scale of each series' training part
    future: pd.DataFrame | None = None  #: the known covariates of the steps scored


@dataclass
class Trial:
    """A candidate's backtest: forecasts per window, time taken, what went wrong."""

    candidate: Candidate
    forecasts: dict[int, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    status: str = "ok"
    fallbacks: int = 0


def plan_windows(panel: Panel, horizon: int, windows: int) -> tuple[list[Window], np.ndarray]:
    """Up to ``windows`` backtest windows, and the positions of the series too short for any."""
    lengths = panel.lengths
    too_short = np.flatnonzero(lengths < horizon + MIN_TRAIN)
    out = []
    for w in range(1, windows + 1):
        members = np.flatnonzero(lengths >= w * horizon + MIN_TRAIN)
        if len(members) == 0:
            break
        taken = panel.take(members)
        train, rest = taken.cut(w * horizon)
        out.append(Window(w, members, train, rest[:, :horizon], scales(train.histories(), mase_season(panel.freq)),
                          _known_ahead(taken, w * horizon, horizon)))
    return out, too_short


def _known_ahead(panel: Panel, cut: int, horizon: int) -> pd.DataFrame | None:
    """The known-in-advance covariates of the ``horizon`` steps after each series' last
    ``cut`` values (what a forecaster at that origin is given about its future)."""
    if not panel.known:
        return None
    starts = panel.indptr[1:] - cut
    rows = (starts[:, None] + np.arange(horizon)[None, :]).ravel()
    return panel.frame.iloc[rows][[KEY, TIME, *panel.known]].reset_index(drop=True)


def run_trial(candidate: Candidate, windows: Sequence[Window], horizon: int, *, deadline: float) -> Trial:
    """Backtest ``candidate`` on every window, stopping at ``deadline`` (status says so)."""
    trial = Trial(candidate)
    started = time.monotonic()
    try:
        for window in windows:
            if hasattr(candidate, "deadline"):  # as wall-clock time, which holds on other machines too
                candidate.deadline = time.time() + (deadline - time.monotonic())
            candidate.fit(window.panel, horizon)
            trial.forecasts[window.number] = _finite(candidate.predict(window.panel, horizon, window.future), window)
            trial.fallbacks += int(getattr(candidate, "fallbacks", 0))
            if time.monotonic() > deadline:
                raise TimeoutError(candidate.name)
    except TimeoutError:
        trial.status = "stopped: budget"
    except Exception as error:  # a candidate that fails is reported, the others go on
        trial.status = f"failed: {type(error).__name__}: {str(error)[:120]}"
    finally:
        if hasattr(candidate, "deadline"):
            candidate.deadline = None
    trial.seconds = time.monotonic() - started
    return trial


def _finite(forecast: np.ndarray, window: Window) -> np.ndarray:
    """Forecasts with any non-finite value replaced by the series' last value."""
    bad = ~np.isfinite(forecast)
    if bad.any():
        last = np.array([h[-1] for h in window.panel.histories()])
        forecast = np.where(bad, last[:, None], forecast)
    return forecast


def scaled_errors(forecast: np.ndarray, window: Window) -> np.ndarray:
    """Absolute errors over each series' scale (MASE's terms), ``n_series`` × horizon."""
    return np.abs(window.actual - forecast) / window.scale[:, None]


def greedy_weights(trials: Sequence[Trial], windows: Sequence[Window], rows: np.ndarray | None = None, *,
                   rounds: int = 25) -> np.ndarray:
    """Caruana's greedy selection with replacement minimising MASE over ``windows`` (and the
    series positions ``rows`` of the panel, default all): a weight per trial, summing to 1."""
    stacks = []
    for window in windows:
        keep = np.ones(len(window.series), dtype=bool) if rows is None else np.isin(window.series, rows)
        stacks.append([t.forecasts[window.number][keep] for t in trials])
    actual = [w.actual[np.ones(len(w.series), dtype=bool) if rows is None else np.isin(w.series, rows)]
              for w in windows]
    scale = [w.scale[np.ones(len(w.series), dtype=bool) if rows is None else np.isin(w.series, rows)]
             for w in windows]

    def loss(blend: list[np.ndarray]) -> float:
        total = sum(float((np.abs(a - b) / s[:, None]).sum()) for a, b, s in zip(actual, blend, scale))
        count = sum(a.size for a in actual)
        return total / max(count, 1)

    counts = np.zeros(len(trials))
    current: list[np.ndarray] | None = None
    for r in range(rounds):
        best, best_loss = -1, np.inf
        for j in range(len(trials)):
            blend = [stack[j] if current is None else (current[k] * r + stack[j]) / (r + 1)
                     for k, stack in enumerate(stacks)]
            value = loss(blend)
            if value < best_loss - 1e-12:
                best, best_loss = j, value
        counts[best] += 1
        current = [stack[best] if current is None else (current[k] * r + stack[best]) / (r + 1)
                   for k, stack in enumerate(stacks)]
    return counts / counts.sum()


def series_errors(forecasts: dict[int, np.ndarray], windows: Sequence[Window], n_series: int) -> np.ndarray:
    """Each series' MASE averaged over the windows it is in (NaN where it is in none)."""
    total, count = np.zeros(n_series), np.zeros(n_series)
    for window in windows:
        np.add.at(total, window.series, scaled_errors(forecasts[window.number], window).mean(axis=1))
        np.add.at(count, window.series, 1)
    with np.errstate(invalid="ignore"):
        return total / np.where(count > 0, count, np.nan)


def blend(trials: Sequence[Trial], weights: np.ndarray, window: Window) -> np.ndarray:
    return sum(w * t.forecasts[window.number] for t, w in zip(trials, weights) if w > 0)


def group_of(panel: Panel) -> np.ndarray:
    """Each series' group for the ensemble: 1 intermittent (mostly zeros), 0 regular."""
    return np.array([int(intermittent(y)) for y in panel.histories()])


def ensemble_weights(trials: Sequence[Trial], windows: Sequence[Window], groups: np.ndarray) -> dict[int, np.ndarray]:
    """Greedy weights per group of series (regular, intermittent) that has series in the windows."""
    out = {}
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        if any(np.isin(w.series, rows).any() for w in windows):
            out[int(g)] = greedy_weights(trials, windows, rows)
    return out


def ensemble_forecast(trials: Sequence[Trial], weights: dict[int, np.ndarray], groups: np.ndarray,
                      window: Window) -> np.ndarray:
    out = np.zeros_like(window.actual)
    for g, w in weights.items():
        rows = groups[window.series] == g
        out[rows] = blend(trials, w, window)[rows]
    return out


def leaderboard_row(name: str, forecasts: dict[int, np.ndarray], windows: Sequence[Window], *, seed: int) -> dict:
    """MASE, sMAPE, WAPE and RMSSE over the windows, each with a 95% interval over series."""
    row: dict = {"candidate": name}
    n_series = max(int(w.series.max()) for w in windows) + 1
    sums = {metric: (np.zeros(n_series), np.zeros(n_series)) for metric in POINT_METRICS}
    for w in windows:
        if w.number not in forecasts:
            continue
        histories = w.panel.histories()
        for metric, (num, den) in sums.items():
            a, b = parts(metric, w.actual, forecasts[w.number], histories, season=_season(w))
            np.add.at(num, w.series, a)
            np.add.at(den, w.series, b)
    for metric, (num, den) in sums.items():
        used = den > 0
        score = aggregate(metric, num[used], den[used], seed=seed)
        row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = score.value, score.low, score.high
    return row


def _season(window: Window) -> int:
    return mase_season(window.panel.freq)


#: The quantile levels of the weighted quantile loss (as AutoGluon-TimeSeries and the M5
#: competition's uncertainty track weigh them: the median and the 80% interval's ends).
WQL_LEVELS = (0.1, 0.5, 0.9)


def residual_quantiles(forecasts: dict[int, np.ndarray], windows: Sequence[Window], horizon: int) -> np.ndarray:
    """Quantiles (:data:`LEVELS`) of the signed scaled errors per horizon step (``horizon`` ×
    levels). Steps with fewer than 20 errors borrow from all steps, grown by √step."""
    errors = [(w.actual - forecasts[w.number]) / w.scale[:, None] for w in windows if w.number in forecasts]
    stacked = np.concatenate(errors, axis=0) if errors else np.zeros((1, horizon))
    out = np.empty((horizon, len(LEVELS)))
    steps = np.arange(1, horizon + 1)
    pooled = (stacked / np.sqrt(steps)).ravel()
    for h in range(horizon):
        column = stacked[:, h]
        out[h] = np.quantile(column, LEVELS) if len(column) >= 20 else np.quantile(pooled, LEVELS) * np.sqrt(h + 1)
    return out


def quantile_offsets(table: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Scaled offsets at ``levels`` (horizon × len(levels)), interpolated in the table."""
    return np.stack([np.interp(levels, LEVELS, row) for row in table])


def latest_window_check(trials: Sequence[Trial], windows: Sequence[Window], groups: np.ndarray, horizon: int, *,
                        seed: int, level: float = 0.8) -> tuple[dict | None, tuple[float, int] | None]:
    """Window 1 scored as if unseen: the ensemble with weights chosen on the older windows
    (its leaderboard row, with the weighted quantile loss of its 10%, 50% and 90% quantiles
    built from the older windows' errors), and the share of window 1's actuals inside the
    central ``level`` interval built the same way (with how many values). None, None with a
    single window."""
    older = [w for w in windows if w.number > 1]
    latest = next((w for w in windows if w.number == 1), None)
    if not older or latest is None:
        return None, None
    weights = ensemble_weights(trials, older, groups)
    forecasts = {w.number: ensemble_forecast(trials, weights, groups, w) for w in windows}
    honest = leaderboard_row("ensemble (weights from older windows)", {1: forecasts[1]}, [latest], seed=seed)
    table = residual_quantiles({k: v for k, v in forecasts.items() if k > 1}, older, horizon)

    def at(levels: Sequence[float]) -> list[np.ndarray]:
        return [forecasts[1] + latest.scale[:, None] * column for column in quantile_offsets(table, levels).T]

    wql = aggregate("wql", *parts("wql", latest.actual, forecasts[1], [], season=1,
                                  quantiles=dict(zip(WQL_LEVELS, at(WQL_LEVELS)))), seed=seed)
    honest.update(wql=wql.value, wql_low=wql.low, wql_high=wql.high)
    low, high = at([(1 - level) / 2, 1 - (1 - level) / 2])
    inside = (latest.actual >= low) & (latest.actual <= high)
    return honest, (float(inside.mean()), int(inside.size))
