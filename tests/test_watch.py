"""``labcoat watch``: config validation, one cycle with and without drift (a retrain decision in
the action log and the tracking store, then skipped while its data is unchanged), and a real
long-running watcher stopped by SIGTERM and restarted, against a MLflow SQLite store in a
temporary folder."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import labcoat
from labcoat.tracking import registry

FIT = {"trials": 1, "families": ["linear"], "n_jobs": 1, "quiet": True, "report": False}
OLD = (2.0, 0.0, 0.5)      # the champion's world: x1 drives the target
CHANGED = (0.0, 2.0, 0.5)  # the new one: x2 does


def rows(n: int, seed: int, weights: tuple[float, float, float] = OLD, shift: float = 0.0) -> pd.DataFrame:
    """Three numbers (the first two shifted by ``shift``), a category and a yes/no target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x[:, :2] += shift
    region = rng.choice(["north", "south", "east"], n)
    logit = x @ np.asarray(weights) + 0.5 * (region == "north")
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "region": region,
                         "bought": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")})


@pytest.fixture(scope="module")
def uri(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('watch') / 'mlflow.db'}?timeout=60"


@pytest.fixture(scope="module")
def champion_run(uri) -> str:
    """One tracked fit on the old world; each test registers it under a name of its own."""
    return labcoat.fit(rows(600, 1), "bought", tracking_uri=uri, **FIT).info.run_id


def champion(uri: str, run_id: str, name: str) -> str:
    registry.promote(name, registry.register(run_id, name, uri), uri=uri)
    return f"models:/{name}@champion"


