"""The forecasters searched: baselines, local statistical models (``statsforecast``, one model
per series) and a global LightGBM model on lags and calendar features (``mlforecast``).

Every candidate answers one question, :meth:`Candidate.predict`: given a panel's history
(and the known covariates of the next steps), the next ``horizon`` values of every series as
an ``n_series`` × ``horizon`` array. Local models are estimated again on each history they
are given (what was searched is which model, not its coefficients); the global model is
fitted once (:meth:`Candidate.fit`) and predicts from any history.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from labcoat.tasks.forecast.data import prepare
>>> rows = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=28), "sales": np.tile([1.0, 2, 3, 4, 5, 6, 7], 4)})
>>> panel = prepare(rows, "sales", time_column="day", horizon=7, quiet=True)
>>> SeasonalNaive().predict(panel, 3).tolist()
[[1.0, 2.0, 3.0]]
"""
from __future__ import annotations

import math
import os
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError
from labcoat.tasks.forecast.data import KEY, TARGET, TIME, Panel
from labcoat.tasks.forecast.periods import family, seasons


def statsforecast_models() -> Any:
    """``statsforecast.models``, with numba's compiled functions cached on disk: statsforecast
    leaves the cache off (``NIXTLA_NUMBA_CACHE``), so each new process would spend seconds per
    model compiling (AutoCES: ~20 s) inside the user's budget. Set before the first import."""
    os.environ.setdefault("NIXTLA_NUMBA_CACHE", "1")
    import statsforecast.models

    return statsforecast.models


#: Local models run in worker processes from this many series on (below, the processes' start
#: and statsforecast's import in each cost more than they save).
PARALLEL_SERIES = 200
#: Local models are estimated on each series' last values only: this many, or three of the
#: longest seasonal period they model if more. Measured on 60 M4 Weekly series (AutoTheta,
#: season 52; the whole history, 80-2,600 values, against the last 300): MASE 2.52 -> 2.36,
#: sMAPE 8.70 -> 7.22, 708 -> 26 ms a series; AutoETS: MASE 2.82 -> 2.36. On 40 M4 Hourly
#: series (season 24): AutoTheta MASE 2.45 -> 1.61, AutoETS 1.59 -> 1.57, 3-7x faster. One
#: set of constant parameters over decades of weekly values, or weeks of hourly ones, fits
#: the old regimes as much as the recent one.
LOCAL_HISTORY = 300


def main_season(panel: Panel, length: int | None = None, *, cap: int | None = None) -> int:
    """The seasonal period a local model uses: the frequency's main one when the history holds
    two full seasons (and it is at most ``cap``), else 1."""
    options = seasons(panel.freq)
    m = options[0] if options else 1
    shortest = int(panel.lengths.min()) if length is None else length
    if m > 1 and shortest >= 2 * m and (cap is None or m <= cap):
        return m
    return 1


def intermittent(y: np.ndarray) -> bool:
    """A series of intermittent demand: at least 30% of its values are zero."""
    return len(y) > 0 and float(np.mean(y == 0)) >= 0.3


class Candidate(ABC):
    """One forecaster. ``name`` is its leaderboard name; ``kind`` says how it learns."""

    name: ClassVar[str]
    kind: ClassVar[str] = "baseline"
    #: What it needs from ``labcoat[forecast]`` (checked before it is tried).
    needs: ClassVar[str | None] = None

    def applies(self, panel: Panel) -> bool:
        """Whether it is worth trying on ``panel``."""
        return True

    def fit(self, panel: Panel, horizon: int) -> "Candidate":
        """Learn what is kept between forecasts (the global model); local ones keep nothing."""
        return self

    @abstractmethod
    def predict(self, panel: Panel, horizon: int, future: pd.DataFrame | None = None) -> np.ndarray:
        """Forecasts of every series after its history: ``n_series`` × ``horizon``."""

    def __repr__(self) -> str:
        return self.name


