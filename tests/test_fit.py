"""End-to-end behaviour of labcoat.fit and the Model it returns."""

import hashlib
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import labcoat
from labcoat.errors import BudgetError, ConfigError, LabcoatNotice, ModelFileError, SchemaError, TargetError
from labcoat.models import FAMILIES
from labcoat.tasks import get_task

from conftest import mixed_frame

FAST = ("lightgbm", "linear")


def fit_quietly(data, target, **kwargs):
    kwargs.setdefault("report", False)  # the reports are tested in test_reports.py
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        return labcoat.fit(data, target, quiet=True, **kwargs)


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.skipif(
    family.missing_library() is not None, reason=str(family.missing_library())))
    for name, family in FAMILIES.items()])
def test_every_family_fits_every_task(name, frame, regression_frame):
    family = FAMILIES[name]
    reads_documents = family.documents  # the text families: a column of documents
    for data, target in [(frame, "churn"), (regression_frame, "y")]:
        options = {}
        if reads_documents:
            words = np.array(["good", "bad", "fast", "slow", "price", "service", "again", "never"])
            rng = np.random.default_rng(0)
            data = data.assign(notes=[" ".join(rng.choice(words, 8)) for _ in range(len(data))])
            options = {"text_column": "notes"}
        if get_task("binary" if target == "churn" else "regression").eligible([family]) == []:
            with pytest.raises(ConfigError, match=f"No family of {name} does"):  # said, not a crash
                fit_quietly(data, target, trials=1, families=[name], **options)
            continue
        model = fit_quietly(data, target, trials=1, families=[name], **options)
        board = model.leaderboard
        assert board.loc[0, "family"] == name and board.loc[0, "status"] == "ok", board.loc[0, "error"]
        assert np.isfinite(board.loc[0, "score"])
        assert len(model.predict(data.head(7))) == 7


def test_multiclass_probabilities_follow_classes(regression_frame):
    df = regression_frame.assign(level=pd.cut(regression_frame["y"], 3, labels=["low", "mid", "high"]).astype(str))
    model = fit_quietly(df.drop(columns="y"), "level", trials=2, families=FAST)
    assert model.task.name == "multiclass" and model.metric == "log_loss"
    proba = model.predict_proba(df.head(20))
    assert proba.shape == (20, 3) and np.allclose(proba.sum(axis=1), 1)
    assert list(model.classes_) == ["high", "low", "mid"]
    assert (model.predict(df.head(20)) == model.classes_[proba.argmax(axis=1)]).all()


def test_model_learns_signal_and_reports_leaderboard(frame):
    model = fit_quietly(frame, "churn", trials=4, families=FAST, metric="roc_auc")
    board = model.leaderboard
    assert list(board.columns[:9]) == ["rank", "trial", "family", "score", "score_std", "score_low",
                                      "score_high", "fit_time", "status"]
    assert board["score"].is_monotonic_decreasing  # best first, ROC AUC greater is better
    assert model.info.ensemble_score > 0.8
    assert abs(sum(model.ensemble["weight"]) - 1) < 1e-9
    assert "customer_id" not in model.schema.names()


def test_trials_with_a_seed_are_reproducible(frame):
    # 5 portfolio configurations of these families, then 2 proposed by Optuna's TPE.
    a = fit_quietly(frame, "churn", trials=7, seed=3, families=FAST)
    b = fit_quietly(frame, "churn", trials=7, seed=3, families=FAST)
    assert (a.leaderboard["origin"] == "optuna").sum() == 2
    timing = ["fit_time", "started", "finished"]
    pd.testing.assert_frame_equal(a.leaderboard.drop(columns=timing), b.leaderboard.drop(columns=timing))
    assert np.array_equal(a.predict_proba(frame), b.predict_proba(frame))


def test_save_and_load_predict_identically_in_a_fresh_process(frame, tmp_path):
    model = fit_quietly(frame, "churn", trials=3, families=("lightgbm", "catboost", "linear"))
    path = model.save(tmp_path / "model")
    frame.to_csv(tmp_path / "rows.csv", index=False)
    expected = model.predict_proba(frame)
    loaded = labcoat.load(path)
    assert np.array_equal(loaded.predict_proba(frame), expected)
    code = (f"import labcoat, numpy as np, warnings; warnings.simplefilter('ignore');"
            f"np.save({str(tmp_path / 'p.npy')!r}, labcoat.load({str(path)!r}).predict_proba({str(tmp_path / 'rows.csv')!r}))")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert np.array_equal(np.load(tmp_path / "p.npy"), expected)