def write_config(folder: Path, **settings: Any) -> Path:
    path = folder / "watch.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def actions(folder: Path) -> list[dict[str, Any]]:
    path = folder / ".labcoat-watch" / "actions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def labcoat_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The console entry point in process: exit code, stdout, stderr."""
    from labcoat.cli import main

    monkeypatch.setattr(sys, "argv", ["labcoat", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------- config
def test_bad_configs_exit_2_naming_the_key(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    base = {"model": "models:/churn@champion", "current": "now.csv"}
    cases = [
        ({**base, "intervall": "1h"}, ("unknown key 'intervall'. Did you mean 'interval'? Known keys: model, "
                                       "tracking_uri, interval,")),
        ({**base, "interval": "5 minutes"}, "interval: '5 minutes' is not allowed; give a duration"),
        ({**base, "interval": "0s"}, "interval: '0s' is not allowed"),
        ({**base, "retrain": {"data": "new.csv", "policy": "better"}},
         "retrain.policy: 'better' is not allowed; use non-inferiority or superiority"),
        ({**base, "retrain": {"data": "new.csv", "on": "always"}},
         "retrain.on: 'always' is not allowed; use drift_or_degradation, drift, degradation"),
        ({**base, "retrain": {"data": "new.csv", "margin": "a lot"}}, "retrain.margin: 'a lot' is not allowed"),
        ({**base, "retrain": {"data": "new.csv", "trials": 0}}, "retrain.trials: 0 is not allowed"),
        ({**base, "retrain": {"data": "new.csv", "epochs": 3}},
         "unknown key 'retrain.epochs'. Known keys of retrain: data, on, policy"),
        ({**base, "retrain": {"policy": "superiority"}}, "retrain.data is missing"),
        ({**base, "model": "runs:/abc/model", "retrain": {"data": "new.csv"}},
         "model: 'runs:/abc/model' cannot be retrained"),
        ({**base, "from_log": "predictions.db"}, "give current (a file or glob of the latest rows) or from_log"),
        ({**base, "since": "24h"}, "since: '24h' is not allowed; since selects requests of the prediction log"),
        ({"model": "m", "from_log": "predictions.db", "since": "yesterday-ish"}, "since: 'yesterday-ish' is not allowed"),
        ({**base, "monitor": {"share": 2}}, "monitor.share: 2 is not allowed; give a number in (0, 1]"),
        ({**base, "monitor": {"columns": {"age": {"method": "kss"}}}},
         ("monitor.columns.age.method: 'kss' is not allowed; use ks, chisquare, z, wasserstein, jensenshannon, "
          "psi. Did you mean 'ks'?")),
        ({**base, "state": "state/*.json"}, "state: 'state/*.json' is not allowed; give one path"),
        ({"current": "now.csv"}, "model is missing"),
    ]
    for settings, message in cases:
        config = write_config(tmp_path, **settings)
        code, out, err = labcoat_main(monkeypatch, capsys, "watch", str(config), "--once")
        assert code == 2 and message in " ".join(err.split()), (settings, err)
        assert "watch.yaml" in err and "Traceback" not in err and out == "", (settings, err)
    (tmp_path / "watch.yaml").write_text("model: m\ncurrent: [now.csv\n")
    code, _, err = labcoat_main(monkeypatch, capsys, "watch", "watch.yaml")
    assert code == 2 and "is not valid YAML (line 3" in err
    code, _, err = labcoat_main(monkeypatch, capsys, "watch", "missing.yaml")
    assert code == 2 and "Cannot read the watch config 'missing.yaml'" in err
    assert not (tmp_path / ".labcoat-watch").exists()  # nothing ran


# ---------------------------------------------------------------------- one cycle
def test_once_without_drift_exits_0_with_one_check_then_2_when_the_window_is_missing(
        uri, champion_run, tmp_path, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    model = champion(uri, champion_run, "calm")
    rows(300, 2).drop(columns="bought").to_csv(tmp_path / "now.csv", index=False)
    config = write_config(tmp_path, model=model, tracking_uri=uri, interval="1h", current="now.csv")

    code, out, err = labcoat_main(monkeypatch, capsys, "watch", str(config), "--once")
    assert code == 0, err
    log = actions(tmp_path)
    assert [a["action"] for a in log] == ["check_started", "check_finished"]  # one check, nothing else
    check = log[-1]
    assert check["exit_code"] == 0 and check["verdict"] == "no drift detected" and check["rows"] == 300
    assert check["window"] == str(tmp_path / "now.csv") and check["drifted_columns"] == []
    assert out.splitlines() == [f"{a['time']} {a['action']}: {a['message']}" for a in log]  # one line each
    report = Path(check["report"])
    assert report.parent == tmp_path / ".labcoat-watch" / "reports" and report.stat().st_size > 100_000
    run = MlflowClient(uri).get_run(check["run_id"])
    assert run.data.tags["labcoat.model"] == model and run.data.tags["labcoat.exit_code"] == "0"
    state = json.loads((tmp_path / ".labcoat-watch" / "state.json").read_text())
    assert state["last_check"]["started"] == log[0]["time"] and state["checks"] == 1

    (tmp_path / "now.csv").unlink()  # the data is missing this time: logged, exit 2
    code, out, err = labcoat_main(monkeypatch, capsys, "watch", str(config), "--once")
    assert code == 2 and "Traceback" not in err
    failed = actions(tmp_path)[-1]
    assert failed["action"] == "check_failed" and "now.csv' does not exist" in failed["error"]
    assert failed["exit_code"] == 2 and len(actions(tmp_path)) == 4


def test_once_with_drift_retrains_then_skips_while_the_data_is_unchanged(
        uri, champion_run, tmp_path, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    model = champion(uri, champion_run, "drifting")
    (tmp_path / "current").mkdir()
    (tmp_path / "labelled").mkdir()
    rows(300, 3, shift=1.5).drop(columns="bought").to_csv(tmp_path / "current" / "old.csv", index=False)
    time.sleep(0.01)
    rows(300, 4, shift=1.5).drop(columns="bought").to_csv(tmp_path / "current" / "new.csv", index=False)
    os.utime(tmp_path / "current" / "old.csv", ns=(0, 10**9))  # older, whatever its name
    new = rows(1000, 5, CHANGED)  # the relationship changed; two files of labelled rows
    new.iloc[:500].to_csv(tmp_path / "labelled" / "a.csv", index=False)
    new.iloc[500:].to_csv(tmp_path / "labelled" / "b.csv", index=False)
    config = write_config(tmp_path, model=model, tracking_uri=uri, interval="15m", current="current/*.csv",
                          retrain={"data": "labelled/*.csv", "on": "drift", "n_jobs": 1, "report": False})

    code, out, err = labcoat_main(monkeypatch, capsys, "watch", str(config), "--once")
    assert code == 1, err
    log = actions(tmp_path)
    assert [a["action"] for a in log] == ["check_started", "check_finished", "retrain_started", "retrain_decided"]
    assert out.splitlines() == [f"{a['time']} {a['action']}: {a['message']}" for a in log]  # nothing else printed
    check, started, decided = log[1], log[2], log[3]
    assert check["window"] == str(tmp_path / "current" / "new.csv") and check["exit_code"] == 1
    assert check["dataset_drift"] and set(check["drifted_columns"]) >= {"x1", "x2"}
    assert started["files"] == [str(tmp_path / "labelled" / n) for n in ("a.csv", "b.csv")]
    assert decided["decision"] == "promoted" and decided["promoted"] is True
    assert (decided["champion_version"], decided["challenger_version"]) == ("1", "2")
    assert decided["ci_low"] > 0 and decided["policy"] == "non-inferiority" and decided["train_rows"] == 800
    assert "promoted version 2 over version 1" in decided["message"]
    client = MlflowClient(uri, registry_uri=uri)
    run = client.get_run(decided["run_id"])
    assert client.get_experiment(run.info.experiment_id).name == "labcoat-retrain"
    assert (run.data.tags["decision"], run.data.tags["challenger_version"]) == ("promoted", "2")
    assert run.data.metrics["difference"] == pytest.approx(decided["difference"])
    assert str(client.get_model_version_by_alias("drifting", "champion").version) == "2"
    state = json.loads((tmp_path / ".labcoat-watch" / "state.json").read_text())
    assert state["last_retrain"]["digest"] == started["digest"] and state["last_retrain"]["decision"] == "promoted"

    # The new champion learned from unshifted rows: the window still drifts, the data is the same.
    code, _, err = labcoat_main(monkeypatch, capsys, "watch", str(config), "--once")
    assert code == 1, err
    again = actions(tmp_path)
    assert again[:4] == log and [a["action"] for a in again[4:]] == ["check_started", "check_finished",
                                                                     "retrain_skipped"]
    assert again[5]["exit_code"] == 1 and "unchanged since the retrain of" in again[6]["message"]
    assert [v["version"] for v in registry.show("drifting", uri=uri)["versions"]] == ["1", "2"]


# ---------------------------------------------------------------------- the long-running watcher
@pytest.fixture
def processes():
    """Watchers started by a test, killed if the test fails before stopping them."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def start(folder: Path, config: Path, processes: list[subprocess.Popen]) -> subprocess.Popen:
    with open(folder / "watch.out", "a") as out:
        process = subprocess.Popen([sys.executable, "-m", "labcoat", "watch", str(config)], cwd=folder, stdout=out,
                                   stderr=subprocess.STDOUT)
    processes.append(process)
    return process


def wait_for(folder: Path, process: subprocess.Popen, done: Any, timeout: float = 60) -> list[dict[str, Any]]:
    end = time.time() + timeout
    while time.time() < end:
        log = actions(folder)
        if done(log):
            return log
        assert process.poll() is None, (folder / "watch.out").read_text()
        time.sleep(0.01)
    raise AssertionError(f"timed out; log: {[a['action'] for a in actions(folder)]}")


def stop(process: subprocess.Popen, folder: Path) -> float:
    sent = time.time()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, (folder / "watch.out").read_text()
    return sent


def consistent(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The action log and the state after a stop: every check ended, the state names the last."""
    log = actions(folder)
    state = json.loads((folder / ".labcoat-watch" / "state.json").read_text())
    checks = [a for a in log if a["action"].startswith("check_")]
    assert [a["action"] for a in checks[::2]] == ["check_started"] * (len(checks) // 2) and len(checks) % 2 == 0
    assert all(a["action"] in ("check_finished", "check_failed") for a in checks[1::2])
    assert state["last_check"]["started"] == checks[-2]["time"] and state["checks"] == len(checks) // 2
    assert log[-1]["action"] == "watch_stopped" and log[-1]["signal"] == "SIGTERM"
    assert [p.name for p in (folder / ".labcoat-watch").iterdir() if p.suffix == ".tmp"] == []
    return log, state


def test_a_watcher_survives_a_failing_cycle_stops_on_sigterm_and_resumes_on_schedule(
        uri, champion_run, tmp_path, processes):
    model = champion(uri, champion_run, "looped")
    (tmp_path / "current").mkdir()
    config = write_config(tmp_path, model=model, tracking_uri=uri, interval="2s", current="current/*.csv")
    process = start(tmp_path, config, processes)
    # The first cycle finds no file and fails; the loop goes on and checks the file once there.
    wait_for(tmp_path, process, lambda log: any(a["action"] == "check_failed" for a in log))
    rows(300, 6).drop(columns="bought").to_csv(tmp_path / "current" / "a.csv", index=False)
    wait_for(tmp_path, process, lambda log: any(a["action"] == "check_finished" for a in log))
    # SIGTERM during the third check: the check finishes and is recorded, then the watcher exits 0.
    wait_for(tmp_path, process, lambda log: [a["action"] for a in log].count("check_started") == 3)
    sent = stop(process, tmp_path)
    log, state = consistent(tmp_path)
    assert [a["action"] for a in log] == ["watch_started", "check_started", "check_failed", "check_started",
                                          "check_finished", "check_started", "check_finished", "watch_stopped"]
    assert sent < epoch(log[-2]["time"]), "the signal came after the check; it did not test a stop during one"
    assert log[-2]["exit_code"] == 0 and state["last_check"]["run_id"] == log[-2]["run_id"]
    assert not log[0]["resumed"] and "No file matches current" in log[2]["error"]
    starts = [epoch(a["time"]) for a in log if a["action"] == "check_started"]
    assert all(b - a >= 2 - 0.01 for a, b in pairwise(starts))  # every interval, not faster
    printed = [line for line in (tmp_path / "watch.out").read_text().splitlines() if line[:2] == "20"]
    assert printed == [f"{a['time']} {a['action']}: {a['message']}" for a in log]

    # Restarted with a longer interval: the next check is due at the last one + the interval,
    # not now; stopped while it waits, it adds to the same log and leaves the state as it was.
    write_config(tmp_path, model=model, tracking_uri=uri, interval="1h", current="current/*.csv")
    process = start(tmp_path, config, processes)
    resumed = wait_for(tmp_path, process, lambda now: len(now) > len(log))[len(log)]
    assert resumed["action"] == "watch_started" and resumed["resumed"]
    assert resumed["next_check_epoch"] == pytest.approx(state["last_check"]["started_epoch"] + 3600, abs=1e-3)
    time.sleep(3)
    stop(process, tmp_path)
    after = actions(tmp_path)
    assert after[:len(log)] == log and [a["action"] for a in after[len(log):]] == ["watch_started", "watch_stopped"]
    assert after[-1]["cycles"] == 0 and after[-1]["next_check"] == resumed["next_check"]
    assert json.loads((tmp_path / ".labcoat-watch" / "state.json").read_text()) == state
