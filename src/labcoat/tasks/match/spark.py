"""Splink's Spark back end for training on a cluster: the session (one given, or started from a
master URL and stopped after), Splink's Jaro-Winkler and Damerau-Levenshtein functions (a
Scala jar shipped with Splink) checked to load, and the tables Splink leaves cached dropped.

The trained settings (m, u, prior) do not depend on the back end; scoring new records
(:mod:`labcoat.tasks.match.find`) always runs on DuckDB.

pyspark is imported through :mod:`importlib` (it is an optional extra, ``labcoat[spark]``) and
its objects are typed ``Any``.

Examples
--------
>>> describe(None)
'DuckDB'
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from labcoat.errors import ConfigError

BACKENDS = ("duckdb", "spark")
EXTRA = "The Spark back end needs pyspark: pip install 'labcoat[spark]'."
JAVA = ("The Spark back end needs Java 17 (java on the PATH, or JAVA_HOME): apt-get install "
        "openjdk-17-jre-headless (or your platform's OpenJDK 17).")
#: The configuration of a session labcoat starts itself. The driver collects the kept pairs
#: (~60 bytes each in Arrow), hence its memory and result size.
SESSION_CONFIG = {"spark.app.name": "labcoat-match", "spark.driver.memory": "4g",
                  "spark.driver.maxResultSize": "2g", "spark.ui.showConsoleProgress": "false"}


def check_backend(backend: str | None, spark: Any) -> str:
    """The back end to train on: ``backend`` checked, else Spark when a session or master is given."""
    chosen = backend if backend is not None else ("spark" if spark is not None else "duckdb")
    if chosen not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {backend!r}.")
    if chosen == "duckdb" and spark is not None:
        raise ConfigError("spark= is the Spark back end's session or master URL, and backend='duckdb' was asked "
                          "for: drop spark= or pass backend='spark'.")
    if chosen == "spark":
        pyspark_sql()
    return chosen


def pyspark_sql() -> Any:
    """``pyspark.sql``, or a :class:`ConfigError` naming the extra to install."""
    if importlib.util.find_spec("pyspark") is None:
        raise ConfigError(EXTRA)
    return importlib.import_module("pyspark.sql")


def check_java() -> None:
    """A :class:`ConfigError` when there is no Java to start Spark with (``JAVA_HOME``'s, or
    on the PATH)."""
    home = os.environ.get("JAVA_HOME")
    if not (shutil.which("java") or (home and os.path.isfile(os.path.join(home, "bin", "java")))):
        raise ConfigError(JAVA)


@contextmanager
def session(spark: Any) -> Iterator[Any]:
    """A Spark session with Splink's functions: ``spark`` itself when it is a session (left
    running), else the active one, else one started on master ``spark`` (``"local[*]"`` when
    None) with Splink's jar and stopped on exit."""
    sql = pyspark_sql()
    if spark is not None and not isinstance(spark, str):
        yield _with_functions(spark)
        return
    active = sql.SparkSession.getActiveSession()
    if active is not None and spark in (None, active.sparkContext.master):
        yield _with_functions(active)
        return
    if active is not None:
        raise ConfigError(f"A Spark session on master {active.sparkContext.master!r} is already running in this "
                          f"process; pass it as spark= (not {spark!r}) or stop it first.")
    check_java()
    from splink.backends.spark import similarity_jar_location

    builder = sql.SparkSession.builder.master(spark or "local[*]").config("spark.jars", similarity_jar_location())
    for key, value in SESSION_CONFIG.items():
        builder = builder.config(key, value)
    try:
        started = builder.getOrCreate()
    except Exception as error:  # pyspark's gateway errors: no Java, a wrong master...
        raise ConfigError(f"Could not start a Spark session on {spark or 'local[*]'!r}: {error}. {JAVA}") from error
    started.sparkContext.setLogLevel("ERROR")
    # Splink's queries are many and small: Spark's 200 shuffle partitions a query cost more
    # than they divide.
    started.conf.set("spark.sql.shuffle.partitions", str(2 * int(started.sparkContext.defaultParallelism)))
    try:
        yield _with_functions(started)
    finally:
        started.stop()


