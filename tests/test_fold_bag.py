"""Fold models: a booster's or network's member averaged with models of its parameters fitted on
each fold's training rows (``labcoat.train.fold_bag``)."""
import warnings
from types import SimpleNamespace

import joblib
import numpy as np
import pytest

import labcoat
from labcoat.data.split import choose_resampling, time_resampling
from labcoat.datasets import make_churn
from labcoat.features.build import native_categorical_count, transform
from labcoat.models import FAMILIES, BuildContext
from labcoat.train import fold_bag, latency_limit

FIT = dict(target="churned", trials=6, families=["lightgbm", "linear", "random_forest"], quiet=True, track=False,
           report=False, n_jobs=1)


def fit(frame, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return labcoat.fit(frame, **{**FIT, **options})


@pytest.fixture(scope="module")
def churn():
    return make_churn(600, seed=2)


@pytest.fixture(scope="module")
def model(churn):
    return fit(churn)


def boosters(model):
    found = [m for m in model.members if m.family == "lightgbm"]
    assert found, "no LightGBM member: the test would say nothing"
    return found


def test_boosters_get_a_model_per_fold_and_forests_and_linear_models_none(model):
    assert model.info.resampling.startswith("5-fold")
    for m in model.members:
        if m.family == "lightgbm":
            assert len(m.bag) == 5 and m.rows == "all rows, averaged with 5 models of each fold's training rows"
        else:
            assert m.bag == [] and m.rows == "all rows"
    assert list(model.ensemble["fold_models"]) == [len(m.bag) for m in model.members]


def test_each_fold_model_is_the_members_parameters_fitted_on_that_folds_training_rows(model, churn):
    features = churn.drop(columns=["churned"])
    y = model.task.encode_target(churn["churned"], model.schema.classes)
    folds = choose_resampling(y, stratify=True, seed=model.info.seed).folds[:5]
    for m in boosters(model):
        family = FAMILIES[m.family]
        X = transform(model.preprocessors[m.preprocessor], model.schema.prepare_columns(features))
        for (train, _), fitted in zip(folds, m.bag):
            context = BuildContext(kind="classifier", n_classes=2, seed=model.info.seed, n_jobs=1, n_rows=len(y),
                                   native_categoricals=native_categorical_count(model.schema, family.style))
            again = family.build(m.params, context)
            family.fit(again, X[train], y[train])
            np.testing.assert_allclose(fitted.predict_proba(X[:50]), again.predict_proba(X[:50]), atol=1e-12)
        # the fold models differ from the all-row model (else averaging them would change nothing)
        assert np.abs(m.bag[0].predict_proba(X[:50]) - m.estimator.predict_proba(X[:50])).max() > 1e-3


def test_the_model_predicts_the_weighted_mean_of_every_members_models(model, churn):
    rows = churn.drop(columns=["churned"]).head(40)
    frame = model.schema.prepare_columns(rows)
    total = 0.0
    for m in model.members:
        X = transform(model.preprocessors[m.preprocessor], frame)
        outputs = [FAMILIES[m.family].predict(e, X, "classifier", n_classes=2, threads=1) for e in m.estimators]
        total = total + m.weight * np.mean(outputs, axis=0)
    np.testing.assert_allclose(model.predict_proba(rows), total, atol=1e-9)
    for i in range(3):  # one row goes through the few-row paths (merged forests, flat trees)
        np.testing.assert_allclose(model.predict_proba(rows.iloc[[i]]), total[[i]], atol=1e-9)


def test_fold_models_are_saved_and_a_model_saved_without_them_still_loads(model, churn, tmp_path):
    rows = churn.drop(columns=["churned"]).head(30)
    path = model.save(tmp_path / "m")
    loaded = labcoat.load(path)
    assert [len(m.bag) for m in loaded.members] == [len(m.bag) for m in model.members]
    np.testing.assert_allclose(loaded.predict_proba(rows), model.predict_proba(rows), atol=1e-12)
    files = next(path.rglob("model.joblib"))
    payload = joblib.load(files)
    del payload["bags"]  # as labcoat wrote models before fold models
    joblib.dump(payload, files)
    older = labcoat.load(path)
    assert all(m.bag == [] for m in older.members)
    for m in loaded.members:
        m.bag = []
    np.testing.assert_allclose(older.predict_proba(rows), loaded.predict_proba(rows), atol=1e-12)


def test_a_latency_limit_leaves_fold_models_out_before_members(churn, model, monkeypatch):
    # one row's time made a count of model calls (1 ms each), so that the test does not hang on
    # this machine's speed: the limit allows every member and one member's fold models
    monkeypatch.setattr(latency_limit, "ensemble_seconds",
                        lambda members, *_: 1e-3 * sum(len(m.estimators) for m in members))
    bagged = sorted((m for m in model.members if m.bag), key=lambda m: m.weight)
    assert len(bagged) >= 2, "one bagged member: nothing to choose between"
    limit = len(model.members) + len(bagged[-1].bag)
    limited = fit(churn, latency_limit=f"{limit}ms")
    latency = limited.info.latency
    assert latency["dropped"] == [] and latency["met"]
    assert [(m.trial, m.weight) for m in limited.members] == [(m.trial, m.weight) for m in model.members]
    # the lightest members' fold models went, the heaviest member's stayed
    assert latency["fold_models_dropped"] == [f"{m.family} #{m.trial}" for m in bagged[:-1]]
    assert [len(m.bag) for m in limited.members] == [len(m.bag) if m is bagged[-1] else 0 for m in model.members]


def test_a_latency_limit_leaves_out_the_fold_models_that_cost_most_per_share_of_weight(churn, model, monkeypatch):
    # the heaviest member's fold models made a hundred times as slow as the others' (as an MLP's
    # networks against fold models walked with their booster): they alone go, though the others'
    # members weigh less
    bagged = sorted((m for m in model.members if m.bag), key=lambda m: m.weight)
    assert len(bagged) >= 2, "one bagged member: nothing to choose between"
    heavy = (bagged[-1].family, bagged[-1].trial)
    monkeypatch.setattr(latency_limit, "ensemble_seconds", lambda members, *_: 1e-3 * sum(
        1 + len(m.bag) * (1.0 if (m.family, m.trial) == heavy else 0.01) for m in members))
    limited = fit(churn, latency_limit=f"{len(model.members) + 0.5}ms")
    latency = limited.info.latency
    assert latency["met"] and latency["dropped"] == []
    assert latency["fold_models_dropped"] == [f"{heavy[0]} #{heavy[1]}"]


def test_no_fold_models_above_the_row_limit(churn, monkeypatch):
    monkeypatch.setattr(fold_bag, "BAG_MAX_ROWS", len(churn) - 1)
    assert all(m.bag == [] and m.rows == "all rows" for m in fit(churn).members)


def test_no_fold_models_on_a_holdout_or_on_folds_forward_in_time():
    y = np.arange(400) % 2

    def plan(resampling):
        return SimpleNamespace(resampling=resampling, y=y)

    assert fold_bag.bags(plan(choose_resampling(y, stratify=True)))
    assert not fold_bag.bags(plan(time_resampling(np.arange(400))))  # the first rows train, never validate
    holdout = choose_resampling(np.arange(200_000) % 2, stratify=True)
    assert holdout.is_holdout and not fold_bag.bags(SimpleNamespace(resampling=holdout, y=np.zeros(200_000)))
