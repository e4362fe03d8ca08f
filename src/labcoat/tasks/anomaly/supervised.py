"""A classifier learned from the labels, on the detectors' input and their scores, for when
there are enough labelled anomalies (:data:`MIN_POSITIVES`): LightGBM or a logistic regression,
whichever, alone or averaged with the detectors, has the best cross-validated PR AUC.

Its output joins the combination as a rank against its training rows' cross-fitted
probabilities (never their in-sample ones, which would be overconfident).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 3)); y = (X[:, 0] > 1.2).astype(int)
>>> model = build("logistic", seed=0).fit(X, y)
>>> bool(model.predict_proba(X)[:, 1][y == 1].mean() > 0.5)
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from labcoat.tasks.anomaly.detectors import to_ranks

#: Labelled anomalies (and as many labelled normal rows) needed for a supervised model to be tried.
MIN_POSITIVES = 50
NAMES = ("lightgbm", "logistic")


def build(name: str, *, seed: int) -> Any:
    """An unfitted classifier ``name``: small and regularised, for a few hundred positives."""
    if name == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=10,
                              subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0,
                              random_state=seed, n_jobs=1, verbose=-1)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


def probabilities(estimator: Any, X: np.ndarray) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LightGBM's feature-name warnings
        return np.asarray(estimator.predict_proba(X)[:, 1], dtype=np.float64)


@dataclass
class SupervisedScorer:
    """A fitted classifier and its training rows' cross-fitted probabilities (sorted)."""

    name: str
    estimator: Any
    reference: np.ndarray

    def ranks(self, inputs: np.ndarray) -> np.ndarray:
        """The share of training rows whose probability is at most each row's (0..1)."""
        return to_ranks(probabilities(self.estimator, inputs), self.reference)
