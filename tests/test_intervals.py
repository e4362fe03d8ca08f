"""The 95% intervals, tested against known truth by simulation (seeds fixed)."""
from __future__ import annotations

import math

import numpy as np
from sklearn.model_selection import RepeatedKFold

from labcoat.evaluate.intervals import bootstrap_interval
from labcoat.evaluate.metrics import get_metric
from labcoat.evaluate.stats import corrected_t_interval

BETA = np.array([1.0, -0.5, 0.25])


def _draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, len(BETA)))
    return X, X @ BETA + rng.normal(size=n)


def _ols_rmse(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> float:
    design = np.column_stack([np.ones(len(X)), X])
    weights = np.linalg.lstsq(design, y, rcond=None)[0]
    predicted = np.column_stack([np.ones(len(X_test)), X_test]) @ weights
    return float(np.sqrt(np.mean((y_test - predicted) ** 2)))


def test_corrected_t_interval_covers_the_learners_expected_score():
    """5-fold CV repeated 3 times on 200 rows (labcoat's plan for small data), least squares,
    RMSE. The truth is the learner's expected RMSE for 160 training and 40 test rows, from
    20,000 independent draws."""
    rng = np.random.default_rng(0)
    truth = np.mean([_ols_rmse(*_draw(rng, 160), *_draw(rng, 40)) for _ in range(20_000)])
    repetitions, hits = 1000, 0
    for r in range(repetitions):
        X, y = _draw(rng, 200)
        folds = RepeatedKFold(n_splits=5, n_repeats=3, random_state=r).split(X)
        low, high = corrected_t_interval([_ols_rmse(X[a], y[a], X[b], y[b]) for a, b in folds], 160, 40)
        hits += low <= truth <= high
    assert 0.92 <= hits / repetitions <= 0.98, hits / repetitions


def test_bootstrap_interval_covers_a_fixed_models_score():
    """A fixed model scored on fresh 400-row holdouts; the truth is its RMSE on 2M rows."""
    rng = np.random.default_rng(1)
    weights = np.array([0.8, -0.4, 0.3])  # a slightly wrong model
    X_big, y_big = _draw(rng, 2_000_000)
    truth = float(np.sqrt(np.mean((y_big - X_big @ weights) ** 2)))
    metric = get_metric("rmse", "regression")
    repetitions, hits = 300, 0
    for r in range(repetitions):
        X, y = _draw(rng, 400)
        low, high = bootstrap_interval(y, X @ weights, metric, stratify=False, seed=r)
        hits += low <= truth <= high
    assert 0.92 <= hits / repetitions <= 0.98, hits / repetitions


def test_one_fold_has_no_t_interval_and_stratified_bootstrap_keeps_classes():
    assert all(math.isnan(v) for v in corrected_t_interval([0.8], 80, 20))
    rng = np.random.default_rng(2)
    y = np.array([0] * 380 + [1] * 20)
    proba = np.column_stack([1 - (p := np.clip(y * 0.6 + rng.uniform(0, 0.5, 400), 0, 1)), p])
    low, high = bootstrap_interval(y, proba, get_metric("roc_auc", "binary"), stratify=True)
    assert 0.5 < low < high <= 1.0


def test_leaderboard_shows_an_interval_around_every_score(frame):
    import warnings

    import labcoat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = labcoat.fit(frame, target="churn", trials=3, families=["linear", "lightgbm"], quiet=True)
    board = model.leaderboard
    assert (board["score_low"] < board["score"]).all() and (board["score"] < board["score_high"]).all()
    assert list(board.columns[:7]) == ["rank", "trial", "family", "score", "score_std", "score_low",
                                       "score_high"]
    p = board["p_vs_best"]
    assert np.isnan(p.iloc[0]) and ((p.iloc[1:] >= 0) & (p.iloc[1:] <= 1)).all()
