"""The global LightGBM model trained and forecast on a Ray cluster through mlforecast's own
distributed back end (needs ``lightgbm_ray``: ``distributed.LIBRARIES``, installed by ``make``).

:class:`RayGlobal` hands a global candidate's frame to ``mlforecast.distributed.
DistributedMLForecast`` as a Ray Dataset: the features (lags, rolling means, calendar, target
transforms) are computed per partition of series by Fugue's Ray engine, and LightGBM is trained
by ``lightgbm_ray`` actors (mlforecast's ``RayLGBMForecast``) on the feature partitions;
forecasts go through ``DistributedMLForecast.predict`` with the new history as a Ray Dataset
(``new_df``) and the future covariates (``X_df``). The trained model is also kept as a plain
``MLForecast`` (``to_local()``), so a fitted forecaster forecasts, saves and serves without
the cluster.

Six adaptations, each to a library version in use here (ray 2.60, lightgbm_ray 0.1.9,
xgboost_ray 0.1.19, lightgbm 4.7, mlforecast 1.0.2, fugue 0.9.4, pandas 3):

- pandas 3's text columns become Arrow ``large_string``, which Fugue refuses
  (``SchemaError: pyarrow.Field<__series__: large_string> type is not supported``): they are
  sent as ``string``; text static covariates are sent as integer codes, declared categorical
  to LightGBM (Fugue's schemas have no dictionary type).
- xgboost_ray counts a Ray Dataset's blocks, which ray 2.60 only knows of a materialised one
  (``NotImplementedError: Number of blocks is only available for MaterializedDataset``): the
  training features are materialised before the actors start.
- ray >= 2.56 turns Dataset blocks into Arrow-backed pandas columns, which LightGBM refuses
  (``ValueError: pandas dtypes must be int, float or bool. Fields with bad pandas dtypes:
  store_size: int64[pyarrow], ...``): a ``DistributedCallback`` (xgboost_ray's hook for the
  actors' environment) switches the actors back to numpy columns.
- lightgbm_ray wants two CPUs per actor and raises below that unless told otherwise; the
  actors take one CPU each and leave one CPU of the cluster free: with every CPU held by an
  actor, the Dataset split that feeds them waited forever (seen with two actors on two CPUs).
  A cluster of one CPU trains the global model on the driver.
- mlforecast's distributed back end names features with a local function, which a trained
  model keeps and cannot pickle: ``candidates.feature_name`` is passed instead.
- Fugue loads its Spark plugin when pyspark is installed, and ``pyspark.sql.connect`` ends a
  process whose ``__main__`` has no file (:func:`spark_plugin_importable`).

Measured on 10 daily series of 200 days (2 stores × 5 items of ``make_retail``), 2-node
local cluster of 1 CPU each on a 2-core machine shared with other work: a fit took 23-31 s
and a forecast 16-17 s through Ray (0.7 s and 0.1 s on the driver): fixed costs of Ray Data
and Fugue (jobs, shuffles by series, actors), which only a panel too large for one machine
repays. Forecasts differed from the driver's by 2.8% of their mean (mean absolute
difference): same parameters, but bagging draws its rows from partitions in another order.

Examples
--------
>>> from labcoat.tasks.forecast.candidates import GlobalLightGBM
>>> from labcoat.tasks.forecast.distributed import on_ray
>>> candidate = GlobalLightGBM()
>>> with on_ray("HEAD:6379", [candidate]):               # doctest: +SKIP
...     candidate.fit(panel, 7).predict(panel, 7, future)  # through RayGlobal
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from lightgbm_ray import RayDMatrix, RayParams
from mlforecast.distributed import DistributedMLForecast
from mlforecast.distributed.models.ray.lgb import RayLGBMForecast
from xgboost_ray.callback import DistributedCallback

from labcoat.tasks.forecast.candidates import feature_name
from labcoat.tasks.forecast.data import KEY, TARGET, TIME


class NumpyColumns(DistributedCallback):
    """Runs in each LightGBM actor: Ray Data gives it numpy-backed pandas columns."""

    def on_init(self, actor: Any, *args: Any, **kwargs: Any) -> None:
        import ray.data

        ray.data.DataContext.get_current().enable_arrow_backed_pandas_conversion = False


class ClusterLightGBM(RayLGBMForecast):
    """mlforecast's Ray LightGBM, trained by ``actors`` actors of one CPU each on the
    materialised features, with ``categorical`` columns declared categorical."""

    actors = 1
    categorical: tuple[str, ...] = ()

    def fit(self, X: Any, y: Any = None, **kwargs: Any) -> Any:
        data = RayDMatrix(X.loader.data.materialize(), label=X.loader.label)
        params = RayParams(num_actors=self.actors, cpus_per_actor=1, allow_less_than_two_cpus=True,
                           distributed_callbacks=[NumpyColumns()])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return super().fit(data, y, ray_params=params, categorical_feature=list(self.categorical) or "auto",
                               **kwargs)


def as_dataset(frame: pd.DataFrame) -> Any:
    """``frame`` as a Ray Dataset Fugue accepts (text as Arrow ``string``, not ``large_string``)."""
    import pyarrow as pa
    import ray.data

    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema = pa.schema([pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) else f.type)
                        for f in table.schema])
    return ray.data.from_arrow(table.cast(schema))


@contextmanager
def quiet_data() -> Iterator[None]:
    """Ray Data's progress bars and log lines below errors off in the block (its loggers are
    configured again at each execution, from ``RAY_DATA_LOG_LEVEL``)."""
    import ray.data

    context = ray.data.DataContext.get_current()
    logger = logging.getLogger("ray.data")
    saved = context.enable_progress_bars, logger.level, os.environ.get("RAY_DATA_LOG_LEVEL")
    os.environ["RAY_DATA_LOG_LEVEL"] = "ERROR"
    logger.setLevel(logging.ERROR)  # first: turning the bars off is itself logged as a warning
    context.enable_progress_bars = False
    try:
        yield
    finally:
        context.enable_progress_bars = saved[0]
        logger.setLevel(saved[1])
        if saved[2] is None:
            os.environ.pop("RAY_DATA_LOG_LEVEL", None)
        else:
            os.environ["RAY_DATA_LOG_LEVEL"] = saved[2]


@contextmanager
def spark_plugin_importable() -> Iterator[None]:
    """Fugue loads its Spark plugin at its first transform when pyspark is installed, and
    ``pyspark.sql.connect`` then ends the process (``sys.exit(0)``, "Skipping doctests: No module
    named 'grpc_status'") when ``__main__`` has no file (``python -c``, pytest-xdist's workers),
    taking it for a doctest run; an interactive prompt (``sys.ps1``) set for the block stops that."""
    main = sys.modules.get("__main__")
    needed = main is not None and getattr(main, "__spec__", None) is None and not hasattr(main, "__file__") \
        and not hasattr(sys, "ps1")
    if needed:
        sys.ps1 = ">>> "
    try:
        yield
    finally:
        if needed:
            del sys.ps1


class RayGlobal:
    """Fits and forecasts global candidates through ``DistributedMLForecast`` on the Ray
    cluster this process is connected to, which has ``cpus`` CPUs (at least 2).

    Examples
    --------
    >>> ray.init(address="HEAD:6379")                                       # doctest: +SKIP
    >>> remote, local = RayGlobal(4).fit(params, settings, frame, [], [])   # doctest: +SKIP
    >>> RayGlobal(4).predict(remote, 7, frame, None).shape                  # doctest: +SKIP
    (70, 3)
    """

    def __init__(self, cpus: int) -> None:
        self.cpus = cpus

    def fit(self, params: dict[str, Any], settings: dict[str, Any], frame: pd.DataFrame, static: list[str],
            categorical: list[str]) -> tuple[DistributedMLForecast, Any]:
        """The distributed forecaster and its local copy (an ``MLForecast``), trained on ``frame``
        with the LightGBM ``params`` and mlforecast's feature ``settings``."""
        model = type("ClusterLightGBM", (ClusterLightGBM,), {"actors": max(self.cpus - 1, 1),
                                                              "categorical": tuple(categorical)})
        forecaster = DistributedMLForecast(models={"lgbm": model(**params)}, num_partitions=self.cpus,
                                           lag_transforms_namer=feature_name, **settings)
        with warnings.catch_warnings(), quiet_data(), spark_plugin_importable():
            warnings.simplefilter("ignore")
            forecaster.fit(as_dataset(frame), id_col=KEY, time_col=TIME, target_col=TARGET, static_features=static,
                           dropna=True)
            return forecaster, forecaster.to_local()

    def predict(self, forecaster: DistributedMLForecast, horizon: int, frame: pd.DataFrame,
                future: pd.DataFrame | None) -> pd.DataFrame:
        """``horizon`` steps after each series of ``frame`` (future covariates in ``future``)."""
        with warnings.catch_warnings(), quiet_data(), spark_plugin_importable():
            warnings.simplefilter("ignore")
            predicted = forecaster.predict(horizon, new_df=as_dataset(frame), X_df=future).to_pandas()
        predicted[KEY] = predicted[KEY].astype(str)
        predicted["lgbm"] = predicted["lgbm"].astype(float)
        return predicted
