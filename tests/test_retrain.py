"""``labcoat retrain``: a challenger fitted like the champion, the statistical gate, the records,
and rollback, against a real MLflow SQLite store in a temporary folder."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labcoat
from labcoat.tasks import get_task
from labcoat.errors import ConfigError, DataError
from labcoat.evaluate.metrics import METRICS, get_metric
from labcoat.evaluate.paired import _draw_counts, _generic, counts_scorer
from labcoat.lifecycle.gate import gate
from labcoat.tracking import registry

FIT = dict(trials=2, families=["linear"], n_jobs=1, quiet=True, report=False)
RUN = dict(n_jobs=1, quiet=True, report=False)
OLD = (2.0, 0.0, 0.5)      # the champion's world: x1 drives the target
CHANGED = (0.0, 2.0, 0.5)  # the new window: x2 does


def window(n: int, seed: int, weights: tuple[float, float, float], start: str) -> pd.DataFrame:
    """Hourly rows from ``start``: three numbers, a category, the hour, a yes/no target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    region = rng.choice(["north", "south", "east"], n)
    logit = x @ np.asarray(weights) + 0.5 * (region == "north")
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "region": region,
                         "hour": pd.date_range(start, periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
                         "bought": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")})


@pytest.fixture(scope="module")
def uri(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('retrain') / 'mlflow.db'}?timeout=60"


@pytest.fixture(scope="module")
def champion_run(uri) -> str:
    """One fit on the old window; each test registers it under a name of its own."""
    model = labcoat.fit(window(1000, 1, OLD, "2024-01-01"), "bought", tracking_uri=uri, **FIT)
    return model.info.run_id


def registered(uri: str, run_id: str, name: str, *, promote: bool = True) -> str:
    version = registry.register(run_id, name, uri)
    if promote:
        registry.promote(name, version, uri=uri)
    return version


def aliases(uri: str, name: str) -> dict[str, str]:
    return {alias: str(version) for alias, version in registry.show(name, uri=uri)["aliases"].items()}


def test_a_stale_champion_is_replaced_recorded_and_rolled_back(uri, champion_run):
    registered(uri, champion_run, "stale")
    new = window(1000, 2, CHANGED, "2024-03-01")
    decision = labcoat.retrain("stale", new, policy="superiority", time_column="hour", tracking_uri=uri, **RUN)

    assert decision.promoted and decision.decision == "promoted"
    assert (decision.champion_version, decision.challenger_version) == ("1", "2")
    assert decision.difference > 0.2 and decision.ci_low > 0 and decision.p_value < 0.025
    assert decision.champion_interval[0] < decision.champion_score < decision.champion_interval[1]
    assert aliases(uri, "stale") == {"champion": "2", "challenger": "2"}
    # The holdout is the latest 20% by hour, and the challenger never saw it.
    assert (decision.holdout_rows, decision.train_rows) == (200, 800)
    assert decision.holdout == "the latest by 'hour'"
    challenger = labcoat.load("models:/stale/2", tracking_uri=uri)
    first_held_out = sorted(new["hour"])[800]
    assert pd.Timestamp(challenger.info.time_span["hour"][1]) < pd.Timestamp(first_held_out)
    assert challenger.info.n_rows == 800
    # The champion's configuration: metric, families, trials, seed.
    champion = labcoat.load("models:/stale/1", tracking_uri=uri)
    for key in ("metric", "task", "families", "trials", "seed", "split", "calibrate"):
        assert challenger.info.settings[key] == champion.info.settings[key], key
    assert set(challenger.leaderboard["family"]) == {"linear"} and len(challenger.leaderboard) == 2

    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri, registry_uri=uri)
    run = client.get_run(decision.run_id)
    assert client.get_experiment(run.info.experiment_id).name == "labcoat-retrain"
    assert run.data.params["policy"] == "superiority" and run.data.params["metric"] == "roc_auc"
    assert float(run.data.params["margin"]) == 0.0
    for key, value in (("champion_score", decision.champion_score), ("challenger_score", decision.challenger_score),
                       ("difference", decision.difference), ("ci_low", decision.ci_low),
                       ("ci_high", decision.ci_high), ("p_value", decision.p_value)):
        assert run.data.metrics[key] == pytest.approx(value), key
    tags = run.data.tags
    assert (tags["champion_version"], tags["challenger_version"], tags["decision"]) == ("1", "2", "promoted")
    version_tags = client.get_model_version("stale", "2").tags
    assert version_tags["labcoat.retrain.decision"] == "promoted"
    assert version_tags["labcoat.retrain.run_id"] == decision.run_id
    assert "Undo with: labcoat models rollback stale" in decision.summary()

    assert registry.rollback("stale", uri) == "1"
    assert aliases(uri, "stale")["champion"] == "1"
    restored = labcoat.load("models:/stale@champion", tracking_uri=uri)
    assert restored.info.run_id == champion_run


