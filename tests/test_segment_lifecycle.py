"""A segment model through the lifecycle: tracked and registered, loaded back from the registry
and as an MLflow pyfunc with the same segments, the run's figures, the service's answers equal
to the in-process ones, and monitoring of the segments' shares."""
from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import labcoat
from labcoat.datasets import make_customers
from labcoat.errors import LabcoatNotice


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> tuple[object, str, Path]:
    """400 customers segmented, tracked in a SQLite store and registered as 'segs'."""
    folder = tmp_path_factory.mktemp("segment")
    store = f"sqlite:///{folder / 'mlflow.db'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        model = labcoat.fit(make_customers(400, seed=5), task="segment", budget="3s", quiet=True, tracking_uri=store,
                            register="segs", projection="pca", report_dir=folder / "reports")
    model.save(folder / "model")
    return model, store, folder


def test_registered_and_pyfunc_give_the_same_segments(tracked, monkeypatch):
    model, store, _ = tracked
    rows = make_customers(60, seed=9)
    expected = model.predict(rows)
    registered = labcoat.load("models:/segs/1", tracking_uri=store)
    pd.testing.assert_series_equal(expected, registered.predict(rows))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    import mlflow.pyfunc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow: customer_id is not in the signature
        served = mlflow.pyfunc.load_model("models:/segs/1").predict(rows)
    assert served["segment"].tolist() == expected.tolist()


def test_run_holds_settings_figures_and_artifacts(tracked):
    import mlflow

    model, store, folder = tracked
    client = mlflow.MlflowClient(store)
    run = client.get_run(model.info["run_id"])
    chosen = model.info["chosen"]
    assert run.data.metrics["stability"] == pytest.approx(chosen["stability"])
    assert 0 <= run.data.metrics["stability_low"] <= run.data.metrics["stability_high"] <= 1
    assert sum(v for k, v in run.data.metrics.items() if k.startswith("share_segment_")) == pytest.approx(1, abs=1e-3)
    assert run.data.params["k"] == str(model.info["k"]) and run.data.params["candidate"] == chosen["candidate"]
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"leaderboard.csv", "model", "reports"}
    assert (folder / "reports" / "segment_report.html").is_file()
