"""scikit-learn estimators around :func:`labcoat.fit`: ``AutoClassifier`` and ``AutoRegressor``.

They follow scikit-learn's contract (``get_params``/``set_params``/``clone``, ``fit`` returns
``self``, fitted attributes end in ``_``), so a whole AutoML search can sit inside a ``Pipeline``
or ``cross_val_score``. A pandas DataFrame keeps its column types (strings, datetimes, missing
values); an array is treated as numeric features named ``x0``, ``x1``...

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from labcoat import AutoClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = AutoClassifier(trials=2, families=["linear"]).fit(X, y)
>>> clf.predict(X[:3]).tolist(), clf.classes_.tolist()
([0, 0, 0], [0, 1, 2])
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils import assert_all_finite
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

_TARGET = "__labcoat_target__"
# labcoat's resampling needs a few rows per fold; below this an AutoML search means nothing.
MIN_SAMPLES = 5


class _AutoEstimator(BaseEstimator):
    """Shared parameters and input handling; subclasses say which tasks they accept."""

    def __init__(self, budget: float | str | None = None, trials: int | None = None,
                 metric: str | None = None, seed: int = 0, families: Sequence[str] | None = None,
                 n_jobs: int | None = None, quiet: bool = True, track: bool = False,
                 report: bool = False, latency_limit: float | str | None = None) -> None:
        self.budget = budget
        self.trials = trials
        self.metric = metric
        self.seed = seed
        self.families = families
        self.n_jobs = n_jobs
        self.quiet = quiet
        self.track = track
        # Off by default: an estimator is often fitted many times (cross_val_score, a grid
        # search), and explanations and reports cost seconds per fit.
        self.report = report
        self.latency_limit = latency_limit

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values are imputed per family
        tags.non_deterministic = self.trials is None  # a wall-clock budget is not reproducible
        return tags

    def _features(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """Validate ``X`` as scikit-learn does and return it as a DataFrame labcoat can read."""
        if hasattr(X, "to_pandas") and not isinstance(X, pd.DataFrame):  # polars
            X = X.to_pandas()
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
            return X.set_axis([str(c) for c in X.columns], axis=1)
        array = validate_data(self, X, reset=reset, dtype="numeric", ensure_all_finite="allow-nan")
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])

    def _fit(self, X: Any, y: Any, task: str | None) -> "_AutoEstimator":
        from labcoat.train import fit

        frame = self._features(X, reset=True)
        y = column_or_1d(y, warn=True)
        if len(y) != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {len(y)}; they must match.")
        if len(frame) < MIN_SAMPLES:
            raise ValueError(f"n_samples={len(frame)}: an AutoML search needs at least "
                             f"{MIN_SAMPLES} samples to cross-validate.")
        frame = frame.reset_index(drop=True).assign(**{_TARGET: y})
        self.model_ = fit(frame, target=_TARGET, budget=self.budget, trials=self.trials,
                          metric=self.metric, task=task, seed=self.seed, families=self.families,
                          n_jobs=self.n_jobs, quiet=self.quiet, track=self.track, report=self.report,
                          latency_limit=self.latency_limit)
        return self

    @property
    def leaderboard_(self) -> pd.DataFrame:
        """Every trial of the search (see :attr:`labcoat.Model.leaderboard`)."""
        check_is_fitted(self, "model_")
        return self.model_.leaderboard

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (classifier) or values (regressor)."""
        check_is_fitted(self, "model_")
        return self.model_.predict(self._features(X, reset=False))


class AutoClassifier(ClassifierMixin, _AutoEstimator):
    """AutoML classifier: searches, tunes and ensembles models within a budget.

    Parameters are those of :func:`labcoat.fit`; ``quiet`` defaults to True and ``track`` to
    False here (a cross-validation loop would otherwise record a study per fold).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.model_selection import cross_val_score
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> scores = cross_val_score(AutoClassifier(trials=1, families=["linear"]), X, y, cv=2)
    >>> bool(scores.mean() > 0.9)
    True
    """

    def fit(self, X: Any, y: Any) -> "AutoClassifier":
        """Run the search on ``X`` and class labels ``y``; returns ``self``."""
        check_classification_targets(y)
        n_classes = len(np.unique(column_or_1d(y)))
        if n_classes < 2:
            raise ValueError(f"y has {n_classes} class; a classifier needs at least 2 classes.")
        self._fit(X, y, "multiclass")  # two classes make it binary (Task.refine)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of :attr:`classes_`."""
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._features(X, reset=False))


class AutoRegressor(RegressorMixin, _AutoEstimator):
    """AutoML regressor: searches, tunes and ensembles models within a budget.

    Parameters are those of :func:`labcoat.fit`; ``quiet`` defaults to True and ``track`` to
    False here.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = AutoRegressor(trials=1, families=["linear"]).fit(X, y)
    >>> bool(reg.score(X, y) > 0.4)
    True
    """

    def fit(self, X: Any, y: Any) -> "AutoRegressor":
        """Run the search on ``X`` and numeric targets ``y``; returns ``self``."""
        y = column_or_1d(y, warn=True)
        try:
            y = y.astype(float)
        except (TypeError, ValueError) as error:
            raise ValueError(f"AutoRegressor needs numeric y ({error}); for labels use "
                             "AutoClassifier.") from None
        assert_all_finite(y, input_name="y")  # labcoat.fit would drop such rows; sklearn raises
        return self._fit(X, y, "regression")
