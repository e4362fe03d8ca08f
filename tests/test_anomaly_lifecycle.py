"""An anomaly model through the lifecycle: fitted, tracked and registered by ``labcoat.fit``,
loaded back from the registry and as an MLflow pyfunc with the same answers; its report (in a
real browser too); ``labcoat serve`` (a real uvicorn process) answering what ``predict`` gives
in process and refusing bad rows naming the field; ``labcoat monitor`` on a window like the
training rows (exit 0) and on one whose amounts tripled (exit 1)."""
from __future__ import annotations

import json
from markupsafe import escape as html_escape
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_serve import Server, call

import labcoat
from labcoat.datasets import make_transactions
from labcoat.errors import DataError
from labcoat.lifecycle.anomaly_monitor import monitor_anomaly
from labcoat.serve.predlog import read_log


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """1,500 transactions (labels given, a time column) fitted, tracked in a SQLite store and
    registered as 'fraud'; 500 other rows of the same draw held out."""
    folder = tmp_path_factory.mktemp("anomaly")
    data = make_transactions(2000, seed=0).drop(columns="transaction_id")
    order = np.random.default_rng(0).permutation(len(data))
    train, held = data.iloc[np.sort(order[:1500])], data.iloc[np.sort(order[1500:])].reset_index(drop=True)
    store = f"sqlite:///{folder / 'mlflow.db'}"
    model = labcoat.fit(train, task="anomaly", labels="is_fraud", time_column="ts", budget=10, quiet=True,
                        families=["ecod", "copod", "hbos"], tracking_uri=store, register="fraud",
                        report_dir=folder / "reports")
    model.save(folder / "model")
    assert len(model.leaderboard) == 3, model.info["notices"]  # every detector fitted: their agreement is shown
    return folder, model, held.drop(columns="is_fraud"), store


