"""A recommender through the lifecycle: the CLI, the tracked run and the registry, the report, the
real service with exploration and feedback, and the off-policy replay of its log."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labcoat
from labcoat.datasets import make_interactions

FAST = "most_popular,item_knn,ease"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labcoat", *args], cwd=cwd, capture_output=True, text=True,
                          check=False, env={**os.environ, "MLFLOW_TRACKING_URI": ""})


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    """A recommender fitted by the CLI, tracked in the default store and registered as 'shop'."""
    folder = tmp_path_factory.mktemp("recommend")
    rows, items, users = make_interactions(n_users=300, n_items=100, n_interactions=6000, seed=4, tables=True)
    rows.to_csv(folder / "rows.csv", index=False)
    items.to_csv(folder / "items.csv", index=False)
    users.to_csv(folder / "users.csv", index=False)
    done = cli("fit", "rows.csv", "--task", "recommend", "--user", "user_id", "--item", "item_id", "--time",
               "timestamp", "--items", "items.csv", "--users", "users.csv", "--budget", "8", "--families", FAST,
               "--register", "shop", "--out", "model", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "Test leaderboard" in done.stdout and "Registered as" in done.stdout
    return folder


def test_the_cli_names_what_a_recommender_needs(tmp_path):
    make_interactions(n_users=50, n_items=20, n_interactions=500, seed=1).to_csv(tmp_path / "rows.csv", index=False)
    done = cli("fit", "rows.csv", "--task", "recommend", "--user", "user_id", cwd=tmp_path)
    assert done.returncode == 2 and "--item" in done.stderr and "Traceback" not in done.stderr
    done = cli("fit", "rows.csv", "--target", "x", "--user", "user_id", cwd=tmp_path)
    assert done.returncode == 2 and "--task recommend only" in done.stderr
    done = cli("fit", "rows.csv", "--task", "recommend", "--user", "user_id", "--item", "item_id", "--split",
               "sideways", "--no-track", cwd=tmp_path)
    assert done.returncode == 2 and "sideways" in done.stderr and "Traceback" not in done.stderr


def test_tracked_registered_reported_and_loaded_alike(fitted, monkeypatch):
    local = labcoat.load(fitted / "model")
    store = f"sqlite:///{fitted / '.labcoat' / 'mlflow.db'}"
    registered = labcoat.load("models:/shop/1", tracking_uri=store)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)  # for mlflow.pyfunc's models:/ URI
    users = list(local.user_ids[:20])
    expected = local.recommend(users, k=5)
    pd.testing.assert_frame_equal(expected, registered.recommend(users, k=5))
    import mlflow
    import mlflow.pyfunc

    served = mlflow.pyfunc.load_model("models:/shop/1").predict(pd.DataFrame({"user_id": users}), params={"k": 5})
    pd.testing.assert_frame_equal(expected, served)

    run = mlflow.MlflowClient(store).get_run(local.info["run_id"])
    low, value, high = (run.data.metrics[f"test_ndcg_at_10{s}"] for s in ("_low", "", "_high"))
    assert 0 <= low <= value <= high <= 1
    html = (fitted / "model-reports" / "recommend_report.html").read_text()
    assert "NDCG@10" in html and "Popularity of what is recommended" in html and "By user activity" in html
    done = cli("report", "model", "-o", "again.html", cwd=fitted)
    assert done.returncode == 0 and "By user activity" in (fitted / "again.html").read_text()
    # The row-model commands refuse it, naming the command that takes it
    done = cli("predict", "model", "rows.csv", cwd=fitted)
    assert done.returncode == 2 and "labcoat recommend" in done.stderr


def test_the_recommend_command_writes_each_users_list(fitted):
    done = cli("recommend", "model", "--users", "u00001,u00002,someone_new", "-k", "4", "-o", "out.csv", cwd=fitted)
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(fitted / "out.csv")
    assert out.groupby("user").size().to_dict() == {"someone_new": 4, "u00001": 4, "u00002": 4}
    assert out.loc[out["user"] == "someone_new", "reason"].str.startswith("cold start").all()
    assert cli("recommend", "model", cwd=fitted).returncode == 2  # no users given


def test_candidates_are_compared_paired_over_the_test_users(fitted):
    model = labcoat.load(fitted / "model")
    assert set(model.user_ndcg) >= {"chosen", "most_popular"}
    assert len({len(v) for v in model.user_ndcg.values()}) == 1  # the same users for every candidate
    result = labcoat.compare(model, "chosen", "most_popular")[0]
    difference = float(np.mean(model.user_ndcg["chosen"] - model.user_ndcg["most_popular"]))
    assert result["difference"] == pytest.approx(difference, rel=1e-9)
    done = cli("compare", "model", "chosen", "most_popular", "nonesuch", cwd=fitted)
    assert done.returncode == 2 and "nonesuch" in done.stderr


def _post(port: int, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_service_explores_logs_propensities_and_the_replay_recovers_its_value(fitted):
    from test_serve import Server

    from labcoat.serve.explore import EpsilonGreedy

    log = fitted / "shown.db"
    server = Server(str(fitted / "model"), fitted, "--explore", "0.2", log=log)
    rng = np.random.default_rng(0)
    model = labcoat.load(fitted / "model")
    try:
        status, body = _post(server.port, "/recommend", {"user": "u00003", "k": 0})
        assert status == 422 and "k must be" in json.dumps(body)
        status, body = _post(server.port, "/recommend", {"user": "u00003", "k": 3, "colour": "red"})
        assert status == 422 and "colour" in json.dumps(body)
        for _ in range(150):
            user = str(model.user_ids[rng.integers(len(model.user_ids))])
            status, body = _post(server.port, "/recommend", {"user": user, "k": 5, "exclude": ["i00000"]})
            assert status == 200 and body["policy"] == "epsilon-greedy 0.2"
            items = body["items"]
            assert [i["position"] for i in items] == [1, 2, 3, 4, 5] and "i00000" not in [i["item"] for i in items]
            # The logged propensity is what the policy gives for these scores: exact for epsilon-greedy
            candidates, scores, _ = model.user_scores(user, exclude=["i00000"])
            index = pd.Index(candidates).get_indexer([i["item"] for i in items])
            expected = EpsilonGreedy(0.2).propensity(scores, 5, index)
            assert np.allclose([i["propensity"] for i in items], expected, rtol=1e-9)
            for item in items:  # clicks fall off with the position
                if rng.random() < 0.4 / item["position"]:
                    assert _post(server.port, "/feedback", {"request_id": body["request_id"],
                                                            "item": item["item"]})[0] == 200
        status, body = _post(server.port, "/feedback", {"request_id": "never", "item": "i00001"})
        assert status == 404
    finally:
        server.stop()
    # Replaying the logging policy itself: IPS weights are all 1, so IPS equals the observed value
    done = cli("evaluate-policy", "model", "--log", str(log), "--explore", "0.2", "--json", cwd=fitted)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["summary"]["requests"] == 150 and result["summary"]["rewarded"] > 0
    estimates = {e["name"]: e for e in result["estimates"]}
    assert estimates["ips"]["value"] == pytest.approx(estimates["on_policy"]["value"], rel=1e-9)
    # Greedy is evaluated from the same log, with an interval around it
    greedy = json.loads(cli("evaluate-policy", "model", "--log", str(log), "--json", cwd=fitted).stdout)
    ips = next(e for e in greedy["estimates"] if e["name"] == "ips")
    assert ips["low"] <= ips["value"] <= ips["high"] and ips["ess"] < 150


def test_retrain_fits_a_challenger_and_gates_it_on_later_interactions_paired_over_users(fitted):
    newer = make_interactions(n_users=300, n_items=100, n_interactions=9000, seed=4)
    newer.to_csv(fitted / "newer.csv", index=False)
    assert cli("models", "promote", "shop", "1", cwd=fitted).returncode == 0  # alias champion
    done = cli("retrain", "shop", "--data", "newer.csv", "--budget", "6", "--json", "--quiet", cwd=fitted)
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert decision["metric"] == "ndcg@10" and decision["challenger_version"] == "2"
    assert decision["champion_interval"][0] <= decision["champion_score"] <= decision["champion_interval"][1]
    assert decision["ci_low"] <= decision["difference"] <= decision["ci_high"]
    bar = -decision["margin"]  # non-inferiority, the default
    assert decision["promoted"] == (decision["ci_low"] > bar)
    assert decision["holdout_rows"] + decision["train_rows"] == len(newer)
    bad = newer.drop(columns="timestamp")
    bad.to_csv(fitted / "timeless.csv", index=False)
    done = cli("retrain", "shop", "--data", "timeless.csv", cwd=fitted)
    assert done.returncode == 2 and "'timestamp'" in done.stderr and "Traceback" not in done.stderr


def test_monitor_alerts_on_a_reward_drop_and_on_a_popularity_shift(fitted):
    from labcoat.serve.predlog import PredictionLog

    model = labcoat.load(fitted / "model")
    by_popularity = model.item_ids[np.argsort(-model.popularity)]
    rng = np.random.default_rng(1)
    log = PredictionLog(fitted / "monitored.db", ingest=False)
    now = __import__("time").time()
    for n in range(400):
        recent = n >= 200  # the last 200 requests: the best sellers shown, and fewer clicks
        items = by_popularity[:5] if recent else by_popularity[-30:][rng.permutation(30)[:5]]
        request_id = f"r{n}"
        log.record({"request_id": request_id, "endpoint": "/recommend", "model": "m", "version": "1",
                    "time": now - 3000 + (n - 200) * 10 if recent else now - 7200 + n * 10,
                    "latency_ms": 1.0, "inputs": [{"user": "u00001", "k": 5, "policy": "greedy"}],
                    "outputs": [{"item": str(i), "position": j + 1, "score": 1.0, "propensity": 1.0}
                                for j, i in enumerate(items)]})
        if rng.random() < (0.15 if recent else 0.6):
            log.feedback(request_id, [(0, 1)])
    log.close()
    done = cli("monitor", "model", "--log", "monitored.db", "--since", "1h", "--json", cwd=fitted)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["live"]["requests"] == 200 and result["reference"]["requests"] == 200
    assert result["difference"]["high"] < 0 and len(result["alerts"]) == 2
    assert result["popularity"]["top_decile_share"] == 1.0
    # A window holding everything: nothing earlier to compare with, and no alert on popularity
    done = cli("monitor", "model", "--log", "monitored.db", "--since", "3h", cwd=fitted)
    assert "off-policy" in done.stdout and "drifted" not in done.stdout
