"""Record matching trained on Splink's Spark back end (``backend="spark"``) against the DuckDB
one, on a real local Spark session; and the errors when pyspark or Java is missing.

The Spark tests need pyspark (``pip install 'labcoat[spark]'``) and Java 17, and are skipped
without them.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import warnings

import pandas as pd
import pytest

import labcoat
from labcoat.errors import ConfigError, LabcoatNotice
from labcoat.tasks.match import spark as spark_module
from labcoat.tasks.match.model import MatchModel

from conftest import SHARED

ROWS = 2000
#: Four fields of FEBRL's ten: Spark answers each of Splink's queries in a second or more, and
#: expectation-maximisation's queries grow with the fields.
EXCLUDE = ["street_number", "address_1", "address_2", "suburb", "state", "postcode"]
#: m: EM's fixed point given u, which both back ends take from the same DuckDB sample; the
#: pairs' levels differ on one pair (below), which moves m by far less than 0.01, so 0.01 flags a
#: level computed differently.
M_TOLERANCE = 0.01
#: F1: the same pairs are compared and get the same levels (but for a rare Jaro-Winkler
#: difference, below), with the same u; m and the prior's small differences could move a
#: handful of the ~1,000 true pairs across the threshold; 0.005 is five pairs.
F1_TOLERANCE = 0.005


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'labcoat[spark]')"
    if shutil.which("java") is None:
        return "java is not on the PATH (Spark needs Java 17: apt-get install openjdk-17-jre-headless)"
    return None


needs_spark = pytest.mark.skipif(_spark_missing() is not None, reason=str(_spark_missing()))


def fit(records: pd.DataFrame, **settings) -> MatchModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        return labcoat.match(records, id_column="rec_id", budget=20, track=False, quiet=True,
                             settings={"exclude": EXCLUDE}, **settings)


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    path = SHARED / "matching" / "febrl3.csv"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return pd.read_csv(path, skipinitialspace=True, dtype=str).head(ROWS)


#: The driver's JVM compiles with C1 only: Splink sends Spark many short queries, and C2's
#: optimising compilation of Spark's planner and generated code cost more CPU than it saved
#: (FEBRL's 2,000 records, 2 cores: session 12 s -> 6 s, Spark fit 57-69 s -> 43-45 s, the
#: same F1 to the last digit); the serial collector's one thread, a few seconds more (session
#: and fit 51.5-53.4 s -> 47.6-49.9 s). JIT and GC change how fast the JVM runs, not what it
#: computes.
JVM_OPTIONS = '--driver-java-options "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC" pyspark-shell'


@pytest.fixture(scope="module")
def spark():
    """A local Spark session on two cores, started (with Splink's jar) as labcoat starts one
    from a master URL, and stopped after the module; its JVM given :data:`JVM_OPTIONS`
    (pyspark's ``PYSPARK_SUBMIT_ARGS``) unless the environment sets them."""
    with pytest.MonkeyPatch.context() as patch:
        if "PYSPARK_SUBMIT_ARGS" not in os.environ:
            patch.setenv("PYSPARK_SUBMIT_ARGS", JVM_OPTIONS)
        with spark_module.session("local[2]") as session:
            yield session


@pytest.fixture(scope="module")
def both(records, spark) -> dict[str, MatchModel]:
    return {"duckdb": fit(records), "spark": fit(records, backend="spark", spark=spark)}


# ---------------------------------------------------------------- the two back ends agree
@needs_spark
def test_spark_compares_the_same_pairs_at_the_same_levels(both):
    duck, spark = both["duckdb"], both["spark"]
    assert spark.info["compared_pairs"] == duck.info["compared_pairs"]
    gammas = [c for c in duck.scored.columns if c.startswith("gamma_")]
    joined = duck.scored.merge(spark.scored, on=["id_a", "id_b"], suffixes=("_duckdb", "_spark"))
    assert len(joined) >= 0.99 * min(len(duck.scored), len(spark.scored))
    names = {f"gamma_{column}" for column, spec in duck.levels.items()
             if any(level.kind == "jaro_winkler" for level in spec)}
    for column in gammas:
        differ = (joined[f"{column}_duckdb"] != joined[f"{column}_spark"]).mean()
        # Jaro-Winkler is not computed alike: with an odd count of characters out of order,
        # DuckDB's halves and rounds it down, Splink's Scala jar does not ("gallerhir" and
        # "gallirhir": 0.931 and 0.918, either side of the 0.92 level); 1 pair of 1,268 here.
        # Everything else (dates, edit distances, swaps) is the same on every pair.
        assert differ <= (0.005 if column in names else 0.0), (column, differ)


@needs_spark
def test_spark_estimates_agree_with_duckdb(both):
    duck, spark = (both[name].settings for name in ("duckdb", "spark"))
    for ours, theirs in zip(duck["comparisons"], spark["comparisons"], strict=True):
        for a, b in zip(ours["comparison_levels"], theirs["comparison_levels"], strict=True):
            where = f"{ours['output_column_name']}: {a['label_for_charts']}"
            if "m_probability" in a:
                assert abs(a["m_probability"] - b["m_probability"]) <= M_TOLERANCE, where
            if "u_probability" in a:  # estimated on the driver, in DuckDB, for both
                assert a["u_probability"] == b["u_probability"], where
    f1 = {name: both[name].info["evaluation"]["pairwise"]["f1"][0] for name in both}
    assert abs(f1["spark"] - f1["duckdb"]) <= F1_TOLERANCE, f1
    assert f1["spark"] > 0.95


@needs_spark
def test_the_spark_trained_model_is_duckdbs_and_finds(both, records):
    model = both["spark"]
    assert model.settings["sql_dialect"] == "duckdb"
    assert model.info["estimator"].startswith("Fellegi-Sunter (Splink, Spark ")
    assert both["duckdb"].info["estimator"] == "Fellegi-Sunter (Splink, DuckDB)"
    query = records[records["rec_id"].str.contains("dup")].head(5)
    found = model.find(query.drop(columns="rec_id"), 1)
    truth = query["rec_id"].str.extract(r"rec-(\d+)-")[0].to_numpy()
    assert (found["id"].str.extract(r"rec-(\d+)-")[0].to_numpy() == truth).mean() >= 0.8


@needs_spark
def test_spark_leaves_no_splink_tables_cached(both, spark):
    assert not [t.name for t in spark.catalog.listTables() if t.name.startswith("__splink")]
    assert spark.sparkContext._jsc.getPersistentRDDs().isEmpty()


# ---------------------------------------------------------------- what is missing
def test_spark_without_pyspark_names_the_extra(monkeypatch, records):
    real = spark_module.importlib.util.find_spec
    monkeypatch.setattr(spark_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyspark" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install 'labcoat\[spark\]'"):
        fit(records.head(50), backend="spark", spark="local[2]")


def test_spark_without_java_says_so(monkeypatch):
    monkeypatch.setattr(spark_module.shutil, "which", lambda name, *a: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ConfigError, match="needs Java 17.*openjdk-17-jre-headless"):
        spark_module.check_java()


def test_backend_is_checked(records):
    with pytest.raises(ConfigError, match="backend must be one of 'duckdb', 'spark'; got 'polars'"):
        fit(records.head(50), backend="polars")
    with pytest.raises(ConfigError, match="drop spark= or pass backend='spark'"):
        fit(records.head(50), backend="duckdb", spark="local[2]")


def test_cli_backend_options(tmp_path, records):
    records.head(50).to_csv(tmp_path / "people.csv", index=False)
    run = [sys.executable, "-m", "labcoat", "match", "people.csv", "--id", "rec_id", "--no-track"]
    done = subprocess.run([*run, "--spark-master", "local[2]"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "--spark-master goes with --backend spark" in done.stderr
    if importlib.util.find_spec("pyspark") is not None:
        return  # the missing-pyspark message needs a venv without pyspark
    done = subprocess.run([*run, "--backend", "spark"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0 and "pip install 'labcoat[spark]'" in done.stderr, done.stderr