# ---------------------------------------------------------------------------------- baselines
class Naive(Candidate):
    """The last value, repeated."""

    name = "naive"

    def predict(self, panel: Panel, horizon: int, future: pd.DataFrame | None = None) -> np.ndarray:
        last = panel.y[panel.indptr[1:] - 1]
        return np.repeat(last[:, None], horizon, axis=1)


class SeasonalNaive(Candidate):
    """The last season, repeated (the last value when a series is shorter than a season)."""

    name = "seasonal_naive"

    def predict(self, panel: Panel, horizon: int, future: pd.DataFrame | None = None) -> np.ndarray:
        m = (seasons(panel.freq) or (1,))[0]
        out = np.empty((panel.n_series, horizon))
        for i in range(panel.n_series):
            y = panel.values(i)
            period = m if len(y) >= m else 1
            out[i] = np.resize(y[-period:], horizon)
        return out


class WindowAverage(Candidate):
    """The mean of the last season (or the last 4 values without one)."""

    name = "window_average"

    def predict(self, panel: Panel, horizon: int, future: pd.DataFrame | None = None) -> np.ndarray:
        window = max((seasons(panel.freq) or (4,))[0], 4)
        return np.repeat(np.array([panel.values(i)[-window:].mean() for i in range(panel.n_series)])[:, None],
                         horizon, axis=1)


class Naive2(Candidate):
    """M4's benchmark: the naive forecast of the seasonally adjusted series (classical
    multiplicative decomposition, applied where a 90% autocorrelation test finds seasonality)."""

    name = "naive2"

    def predict(self, panel: Panel, horizon: int, future: pd.DataFrame | None = None) -> np.ndarray:
        from labcoat.tasks.forecast.periods import mase_season

        m = mase_season(panel.freq)
        out = np.empty((panel.n_series, horizon))
        for i in range(panel.n_series):
            y = panel.values(i)
            index = seasonal_indices(y, m)
            adjusted = y / index[np.arange(len(y)) % m]
            out[i] = adjusted[-1] * index[(len(y) + np.arange(horizon)) % m]
        return out


def seasonal_indices(y: np.ndarray, m: int) -> np.ndarray:
    """Multiplicative seasonal indices of ``y`` (length ``m``, aligned so that index ``t % m``
    applies to ``y[t]``), all 1 when ``y`` is not seasonal by M4's test or cannot be divided."""
    ones = np.ones(max(m, 1))
    if m <= 1 or len(y) < 3 * m or (y <= 0).any():
        return ones
    centred = y - y.mean()
    denominator = float(centred @ centred)
    if denominator == 0:
        return ones
    acf = np.array([centred[k:] @ centred[:-k] / denominator for k in range(1, m + 1)])
    limit = 1.645 * math.sqrt((1 + 2 * float(np.sum(acf[:-1] ** 2))) / len(y))
    if abs(acf[-1]) <= limit:
        return ones
    kernel = np.ones(m + 1) / m if m % 2 == 0 else np.ones(m) / m
    if m % 2 == 0:
        kernel[0] = kernel[-1] = 0.5 / m
    trend = np.convolve(y, kernel, mode="valid")
    offset = len(kernel) // 2
    ratios = y[offset:offset + len(trend)] / trend
    positions = (np.arange(len(ratios)) + offset) % m
    index = np.array([ratios[positions == k].mean() for k in range(m)])
    return index * m / index.sum()


# ---------------------------------------------------------------------------------- local models
def recent(y: np.ndarray, season: Any) -> np.ndarray:
    """The values of ``y`` a local model is estimated on (see :data:`LOCAL_HISTORY`);
    ``season`` is the model's period or periods (None or 1: none).

    Examples
    --------
    >>> len(recent(np.arange(1000.0), 24)), len(recent(np.arange(1000.0), (24, 168)))
    (300, 504)
    """
    longest = max(season) if isinstance(season, tuple) and season else season if isinstance(season, int) else 1
    return y[-max(LOCAL_HISTORY, 3 * longest):]