def test_the_same_relationship_is_not_promoted_under_superiority(uri):
    """A champion validated forward in time: the holdout is the latest rows by its time column."""
    champion = labcoat.fit(window(1000, 1, OLD, "2024-01-01"), "bought", split="time", time_column="hour",
                           register="steady", tracking_uri=uri, **FIT)
    registry.promote("steady", "1", uri=uri)
    decision = labcoat.retrain("steady", window(1000, 3, OLD, "2024-03-01"), policy="superiority",
                               tracking_uri=uri, **RUN)
    assert not decision.promoted and decision.ci_low <= 0
    assert abs(decision.difference) < 0.05
    assert decision.holdout == "the latest by 'hour'"
    assert decision.settings["split"] == "time" == champion.info.settings["split"]
    assert aliases(uri, "steady") == {"champion": "1", "challenger": "2"}
    assert registry.show("steady", uri=uri)["champion_history"] == ["1"]
    from mlflow.tracking import MlflowClient

    assert MlflowClient(uri).get_run(decision.run_id).data.tags["decision"] == "kept"
    assert "Kept version 1 as champion" in decision.summary()


def test_settings_of_a_model_fitted_before_they_were_recorded():
    from types import SimpleNamespace

    from labcoat.lifecycle.retrain import fit_settings
    from labcoat.model_info import ModelInfo

    old = SimpleNamespace(  # labcoat.json of a model saved before the settings were recorded
        schema=SimpleNamespace(target="y"), task=get_task("binary"), metric="pr_auc",
        info=ModelInfo.from_dict({"metric": "pr_auc", "seed": 7, "budget_seconds": 30.0, "resampling": "5 folds forward in time by 'day'",
              "calibration": {"method": "none", "requested": "none"},
              "threshold": {"value": 0.3, "objective": "cost", "costs": {"fp": 1.0, "fn": 5.0}}}))
    with pytest.warns(labcoat.LabcoatNotice, match="before labcoat recorded its settings"):
        settings = fit_settings(old)
    assert settings == {"target": "y", "task": "binary", "metric": "pr_auc", "budget_seconds": 30.0, "trials": None,
                        "seed": 7, "families": None, "split": "time", "time_column": "day", "holdout": "auto",
                        "calibrate": "none", "costs": {"fp": 1.0, "fn": 5.0}, "threshold_metric": None}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labcoat", *args], cwd=cwd, capture_output=True, text=True)