def test_saving_writes_the_requirements_without_scanning_installed_packages(frame, tmp_path, monkeypatch):
    # MLflow's check of the requirements against the environment maps every installed package
    # to its modules (1.1 s once per process, in every `labcoat fit` run's budget); save skips it.
    from mlflow.utils import environment, requirements_utils

    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)
    check = environment.warn_dependency_requirement_mismatches
    model = fit_quietly(frame, "churn", trials=1, families=("linear",))
    path = model.save(tmp_path / "model")
    assert requirements_utils._MODULES_TO_PACKAGES is None
    assert environment.warn_dependency_requirement_mismatches is check  # put back
    requirements = (path / "requirements.txt").read_text()
    assert f"labcoat=={labcoat.__version__}" in requirements and "mlflow==" in requirements


def test_budget_is_respected_and_reported(frame):
    model = fit_quietly(frame, "churn", budget=4)
    assert model.info.budget_seconds == 4
    assert model.info.n_trials >= 1


def test_budget_too_small_for_any_model_is_explained():
    df = mixed_frame(3000)
    with pytest.raises(BudgetError, match="too small to train even one model"):
        fit_quietly(df, "churn", budget=0.05)


def test_user_frame_and_file_are_never_modified(frame, tmp_path):
    before = frame.copy()
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    model = fit_quietly(frame, "churn", trials=1, families=["linear"])
    model.predict(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_prediction_time_checks(frame):
    model = fit_quietly(frame, "churn", trials=1, families=["lightgbm"])
    rows = frame.drop(columns="churn").head(4).copy()
    with pytest.raises(SchemaError, match="missing: 'age'"):
        model.predict(rows.drop(columns="age"))
    rows["surprise"] = 1
    rows.loc[rows.index[0], "plan"] = "platinum"
    with pytest.warns(LabcoatNotice) as notices:
        assert len(model.predict(rows)) == 4
    text = " ".join(str(n.message) for n in notices)
    assert "surprise" in text and "'platinum'" in text


@pytest.mark.parametrize("kwargs, error, message", [
    ({"target": "chrun"}, TargetError, "Did you mean 'churn'"),
    ({"target": "churn", "metric": "rmse"}, TargetError, "needs a numeric target"),
    ({"target": "churn", "metric": "bogus"}, ConfigError, "Unknown metric"),
    ({"target": "churn", "trials": 0}, ConfigError, "trials must be a positive"),
    ({"target": "churn", "budget": "soon"}, ConfigError, "not a duration"),
    ({"target": "churn", "families": ["svm"]}, ConfigError, "Unknown model family 'svm'"),
])
def test_bad_settings_are_explained(frame, kwargs, error, message):
    with pytest.raises(error, match=message):
        fit_quietly(frame, **kwargs)


def test_loading_something_else_is_explained(tmp_path):
    with pytest.raises(ModelFileError, match="No model at"):
        labcoat.load(tmp_path / "nothing")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "labcoat.json").write_text("{}")
    with pytest.raises(ModelFileError, match="missing schema.json"):
        labcoat.load(tmp_path / "half")


def test_model_from_a_newer_labcoat_is_refused(frame, tmp_path):
    import json

    path = fit_quietly(frame, "churn", trials=1, families=["linear"]).save(tmp_path / "m")
    own = path / "artifacts" / "labcoat" / "labcoat.json"  # labcoat's files inside the MLflow model
    meta = json.loads(own.read_text())
    meta["format_version"] = 99
    meta["labcoat_version"] = "9.0.0"
    own.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="labcoat 9.0.0.*Upgrade labcoat"):
        labcoat.load(path)
    (path / "artifacts" / "labcoat" / "model.joblib").unlink()
    with pytest.raises(ModelFileError, match="missing model.joblib"):
        labcoat.load(path)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "MLmodel").write_text("flavors: {}")
    with pytest.raises(ModelFileError, match="not a labcoat one"):
        labcoat.load(tmp_path / "foreign")


@pytest.mark.parametrize("module", ["labcoat", "labcoat.cli"])  # the CLI's commands import what they use
def test_import_is_light(module):
    code = (f"import sys, {module}; "
            "print(any(m in sys.modules for m in ('sklearn', 'lightgbm', 'optuna', 'mlflow', 'torch', 'pandas')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