class Local(Candidate):
    """A ``statsforecast`` model estimated on each series; a series it fails on gets the
    naive forecast (counted in :attr:`fallbacks`)."""

    kind = "local"
    needs = "statsforecast"
    #: The longest seasonal period the model is given (longer: non-seasonal).
    season_cap: ClassVar[int | None] = None
    #: The shortest history (in seasons of the main period, or values) it is tried on.
    min_length: ClassVar[int] = 8
    #: How much of the budget must be left to time it, in :data:`~.fit.TIMING_SHARE` units.
    timing_cost: ClassVar[float] = 1.0

    def __init__(self, n_jobs: int = 1) -> None:
        self.fallbacks = 0
        #: Wall-clock time (``time.time()``: it holds on other machines too) to stop at.
        self.deadline: float | None = None
        self.n_jobs = n_jobs
        #: Runs chunks of series elsewhere (``distributed.on_ray``); None: here, or in processes.
        self.mapper: Callable[[Local, list[tuple[list[np.ndarray], list[Any], int]]], list[Any]] | None = None

    @abstractmethod
    def build(self, season: Any) -> Any:
        """The statsforecast model for series of :meth:`spec` ``season`` (None: the naive forecast)."""

    def spec(self, panel: Panel, y: np.ndarray) -> Any:
        """What the model of series ``y`` depends on: its seasonal period."""
        return main_season(panel, len(y), cap=self.season_cap)

    def applies(self, panel: Panel) -> bool:
        return int(panel.lengths.max()) >= self.min_length

    def predict(self, panel: Panel, horizon: int, future: pd.DataFrame | None = None) -> np.ndarray:
        """Every series in turn; from :data:`PARALLEL_SERIES` series on, in ``n_jobs`` worker
        processes (chunks of series; the deadline holds in each)."""
        histories = panel.histories()
        seasons_ = [self.spec(panel, y) for y in histories]
        if self.n_jobs > 1 and panel.n_series >= PARALLEL_SERIES:
            chunks = [([histories[i] for i in c], [seasons_[i] for i in c], horizon)
                      for c in np.array_split(np.arange(panel.n_series), 4 * self.n_jobs)]
            if self.mapper is not None:
                parts = self.mapper(self, chunks)
            else:
                from joblib import Parallel, delayed

                parts = Parallel(n_jobs=self.n_jobs, backend="loky")(delayed(self._chunk)(*c) for c in chunks)
            self.fallbacks = sum(f for _, f in parts)
            return np.concatenate([values for values, _ in parts])
        values, self.fallbacks = self._chunk(histories, seasons_, horizon)
        return values

    def _chunk(self, histories: Sequence[np.ndarray], seasons_: Sequence[Any], horizon: int) -> tuple[np.ndarray, int]:
        """Forecasts of ``histories`` (and how many fell back to naive), stopping at the deadline."""
        self.fallbacks = 0
        out = np.empty((len(histories), horizon))
        models: dict[Any, Any] = {}
        for i, (y, season) in enumerate(zip(histories, seasons_)):
            if self.deadline is not None and time.time() > self.deadline:
                raise TimeoutError(self.name)
            if season not in models:
                models[season] = self.build(season)
            # A writable copy: pandas' arrays are read-only under copy-on-write, and AutoCES
            # writes into the series it is given (it failed on every series with a read-only one).
            out[i] = self._one(models[season], np.array(recent(y, season), dtype=float), horizon)
        return out, self.fallbacks

    def _one(self, model: Any, y: np.ndarray, horizon: int) -> np.ndarray:
        if model is None or len(y) < self.min_length or np.ptp(y) == 0:
            self.fallbacks += 1
            return np.full(horizon, y[-1])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mean = np.asarray(model.forecast(y=y, h=horizon)["mean"], dtype=float)
        except Exception:  # a model that cannot be estimated on this series: naive for it
            self.fallbacks += 1
            return np.full(horizon, y[-1])
        if not np.isfinite(mean).all():
            self.fallbacks += 1
            return np.full(horizon, y[-1])
        return mean