def main(*args: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """``labcoat ARGS`` through the console entry point: exit code, stdout, stderr."""
    from labcoat.cli import main as entry

    monkeypatch.setattr(sys, "argv", ["labcoat", *args])
    capsys.readouterr()
    try:
        entry()
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_end_to_end_with_a_champion_set_outside_labcoat(uri, champion_run, tmp_path, capsys, monkeypatch):
    from mlflow.tracking import MlflowClient

    version = registered(uri, champion_run, "shop", promote=False)
    MlflowClient(uri, registry_uri=uri).set_registered_model_alias("shop", "champion", version)  # not via labcoat
    window(1000, 4, CHANGED, "2024-03-01").to_csv(tmp_path / "new.csv", index=False)
    done = cli("retrain", "shop", "--data", "new.csv", "--trials", "2", "--no-report", "--json",
               "--tracking-uri", uri, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert decision["decision"] == "promoted" and decision["policy"] == "non-inferiority"
    assert decision["margin"] == pytest.approx(0.01 * decision["champion_score"])  # the default margin
    assert decision["holdout"] == "a random 20%, seed 0" and decision["holdout_rows"] == 200
    assert aliases(uri, "shop")["champion"] == "2"

    # The same entry point in process (a subprocess costs seconds of imports).
    monkeypatch.chdir(tmp_path)
    code, out, err = main("models", "rollback", "shop", "--tracking-uri", uri, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and "version 1" in out, err
    assert aliases(uri, "shop")["champion"] == "1"

    (tmp_path / "folder").mkdir()
    code, out, err = main("retrain", "folder", "--data", "new.csv", "--tracking-uri", uri, capsys=capsys,
                          monkeypatch=monkeypatch)
    assert code == 2 and "not a registered model" in err and "Traceback" not in err + out
    code, _, err = main("retrain", "shop", "--data", "new.csv", "--policy", "better", "--tracking-uri", uri,
                        capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "Unknown policy 'better'" in err and "Traceback" not in err


def test_bad_inputs_are_refused_before_any_training(uri, champion_run, tmp_path):
    registered(uri, champion_run, "small")
    with pytest.raises(DataError, match="at least 400 labelled rows"):
        labcoat.retrain("small", window(300, 5, OLD, "2024-03-01"), tracking_uri=uri, **RUN)
    with pytest.raises(DataError, match="no target column 'bought'"):
        labcoat.retrain("small", window(500, 5, OLD, "2024-03-01").drop(columns="bought"), tracking_uri=uri, **RUN)
    with pytest.raises(DataError, match="'hours' is not in the new data. Did you mean 'hour'"):
        labcoat.retrain("small", window(500, 5, OLD, "2024-03-01"), time_column="hours", tracking_uri=uri, **RUN)
    with pytest.raises(ConfigError, match="Unknown policy 'superior'"):
        labcoat.retrain("small", window(500, 5, OLD, "2024-03-01"), policy="superior", tracking_uri=uri, **RUN)
    with pytest.raises(ConfigError, match="runs:/"):
        labcoat.retrain(f"runs:/{champion_run}/model", window(500, 5, OLD, "2024-03-01"), tracking_uri=uri, **RUN)
    assert [v["version"] for v in registry.show("small", uri=uri)["versions"]] == ["1"]  # nothing registered


def scorers(n: int, seed: int, gain: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and two scorers' probabilities whose errors are correlated (0.8, as two models of
    the same features), the second ``gain`` more aligned with the truth (0: equally good)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * z))).astype(np.int64)
    shared = rng.normal(0, 0.9, n)

    def proba(score: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-score))
        return np.column_stack([1 - p, p])

    return (y, proba(z + shared + rng.normal(0, 0.45, n)),
            proba((1 + gain) * z + shared + rng.normal(0, 0.45, n)))


def test_the_gate_rarely_promotes_an_equal_challenger_and_promotes_a_better_one():
    """Monte Carlo with fixed seeds: ROC AUC on 300 rows, 500 bootstrap rounds per decision."""
    auc = get_metric("roc_auc", "binary")

    def rate(gain: float, policy: str, runs: int, margin: float | None = None) -> float:
        promoted = 0
        for run in range(runs):
            y, champion, challenger = scorers(300, 100 + run, gain)
            promoted += gate(y, champion, challenger, auc, policy=policy, margin=margin, stratify=True,
                             rounds=500, seed=run).promote
        return promoted / runs

    # Equally good (population AUC 0.748 both): a one-sided 2.5% test; 1.6% in 1,000 other runs.
    assert rate(0.0, "superiority", 200) <= 0.05
    assert rate(0.5, "superiority", 40) >= 0.7  # AUC 0.748 → 0.795: 90% in 200 other runs
    # Non-inferiority at its boundary: worse by 0.011 with a margin of 0.01 (1.5% in 1,000 other runs).
    assert rate(-0.08, "non-inferiority", 100, margin=0.01) <= 0.06
    assert rate(0.0, "non-inferiority", 40, margin=0.04) >= 0.6  # as good, wide margin: 79% in 200 other runs


def test_vectorised_bootstrap_scores_equal_scoring_the_drawn_rows():
    rng = np.random.default_rng(0)
    n = 200
    for task, k in (("binary", 2), ("multiclass", 3), ("regression", 0)):
        y = rng.integers(0, k, n) if k else rng.normal(size=n)
        pred = rng.dirichlet(np.ones(k), n) if k else y + rng.normal(size=n)
        pred[:20] = pred[20]  # tied scores
        groups = [np.flatnonzero(y == c) for c in range(k)] if k else [np.arange(n)]
        counts = _draw_counts(rng, groups, n, 15)
        assert (counts.sum(axis=1) == n).all()
        for name, metric in METRICS.items():
            if task in metric.tasks:
                np.testing.assert_allclose(counts_scorer(metric, y)(pred, counts), _generic(metric, y)(pred, counts),
                                           rtol=1e-12, atol=1e-12, err_msg=f"{task} {name}")