def _with_functions(spark: Any) -> Any:
    """``spark`` with Splink's string-similarity functions registered (a :class:`ConfigError`
    telling how to add Splink's jar when they do not load)."""
    from splink.internals.spark.jar_location import get_scala_udfs

    try:
        for udf in get_scala_udfs():
            spark.udf.registerJavaFunction(*udf)
    except Exception as error:  # AnalysisException, or Py4J's when the class is missing
        raise ConfigError(
            "Splink's Spark functions (jaro_winkler, damerau_levenshtein) do not load in the given Spark session: "
            "start it with Splink's jar, e.g. SparkSession.builder.config('spark.jars', similarity_jar_location()) "
            f"with `from splink.backends.spark import similarity_jar_location`. ({type(error).__name__})") from error
    return spark


def db_api(spark: Any) -> Any:
    """Splink's Spark API on ``spark``: intermediate tables persisted (memory, then the
    executors' disks; nothing is left in a checkpoint folder), repartitioned to twice the
    cores (Splink's default, half of ``spark.sql.shuffle.partitions``, is 100 even on a laptop).

    Expectation-maximisation's agreement-pattern counts are persisted too, in one partition:
    Splink 5.0's list of tables to persist leaves them out, so every iteration counted the
    patterns again from all the compared pairs. On FEBRL 3 (local[2]) an iteration went from
    ~6.5 s to ~5.4 s: the rest is Spark planning and running Splink's query (eleven aggregates
    of one large expression) however few the patterns."""
    from splink import SparkAPI

    class PersistingSparkAPI(SparkAPI):
        def _break_lineage_and_repartition(self, spark_df: Any, templated_name: str, physical_name: str) -> Any:
            if templated_name == "__splink__agreement_pattern_counts":
                return spark_df.coalesce(1).persist()
            return super()._break_lineage_and_repartition(spark_df, templated_name, physical_name)

    return PersistingSparkAPI(spark_session=spark, break_lineage_method="persist", register_udfs_automatically=False,
                              num_partitions_on_repartition=max(2, 2 * int(spark.sparkContext.defaultParallelism)))


def register(records: pd.DataFrame, spark: Any, api: Any, name: str) -> Any:
    """``records`` (text columns) as a Splink input table ``name`` of ``api``, sent to Spark as Arrow."""
    import pyarrow as pa

    table = pa.Table.from_pandas(records, schema=pa.schema([(c, pa.string()) for c in records.columns]),
                                 preserve_index=False)
    with pandas_3_accepted():
        frame = spark.createDataFrame(table)
    return api.register(frame, dataset_display_name=name)


@contextmanager
def pandas_3_accepted() -> Iterator[None]:
    """pyspark 4.3's FutureWarning that it does not yet fully support pandas 3 (raised by
    Splink's queries too), silenced: labcoat hands it Arrow tables and takes Arrow back, and
    tests/test_match_spark.py checks the results against DuckDB's."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        yield


@contextmanager
def cleaned(spark: Any) -> Iterator[None]:
    """Drop (and so uncache) the temporary views Splink created in ``spark`` meanwhile."""
    before = _splink_views(spark)
    try:
        yield
    finally:
        for name in _splink_views(spark) - before:
            spark.catalog.dropTempView(name)


def _splink_views(spark: Any) -> set[str]:
    return {t.name for t in spark.catalog.listTables() if t.isTemporary and t.name.startswith("__splink")}


def to_pandas(table: Any) -> pd.DataFrame:
    """A Splink table of the Spark back end collected as Arrow (not row by row), its Arrow
    buffers released as the columns are made."""
    with pandas_3_accepted():
        arrow = table.as_pyarrow_table()
    return arrow.to_pandas(self_destruct=True, split_blocks=True)


def describe(spark: Any) -> str:
    """The back end in words: DuckDB, or Spark's version and master."""
    if spark is None:
        return "DuckDB"
    return f"Spark {spark.version} on {spark.sparkContext.master}"
