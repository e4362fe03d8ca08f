"""AutoClassifier / AutoRegressor against scikit-learn's own estimator checks and tools."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from labcoat import AutoClassifier, AutoRegressor

# One linear trial keeps each of the ~100 checks to a fraction of a second; the checks test the
# estimator contract, which does not depend on the families searched. No check is excluded: the
# only skip is scikit-learn's own array-API check, which runs only when SCIPY_ARRAY_API=1.
FAST = dict(trials=1, families=["linear"])


@parametrize_with_checks([AutoClassifier(**FAST), AutoRegressor(**FAST)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_cross_val_score_inside_a_pipeline():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=200) > 0, "yes", "no")
    pipeline = make_pipeline(StandardScaler(), AutoClassifier(trials=2, families=["linear", "knn"]))
    scores = cross_val_score(pipeline, X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,) and scores.min() > 0.75


def test_estimators_explain_and_report_only_when_asked():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X[:, 0] + rng.normal(scale=0.3, size=120)
    assert AutoRegressor(trials=1, families=["linear"]).fit(X, y).model_.explanations is None
    assert AutoRegressor(trials=1, families=["linear"], report=True).fit(X, y).model_.explanations is not None


def test_clone_keeps_params_and_drops_the_fit():
    reg = AutoRegressor(budget="30s", metric="mae", seed=3, families=["lightgbm"])
    copy = clone(reg)
    assert copy.get_params() == reg.get_params()
    assert copy.set_params(seed=4).seed == 4 and reg.seed == 3


def test_dataframe_keeps_column_types(frame):
    X = frame.drop(columns=["churn"])
    clf = AutoClassifier(trials=2, families=["lightgbm"]).fit(X, frame["churn"])
    assert list(clf.feature_names_in_) == list(X.columns)
    roles = {c.name: c.role.value for c in clf.model_.schema.columns}
    assert roles["plan"] == "categorical" and roles["signup"] == "datetime"
    proba = clf.predict_proba(X.head(5))
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(clf.leaderboard_["family"]) == {"lightgbm"}


def test_regressor_refuses_labels_with_a_clear_message():
    X = np.arange(20.0).reshape(10, 2)
    with pytest.raises(ValueError, match="numeric y.*AutoClassifier"):
        AutoRegressor(**FAST).fit(X, np.array(["a", "b"] * 5))


def test_too_few_rows_is_named():
    with pytest.raises(ValueError, match="n_samples=3"):
        AutoClassifier(**FAST).fit(pd.DataFrame({"a": [1.0, 2.0, 3.0]}), [0, 1, 0])
