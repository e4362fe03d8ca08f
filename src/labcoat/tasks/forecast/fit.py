"""``fit(..., task="forecast")``: prepare the panel, backtest the candidates under the budget,
choose the ensemble, calibrate its quantiles and forecast the horizon.

Examples
--------
>>> from labcoat.datasets import make_retail
>>> sales = make_retail(n_stores=2, n_items=3, days=120, seed=0)
>>> model = fit_forecast(sales, "sales", time_column="date", series=["store", "item"], horizon=8,
...                      budget=20, candidates=["seasonal_naive", "naive", "window_average"], quiet=True)
>>> model.forecast().shape[0]
48
"""
from __future__ import annotations

import importlib.util
import sys
import time
import warnings
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError, DataError, LabcoatNotice
from labcoat.search.budget import Clock, parse_budget
from labcoat.tasks.forecast.backtest import (MIN_TRAIN, Trial, ensemble_forecast, ensemble_weights, group_of,
                                             latest_window_check, leaderboard_row, plan_windows,
                                             residual_quantiles, run_trial, scaled_errors, series_errors)
from labcoat.tasks.forecast.candidates import PARALLEL_SERIES, Candidate, select
from labcoat.tasks.forecast.data import prepare
from labcoat.tasks.forecast.guards import leaking_covariates
from labcoat.tasks.forecast.model import ForecastModel, with_holidays
from labcoat.tasks.forecast.periods import FREQUENCY_WORDS, mase_season

#: Backtest windows by default.
WINDOWS = 3
#: Share of the budget kept for the final fit of the chosen global model and the forecast.
FINAL_SHARE = 0.15
#: More is kept once the global models' backtests have shown what one fit of each costs (a window's
#: seconds, this many times: the whole history is a window longer): the final fits of both on
#: M4 Weekly took 4.3 + 4.8 s at 60 s, more than the 9 s kept.
REFIT_MARGIN = 1.25
#: Series sampled to time a local model before running it on all of them.
SAMPLE = 10
#: A local model is not even timed with less than this share of the budget left (timing one
#: costs up to a third of what is left, and running it on every window more), times its
#: ``timing_cost`` (the first series, which no deadline can stop, takes longer for some).
TIMING_SHARE = 0.2
#: The series a local model is first timed on is cut to its last values: estimating on a long
#: hourly history (and compiling, the first time) can take longer than the budget allows.
WARM_UP_VALUES = 200


def fit_forecast(data: pd.DataFrame | str | Path, target: str, *, time_column: str, horizon: int,
                 series: Sequence[str] | str = (), freq: str | None = None, known: Sequence[str] | None = None,
                 holidays: str | None = None, future: pd.DataFrame | None = None, budget: float | str | None = None,
                 candidates: Sequence[str] | None = None, windows: int = WINDOWS, metric: str | None = None,
                 seed: int = 0, n_jobs: int | None = None, executor: str | None = None,
                 ray_address: str | None = None, quiet: bool = False) -> ForecastModel:
    """Fit a forecaster of ``target`` for the next ``horizon`` steps of every series.

    See :func:`labcoat.fit` (``task="forecast"``) for the parameters; ``candidates`` names the
    forecasters tried (default: all that apply, cheapest first, as long as the budget lasts);
    ``n_jobs`` the cores the local models and LightGBM use (default: those idle now);
    ``executor="ray"`` sends the local models' series to the Ray cluster at ``ray_address`` and,
    for a large panel, trains the global models there through mlforecast's distributed back end
    (:mod:`.distributed`).
    """
    clock = Clock(parse_budget(budget) if budget is not None else 60.0)
    series = [s.strip() for s in series.split(",")] if isinstance(series, str) else list(series)
    if metric not in (None, "mase"):
        raise ConfigError(f"Forecasters are chosen and ensembled by MASE; {metric!r} cannot be optimised. sMAPE, "
                          "WAPE and RMSSE are reported beside it on the leaderboard.")
    if windows < 1:
        raise ConfigError(f"windows must be at least 1; got {windows}.")
    frame = data if isinstance(data, pd.DataFrame) else _read(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LabcoatNotice)
        panel = prepare(frame, target, time_column=time_column, series=series, horizon=horizon, freq=freq,
                        known=known)
    panel = with_holidays(panel, holidays)
    notes = [str(w.message) for w in caught if issubclass(w.category, LabcoatNotice)]
    plan, too_short = plan_windows(panel, horizon, windows)
    if not plan:
        raise DataError(f"Every series is too short to forecast {horizon} steps with a backtest: the longest has "
                        f"{int(panel.lengths.max())} values, at least {horizon + MIN_TRAIN} are needed. Give more "
                        "history or a shorter horizon.")
    if len(too_short):
        notes.append(f"{len(too_short)} of {panel.n_series} series have fewer than {horizon + MIN_TRAIN} values; "
                     "they are forecast by the average of their last values (window average), not by the ensemble")
    from labcoat.search.cores import idle_cores

    tried = _available(select(candidates, seed, n_jobs or idle_cores()), panel, notes)
    if executor not in (None, "local", "ray"):
        raise ConfigError(f"Unknown executor {executor!r}. Use 'local' or 'ray'.")
    with ExitStack() as stack:
        if executor == "ray":
            from labcoat.tasks.forecast.distributed import on_ray

            stack.enter_context(on_ray(ray_address, tried, rows=len(panel.frame)))
        model = _fit(panel, plan, too_short, tried, clock, horizon=horizon, holidays=holidays, future=future,
                     seed=seed, quiet=quiet, notes=notes, target=target, time_column=time_column, series=series,
                     executor=executor or "local")
    model.info["candidates"] = list(candidates) if candidates is not None else None  # a retrain names them too
    return model


