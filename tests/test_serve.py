"""`labcoat serve` as a real uvicorn process on 127.0.0.1: protocols, validation, limits, token,
the prediction log (kill -9 included), feedback, export, and a schemathesis run over its spec."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labcoat
from labcoat.datasets import make_churn

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, path: str, body: object = None, *, token: str | None = None, raw: bytes | None = None,
         method: str | None = None) -> tuple[int, object]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        text, status = error.read(), error.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode()


class Server:
    """``labcoat serve`` in a subprocess, stopped at the end."""

    def __init__(self, model: str, folder: Path, *args: str, env: dict[str, str] | None = None,
                 log: Path | None = None) -> None:
        self.port = free_port()
        self.log = log or folder / f"predictions-{self.port}.db"
        self.output = folder / f"serve-{self.port}.out"
        with self.output.open("w") as out:
            self.process = subprocess.Popen(
                [str(BIN / "labcoat"), "serve", model, "--port", str(self.port), "--log", str(self.log), *args],
                stdout=out, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"labcoat serve exited: {self.output.read_text()}")
            try:
                if call(self.port, "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("labcoat serve did not answer within 60 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    frame = make_churn(800)
    model = labcoat.fit(frame, target="churned", trials=2, families=["lightgbm", "linear"], quiet=True,
                        track=False, report=False, n_jobs=1)
    model.save(folder / "model")
    rows = json.loads(frame.drop(columns="churned").head(20).to_json(orient="records"))
    return folder, model, rows, frame


@pytest.fixture(scope="module")
def server(churn):
    folder = churn[0]
    running = Server(str(folder / "model"), folder, "--max-batch", "500")
    yield running
    running.stop()


def test_every_protocol_answers_what_the_model_predicts(churn, server):
    _, model, rows, _ = churn
    expected = model.predict_frame(pd.DataFrame(rows))
    status, answer = call(server.port, "/predict", {"rows": rows})
    assert status == 200 and answer["predictions"] == expected["churned_predicted"].tolist()
    assert np.allclose([p["yes"] for p in answer["probabilities"]], expected["proba_yes"])
    assert answer["model"] == {"name": "model", "version": "local"} and len(answer["request_id"]) == 32
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    assert call(server.port, "/predict", {"columns": columns})[1]["predictions"] == answer["predictions"]
    split = {"columns": list(rows[0]), "data": [list(r.values()) for r in rows]}
    for body in ({"dataframe_split": split}, {"dataframe_records": rows}):
        status, mlflow_answer = call(server.port, "/invocations", body)
        assert status == 200 and pd.DataFrame(mlflow_answer["predictions"])["churned_predicted"].tolist() \
            == answer["predictions"]
    inputs = [{"name": k, "shape": [len(rows)], "datatype": "BYTES", "data": v} for k, v in columns.items()]
    status, v2 = call(server.port, "/v2/models/model/infer", {"inputs": inputs, "id": "abc"})
    outputs = {o["name"]: o for o in v2["outputs"]}
    assert status == 200 and v2["id"] == "abc" and outputs["churned_predicted"]["datatype"] == "BYTES"
    assert np.allclose(outputs["proba_yes"]["data"], expected["proba_yes"])
    assert call(server.port, "/v2/models/other/infer", {"inputs": inputs})[0] == 404
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/model/ready", "/ready"):
        assert call(server.port, path)[0] == 200
    status, meta = call(server.port, "/v2/models/model")
    assert status == 200 and {i["name"] for i in meta["inputs"]} == {c.name for c in model.schema.features}
    status, schema = call(server.port, "/schema")
    plan = next(c for c in schema["columns"] if c["name"] == "plan")
    assert status == 200 and set(plan["categories"]) == {"basic", "standard", "premium"}


def test_concurrent_requests_are_batched_and_each_gets_its_own_rows(churn, server):
    """Requests arriving together are predicted in one call (micro-batching); every request
    still gets exactly its own rows' predictions; a bad request among them is refused alone.
    Clients keep their connections open (as HTTP client pools do)."""
    import http.client
    import threading

    _, model, _, frame = churn
    many = json.loads(frame.drop(columns="churned").iloc[20:84].to_json(orient="records"))
    expected = model.predict_frame(pd.DataFrame(many))
    bad = {**many[0], "signup_date": "not a date"}
    clients, rounds = 16, 12
    start = threading.Barrier(clients)
    answers: list[tuple[int, int, dict]] = []

    def client(c: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for r in range(rounds):
            i = r * clients + c
            body = {"rows": [bad]} if c == 7 else {"rows": [many[i % len(many)]]}
            start.wait()
            connection.request("POST", "/predict", json.dumps(body), {"Content-Type": "application/json"})
            response = connection.getresponse()
            answers.append((i, response.status, json.loads(response.read())))
        connection.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == clients * rounds
    for i, status, answer in answers:
        if i % clients == 7:
            assert status == 422 and "signup_date" in json.dumps(answer)
            continue
        assert status == 200, answer
        row = expected.iloc[i % len(many)]
        assert answer["predictions"] == [row["churned_predicted"]]
        assert abs(answer["probabilities"][0]["yes"] - row["proba_yes"]) <= 1e-12
    metrics = call(server.port, "/metrics")[1]
    alone = float(re.search(r'labcoat_batch_requests_bucket\{le="1.0"\} ([\d.e+]+)', metrics).group(1))
    batches = float(re.search(r"labcoat_batch_requests_count ([\d.e+]+)", metrics).group(1))
    assert batches > alone  # some model calls answered several requests


def test_the_served_model_is_warmed_up_before_its_first_request(churn):
    """Loading for service builds the few-row predictors (merged members) at once: the first
    request does not wait for them, and predicting does not build them again."""
    from labcoat.serve.service import load_served

    folder, model, rows, _ = churn
    served = load_served(str(folder / "model"))
    merged = served.model._merged
    assert merged is not None and any(m.family == "lightgbm" for _, _, members in merged for m in members)
    frame = pd.DataFrame(rows[:1])
    pd.testing.assert_frame_equal(served.model.predict_frame(frame), model.predict_frame(frame))
    assert served.model._merged is merged


def test_a_batch_that_fails_is_predicted_request_by_request(churn):
    """Rows that pass validation but fail in the model fail only their own request."""
    import asyncio

    from labcoat.errors import LabcoatError
    from labcoat.serve.batching import MicroBatcher
    from labcoat.serve.service import Served

    _, model, rows, _ = churn
    served = Served(model, "model", "local", "test")
    good = [pd.DataFrame([row]) for row in rows[:5]]
    broken = pd.DataFrame([{**rows[0], "signup_date": "not a date"}])
    sizes: list[int] = []

    async def together() -> list[object]:
        batcher = MicroBatcher(on_batch=sizes.append)
        return await asyncio.gather(*(batcher.predict(served, f) for f in [*good[:2], broken, *good[2:]]),
                                    return_exceptions=True)

    answers = asyncio.run(together())
    assert sizes == [6] and isinstance(answers[2], LabcoatError)
    for frame, answer in zip(good, answers[:2] + answers[3:]):
        pd.testing.assert_frame_equal(answer, model.predict_frame(frame))


def test_bad_requests_get_4xx_naming_field_value_and_reason(churn, server):
    _, _, rows, _ = churn
    missing = [{k: v for k, v in rows[0].items() if k != "plan"}]
    status, answer = call(server.port, "/predict", {"rows": missing})
    assert status == 422 and answer["detail"][0]["loc"][-1] == "plan" and "missing" in answer["detail"][0]["msg"]
    typed = [{**rows[0], "tenure_months": "twelve"}]
    status, answer = call(server.port, "/predict", {"rows": typed})
    assert status == 422 and answer["detail"][0]["input"] == "twelve" and "number" in answer["detail"][0]["msg"]
    assert call(server.port, "/predict", raw=b"{not json")[0] == 422
    assert call(server.port, "/predict", {"rows": []})[0] == 422
    assert call(server.port, "/predict", {"rows": rows[:1], "columns": {}})[0] == 422
    assert call(server.port, "/predict", {"rows": rows[:1] * 501})[0] == 413  # --max-batch 500
    assert call(server.port, "/predict", raw=b" " * (10 * 2**20 + 1))[0] == 413
    flagged = [{**rows[0], "plan": "platinum", "monthly_charges": 1e6, "coupon": "X"}]
    status, answer = call(server.port, "/predict", {"rows": flagged})
    kinds = {(w["column"], w["reason"].split(" ")[0]) for w in answer["warnings"]}
    assert status == 200 and {("plan", "category"), ("monthly_charges", "above"), ("coupon", "unknown")} <= kinds
    metrics = call(server.port, "/metrics")[1]
    assert 'labcoat_validation_failures_total{reason="missing"}' in metrics
    assert 'labcoat_validation_flags_total{column="plan",kind="unseen_category"}' in metrics
    assert 'labcoat_requests_total{endpoint="/predict",status="413"}' in metrics


def test_a_token_guards_everything_but_health(churn, tmp_path):
    folder, _, rows, _ = churn
    guarded = Server(str(folder / "model"), tmp_path, "--token", "s3cret")
    try:
        assert call(guarded.port, "/predict", {"rows": rows[:1]})[0] == 401
        assert call(guarded.port, "/predict", {"rows": rows[:1]}, token="wrong")[0] == 401
        assert call(guarded.port, "/predict", {"rows": rows[:1]}, token="s3cret")[0] == 200
        assert call(guarded.port, "/metrics")[0] == 401 and call(guarded.port, "/health")[0] == 200
    finally:
        guarded.stop()


def test_answered_requests_survive_kill_9_and_feedback_reaches_the_export(churn, tmp_path):
    folder, _, rows, _ = churn
    victim = Server(str(folder / "model"), tmp_path)
    ids = [call(victim.port, "/predict", {"rows": rows[i:i + 2]})[1]["request_id"] for i in range(0, 20, 2)]
    victim.stop(signal.SIGKILL)  # right after the last answer
    from labcoat.serve.predlog import read_log

    assert [e["request_id"] for e in read_log(victim.log)] == ids
    follow = Server(str(folder / "model"), tmp_path, log=victim.log)  # the next server, same log
    try:
        assert call(follow.port, "/feedback", {"request_id": "nope", "labels": ["yes"]})[0] == 404
        rid = call(follow.port, "/predict", {"rows": rows[:2]})[1]["request_id"]
        assert call(follow.port, "/feedback", {"request_id": rid, "labels": ["yes", "no"]}) == (
            200, {"request_id": rid, "labels": 2})
        assert call(follow.port, "/feedback", {"request_id": rid, "labels": ["no"], "rows": [5]})[0] == 422
        assert call(follow.port, "/feedback", {"request_id": ids[0], "labels": ["no"], "rows": [1]})[0] == 200
    finally:
        follow.stop()
    out = tmp_path / "log.parquet"
    run = subprocess.run([str(BIN / "labcoat"), "log", "export", "--log", str(follow.log), "--since", "1h",
                          "-o", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    exported = pd.read_parquet(out)
    assert len(exported) == 22 and exported["request_id"].nunique() == 11 and "tenure_months" in exported.columns
    labelled = exported.dropna(subset=["label"])
    assert labelled[["request_id", "row", "label"]].values.tolist() == [[ids[0], 1, "no"], [rid, 0, "yes"],
                                                                       [rid, 1, "no"]]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(server, tmp_path):
    run = subprocess.run(
        [str(BIN / "schemathesis"), "run", f"http://127.0.0.1:{server.port}/openapi.json",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                     "response_schema_conformance",
         "--max-examples", "30", "--seed", "1", "--phases", "examples,coverage,fuzzing", "--workers", "1",
         "--no-color"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "generated" in run.stdout


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """Two registered versions of 'churn' in an SQLite store of its own, version 1 champion."""
    from labcoat.tracking.registry import promote

    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    frame = make_churn(600)
    for families in (["linear"], ["lightgbm"]):
        labcoat.fit(frame, target="churned", trials=1, families=families, quiet=True, tracking_uri=uri,
                    register="churn", report=False, n_jobs=1)
    promote("churn", "1", uri=uri)
    return folder, uri, json.loads(frame.drop(columns="churned").head(3).to_json(orient="records"))


def test_a_model_changed_after_registration_is_refused_before_unpickling(registry, tmp_path):
    from mlflow.tracking import MlflowClient

    from labcoat.errors import ModelFileError

    _, uri, _ = registry
    assert labcoat.load("models:/churn/2", tracking_uri=uri).task.name == "binary"
    run = MlflowClient(uri).get_model_version("churn", "2").run_id
    artifacts = Path(MlflowClient(uri).get_run(run).info.artifact_uri.removeprefix("file://"))
    weights = artifacts / "model" / "artifacts" / "labcoat" / "model.joblib"
    original = weights.read_bytes()
    try:
        weights.write_bytes(original + b"\0")  # e.g. a pickle swapped on the artifact store
        with pytest.raises(ModelFileError, match="SHA-256"):
            labcoat.load("models:/churn/2", tracking_uri=uri)
        run_cli = subprocess.run([str(BIN / "labcoat"), "serve", "models:/churn/2", "--tracking-uri", uri,
                                  "--port", str(free_port())], capture_output=True, text=True, timeout=120)
        assert run_cli.returncode == 2 and "SHA-256" in run_cli.stderr and "Traceback" not in run_cli.stderr
    finally:
        weights.write_bytes(original)


def _workers_answered(metrics_dir: Path) -> int:
    """How many worker processes have counted a request (Prometheus writes one file each)."""
    return len({f.stem.rsplit("_", 1)[1] for f in metrics_dir.glob("counter_*.db")})


@pytest.mark.parametrize("workers", [1, 2])
def test_follow_alias_swaps_the_new_champion_in_under_load(registry, tmp_path, workers):
    """Clients hammer /predict while the champion moves 1 -> 2: every answer 200, then only
    version 2. With two worker processes each swaps on its own; their metrics add up in
    /metrics (Prometheus multiprocess mode) and every answer is in the one prediction log."""
    import threading

    from labcoat.serve.predlog import read_log
    from labcoat.tracking.registry import promote

    _, uri, rows = registry
    promote("churn", "1", uri=uri)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    server = Server("models:/churn@champion", tmp_path, "--follow-alias", "--tracking-uri", uri,
                    "--workers", str(workers),
                    env={"LABCOAT_SERVE_FOLLOW_SECONDS": "0.3", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})
    answers: list[tuple[int, str, float]] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            status, answer = call(server.port, "/predict", {"rows": rows})
            answers.append((status, answer["model"]["version"] if status == 200 else str(answer), time.monotonic()))

    clients = [threading.Thread(target=load) for _ in range(4)]
    try:
        for c in clients:
            c.start()
        time.sleep(1.0)
        promote("churn", "2", uri=uri)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (all(v == "2" for _, v, _ in answers[-40:])
                                                   and _workers_answered(metrics_dir) >= workers):
            time.sleep(0.2)  # on a loaded machine one worker may take every request for a while
        time.sleep(0.5)
        stop.set()
        for c in clients:
            c.join()
        # A request is counted once its answer has been sent: the last few may be counted a moment
        # after their client has read them.
        deadline = time.monotonic() + 10
        while True:
            metrics = call(server.port, "/metrics")[1]
            if _predict_count(metrics) >= len(answers) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        server.stop()
    versions = [v for _, v, _ in answers]
    assert all(status == 200 for status, _, _ in answers), [a for a in answers if a[0] != 200][:3]
    assert "1" in versions and "2" in versions
    # After the first answer from version 2, every worker swaps within its next looks at the
    # registry (every 0.3 s) and the time to load the new version.
    assert set(versions[-40:]) == {"2"}
    last_one = len(versions) - 1 - versions[::-1].index("1")
    assert answers[last_one][2] - answers[versions.index("2")][2] < 15
    assert _predict_count(metrics) == len(answers)
    assert sum(1 for r in read_log(server.log) if r["endpoint"] == "/predict") == len(answers)
    if workers > 1:  # both processes answered, and /metrics added up their counts
        assert _workers_answered(metrics_dir) == workers


def test_the_docs_page_renders_offline_in_chromium(server, browser, tmp_path):
    """/docs serves Swagger UI from the package: with every request off 127.0.0.1 refused, the
    page draws the service's operations."""
    outside: list[str] = []
    errors: list[str] = []

    def route(r):
        if r.request.url.startswith(f"http://127.0.0.1:{server.port}/"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page = browser.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", route)
    page.goto(f"http://127.0.0.1:{server.port}/docs")
    page.wait_for_selector(".opblock", timeout=60_000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "nodes => nodes.map(n => n.textContent)")
    page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
    page.close()
    assert outside == [] and errors == [], (outside, errors)
    assert {"/predict", "/invocations", "/health"} <= {p.replace("\u200b", "") for p in paths}, paths


def _predict_count(metrics: str) -> float:
    """The /predict requests counted in a /metrics page."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith('labcoat_requests_total{endpoint="/predict"'))
