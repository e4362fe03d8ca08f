"""MLflow tracking, model format and registry, against the embedded SQLite store and a real
``mlflow server`` process on 127.0.0.1."""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labcoat
from labcoat.datasets import make_churn
from labcoat.errors import RegistryError, TrackingError
from labcoat.tracking.lineage import fingerprint

from conftest import FULL_SIMULATIONS

FAST = dict(trials=3, families=["lightgbm", "linear"], quiet=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real tracking server with its own SQLite backend and artifact store. Without MLflow's
    job execution (its GenAI jobs, which labcoat does not use): it starts seven huey consumer
    processes, each importing MLflow, which took the CPU from the server's first answers (the
    first fit against it: 13 s with them, 6.5 s without, on 2 cores)."""
    root = tmp_path_factory.mktemp("server")
    port = free_port()
    log = (root / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
         "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_http(uri + "/health", 90, process)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labcoat", *args], cwd=cwd, capture_output=True,
                          text=True, env=env)


def test_default_store_is_created_in_wal_mode_and_records_everything(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    df = make_churn(300)
    model = labcoat.fit(df, target="churned", **FAST)
    db = tmp_path / ".labcoat" / "mlflow.db"
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{db}")
    parent = client.get_run(model.info.run_id)
    assert parent.info.status == "FINISHED"
    tags = parent.data.tags
    assert tags["lineage.data_fingerprint"] == fingerprint(df)
    assert tags["lineage.rows"] == "300" and tags["lineage.labcoat_version"] == labcoat.__version__
    assert "lineage.lightgbm" in tags and "lineage.cores" in tags and "in-memory" in tags["lineage.source"]
    assert parent.data.params["seed"] == "0" and parent.data.params["trials"] == "3"
    assert parent.data.metrics["ensemble_score"] == pytest.approx(model.info.ensemble_score)
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"leaderboard.csv", "schema.json", "ensemble.json", "model", "reports"} <= artifacts
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "reports")} == {
        "reports/profile.html", "reports/report.html"}
    assert parent.data.metrics["selection_corrected_score"] == pytest.approx(model.info.selection["corrected_score"])

    from labcoat.tracking.runs import _list_mlflow, list_runs

    uri = f"sqlite:///{db}"
    assert list_runs(uri=uri) == _list_mlflow(50, uri, "labcoat")  # the direct SQLite reader
    assert list_runs(uri=uri)[0]["run"] == parent.info.run_id

    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 3
    for child in children:
        assert child.info.status == "FINISHED" and child.data.tags["labcoat.status"] == "ok"
        assert child.data.params["family"] in ("lightgbm", "linear")
        folds = [k for k in child.data.metrics if k.startswith("fold_")]
        assert len(folds) == 15 and {"score", "score_std", "duration_s"} <= set(child.data.metrics)


def test_pyfunc_and_every_uri_predict_exactly_like_labcoat(tmp_path):
    import mlflow.pyfunc

    df = make_churn(300)
    rows = df.drop(columns=["churned"]).head(25)
    model = labcoat.fit(df, target="churned", register="churn-uris", **FAST)
    expected = model.predict_frame(rows)
    run_uri = f"runs:/{model.info.run_id}/model"
    pd.testing.assert_frame_equal(mlflow.pyfunc.load_model(run_uri).predict(rows), expected)
    local = model.save(tmp_path / "m")
    pd.testing.assert_frame_equal(mlflow.pyfunc.load_model(str(local)).predict(rows), expected)
    from labcoat.tracking.registry import promote

    promote("churn-uris", "1")
    from labcoat.tracking.registry import describe_reference

    # an alias is resolved once, to the version then loaded: it cannot move in between
    assert describe_reference("models:/churn-uris@champion")["pinned"] == "models:/churn-uris/1"
    for uri in (run_uri, "models:/churn-uris/1", "models:/churn-uris@champion", str(local)):
        pd.testing.assert_frame_equal(labcoat.load(uri).predict_frame(rows), expected, obj=uri)
    with pytest.raises(RegistryError, match="no version with alias 'challenger'"):
        labcoat.load("models:/churn-uris@challenger")


def test_registry_and_runs_commands_against_a_real_server(tmp_path, mlflow_server):
    make_churn(300).to_csv(tmp_path / "train.csv", index=False)
    base = ["--tracking-uri", mlflow_server]
    fit = cli("fit", "train.csv", "--target", "churned", "--trials", "2", "--families", "linear", "--no-report",
              "--register", "churn", "--json", *base, cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert json.loads(fit.stdout)["registered"] == "models:/churn/1"
    run_id = json.loads(fit.stdout)["run_id"]
    again = cli("models", "register", run_id, "--name", "churn", *base, cwd=tmp_path)
    assert again.returncode == 0 and "models:/churn/2" in again.stdout, again.stderr

    for version in ("1", "2"):
        assert cli("models", "promote", "churn", version, *base, cwd=tmp_path).returncode == 0
    shown = json.loads(cli("models", "show", "churn", "--json", *base, cwd=tmp_path).stdout)
    assert shown["aliases"] == {"champion": "2"} and shown["champion_history"] == ["1", "2"]
    rollback = cli("models", "rollback", "churn", *base, cwd=tmp_path)
    assert rollback.returncode == 0 and "version 1" in rollback.stdout
    refused = cli("models", "delete", "churn/1", *base, cwd=tmp_path)
    assert refused.returncode == 2 and "champion" in refused.stderr and "Traceback" not in refused.stderr
    assert cli("models", "delete", "churn/2", *base, cwd=tmp_path).returncode == 0
    listed = json.loads(cli("models", "list", "--json", *base, cwd=tmp_path).stdout)
    assert listed[0]["name"] == "churn" and listed[0]["versions"] == 1

    runs = json.loads(cli("runs", "list", "--json", *base, cwd=tmp_path).stdout)
    assert runs[0]["run"] == run_id and runs[0]["task"] == "binary" and runs[0]["score"] > 0.5
    assert runs[0]["best_family"] == "linear" and runs[0]["data"]
    detail = json.loads(cli("runs", "show", run_id, "--json", *base, cwd=tmp_path).stdout)
    assert detail["lineage"]["source"].endswith("train.csv") and len(detail["leaderboard"]) == 2
    predicted = cli("predict", "models:/churn@champion", "train.csv", "-o", "p.csv", *base, cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert len(pd.read_csv(tmp_path / "p.csv")) == 300
    table = cli("runs", "list", *base, cwd=tmp_path)
    assert run_id in table.stdout and "±" in table.stdout


def test_an_unreachable_server_fails_before_any_training(tmp_path, frame):
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingError, match=f"{uri} does not answer"):
        labcoat.fit(frame, target="churn", tracking_uri=uri, **FAST)
    assert time.monotonic() - started < 10
    frame.to_csv(tmp_path / "d.csv", index=False)
    bad = cli("fit", "d.csv", "--target", "churn", "--tracking-uri", uri, cwd=tmp_path)
    assert bad.returncode == 2 and uri in bad.stderr and "Traceback" not in bad.stderr


def test_a_store_mlflow_refuses_fails_before_any_training_without_a_traceback(tmp_path, frame, monkeypatch):
    """MLflow refuses its file store unless MLFLOW_ALLOW_FILE_STORE is set: one clear line."""
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri = (tmp_path / "mlruns").as_uri()
    with pytest.raises(TrackingError, match="MLflow cannot use the tracking store"):
        labcoat.fit(frame, target="churn", tracking_uri=uri, **FAST)
    frame.to_csv(tmp_path / "d.csv", index=False)
    bad = cli("fit", "d.csv", "--target", "churn", "--tracking-uri", uri, cwd=tmp_path)
    assert bad.returncode == 2 and "sqlite:///PATH/mlflow.db" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "labcoat-model").exists()


@pytest.mark.timeout(480)
@pytest.mark.parametrize("sig", [pytest.param(signal.SIGINT, marks=pytest.mark.skipif(
    not FULL_SIMULATIONS, reason="Ctrl-C takes SIGTERM's path; LABCOAT_FULL_SIMULATIONS=1 runs it")), signal.SIGTERM])
def test_an_interrupted_fit_is_recorded_as_killed(tmp_path, sig):
    make_churn(400).to_csv(tmp_path / "train.csv", index=False)
    env = {**os.environ, "MLFLOW_TRACKING_URI": ""}  # the default store in tmp_path
    process = subprocess.Popen([sys.executable, "-m", "labcoat", "fit", "train.csv", "--target", "churned",
                                "--budget", "5m", "--quiet"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = tmp_path / ".labcoat" / "mlflow.db"
    deadline = time.monotonic() + 240  # seconds on an idle machine; minutes on a loaded one
    written = False
    while not written and time.monotonic() < deadline:  # wait until a trial has been written
        try:
            with sqlite3.connect(db, timeout=30) as connection:
                written = bool(connection.execute("select count(*) from runs where status = 'FINISHED'").fetchone()[0])
        except sqlite3.OperationalError:  # no store or no tables yet
            pass
        time.sleep(0.5)
    if not written:
        process.kill()
        pytest.fail("no trial was written in 240 s")
    process.send_signal(sig)
    process.communicate(timeout=180)
    assert process.returncode != 0
    with sqlite3.connect(db, timeout=30) as connection:
        statuses = dict(connection.execute(
            "select r.status, count(*) from runs r join tags t on t.run_uuid = r.run_uuid "
            "where t.key = 'labcoat.kind' and t.value = 'study' group by r.status").fetchall())
    assert statuses == {"KILLED": 1}


@pytest.mark.parametrize("after", [0.05, 0.3])
def test_an_interrupt_during_a_store_write_still_closes_the_run(tmp_path, after):
    """SIGTERM lands while trials are being written (when the test above sees its first
    finished trial): the write completes, then the run is closed KILLED, not left RUNNING."""
    from labcoat.search.trial import Trial
    from labcoat.tracking.interrupt import closing_run_on_error
    from labcoat.tracking.recorder import StudyRecorder

    db = tmp_path / "mlflow.db"
    recorder = StudyRecorder(f"sqlite:///{db}", run_name="interrupted")
    recorder.start({"budget": 60}, {})
    recorder._pending = [Trial(number=i, family="linear", params={"C": 1.0}, origin="portfolio",
                               fold_scores=[0.7, 0.8], duration=0.1) for i in range(60)]
    signal.setitimer(signal.ITIMER_REAL, after)
    previous = signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
    try:
        with pytest.raises(KeyboardInterrupt), closing_run_on_error(recorder):
            recorder.flush()
            time.sleep(5)  # the signal arrives by now if the writes were quicker than `after`
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    with sqlite3.connect(db) as connection:
        statuses = dict(connection.execute(
            "select t.value, r.status from runs r join tags t on t.run_uuid = r.run_uuid "
            "where t.key = 'labcoat.kind' and t.value = 'study'").fetchall())
        trials = connection.execute("select count(*) from runs where status = 'FINISHED'").fetchone()[0]
    assert statuses == {"study": "KILLED"}
    assert trials == 60  # the batch being written when the signal came was written whole


def test_two_fits_at_once_on_one_sqlite_store_both_complete(tmp_path):
    make_churn(300).to_csv(tmp_path / "train.csv", index=False)
    env = {**os.environ, "MLFLOW_TRACKING_URI": ""}
    args = [sys.executable, "-m", "labcoat", "fit", "train.csv", "--target", "churned", "--trials", "3",
            "--families", "linear,knn", "--no-report", "--quiet"]
    processes = [subprocess.Popen([*args, "--out", f"m{i}"], cwd=tmp_path, env=env, stderr=subprocess.PIPE)
                 for i in range(2)]
    for process in processes:
        _, err = process.communicate(timeout=240)
        assert process.returncode == 0, err.decode()
    from labcoat.tracking.runs import list_runs

    runs = list_runs(uri=f"sqlite:///{tmp_path / '.labcoat' / 'mlflow.db'}")
    assert [r["status"] for r in runs] == ["FINISHED", "FINISHED"]


def test_mlflow_models_serve_answers_with_labcoat_predictions(tmp_path):
    df = make_churn(300)
    model = labcoat.fit(df, target="churned", track=False, **FAST)
    path = model.save(tmp_path / "m")
    port = free_port()
    # MLflow starts `uvicorn` by name: the venv's bin must be on PATH, as in an activated venv.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    process = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m", str(path),
                                "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", 90, process)
        rows = df.drop(columns=["churned", "customer_id"]).head(10)
        body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))})
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body.encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            served = pd.DataFrame(json.loads(response.read())["predictions"])
    finally:
        process.terminate()
        process.wait(15)
    expected = model.predict_frame(rows)
    assert list(served.columns) == list(expected.columns)
    assert served.iloc[:, 0].tolist() == expected.iloc[:, 0].tolist()
    np.testing.assert_allclose(served.iloc[:, 1:].to_numpy(float), expected.iloc[:, 1:].to_numpy(float))
