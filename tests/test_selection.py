"""The selection-corrected estimate against known truth, and fit's outer holdout, test set and
time-ordered validation."""
from __future__ import annotations

import numpy as np
import pytest

import labcoat
from labcoat.datasets import make_churn
from labcoat.evaluate.metrics import get_metric
from labcoat.evaluate.selection import _select, selection_corrected
from labcoat.errors import ConfigError

from conftest import simulation_size

AUC = get_metric("roc_auc", "binary")


def _candidates(y: np.ndarray, strengths: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Scores of models whose true ROC AUC grows with ``strength`` (0: a coin flip)."""
    scores = 1 / (1 + np.exp(-(np.outer(strengths, 2 * y - 1) + rng.normal(size=(len(strengths), len(y))))))
    return [np.column_stack([1 - s, s]) for s in scores]


@pytest.mark.slow
def test_the_corrected_estimate_removes_the_selection_bias_and_covers_the_truth():
    """30 useless and 10 weak models: choosing among them on 300 rows flatters the choice; the
    BBC estimate tracks the chosen ensemble's true score on fresh rows (25 repetitions by
    default, 40 at full size: ``simulation_size``)."""
    rng = np.random.default_rng(7)
    strengths = np.r_[np.zeros(30), np.full(10, 0.25)]
    search_bias, corrected_bias, covered = [], [], []
    for _ in range(simulation_size(25, 40)):
        y = rng.integers(0, 2, 300)
        candidates = _candidates(y, strengths, rng)
        est = selection_corrected(y, candidates, AUC, rounds=40, seed=int(rng.integers(1 << 30)), stratify=True)
        weights = _select(candidates, y, AUC)
        fresh_y = rng.integers(0, 2, 20_000)
        fresh = _candidates(fresh_y, strengths, rng)
        truth = AUC.score(fresh_y, sum(w * p for w, p in zip(weights, fresh)))
        search_bias.append(est.search_score - truth)
        corrected_bias.append(est.corrected_score - truth)
        covered.append(est.low <= truth <= est.high)
    print(f"search bias {np.mean(search_bias):+.4f}, corrected bias {np.mean(corrected_bias):+.4f}, "
          f"coverage {np.mean(covered):.1%}")
    assert np.mean(search_bias) > 0.03  # the search's own estimate is optimistic
    # BBC errs on the safe side (resamples with repeated rows select worse): never optimistic,
    # and off by less than the search's own estimate is.
    assert -np.mean(search_bias) < np.mean(corrected_bias) < 0.01
    assert 0.85 <= np.mean(covered) <= 1.0


def test_fit_reports_the_selection_corrected_estimate_and_the_out_of_fold_predictions():
    model = labcoat.fit(make_churn(600), target="churned", trials=4, quiet=True, track=False)
    sel = model.info.selection
    assert sel["low"] <= sel["corrected_score"] <= sel["high"]
    assert sel["gap"] == pytest.approx(sel["search_score"] - sel["corrected_score"])
    assert model.oof["pred"].shape == (600, 2) and set(model.oof["y"]) == {0, 1}
    assert model.info.test is None  # 600 rows: no automatic holdout


def test_a_test_set_and_a_holdout_are_scored_with_an_interval(tmp_path):
    frame = make_churn(1000)
    test_file = tmp_path / "test.csv"
    frame.iloc[800:].to_csv(test_file, index=False)
    model = labcoat.fit(frame.iloc[:800], target="churned", trials=3, quiet=True, track=False, test=test_file)
    scored = model.info.test
    assert scored["rows"] == 200 and str(test_file) in scored["source"]
    assert scored["low"] <= scored["score"] <= scored["high"]
    held = labcoat.fit(frame, target="churned", trials=3, quiet=True, track=False, holdout=0.25)
    assert held.info.n_rows == 750 and held.info.test["rows"] == 250
    saved = labcoat.load(held.save(tmp_path / "m"))
    assert saved.info.test == held.info.test and np.array_equal(saved.oof["pred"], held.oof["pred"])


def test_duplicates_between_train_and_test_are_found():
    frame = make_churn(600)
    with pytest.warns(labcoat.LabcoatNotice, match="train/test overlap"):
        labcoat.fit(frame, target="churned", trials=2, quiet=True, track=False, test=frame.head(100))


def test_time_split_validates_forward_and_holds_out_the_latest_rows():
    frame = make_churn(900).sort_values("signup_date").reset_index(drop=True)
    model = labcoat.fit(frame, target="churned", trials=2, quiet=True, track=False, split="time",
                        holdout=0.2)
    assert model.info.resampling == "5 folds forward in time by 'signup_date'"
    assert model.info.test["rows"] == 180
    # Out-of-fold predictions exist only for rows after the first block.
    assert len(model.oof["y"]) == 720 - 720 // 6


def test_bad_split_settings_are_explained():
    frame = make_churn(300)
    with pytest.raises(ConfigError, match="not a datetime column.*signup_date"):
        labcoat.fit(frame, target="churned", trials=1, track=False, split="time", time_column="tenure_months")
    with pytest.raises(ConfigError, match="holdout must be"):
        labcoat.fit(frame, target="churned", trials=1, track=False, holdout=0.9)
