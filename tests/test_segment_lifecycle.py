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
from labcoat.errors import DataError, LabcoatNotice


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


@pytest.fixture(scope="module")
def server(tracked):
    """`labcoat serve` of the saved folder, in a subprocess."""
    from test_serve import Server

    folder = tracked[2]
    running = Server(str(folder / "model"), folder)
    yield running
    running.stop()


def test_served_segments_equal_in_process(tracked, server):
    import json

    from test_serve import call

    model = tracked[0]
    rows = make_customers(40, seed=11)
    body = {"rows": json.loads(rows.drop(columns="customer_id").to_json(orient="records"))}
    status, answer = call(server.port, "/segment", body)
    assert status == 200, answer
    assert answer["segments"] == model.predict(rows).tolist()
    assert all(d.startswith(f"segment {s},") for s, d in answer["descriptions"].items())
    status, one = call(server.port, "/segment", {"row": body["rows"][3]})
    assert one["segments"] == [model.predict(rows.iloc[[3]]).iloc[0]]
    assert call(server.port, "/schema")[1]["k"] == model.info["k"]


def test_served_requests_checked(server):
    from test_serve import call

    def post(body: object) -> tuple[int, dict]:
        return call(server.port, "/segment", body)

    row = {"age": 30, "tenure_months": 12, "monthly_spend": 40.0, "visits_per_month": 10, "region": "south",
           "channel": "app", "plan": "basic", "newsletter": False}
    status, wrong = post({"rows": [row, {**row, "age": "old"}]})
    assert status == 422 and wrong["detail"][0]["loc"][-2:] == [1, "age"]
    status, missing = post({"row": {k: v for k, v in row.items() if k != "plan"}})
    assert status == 422 and "plan" in str(missing)
    assert post({"rows": []})[0] == 422
    assert post({"row": row, "k": 3})[0] == 422
    status, flagged = post({"row": {**row, "region": "mars"}})
    assert status == 200 and flagged["warnings"][0]["column"] == "region"


def test_segment_shares_monitored(tracked):
    from labcoat.lifecycle.segment_monitor import check_segment_shares

    model = tracked[0]
    same = check_segment_shares(model, make_customers(400, seed=21))
    assert same["exit_code"] == 0 and not same["shifted"] and same["psi"] < 0.1
    assert sum(s["current_share"] for s in same["segments"]) == pytest.approx(1, abs=1e-3)
    rows = make_customers(600, seed=22)
    shifted = check_segment_shares(model, rows[model.predict(rows) != 0])  # the largest segment gone
    assert shifted["exit_code"] == 1 and shifted["p_value"] < 0.01 and shifted["psi"] >= 0.1
    with pytest.raises(DataError, match="at least 30"):
        check_segment_shares(model, rows.head(10))


def test_monitor_cli_reads_the_service_log(tracked, server):
    import json
    import os
    import subprocess
    import sys

    from test_serve import call

    model, _, folder = tracked
    rows = make_customers(200, seed=23)
    body = {"rows": json.loads(rows.drop(columns="customer_id").to_json(orient="records"))}
    status, answer = call(server.port, "/segment", body)[:2]
    assert status == 200
    from labcoat.serve.export import log_frame

    assert log_frame(server.log)["segment"].tolist()[-200:] == answer["segments"]  # `labcoat log export`
    done = subprocess.run([sys.executable, "-m", "labcoat", "monitor", str(folder / "model"), "--from-log", "--log",
                           str(server.log), "--json"], capture_output=True, text=True, check=False,
                          env={**os.environ, "MLFLOW_TRACKING_URI": ""})
    result = json.loads(done.stdout)
    assert done.returncode == result["exit_code"] and result["rows"] >= 200
    assert result["segments"][0]["training_share"] == pytest.approx(model.info["shares"][0], abs=1e-4)
