"""``labcoat retrain`` for a forecast champion: a challenger fitted like it on the new data
without each series' last ``horizon`` steps, both forecasting those steps, and the gate
deciding on their per-series MASE, paired over series.

Both forecast from the same history (the new data without the held-out steps: the champion
through ``forecast(history=...)``, without searching again), so the comparison is of what
each would have forecast. The difference champion − challenger (positive: the challenger is
better) gets a t interval over series; the policies are those of
:mod:`labcoat.lifecycle.gate`, in MASE (default non-inferiority margin: 1% of the champion's
MASE).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from labcoat.errors import DataError
from labcoat.lifecycle.gate import mean_interval, resolve_margin
from labcoat.lifecycle.retrain import RetrainDecision
from labcoat.tasks.forecast.compare import paired_over_series
from labcoat.tasks.forecast.data import KEY, prepare, series_keys
from labcoat.tasks.forecast.metrics import scales
from labcoat.tasks.forecast.model import ForecastModel
from labcoat.tasks.forecast.periods import mase_season

#: The champion's fit settings the challenger takes.
SETTINGS = ("time_column", "series", "horizon", "freq", "known", "holidays", "candidates", "seed")


def retrain_forecast(champion: ForecastModel, frame: pd.DataFrame, *, name: str, champion_version: str,
                     budget: float | str | None, policy: str, margin: float | str | None, seed: int | None,
                     tracking_uri: str | None, report: bool, progress: bool, source: str) -> RetrainDecision:
    """Fit, compare and (when the policy holds) promote; the decision as for row models."""
    import labcoat
    from labcoat.tracking.registry import promote

    info = champion.info
    panel = champion.panel
    for column in (*panel.series, panel.time_column, panel.target):
        if column not in frame.columns:
            raise DataError(f"The new data lacks column {column!r}, which the champion forecasts from.")
    train, held = split_last_steps(frame, champion)
    known = [c for c in info.get("known", []) if not str(c).startswith("holiday_")]
    seed = int(info.get("seed", 0) if seed is None else seed)
    challenger = labcoat.fit(train, panel.target, task="forecast", time_column=panel.time_column,
                             series=list(panel.series), horizon=champion.horizon, freq=panel.freq, known=known or None,
                             holidays=champion.holidays, budget=budget if budget is not None else info.get("budget"),
                             families=info.get("candidates"), seed=seed, quiet=not progress,
                             tracking_uri=tracking_uri, register=name, report=report, source=source)
    challenger_version = str(challenger.info["registered"]["version"])
    promote(name, challenger_version, alias="challenger", uri=tracking_uri)
    future = held if known else None
    new = challenger.forecast(future=future, quantiles=(0.5,))
    old = champion.forecast(history=train, future=future, quantiles=(0.5,),
                            series=new[list(panel.series)].drop_duplicates() if panel.series else None)
    champion_mase = per_series_mase(old, held, train, champion)
    challenger_mase = per_series_mase(new, held, train, champion)
    result = paired_over_series(champion_mase, challenger_mase)  # champion − challenger: + = challenger better
    margin_value = resolve_margin(margin, policy, float(np.nanmean(champion_mase)))
    bar = -margin_value if policy == "non-inferiority" else margin_value
    promoted = result.low > bar
    if promoted:
        promote(name, challenger_version, alias="champion", uri=tracking_uri)
    reason = (f"the difference's lower bound {result.low:+.4f} is {'above' if promoted else 'not above'} "
              f"{bar:+.4f}")
    return RetrainDecision(
        name=name, champion_version=champion_version, challenger_version=challenger_version, metric="mase",
        policy=policy, margin=margin_value, champion_score=float(np.nanmean(champion_mase)),
        champion_interval=mean_interval(champion_mase), challenger_score=float(np.nanmean(challenger_mase)),
        challenger_interval=mean_interval(challenger_mase), difference=result.difference, ci_low=result.low,
        ci_high=result.high, p_value=result.p_value, promoted=promoted, reason=reason,
        holdout=f"the last {champion.horizon} steps of each series", holdout_rows=len(held), train_rows=len(train),
        challenger_run_id=challenger.info.get("run_id"),
        settings={k: info.get(k) for k in SETTINGS} | {"budget": budget if budget is not None else info.get("budget")})


def split_last_steps(frame: pd.DataFrame, champion: ForecastModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows without each series' last ``horizon`` steps, and those steps."""
    panel = champion.panel
    rows = frame.copy()
    rows[panel.time_column] = pd.to_datetime(rows[panel.time_column], format="mixed")
    times = rows.groupby(list(panel.series), sort=False)[panel.time_column] if panel.series else rows[panel.time_column]
    order = times.rank(method="first", ascending=False)
    held = order <= champion.horizon
    train = rows[~held]
    if train.empty or held.sum() == 0:
        raise DataError(f"The new data needs more than {champion.horizon} steps per series to hold the last "
                        f"{champion.horizon} out.")
    return train, rows[held]


def per_series_mase(forecast: pd.DataFrame, held: pd.DataFrame, train: pd.DataFrame,
                    champion: ForecastModel) -> np.ndarray:
    """Each series' MASE on the held-out steps (scaled by its training history), in the order
    of the series in ``forecast``."""
    panel = champion.panel
    keys = [*panel.series, panel.time_column]
    joined = forecast.merge(held[[*keys, panel.target]], on=keys, how="inner")
    history = prepare(train, panel.target, time_column=panel.time_column, series=panel.series,
                      horizon=champion.horizon, freq=panel.freq, quiet=True)
    scale = pd.Series(scales(history.histories(), mase_season(panel.freq)), index=history.keys)
    series_key = series_keys(joined, panel.series)
    joined[KEY] = series_key.to_numpy()
    joined["error"] = np.abs(joined[panel.target] - joined["forecast"]) / scale.reindex(joined[KEY]).to_numpy()
    order = pd.unique(series_key)
    return joined.groupby(KEY, sort=False)["error"].mean().reindex(order).to_numpy(dtype=float)
