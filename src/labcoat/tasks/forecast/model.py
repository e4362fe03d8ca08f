"""A fitted forecaster: the chosen candidates, their weights, the conformal error quantiles
and the history they forecast from.

Examples
--------
>>> import labcoat                                                         # doctest: +SKIP
>>> model = labcoat.fit(sales, target="sales", task="forecast", time_column="date",
...                     series=["store", "item"], horizon=28, budget="2m")  # doctest: +SKIP
>>> model.forecast(quantiles=(0.1, 0.5, 0.9)).columns.tolist()              # doctest: +SKIP
['store', 'item', 'date', 'forecast', 'p10', 'p50', 'p90']
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from labcoat import __version__
from labcoat.data.io import as_table
from labcoat.errors import ConfigError, DataError, ModelFileError
from labcoat.tasks.forecast.backtest import MIN_TRAIN, group_of, quantile_offsets
from labcoat.tasks.forecast.candidates import Candidate, WindowAverage
from labcoat.tasks.forecast.data import KEY, TARGET, TIME, Panel, prepare, series_keys
from labcoat.tasks.forecast.metrics import scales
from labcoat.tasks.forecast.periods import holiday_flags, mase_season
from labcoat.tasks.saved_folder import load_saved, mlflow_type, write_mlmodel

#: Saved forecast models' folder format.
FORMAT_VERSION = 1
#: ``labcoat.json``'s ``kind`` for a forecast model.
KIND = "forecast"


@dataclass
class ForecastModel:
    """What ``labcoat.fit(..., task="forecast")`` returns. :meth:`forecast` gives the next
    ``horizon`` steps of every series, with quantiles; ``leaderboard`` holds the backtest
    scores of every candidate and of the ensemble, each with a 95% interval over series."""

    panel: Panel
    horizon: int
    members: list[Candidate]
    weights: dict[int, np.ndarray]
    residuals: np.ndarray
    leaderboard: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    holidays: str | None = None
    stored: np.ndarray | None = None
    #: Each series' mean MASE over the backtest windows (NaN: too short for any window).
    series_mase: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: The same for every forecaster that finished its backtest (for ``labcoat compare``).
    candidate_errors: dict[str, np.ndarray] = field(default_factory=dict)

    task = KIND

    @property
    def target(self) -> str:
        return self.panel.target

    # ------------------------------------------------------------------ forecasting
    def forecast(self, horizon: int | None = None, future: pd.DataFrame | str | Path | None = None,
                 history: pd.DataFrame | str | Path | None = None,
                 quantiles: Sequence[float] = (0.1, 0.5, 0.9),
                 series: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None) -> pd.DataFrame:
        """The next ``horizon`` steps (default: the fitted horizon) of every series, one row per
        series and step: the series columns, the time column, ``forecast`` (the point forecast)
        and one column per quantile (``p10`` for 0.1).

        ``history`` adds newer actuals (rows of the training table's columns; a row for a
        series and time already known replaces it) and forecasts from them without searching
        again; ``future`` gives the known-in-advance covariates of the steps ahead; ``series``
        (rows of the series columns) limits the forecast to those series.
        """
        steps = self.horizon if horizon is None else horizon
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ConfigError(f"horizon must be a whole number of steps, at least 1; got {horizon!r}.")
        if steps > self.horizon:
            raise ConfigError(f"This model was fitted for a horizon of {self.horizon} steps (its intervals are "
                              f"calibrated that far); {steps} were asked. Fit again with horizon={steps}.")
        levels = _check_quantiles(quantiles)
        chosen = None if series is None else self.positions(series)
        panel = self.panel if chosen is None else self.panel.take(chosen)
        if history is not None:
            panel = self._with_history(panel, as_table(history, "history"))
        future_rows = self._future(panel, steps, None if future is None else as_table(future, "future"))
        if self.stored is not None and history is None and future is None:
            point = self.stored[:, :steps] if chosen is None else self.stored[chosen, :steps]
        else:
            point = self._point(panel, steps, future_rows)
        scale = scales(panel.histories(), mase_season(panel.freq))
        offsets = quantile_offsets(self.residuals[:steps], levels)  # steps × levels
        bands = point[:, :, None] + scale[:, None, None] * offsets[None, :, :]
        bands = np.sort(bands, axis=2)
        if panel.nonnegative:
            point, bands = np.maximum(point, 0), np.maximum(bands, 0)
        return self._frame(panel, steps, point, bands, levels)

    def _point(self, panel: Panel, steps: int, future: pd.DataFrame | None) -> np.ndarray:
        groups = group_of(panel)
        forecasts = [m.predict(panel, steps, future) for m in self.members]
        point = np.zeros((panel.n_series, steps))
        for g in np.unique(groups):
            weights = self.weights.get(int(g), next(iter(self.weights.values())))
            rows = groups == g
            point[rows] = sum(w * f[rows] for w, f in zip(weights, forecasts))
        short = panel.lengths < self.horizon + MIN_TRAIN
        if short.any():
            point[short] = WindowAverage().predict(panel, steps)[short]
        return point

    def _frame(self, panel: Panel, steps: int, point: np.ndarray, bands: np.ndarray,
               levels: Sequence[float]) -> pd.DataFrame:
        times = panel.future_times(steps)
        out = panel.ids.loc[np.repeat(np.arange(panel.n_series), steps)].reset_index(drop=True)
        out = out.drop(columns=KEY) if panel.series else pd.DataFrame(index=range(len(times)))
        out[panel.time_column] = times[TIME].to_numpy()
        out["forecast"] = point.ravel()
        for j, level in enumerate(levels):
            out[quantile_name(level)] = bands[:, :, j].ravel()
        return out

    def positions(self, series: pd.DataFrame | Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The panel positions of the series named by rows of their id columns, or a
        :class:`DataError` naming the first unknown one."""
        wanted = series if isinstance(series, pd.DataFrame) else pd.DataFrame(list(series))
        columns = list(self.panel.series)
        if not columns:
            return np.zeros(len(wanted) or 1, dtype=int)[:1]
        absent = [c for c in columns if c not in wanted.columns]
        if absent:
            raise DataError(f"Name each series by its column(s) {', '.join(columns)}; missing: {', '.join(absent)}.")
        keys = series_keys(wanted, columns)
        index = pd.Index(self.panel.keys)
        found = index.get_indexer(keys)
        if (found < 0).any():
            unknown = wanted.iloc[int(np.flatnonzero(found < 0)[0])][columns].to_dict()
            raise DataError(f"Series {unknown} is not one this model was fitted on ({self.panel.n_series} series); "
                            "refit with its history to forecast it.")
        return found

    # ------------------------------------------------------------------ new data
    def _with_history(self, panel: Panel, rows: pd.DataFrame) -> Panel:
        """``panel``'s history with ``rows`` added (a known series and time is replaced); rows
        of other series are refused."""
        columns = [*panel.series, panel.time_column, panel.target, *panel.static, *panel.known, *panel.past]
        columns = [c for c in columns if not c.startswith("holiday_")]
        missing = [c for c in (*panel.series, panel.time_column, panel.target) if c not in rows.columns]
        if missing:
            raise DataError(f"The history rows lack column(s) {', '.join(missing)}; give the training table's "
                            "series, time and target columns.")
        if panel.series:  # a series the model was not fitted on is refused, named
            self.positions(rows[list(panel.series)].drop_duplicates())
        known = self._training_table(panel)
        if panel.series:
            keep = pd.MultiIndex.from_frame(rows[list(panel.series)].astype(str)).isin(
                pd.MultiIndex.from_frame(panel.ids[list(panel.series)].astype(str)))
            rows = rows[keep]
        combined = pd.concat([known, rows[[c for c in columns if c in rows.columns]]], ignore_index=True)
        combined[panel.time_column] = pd.to_datetime(combined[panel.time_column], format="mixed")
        combined = combined.drop_duplicates([*panel.series, panel.time_column], keep="last")
        updated = prepare(combined, panel.target, time_column=panel.time_column, series=panel.series,
                          horizon=self.horizon, freq=panel.freq,
                          known=[c for c in panel.known if not c.startswith("holiday_")], quiet=True)
        return with_holidays(updated, self.holidays)

    @staticmethod
    def _training_table(panel: Panel) -> pd.DataFrame:
        table = panel.frame.rename(columns={TIME: panel.time_column, TARGET: panel.target})
        if panel.series:
            table = table.merge(panel.ids, on=KEY, how="left")
        return table.drop(columns=[KEY, *[c for c in table.columns if c.startswith("holiday_")]])

    def _future(self, panel: Panel, steps: int, rows: pd.DataFrame | None) -> pd.DataFrame | None:
        """The known covariates of the next ``steps`` of every series (holidays computed),
        or a :class:`DataError` naming a series and time they are missing for."""
        given = [c for c in panel.known if not c.startswith("holiday_")]
        times = panel.future_times(steps)
        if not panel.known:
            return None
        if given:
            if rows is None:
                raise DataError(f"Covariates {', '.join(given)} are known in advance: give their values for the "
                                f"next {steps} steps of every series (future=, --future FILE).")
            absent = [c for c in (*panel.series, panel.time_column, *given) if c not in rows.columns]
            if absent:
                raise DataError(f"The future rows lack column(s) {', '.join(absent)}.")
            rows = rows.copy()
            rows[TIME] = pd.to_datetime(rows[panel.time_column], format="mixed")
            rows[KEY] = series_keys(rows, panel.series)
            merged = times.merge(rows[[KEY, TIME, *given]].drop_duplicates([KEY, TIME]), on=[KEY, TIME], how="left")
            gap = merged[given].isna().any(axis=1)
            if gap.any():
                first = merged[gap].iloc[0]
                raise DataError(f"The future covariates miss {int(gap.sum())} of the {len(merged)} steps ahead, "
                                f"e.g. series {first[KEY]!r} at {first[TIME]}: give {', '.join(given)} for every "
                                f"series and each of the next {steps} steps.")
            times = merged
        if self.holidays is not None:
            times[f"holiday_{self.holidays.upper()}"] = holiday_flags(pd.DatetimeIndex(times[TIME]), self.holidays,
                                                                      panel.freq)
        return times

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the model to folder ``path``: ``labcoat.json`` (what it is, its info),
        ``leaderboard.csv``, ``model.joblib``, and an ``MLmodel`` that makes the folder an
        MLflow pyfunc model (``labcoat.tracking.forecast_pyfunc``)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"kind": KIND, "format_version": FORMAT_VERSION, "labcoat_version": __version__,
                "task": KIND, "target": self.target, **self.info}
        (folder / "labcoat.json").write_text(json.dumps(meta, indent=2, default=str))
        self.leaderboard.to_csv(folder / "leaderboard.csv", index=False)
        joblib.dump(self, folder / "model.joblib")
        self._write_mlmodel(folder)
        return folder

    def _write_mlmodel(self, folder: Path) -> None:
        """The pyfunc flavour: its parameters are the horizon and the quantile levels."""
        write_mlmodel(folder, "labcoat.tracking.forecast_pyfunc",
                      inputs=[(c, mlflow_type(self.panel.ids[c])) for c in self.panel.series],
                      params=[("horizon", "long", self.horizon), ("quantiles", "double", [0.1, 0.5, 0.9], (-1,))])

    @classmethod
    def load(cls, path: str | Path) -> "ForecastModel":
        """The model saved in folder ``path`` (a :class:`ModelFileError` saying what is wrong)."""
        return load_saved(path, cls, kind=KIND, format_version=FORMAT_VERSION, what="a forecast model")


def with_holidays(panel: Panel, country: str | None) -> Panel:
    """``panel`` with a known-in-advance column ``holiday_<COUNTRY>`` (1 in periods holding a
    public holiday)."""
    if country is None:
        return panel
    frame = panel.frame.copy()
    column = f"holiday_{country.upper()}"
    frame[column] = holiday_flags(pd.DatetimeIndex(frame[TIME]), country, panel.freq)
    return replace(panel, frame=frame, known=(*[c for c in panel.known if c != column], column))


def is_forecast_folder(path: str | Path) -> bool:
    """Whether ``path`` is a saved forecast model's folder."""
    meta = Path(path) / "labcoat.json"
    try:
        return meta.is_file() and json.loads(meta.read_text()).get("kind") == KIND
    except (OSError, ValueError):
        return False


def quantile_name(level: float) -> str:
    """``0.1`` → ``"p10"``, ``0.025`` → ``"p2.5"``."""
    return f"p{100 * level:g}"


def _check_quantiles(quantiles: Sequence[float]) -> list[float]:
    levels = [float(q) for q in quantiles]
    bad = [q for q in levels if not 0 < q < 1]
    if bad:
        raise ConfigError(f"Quantiles must lie strictly between 0 and 1; got {bad}.")
    return levels
