"""A match model through the lifecycle: the CLI fit tracked and registered, loaded back from the
registry and as an MLflow pyfunc with the same answers, the report, and the row-model commands
refusing it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import labcoat

from conftest import SHARED


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labcoat", *args], cwd=cwd, capture_output=True, text=True,
                          check=False, env={**os.environ, "MLFLOW_TRACKING_URI": ""})


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    """1,500 FEBRL 3 records matched by the CLI, tracked in the default store, registered as 'people'."""
    path = SHARED / "matching" / "febrl3.csv"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    folder = tmp_path_factory.mktemp("match")
    records = pd.read_csv(path, skipinitialspace=True, dtype=str)
    records.head(1500).to_csv(folder / "people.csv", index=False)
    records.tail(20).to_csv(folder / "new.csv", index=False)
    done = cli("match", "people.csv", "--id", "rec_id", "-o", "pairs.csv", "--budget", "20s", "--register", "people",
               "--out", "model", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "Registered as" in done.stdout and "Recorded as run" in done.stdout
    return folder


def test_tracked_registered_and_loaded_alike(fitted, monkeypatch):
    local = labcoat.load(fitted / "model")
    store = f"sqlite:///{fitted / '.labcoat' / 'mlflow.db'}"
    registered = labcoat.load("models:/people/1", tracking_uri=store)
    new = pd.read_csv(fitted / "new.csv", dtype=str)
    expected = local.find(new, k=3)
    pd.testing.assert_frame_equal(expected, registered.find(new, k=3))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    import mlflow
    import mlflow.pyfunc

    served = mlflow.pyfunc.load_model("models:/people/1").predict(new, params={"k": 3})
    pd.testing.assert_frame_equal(expected, served)
    run = mlflow.MlflowClient(store).get_run(local.info["run_id"])
    low, value, high = (run.data.metrics[f"f1{s}"] for s in ("_low", "", "_high"))
    assert 0.95 <= low <= value <= high <= 1
    assert run.data.params["estimator"].startswith("Fellegi-Sunter")
    assert "given_name" in run.data.params["roles"]


def test_report_info_and_the_row_commands(fitted):
    html = (fitted / "model-reports" / "match_report.html").read_text()
    assert "How each field is compared" in html and "The pairs it was least sure of" in html
    done = cli("report", "model", "-o", "again.html", cwd=fitted)
    assert done.returncode == 0 and "How each field is compared" in (fitted / "again.html").read_text()
    done = cli("predict", "model", "people.csv", cwd=fitted)
    assert done.returncode == 2 and "labcoat match" in done.stderr and "Traceback" not in done.stderr