def test_the_run_is_recorded_registered_and_loads_alike(fitted, monkeypatch):
    folder, model, held, store = fitted
    import mlflow
    import mlflow.pyfunc

    client = mlflow.MlflowClient(store)
    run = client.get_run(model.info["run_id"])
    metrics = run.data.metrics
    assert metrics["training_alert_rate"] == pytest.approx(model.info["training_alert_rate"])
    assert 0 <= metrics["roc_auc_low"] <= metrics["roc_auc"] <= metrics["roc_auc_high"] <= 1
    assert run.data.tags["labcoat.task"] == "anomaly" and json.loads(run.data.params["columns"]) == model.columns
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert sorted(c.data.tags["labcoat.family"] for c in children) == sorted(model.leaderboard["detector"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"leaderboard.csv", "reports", "model"} <= artifacts
    version = model.info["registered"]["version"]
    expected = model.predict(held)
    pd.testing.assert_frame_equal(labcoat.load(f"models:/fraud/{version}", tracking_uri=store).predict(held), expected)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    pd.testing.assert_frame_equal(mlflow.pyfunc.load_model(f"models:/fraud/{version}").predict(held), expected)


def test_the_report_shows_the_threshold_top_rows_agreement_and_labels(fitted):
    folder, model, _, _ = fitted
    html = (folder / "reports" / "anomaly_report.html").read_text()
    for heading in ("Where the scores fall, and where the threshold cuts", "Alerts per day",
                    "The most unusual training rows", "How far the detectors agree", "Leaderboard", "Against the labels"):
        assert heading in html, heading
    top = model.examples["top"]
    assert top["anomaly_score"].is_monotonic_decreasing and str(html_escape(top["reasons"].iloc[0])) in html
    assert f"{int(round(model.info['training_alert_rate'] * 1500)):,}</b> of the 1,500 training rows" in html


def test_the_report_of_a_model_without_labels_or_time_leaves_their_sections_out(unlabelled):
    from labcoat.reports.anomaly_report import anomaly_report

    html = anomaly_report(unlabelled[1])
    assert "The most unusual training rows" in html and "How far the detectors agree" in html
    assert "Against the labels" not in html and "Alerts per day" not in html


def test_the_report_renders_offline_in_chromium(fitted, tmp_path, browser):
    from test_reports import open_offline

    from labcoat.reports.anomaly_report import write_anomaly_report

    path = write_anomaly_report(fitted[1], tmp_path)
    errors, requests, state, plots, page = open_offline(browser, path, tmp_path / "anomaly.png")
    page.close()
    assert errors == [] and state == "ready" and requests == [], errors
    assert len(plots) == 4  # scores with the threshold, alerts per day, agreement, precision-recall
    assert all(p["svg"] and p["drawn"] and p["width"] > 100 for p in plots), plots


@pytest.fixture(scope="module")
def server(fitted):
    folder = fitted[0]
    running = Server(str(folder / "model"), folder, "--max-batch", "100")
    yield running
    running.stop()


def rows_of(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def test_the_service_answers_what_predict_gives_in_process(fitted, server):
    _, model, held, _ = fitted
    scores = model.score(held)
    asked = held.iloc[np.argsort(-scores)[:10].tolist() + list(range(20))]  # flagged rows and ordinary ones
    expected = model.predict(asked)
    assert expected["is_anomaly"].sum() >= 3 and (expected["reasons"] != "").sum() >= 3
    status, answer = call(server.port, "/predict", {"rows": rows_of(asked)})
    assert status == 200, answer
    got = pd.DataFrame(answer["predictions"])
    assert np.allclose(got["anomaly_score"], expected["anomaly_score"], rtol=0, atol=1e-12)
    assert got["is_anomaly"].tolist() == expected["is_anomaly"].tolist()
    assert got["reasons"].tolist() == expected["reasons"].tolist()
    status, one = call(server.port, "/predict", {"columns": {k: [v] for k, v in rows_of(asked.head(1))[0].items()}})
    assert status == 200 and one["predictions"][0] == answer["predictions"][0]
    assert answer["threshold"] == model.threshold and answer["model"] == {"name": "model", "version": "local"}


def test_the_service_refuses_bad_rows_naming_the_field(fitted, server):
    row = rows_of(fitted[2].head(1))[0]
    status, answer = call(server.port, "/predict", {"rows": [row, {**row, "amount": "lots"}]})
    assert status == 422 and answer["detail"][0]["loc"] == ["body", "rows", 1, "amount"]
    status, answer = call(server.port, "/predict", {"rows": [{k: v for k, v in row.items() if k != "country"}]})
    assert status == 422 and "country" in answer["detail"][0]["msg"] and "missing" in answer["detail"][0]["msg"]
    status, answer = call(server.port, "/predict", {"rows": [{**row, "ts": "yesterday"}]})
    assert status == 422 and answer["detail"][0]["loc"] == ["body", "rows", 0, "ts"]
    assert call(server.port, "/predict", {"row": row})[0] == 422
    assert call(server.port, "/predict", raw=b"{not json")[0] == 400
    assert call(server.port, "/predict", {"rows": [row] * 101})[0] == 413
    status, answer = call(server.port, "/predict", {"rows": [{**row, "colour": "red"}]})
    assert status == 200 and [w["column"] for w in answer["warnings"]] == ["colour"]
    status, schema = call(server.port, "/schema")
    assert status == 200 and schema["task"] == "anomaly" and {c["name"] for c in schema["columns"]} == set(
        fitted[1].columns)
    assert call(server.port, "/ready")[1]["model"] == "model" and call(server.port, "/docs")[0] == 200


def test_every_answered_request_is_in_the_prediction_log_and_monitored_from_it(fitted, server):
    folder, _, held, _ = fitted
    row = rows_of(held.tail(1))[0]
    status, answer = call(server.port, "/predict", {"rows": [row]})
    assert status == 200
    assert call(server.port, "/predict", {"rows": rows_of(held.iloc[100:200])})[0] == 200
    server.stop(signal.SIGTERM)
    logged = list(read_log(server.log))
    entry = {e["request_id"]: e for e in logged}[answer["request_id"]]
    assert entry["endpoint"] == "/predict" and entry["rows"] == 1 and entry["outputs"] == answer["predictions"]
    assert entry["inputs"][0]["amount"] == row["amount"]
    done = monitor("model", "--from-log", "--log", str(server.log), "--json", "--no-track", "--no-report", cwd=folder)
    document = json.loads(done.output)
    flags = [o["is_anomaly"] for e in logged for o in e["outputs"]]
    assert document["window"]["rows"] == len(flags) >= 130 and document["alert_rate"]["alerts"] == sum(flags)
    assert done.exit_code == document["exit_code"] == (1 if document["alerts"] else 0)
    assert sum(d["rows"] for d in document["per_day"]) == len(flags)  # the time column, read from the logged rows


def monitor(*args: str, cwd: Path):
    """``labcoat monitor ARGS`` run in ``cwd`` (in process: the exit code and the output)."""
    from typer.testing import CliRunner

    from labcoat.cli import app

    here = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, ["monitor", *args], env={"MLFLOW_TRACKING_URI": ""})
    finally:
        os.chdir(here)


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory):
    """4,000 transactions fitted without labels, untracked, saved; 1,000 other rows held out.
    (With fewer training rows, new rows meet values training never saw more often than the
    training rows did, and the alert rate on them runs above the training one.)"""
    folder = tmp_path_factory.mktemp("anomaly-monitor")
    data = make_transactions(5000, seed=0).drop(columns=["transaction_id", "is_fraud"])
    order = np.random.default_rng(0).permutation(len(data))
    train, held = data.iloc[np.sort(order[:4000])], data.iloc[np.sort(order[4000:])].reset_index(drop=True)
    model = labcoat.fit(train, task="anomaly", budget=5, quiet=True, families=["ecod", "copod", "hbos"], track=False,
                        report=False)
    model.save(folder / "model")
    return folder, model, held


