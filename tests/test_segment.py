"""Segmentation: the planted segments of make_customers found (k chosen and k given), stability
reported in [0, 1], segments described in words, predictions kept through save/load, bad input
refused with labcoat's errors, and the CLI's fit and predict."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

import labcoat
from labcoat.datasets import make_customers
from labcoat.errors import ConfigError, DataError, LabcoatNotice, SchemaError
from labcoat.tasks.segment.describe import describe_segments
from labcoat.tasks.segment.model import SegmentModel


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labcoat", *args], cwd=cwd, capture_output=True, text=True,
                          check=False, env={**os.environ, "MLFLOW_TRACKING_URI": ""})


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return make_customers(500, segments=4, truth=True, seed=3)


@pytest.fixture(scope="module")
def chosen(customers) -> SegmentModel:
    """k chosen among k-means, HDBSCAN and mixtures within 20 s."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        return labcoat.fit(customers.drop(columns="true_segment"), task="segment", budget="20s", quiet=True,
                           track=False, report=False)


def test_planted_segments_found_when_k_is_chosen(chosen, customers):
    assert isinstance(chosen, SegmentModel)
    assert chosen.info["k"] == 4
    found = chosen.predict(customers)
    assert adjusted_rand_score(customers["true_segment"], found) > 0.8
    assert sorted(found.unique()) == [0, 1, 2, 3]  # every row in a segment, none -1
    assert "customer_id" not in chosen.info["columns"] and "true_segment" not in chosen.info["columns"]


def test_stability_reported_in_unit_interval_for_every_candidate(chosen):
    board = chosen.leaderboard[chosen.leaderboard["status"] == "ok"]
    assert set(board["candidate"]) == {"kmeans", "gmm", "hdbscan"}
    for column in ("stability", "stability_low", "stability_high"):
        assert board[column].between(0, 1).all()
    assert (board["stability_low"] <= board["stability"]).all() and (board["stability"] <= board["stability_high"]).all()
    assert board.loc[board["candidate"] == "gmm", "bic"].notna().all()
    assert board.loc[board["candidate"] == "kmeans", "bic"].isna().all()
    assert board["silhouette"].between(-1, 1).all()
    assert chosen.leaderboard["chosen"].sum() == 1
    picked = chosen.info["chosen"]
    assert picked["stability"] >= 0.75 and "stability" in chosen.describe()


def test_segments_described_in_words_and_numbers(chosen):
    segments = chosen.segments
    assert segments["share"].sum() == pytest.approx(1, abs=1e-3)
    assert list(segments["rows"]) == sorted(segments["rows"], reverse=True)  # 0 is the largest
    premium = segments[segments["description"].str.contains("plan = premium")]
    assert len(premium) == 1 and "monthly_spend" in premium["description"].iloc[0]
    assert {"segment", "column", "segment_value", "overall_value", "difference"} <= set(chosen.profile.columns)
    assert chosen.describe().count("\nsegment ") == 4


def test_given_k_is_kept(customers):
    model = labcoat.fit(customers.drop(columns="true_segment"), task="segment", k=3, budget="5s", quiet=True,
                        track=False, report=False)
    assert model.info["k"] == 3 and model.info["k_given"] == 3
    assert set(model.leaderboard["candidate"]) == {"kmeans", "gmm"}  # HDBSCAN finds its own k
    assert model.predict(customers).nunique() == 3


def test_predictions_equal_after_save_and_load(chosen, customers, tmp_path):
    chosen.save(tmp_path / "m")
    loaded = labcoat.load(tmp_path / "m")
    assert isinstance(loaded, SegmentModel)
    pd.testing.assert_series_equal(chosen.predict(customers), loaded.predict(customers))
    one = loaded.predict(customers.iloc[[7]])
    assert one.iloc[0] == chosen.predict(customers).iloc[7]


def test_new_rows_checked(chosen, customers):
    with pytest.raises(SchemaError, match="monthly_spend"):
        chosen.predict(customers.drop(columns="monthly_spend"))
    with pytest.raises(DataError, match="no rows"):
        chosen.predict(customers.iloc[:0])
    with pytest.raises(SchemaError, match="age"):
        chosen.predict(customers.head(3).assign(age=["old", "young", "x"]))


@pytest.mark.parametrize("settings, error, words", [
    ({"k": 1}, ConfigError, "at least 2"),
    ({"k": 2.5}, ConfigError, "whole number"),
    ({"k": 200}, ConfigError, "too many"),
    ({"target": "age"}, ConfigError, "target"),
    ({"families": ["kmeans", "dbscan"]}, ConfigError, "dbscan"),
    ({"k": 3, "families": ["hdbscan"]}, ConfigError, "HDBSCAN finds its own"),
    ({"exclude": ["nope"]}, DataError, "nope"),
])
def test_bad_settings_refused(customers, settings, error, words):
    with pytest.raises(error, match=words):
        labcoat.fit(customers.head(300), task="segment", budget="2s", quiet=True, track=False, report=False,
                    **settings)


def test_bad_data_refused():
    with pytest.raises(DataError, match="at least 20 rows"):
        labcoat.fit(make_customers(10), task="segment", quiet=True, track=False, report=False)
    ids = pd.DataFrame({"id": [f"r{i}" for i in range(50)], "same": 1})
    with pytest.raises(DataError, match="No column to segment on"):
        labcoat.fit(ids, task="segment", quiet=True, track=False, report=False)


def test_no_structure_is_said():
    noise = pd.DataFrame(np.random.default_rng(0).normal(size=(300, 6)), columns=list("abcdef"))
    with pytest.warns(LabcoatNotice, match="No candidate is stable"):
        model = labcoat.fit(noise, task="segment", budget="5s", quiet=True, track=False, report=False,
                            families=["kmeans"])
    assert (model.leaderboard["stability_low"] < 0.75).all()
    assert model.info["chosen"]["why"].startswith("no candidate reached stability")


def test_words_for_a_known_profile():
    frame = pd.DataFrame({"tenure": [10.0] * 30 + [30.0] * 10, "region": ["south"] * 30 + ["north"] * 10})
    described = describe_segments(frame, [0] * 30 + [1] * 10)
    assert described.loc[1, "description"] == ("segment 1, 25% of rows: tenure twice the average (30 vs 15), "
                                               "mostly region = north (100% vs 25% overall)")


def test_cli_fit_and_predict(tmp_path, customers):
    customers.drop(columns="true_segment").to_csv(tmp_path / "customers.csv", index=False)
    done = cli("fit", "customers.csv", "--task", "segment", "--k", "4", "--exclude", "newsletter", "--budget", "5s",
               "--no-track", "--no-report", "--out", "seg", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "4 segments of 500 rows" in done.stdout and "segment 3," in done.stdout
    done = cli("predict", "seg", "customers.csv", "-o", "out.csv", "--keep", "customer_id", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert out.columns.tolist() == ["customer_id", "segment"]
    loaded = labcoat.load(tmp_path / "seg")
    assert "newsletter" not in loaded.info["columns"] and "age" in loaded.info["columns"]
    expected = loaded.predict(customers)
    assert (out["segment"].to_numpy() == expected.to_numpy()).all()


def test_report_has_map_profiles_and_stability(chosen, tmp_path):
    from labcoat.reports.segment_report import segment_report

    html = segment_report(chosen, projection="pca")
    for words in ("The rows on a map", "by PCA", "Each segment against the whole", "Are the segments stable?",
                  "mostly plan = premium", "kmeans k=4"):
        assert words in html
    assert "newsletter = True" in html or "newsletter = False" in html  # booleans profiled as categories