class ETS(Local):
    name = "auto_ets"
    season_cap = 24

    def build(self, season: Any) -> Any:
        return statsforecast_models().AutoETS(season_length=season)


class Theta(Local):
    name = "auto_theta"

    def build(self, season: Any) -> Any:
        return statsforecast_models().AutoTheta(season_length=season)


class ARIMA(Local):
    name = "auto_arima"
    season_cap = 24
    min_length = 12
    #: Its first series alone (200 hourly values, season 24) took 7 to 18 s on 2 loaded cores, and
    #: nothing can stop a series midway: timed near the end of a 60 s budget, it ended the fit at 86 s.
    timing_cost = 2.5

    def build(self, season: Any) -> Any:
        return statsforecast_models().AutoARIMA(season_length=season)


class CES(Local):
    name = "auto_ces"
    season_cap = 24

    def build(self, season: Any) -> Any:
        return statsforecast_models().AutoCES(season_length=season)


class MSTLModel(Local):
    """MSTL with the frequency's seasonal periods that the history covers twice."""

    name = "mstl"

    def applies(self, panel: Panel) -> bool:
        return len(self._periods(int(panel.lengths.min()), panel.freq)) >= 2

    @staticmethod
    def _periods(length: int, freq: str) -> tuple[int, ...]:
        return tuple(s for s in seasons(freq) if length >= 2 * s)

    def spec(self, panel: Panel, y: np.ndarray) -> Any:
        return self._periods(len(y), panel.freq)

    def build(self, season: Any) -> Any:
        if not season:
            return None
        models = statsforecast_models()
        return models.MSTL(season_length=list(season), trend_forecaster=models.AutoETS(model="ZZN"))


class Intermittent(Local):
    """Croston-type models for intermittent demand; tried when a tenth of the series or more
    are mostly zeros."""

    min_length = 4

    def applies(self, panel: Panel) -> bool:
        share = np.mean([intermittent(panel.values(i)) for i in range(panel.n_series)])
        return bool(share >= 0.1)

    def _one(self, model: Any, y: np.ndarray, horizon: int) -> np.ndarray:
        if not (y > 0).any():
            return np.zeros(horizon)
        return super()._one(model, y, horizon)


class Croston(Intermittent):
    name = "croston"

    def build(self, season: Any) -> Any:
        return statsforecast_models().CrostonOptimized()


class ADIDA(Intermittent):
    name = "adida"

    def build(self, season: Any) -> Any:
        return statsforecast_models().ADIDA()


class IMAPA(Intermittent):
    name = "imapa"

    def build(self, season: Any) -> Any:
        return statsforecast_models().IMAPA()


class TSB(Intermittent):
    name = "tsb"

    def build(self, season: Any) -> Any:
        return statsforecast_models().TSB(alpha_d=0.2, alpha_p=0.2)


# ---------------------------------------------------------------------------------- global model
_DATE_FEATURES = {"min": ["hour", "dayofweek"], "h": ["hour", "dayofweek"], "D": ["dayofweek", "month", "day"],
                  "B": ["dayofweek", "month", "day"], "W": ["month", "week"], "M": ["month"], "Q": ["quarter"],
                  "Y": []}


def feature_name(transform: Any, lag: int, *args: Any) -> str:
    """mlforecast's name for a lag transform's feature, dots as underscores (as its distributed
    back end names them): a module-level function, so that a model trained on a cluster, which
    keeps its namer, pickles (the back end's own is a local function)."""
    from mlforecast.core import _build_transform_name

    return str(_build_transform_name(transform, lag, args)).replace(".", "_")


#: The most recent values the global models read as lags, besides the season's neighbours (GluonTS's
#: lags for a frequency begin alike: the last week of days, the last hours, the last eight weeks).
#: Measured with the global models alone at 60 s (the lags were 1, 2, 3, m and 2m): M4 Weekly
#: OWA 0.7942 -> 0.7468, M4 Hourly 0.6635 -> 0.6045; the last 13 or 24 values instead of 8 did
#: not do better on both (Weekly 0.7394, Hourly 0.6085 with 24 and 0.6358 with 13 without m +- 1).
RECENT_LAGS = 8