def _fit(panel: Any, plan: list, too_short: np.ndarray, tried: list[Candidate], clock: Clock, *, horizon: int,
         holidays: str | None, future: pd.DataFrame | None, seed: int, quiet: bool, notes: list[str], target: str,
         time_column: str, series: list[str], executor: str) -> ForecastModel:
    """The search, the ensemble and the final model (see :func:`fit_forecast`)."""
    findings = leaking_covariates(panel)
    trials = _search(tried, plan, horizon, clock, panel.n_series, quiet=quiet)
    usable = [t for t in trials if t.status == "ok"]
    if not usable:
        raise DataError("No forecaster finished its backtest within the budget: " + "; ".join(
            f"{t.candidate.name} {t.status}" for t in trials) + ". Give a larger budget.")
    groups = group_of(panel)
    weights = ensemble_weights(usable, plan, groups)
    blended = {w.number: ensemble_forecast(usable, weights, groups, w) for w in plan}
    rows = [{**leaderboard_row(t.candidate.name, t.forecasts, plan, seed=seed), "kind": t.candidate.kind,
             "seconds": round(t.seconds, 2), "status": t.status, "fallbacks": t.fallbacks,
             "weight": float(np.mean([w[i] for w in weights.values()]))} for i, t in enumerate(usable)]
    rows += [{"candidate": t.candidate.name, "kind": t.candidate.kind, "seconds": round(t.seconds, 2),
              "status": t.status} for t in trials if t.status != "ok"]
    ensemble_row = {**leaderboard_row("ensemble", blended, plan, seed=seed), "kind": "ensemble", "status": "ok"}
    honest, covered = latest_window_check(usable, plan, groups, horizon, seed=seed)
    leaderboard = pd.DataFrame([ensemble_row, *rows]).sort_values("mase", na_position="last", kind="stable")
    members_at = sorted({i for w in weights.values() for i in np.flatnonzero(w > 0)})
    members = [usable[i].candidate for i in members_at]
    for member in members:  # the global model learns again from the whole history
        member.fit(panel, horizon)
    model = ForecastModel(panel=panel, horizon=horizon, members=members,
                          weights={g: w[members_at] for g, w in weights.items()},
                          residuals=residual_quantiles(blended, plan, horizon), leaderboard=leaderboard,
                          holidays=holidays)
    model.series_mase = series_errors(blended, plan, panel.n_series)
    model.candidate_errors = {t.candidate.name: series_errors(t.forecasts, plan, panel.n_series) for t in usable}
    if not [c for c in panel.known if not c.startswith("holiday_")] or future is not None:
        model.stored = model._point(panel, horizon, model._future(panel, horizon, future))
    model.info = {
        "target": target, "time_column": time_column, "series": series, "horizon": horizon, "freq": panel.freq,
        "frequency": FREQUENCY_WORDS.get(panel.freq.split("-")[0], panel.freq), "n_series": panel.n_series,
        "rows": int(len(panel.frame)), "filled": panel.filled, "windows": len(plan),
        "mase_season": mase_season(panel.freq), "static": list(panel.static), "known": list(panel.known),
        "past": list(panel.past), "nonnegative": panel.nonnegative, "holidays": holidays,
        "ensemble_by_group": {("intermittent" if g else "regular"): {usable[i].candidate.name: float(round(w[i], 3))
                                                                     for i in np.flatnonzero(w > 0)}
                              for g, w in weights.items()},
        "honest_estimate": honest, "coverage_80": None if covered is None else {"share": covered[0],
                                                                              "values": covered[1]},
        "error_by_step": [float(v) for v in np.concatenate([scaled_errors(blended[w.number], w) for w in plan]).mean(axis=0)],
        "findings": findings, "notes": notes, "executor": executor, "budget": clock.budget, "seconds": round(clock.elapsed, 2), "seed": seed,
    }
    for note in [*findings, *notes]:
        warnings.warn(note, LabcoatNotice, stacklevel=2)
    return model


def _read(data: str | Path) -> pd.DataFrame:
    from labcoat.data.io import read_table

    return read_table(data)


