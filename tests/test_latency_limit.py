"""``latency_limit``: the ensemble made smaller until one row's prediction fits in the limit."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

import labcoat
from labcoat.datasets import make_churn
from labcoat.errors import ConfigError, LabcoatNotice
from labcoat.evaluate.metrics import get_metric
from labcoat.train.latency_limit import parse_latency

FIT = dict(target="churned", trials=8, families=["lightgbm", "linear"], quiet=True, track=False, report=False)


@pytest.fixture(scope="module")
def churn():
    return make_churn(800, seed=1)


@pytest.fixture(scope="module")
def unlimited(churn):
    return labcoat.fit(churn, **FIT)


def test_a_limit_is_read_in_seconds_or_with_a_unit_and_words_are_refused():
    assert parse_latency("2ms") == pytest.approx(0.002)
    assert parse_latency("500 us") == pytest.approx(0.0005)
    assert parse_latency("0.01s") == pytest.approx(0.01)
    assert parse_latency(0.001) == 0.001 and parse_latency("0.002") == 0.002  # the CLI gives strings
    with pytest.raises(ConfigError, match="latency_limit 'fast' is not a duration"):
        parse_latency("fast")
    with pytest.raises(ConfigError, match="must be positive"):
        parse_latency(0)


def test_a_limit_no_ensemble_meets_leaves_one_member_and_says_so(churn, unlimited, tmp_path):
    assert len(unlimited.members) >= 2  # else there is nothing to leave out and the test says nothing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = labcoat.fit(churn, latency_limit="1us", **FIT)
    latency = model.info.latency
    assert latency["members_before"] == len(unlimited.members) and latency["members_after"] == 1
    assert len(model.members) == 1 and model.members[0].weight == 1.0 and not latency["met"]
    # every member's fold models went first (in the order of the time they cost: measured, so
    # not asserted here; test_fold_bag fixes the times), and the member kept has none
    bagged = [m for m in unlimited.members if m.bag]
    assert bagged and sorted(latency["fold_models_dropped"]) == sorted(f"{m.family} #{m.trial}" for m in bagged)
    assert model.members[0].bag == []
    assert len(latency["dropped"]) == len(unlimited.members) - 1 and latency["stopped"] == "one member left"
    said = [str(w.message) for w in caught if issubclass(w.category, LabcoatNotice) and "latency_limit" in str(w.message)]
    assert len(said) == 1 and "not met (the fold models of " in said[0] and "one member left" in said[0]
    # the reported score is the kept ensemble's, on its out-of-fold predictions
    metric = get_metric(model.metric, model.task.name)
    assert model.info.ensemble_score == pytest.approx(metric.score(model.oof["y"], model.oof["pred"]), abs=1e-12)
    assert latency["score_before"] == pytest.approx(unlimited.info.ensemble_score, abs=1e-12)
    assert set(model.preprocessors) == {model.members[0].preprocessor or model.members[0].style}
    loaded = labcoat.load(model.save(tmp_path / "m"))
    assert loaded.info.latency == latency
    np.testing.assert_allclose(loaded.predict_proba(churn.head(50)), model.predict_proba(churn.head(50)), atol=1e-12)


def test_a_limit_the_ensemble_meets_changes_nothing(churn, unlimited):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = labcoat.fit(churn, latency_limit="10s", **FIT)
    assert model.info.latency["met"] and model.info.latency["dropped"] == []
    assert not [w for w in caught if "latency_limit" in str(w.message)]
    assert [(m.trial, m.weight) for m in model.members] == [(m.trial, m.weight) for m in unlimited.members]
    np.testing.assert_array_equal(model.predict_proba(churn.head(50)), unlimited.predict_proba(churn.head(50)))
    assert model.info.settings["latency_limit"] == 10.0 and unlimited.info.latency is None


def test_tasks_with_a_pipeline_of_their_own_refuse_a_latency_limit(churn):
    with pytest.raises(ConfigError, match="latency_limit does not apply to task 'segment'"):
        labcoat.fit(churn.drop(columns=["churned"]), task="segment", latency_limit="1ms", track=False)


def test_the_cli_takes_a_limit_and_refuses_one_it_cannot_read(churn, tmp_path):
    churn.to_csv(tmp_path / "train.csv", index=False)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "labcoat", "fit", "train.csv", "--target", "churned",
                               "--trials", "2", "--families", "linear", "--no-track", "--no-report", *args],
                              cwd=tmp_path, capture_output=True, text=True)

    bad = run("--latency-limit", "soon")
    assert bad.returncode == 2 and "latency_limit 'soon' is not a duration" in bad.stderr
    assert "Traceback" not in bad.stderr
    good = run("--latency-limit", "5s", "--out", "model")
    assert good.returncode == 0, good.stderr
    assert labcoat.load(tmp_path / "model").info.latency["limit_ms"] == 5000.0
    assert "latency_limit 5000 ms: met, one row in" in good.stdout