def test_monitor_exits_0_on_a_window_like_training_and_1_on_a_shift(unlabelled, fitted):
    folder, model, held = unlabelled
    store = fitted[3]
    held.to_csv(folder / "same.csv", index=False)
    held.assign(amount=held["amount"] * 5).to_csv(folder / "shifted.csv", index=False)
    done = monitor("model", "--current", "same.csv", "--json-out", "same.json", "--report", "same.html",
                   "--tracking-uri", store, cwd=folder)
    assert done.exit_code == 0, done.output
    document = json.loads((folder / "same.json").read_text())
    assert document["alerts"] == [] and document["window"]["rows"] == len(held)
    assert "Nothing to act on" in done.output and "Nothing to act on" in (folder / "same.html").read_text()
    import mlflow

    run = mlflow.MlflowClient(store).get_run(document["run_id"])
    assert run.data.metrics["score_psi"] == pytest.approx(document["scores"]["psi"])
    done = monitor("model", "--current", "shifted.csv", "--json", "--no-track", "--no-report", cwd=folder)
    assert done.exit_code == 1, done.output
    shifted = json.loads(done.output)
    assert shifted["scores"]["shifted"] and shifted["scores"]["p_value"] < 0.05 and shifted["scores"]["psi"] >= 0.1
    assert shifted["alert_rate"]["window"] > 2 * model.info["training_alert_rate"]
    with pytest.raises(DataError, match="at least 30"):  # the CLI's exit code 2
        monitor_anomaly(model, held.head(10), label="model", source="few.csv")


def test_the_fast_path_of_a_few_rows_gives_the_transformers_numbers():
    """Served rows take ``fast_features`` (numpy and dict look-ups) instead of the fitted
    ColumnTransformer, and their reasons dict look-ups instead of pandas: the same numbers, with
    missing numbers, dates and categories, values never seen, and a numeric column with missing
    values in training (its indicator)."""
    from labcoat.tasks.anomaly.fast_features import compile_features
    from labcoat.tasks.anomaly.features import anomaly_schema, build_features, feature_columns
    from labcoat.tasks.anomaly.reasons import ColumnProfile

    data = make_transactions(600, seed=3).drop(columns=["transaction_id", "is_fraud"])
    rng = np.random.default_rng(0)
    data["items"] = rng.integers(1, 5, len(data)).astype(float)
    data.loc[rng.random(len(data)) < 0.1, "items"] = np.nan
    data["opened"] = data["ts"]
    data.loc[rng.random(len(data)) < 0.1, "opened"] = pd.NaT
    schema = anomaly_schema(data, exclude=())
    transformer = build_features(schema).fit(schema.prepare(data))
    fast = compile_features(transformer)
    assert fast is not None
    new = make_transactions(200, seed=4).drop(columns=["transaction_id", "is_fraud"]).assign(
        items=rng.choice([1.0, 7.0, np.nan], 200), opened=lambda f: f["ts"].where(rng.random(200) < 0.8))
    new.loc[:20, "merchant"] = "never seen"
    new.loc[20:40, "country"] = None
    new.loc[40:50, "amount"] = np.nan
    profile = ColumnProfile.fit(schema.prepare(data), feature_columns(schema))
    every = profile.surprise(schema.prepare(new, warn=False))  # > 64 rows: through pandas
    for start in range(0, 200, 23):
        prepared = schema.prepare(new.iloc[start:start + 23], warn=False)
        np.testing.assert_allclose(fast.transform(prepared), transformer.transform(prepared), rtol=0, atol=1e-12)
        np.testing.assert_allclose(profile.surprise(prepared), every[start:start + 23], rtol=0, atol=1e-12)


def test_a_token_guards_everything_but_the_probes(fitted):
    folder = fitted[0]
    running = Server(str(folder / "model"), folder, "--token", "s3cret")
    try:
        body = {"rows": rows_of(fitted[2].head(2))}
        assert call(running.port, "/predict", body)[0] == 401
        assert call(running.port, "/predict", body, token="wrong")[0] == 401
        status, answer = call(running.port, "/predict", body, token="s3cret")
        assert status == 200 and len(answer["predictions"]) == 2
        assert call(running.port, "/health")[0] == 200 and call(running.port, "/ready")[0] == 200
    finally:
        running.stop()