class GlobalLightGBM(Candidate):
    """One LightGBM model over all series (``mlforecast``): lags up to two seasons, rolling
    means, calendar features, static and known covariates, and past-only covariates lagged by
    the horizon; the target standardised per series; forecasts made step by step."""

    name = "lightgbm"
    kind = "global"
    needs = "mlforecast"
    # Class-level defaults too: models saved before these attributes existed still load and forecast.
    cluster: Any = None
    remote: Any = None
    codes: dict[str, list[Any]] = {}

    def __init__(self, *, n_estimators: int = 300, learning_rate: float = 0.05, num_leaves: int = 31,
                 seed: int = 0, n_jobs: int = 1) -> None:
        self.params: dict[str, Any] = {"n_estimators": n_estimators, "learning_rate": learning_rate, "num_leaves": num_leaves,
                       "min_child_samples": 20, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8,
                       "random_state": seed, "n_jobs": n_jobs, "verbose": -1}
        self.forecaster: Any = None
        self.horizon = 0
        self.deadline: float | None = None
        #: Fits and forecasts on a Ray cluster (``distributed.on_ray``); None: here.
        self.cluster = None
        #: The forecaster on the cluster while connected (``forecaster`` is its local copy).
        self.remote = None
        #: Text static covariates as integer codes (their categories), when trained on a cluster.
        self.codes = {}

    def applies(self, panel: Panel) -> bool:
        return int(panel.lengths.sum()) >= 100

    def _lags(self, panel: Panel) -> list[int]:
        """The last :data:`RECENT_LAGS` values, and the main season's ``m - 1``, ``m``, ``m + 1``
        and ``2 m`` steps back; those shorter than half the median series."""
        m = (seasons(panel.freq) or (1,))[0]
        shortest = int(np.median(panel.lengths))
        lags = set(range(1, RECENT_LAGS + 1)) | ({m - 1, m, m + 1, 2 * m} if m > 1 else set())
        return [lag for lag in sorted(lags) if lag < max(shortest // 2, 2)] or [1]

    def _frame(self, panel: Panel, horizon: int) -> pd.DataFrame:
        frame = panel.frame.copy()
        for column in panel.past:  # only what is known horizon steps ahead
            frame[column] = frame.groupby(KEY, sort=False)[column].shift(horizon)
        for column in panel.static:
            if column in self.codes:  # unseen categories: -1, missing to LightGBM
                frame[column] = pd.Categorical(frame[column], categories=self.codes[column]).codes.astype("int32")
            elif not pd.api.types.is_numeric_dtype(frame[column]):
                frame[column] = frame[column].astype("category")
        return frame

    def settings(self, panel: Panel) -> dict[str, Any]:
        """mlforecast's features for ``panel``: lags, rolling means, calendar, target transforms."""
        from mlforecast.lag_transforms import RollingMean

        m = (seasons(panel.freq) or (1,))[0]
        windows = sorted({w for w in (m, 4 * m if m > 1 else 7) if w < int(panel.lengths.min())}) or [2]
        return {"freq": panel.freq, "lags": self._lags(panel),
                "lag_transforms": {1: [RollingMean(window_size=w) for w in windows]},
                "date_features": _DATE_FEATURES.get(family(panel.freq), []), "target_transforms": self.transforms()}

    def fit(self, panel: Panel, horizon: int) -> "GlobalLightGBM":
        """Train on every series of ``panel``: here, or through :attr:`cluster` when set."""
        self.horizon = horizon
        static = list(panel.static)
        if self.cluster is not None:
            self.codes = {c: sorted(panel.frame[c].dropna().unique()) for c in static
                          if not pd.api.types.is_numeric_dtype(panel.frame[c])}
            params = {k: v for k, v in self.params.items() if k != "n_jobs"}  # one thread per actor's CPU
            self.remote, self.forecaster = self.cluster.fit(params, self.settings(panel), self._frame(panel, horizon),
                                                            static, list(self.codes))
            return self
        import lightgbm
        from mlforecast import MLForecast

        self.codes, self.remote = {}, None
        self.forecaster = MLForecast(models={"lgbm": lightgbm.LGBMRegressor(**self.params)}, **self.settings(panel))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.forecaster.fit(self._frame(panel, horizon), id_col=KEY, time_col=TIME, target_col=TARGET,
                                static_features=static, dropna=True)
        return self

    def transforms(self) -> list[Any]:
        """mlforecast's target transforms: each series standardised."""
        from mlforecast.target_transforms import LocalStandardScaler

        return [LocalStandardScaler()]

    def predict(self, panel: Panel, horizon: int, future: pd.DataFrame | None = None) -> np.ndarray:
        if self.forecaster is None:
            raise ConfigError("The global model is not fitted.")
        frame = self._frame(panel, self.horizon)
        dynamic = [*panel.known, *panel.past]
        x_future = None
        if dynamic:
            x_future = panel.future_times(horizon).drop(columns="step")
            for column in panel.past:  # the last `horizon` observed values, shifted into the future
                tail = panel.frame.groupby(KEY, sort=False)[column].apply(lambda s: s.to_numpy()[-self.horizon:])
                x_future[column] = np.concatenate([np.resize(v, horizon) for v in tail])
            if panel.known:
                if future is None:
                    raise ConfigError(f"Known-in-advance covariates ({', '.join(panel.known)}) need their values "
                                      f"for the next {horizon} steps: pass future= (--future FILE).")
                x_future = x_future.merge(future[[KEY, TIME, *panel.known]], on=[KEY, TIME], how="left")
        if self.cluster is not None and self.remote is not None:
            predicted = self.cluster.predict(self.remote, horizon, frame, x_future)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predicted = self.forecaster.predict(horizon, new_df=frame, X_df=x_future)
        # Series end at different times: each series' steps in order, not a pivot on time.
        ordered = predicted.sort_values([KEY, TIME], kind="stable")
        steps = {key: group.to_numpy(dtype=float) for key, group in ordered.groupby(KEY, sort=False)["lgbm"]}
        return np.stack([steps[key] for key in panel.keys])


class GlobalLightGBMDifferenced(GlobalLightGBM):
    """The global model on first differences (then standardised): trees cannot extrapolate a
    level they have not seen, differences of a trending series they can."""

    name = "lightgbm_diff"

    def applies(self, panel: Panel) -> bool:
        return super().applies(panel) and int(panel.lengths.min()) > 8

    def transforms(self) -> list[Any]:
        from mlforecast.target_transforms import Differences, LocalStandardScaler

        return [Differences([1]), LocalStandardScaler()]


#: Every candidate, cheapest first (the order in which the budget admits them). The two global
#: models cost alike (M4 Hourly: 15.7 and 14.7 s for three windows; Theta 20.5 s), and the one on
#: differences was the better one on both M4 sets: behind the local models it was cut by the budget.
def all_candidates(seed: int = 0, n_jobs: int = 1) -> list[Candidate]:
    return [Naive(), SeasonalNaive(), WindowAverage(), Naive2(), GlobalLightGBM(seed=seed, n_jobs=n_jobs),
            GlobalLightGBMDifferenced(seed=seed, n_jobs=n_jobs),
            *(local(n_jobs) for local in (Theta, ETS, Croston, ADIDA, IMAPA, TSB, MSTLModel, ARIMA, CES))]


def candidate_names() -> list[str]:
    return [c.name for c in all_candidates()]


def select(names: Sequence[str] | None, seed: int = 0, n_jobs: int = 1) -> list[Candidate]:
    """The candidates called ``names`` (default: all), refusing unknown names."""
    every = all_candidates(seed, n_jobs)
    if names is None:
        return every
    known = {c.name: c for c in every}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"Unknown forecaster(s) {unknown}; choose from {', '.join(known)}.")
    return [known[n] for n in names]

