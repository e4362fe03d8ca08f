"""The paired test, by simulation with known truth (seeds fixed)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import RepeatedKFold

from labcoat.evaluate.stats import paired_test

BETA = np.array([1.0, -0.5, 0.25])


def _rmse(X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> float:
    weights = np.linalg.lstsq(np.column_stack([np.ones(len(X)), X]), y, rcond=None)[0]
    predicted = np.column_stack([np.ones(len(X_test)), X_test]) @ weights
    return float(np.sqrt(np.mean((y_test - predicted) ** 2)))


def _rejections(columns_a, columns_b, repetitions: int, seed: int) -> float:
    """Share of repetitions where the test rejects "equal" at alpha 0.05, on 200 rows with
    labcoat's small-data plan (5-fold CV repeated 3 times)."""
    rng = np.random.default_rng(seed)
    rejected = 0
    for r in range(repetitions):
        X = rng.normal(size=(200, 3))
        y = X @ BETA + rng.normal(size=200)
        X = np.column_stack([X, rng.normal(size=(200, 2))])  # columns 3 and 4: pure noise
        a, b = [], []
        for train, test in RepeatedKFold(n_splits=5, n_repeats=3, random_state=r).split(X):
            a.append(_rmse(X[train][:, columns_a], y[train], X[test][:, columns_a], y[test]))
            b.append(_rmse(X[train][:, columns_b], y[train], X[test][:, columns_b], y[test]))
        rejected += paired_test(a, b, 160, 40).p_value < 0.05
    return rejected / repetitions


def test_identically_distributed_models_are_rarely_called_different():
    # Same learner, each with one different pure-noise column: equal expected RMSE.
    assert _rejections([0, 1, 2, 3], [0, 1, 2, 4], repetitions=500, seed=3) <= 0.07


def test_a_really_better_model_is_found():
    # Model b lacks the strongest feature.
    assert _rejections([0, 1, 2], [1, 2], repetitions=100, seed=4) >= 0.9


def test_verdict_in_plain_words():
    result = paired_test([0.83, 0.84, 0.82, 0.85, 0.84], [0.80, 0.82, 0.80, 0.81, 0.82], 800, 200)
    text = result.verdict("B", "A", "ROC AUC")
    assert text.startswith("B is better than A by 0.026 ROC AUC [") and "p = " in text
    same = paired_test([0.80, 0.82, 0.81], [0.81, 0.81, 0.81], 800, 200)
    assert same.verdict("B", "A", "ROC AUC").startswith("No clear difference between B and A")


def test_compare_families_of_a_search_from_python_and_the_cli(frame, tmp_path):
    import json
    import subprocess
    import sys
    import warnings

    import pytest

    import labcoat
    from labcoat.errors import ConfigError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = labcoat.fit(frame, target="churn", trials=4, families=["linear", "knn"], quiet=True,
                            track=False)
    [result] = model.compare("linear", "knn")
    assert result["a"].startswith("linear (trial") and 0 <= result["p_value"] <= 1
    assert result["low"] <= result["difference"] <= result["high"]
    assert "ROC" not in result["verdict"] and "roc_auc" in result["verdict"]
    with pytest.raises(ConfigError, match="No completed trial 'xgboost'"):
        model.compare("linear", "xgboost")
    path = model.save(tmp_path / "m")
    run = subprocess.run([sys.executable, "-m", "labcoat", "compare", str(path), "0", "1", "linear",
                          "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert len(results) == 3 and all(r["holm_adjusted"] for r in results)


def _curved(n: int, seed: int):
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n)
    return pd.DataFrame({"x": x, "noise": rng.normal(size=n), "y": x ** 2 + rng.normal(0, 0.3, n)})


def test_separately_fitted_models_are_compared_on_the_same_folds(tmp_path):
    """A straight line against boosted trees on a parabola: the trees must win, both from the
    stored fold scores of fits on the same rows and when scored again on new data."""
    import labcoat
    from labcoat.errors import ConfigError
    from typer.testing import CliRunner

    from labcoat.cli import app

    train = _curved(400, 0)
    line = labcoat.fit(train, target="y", trials=1, families=["linear"], quiet=True, track=False, n_jobs=1)
    trees = labcoat.fit(train, target="y", trials=1, families=["lightgbm"], quiet=True, track=False, n_jobs=1)
    stored = labcoat.compare(line, trees)[0]
    assert stored["p_value"] < 0.01 and stored["verdict"].startswith("model 2 is better than model 1")
    line_dir, trees_dir = str(line.save(tmp_path / "line")), str(trees.save(tmp_path / "trees"))
    fresh = tmp_path / "fresh.csv"
    _curved(300, 1).to_csv(fresh, index=False)
    again = labcoat.compare(line_dir, trees_dir, data=fresh)[0]
    assert again["p_value"] < 0.01 and again["difference"] > 0.5  # RMSE of the line minus the trees'
    other = labcoat.fit(_curved(400, 2), target="y", trials=1, families=["linear"], quiet=True, track=False)
    with pytest.raises(ConfigError, match="not fitted on the same rows"):
        labcoat.compare(line, other)
    result = CliRunner().invoke(app, ["compare", line_dir, trees_dir, "--data", str(fresh)])
    assert result.exit_code == 0 and f"{trees_dir} is better than {line_dir}" in result.output


def test_models_validated_on_one_holdout_are_compared_by_a_paired_bootstrap(tmp_path):
    """From 100,000 rows the search validates on one holdout: no folds to pair, so the models'
    predictions on the holdout's rows are bootstrapped together; trials of one such search,
    whose holdout predictions are not kept, get a clear error (no traceback) instead."""
    import subprocess
    import sys

    import pandas as pd

    import labcoat
    from labcoat.errors import ConfigError

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_200, 2))
    frame = pd.DataFrame(X, columns=["signal", "noise"])
    frame["y"] = (X[:, 0] + 0.5 * rng.normal(size=len(X)) > 0).astype(int)
    fitted = {family: labcoat.fit(frame, "y", trials=2, families=[family], quiet=True, track=False,
                                  report=False, holdout=0, n_jobs=1) for family in ("linear", "lightgbm")}
    assert "holdout" in fitted["linear"].info.resampling and len(fitted["linear"].info.ensemble_fold_scores) == 1
    result = labcoat.compare(fitted["linear"], fitted["lightgbm"])[0]
    assert result["low"] <= result["difference"] <= result["high"] and 0 < result["p_value"] <= 1
    assert result["verdict"].split(" ")[0] in ("No", "model")
    with pytest.raises(ConfigError, match="do not share at least 2 complete folds"):
        labcoat.compare(fitted["linear"], 0, 1)
    saved = fitted["linear"].save(tmp_path / "line")
    done = subprocess.run([sys.executable, "-m", "labcoat", "compare", str(saved), "0", "1"],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" not in done.stderr