def _available(candidates: list[Candidate], panel: Any, notes: list[str]) -> list[Candidate]:
    """The candidates that apply to ``panel`` and whose library is installed (one notice
    naming the extra when one is not)."""
    missing = sorted({c.needs for c in candidates if c.needs and importlib.util.find_spec(c.needs) is None})
    if missing:
        notes.append(f"{' and '.join(missing)} not installed: only the baselines and the models that need "
                     "neither are tried. Install them with: pip install 'labcoat[forecast]'")
    return [c for c in candidates if (not c.needs or c.needs not in missing) and c.applies(panel)]


def _search(candidates: list[Candidate], plan: list, horizon: int, clock: Clock, n_series: int, *,
            quiet: bool) -> list[Trial]:
    """Backtest the candidates in turn while the budget lasts (a share kept for the end, or the
    time to fit again the global models that finished, if more); a local model is first timed on
    a few series, a global one judged by the other's backtest, and skipped when it would not fit."""
    trials: list[Trial] = []
    globals_done: list[float] = []  # the backtest seconds of the global models that finished
    for candidate in candidates:
        # Kept for the end: a share of the budget, or the finished global models' refits if more.
        reserve = max(FINAL_SHARE * (clock.budget or 0), REFIT_MARGIN * sum(globals_done) / len(plan))
        left = clock.remaining - reserve
        if left <= 0:
            trials.append(Trial(candidate, status="skipped: budget spent"))
            continue
        if candidate.kind == "global" and globals_done:  # the other's backtest showed what one costs
            projected = max(globals_done)
            if projected * (1 + REFIT_MARGIN / len(plan)) > left:
                trials.append(Trial(candidate, status=f"skipped: would take ~{projected:.0f} s, "
                                                      f"{max(left, 0):.0f} s left"))
                continue
        if candidate.kind == "local":
            if left < TIMING_SHARE * getattr(candidate, "timing_cost", 1.0) * (clock.budget or 0):
                trials.append(Trial(candidate, status=f"skipped: {max(left, 0):.0f} s left, too little to time it"))
                continue
            projected = _projected_seconds(candidate, plan, horizon, n_series, left)
            left = clock.remaining - reserve
            if projected > left:
                estimate = "more than a third of that on 10 series" if projected == float("inf") else f"~{projected:.0f} s"
                trials.append(Trial(candidate, status=f"skipped: would take {estimate}, {max(left, 0):.0f} s left"))
                continue
        started = time.monotonic()
        trial = run_trial(candidate, plan, horizon, deadline=started + left)
        trials.append(trial)
        if candidate.kind == "global" and trial.status == "ok":
            globals_done.append(trial.seconds)
        if not quiet:
            print(f"  backtest {candidate.name:16s} {trial.status[:60]:10s} {trial.seconds:6.1f} s, "
                  f"{max(clock.remaining, 0):.0f} s left", file=sys.stderr, flush=True)
    return trials


def _projected_seconds(candidate: Candidate, plan: list, horizon: int, n_series: int, left: float) -> float:
    """Seconds ``candidate`` would take on every window and the final forecast. Timed on one
    series first (statsforecast's functions are compiled on first use: seconds that are not
    per series; AutoCES takes 16 s with an empty numba cache), then on :data:`SAMPLE` more
    series one at a time, given at most a third of the time left after that (inf when even
    that is not enough), and
    the median series' time projected: a series that takes a branch not compiled yet pays
    for the compilation once, not once per series (measured: AutoTheta on all of M4 Weekly was
    projected at 64 s from the sample's mean, 21.4 s from its median; it ran in 20.1 s)."""
    window = plan[0]
    n = window.panel.n_series
    fits = sum(w.panel.n_series for w in plan) + n_series
    try:
        first = window.panel.take(np.arange(1))
        warm_up = first.cut(max(first.lengths[0] - WARM_UP_VALUES, 0))[0] if first.lengths[0] > WARM_UP_VALUES + 8 \
            else first
        started = time.monotonic()
        candidate.predict(warm_up, horizon)
        left -= time.monotonic() - started  # the compilation is paid: only what is left counts
        if left <= 0:
            return float("inf")
        if n < 2:
            return 0.0
        candidate.deadline = time.time() + left / 3  # type: ignore[attr-defined]
        seconds = []
        for i in range(1, min(SAMPLE + 1, n)):
            started = time.monotonic()
            candidate.predict(window.panel.take(np.arange(i, i + 1)), horizon)
            seconds.append(time.monotonic() - started)
    except TimeoutError:
        return float("inf")
    except Exception:  # it will fail again, and say why, in its trial
        return 0.0
    finally:
        candidate.deadline = None  # type: ignore[attr-defined]
    # From PARALLEL_SERIES series on, the windows' series are shared among n_jobs processes.
    workers = getattr(candidate, "n_jobs", 1) if n >= PARALLEL_SERIES else 1
    return float(np.median(seconds)) * fits / max(workers, 1)
