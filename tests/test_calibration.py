"""Probability scores, calibration and decision thresholds (labcoat.evaluate.reliability,
calibration, thresholds) against known truth."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import brier_score_loss, log_loss

import labcoat
from labcoat.cli.core import _decision_lines
from labcoat.datasets import make_churn
from labcoat.errors import ConfigError
from labcoat.evaluate.calibration import choose_calibration, fit_calibrator
from labcoat.evaluate.metrics import get_metric
from labcoat.evaluate.reliability import brier_score, reliability_curve
from labcoat.evaluate.thresholds import parse_costs, tune_threshold
from labcoat.tasks import get_task


# ---------------------------------------------------------------------- synthetic truth
def binary_truth(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True positive-class probabilities and labels drawn from them."""
    rng = np.random.default_rng(seed)
    p = expit(rng.normal(0, 1.5, n))
    return (rng.random(n) < p).astype(np.int64), p


def multiclass_truth(n: int, seed: int, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, k))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    y = (rng.random((n, 1)) > p.cumsum(axis=1)).sum(axis=1)
    return y.astype(np.int64), p


def stack(p: np.ndarray) -> np.ndarray:
    return np.column_stack([1 - p, p])


DISTORTIONS = {
    "overconfident": lambda p: expit(3 * logit(p)),   # logits three times too large
    "cube_root": lambda p: p ** (1 / 3),               # every probability pushed up
}


# ---------------------------------------------------------------------- scores
def test_brier_score_is_sklearns_and_a_lower_is_better_metric():
    y, p = binary_truth(500, 0)
    assert brier_score(y, stack(p)) == pytest.approx(brier_score_loss(y, p))
    assert brier_score(y, p) == pytest.approx(np.mean((p - y) ** 2))
    ym, pm = multiclass_truth(500, 0)
    assert brier_score(ym, pm) == pytest.approx(np.mean(np.sum((pm - np.eye(4)[ym]) ** 2, axis=1)))
    metric = get_metric("brier", "multiclass")
    assert not metric.greater_is_better and metric.score(ym, pm) == pytest.approx(brier_score(ym, pm))
    assert get_metric("brier_score", "binary").name == "brier"


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_reliability_curve_bins_as_sklearn_and_counts_rows(strategy):
    y, p = binary_truth(2000, 1)
    curve = reliability_curve(y, p, bins=10, strategy=strategy)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy=strategy)
    np.testing.assert_allclose(curve.observed, observed)
    np.testing.assert_allclose(curve.mean_predicted, predicted)
    assert curve.count.sum() == 2000 and curve.kind == "positive class"
    json.dumps(curve.to_dict())


def test_expected_calibration_error_is_small_for_truth_and_large_when_distorted():
    y, p = binary_truth(20_000, 2)
    assert reliability_curve(y, p).ece < 0.015
    assert reliability_curve(y, DISTORTIONS["cube_root"](p)).ece > 0.2
    ym, pm = multiclass_truth(20_000, 2)
    curve = reliability_curve(ym, pm)
    assert curve.kind == "top-class confidence" and curve.ece < 0.015


# ---------------------------------------------------------------------- calibration
@pytest.mark.parametrize("distortion", sorted(DISTORTIONS))
def test_a_distorted_score_gets_a_calibrator_that_helps_on_new_rows(distortion):
    distort = DISTORTIONS[distortion]
    y, p = binary_truth(2000, 3)
    choice = choose_calibration(y, distort(p), seed=3)
    assert choice.method in ("sigmoid", "isotonic")
    evidence = choice.evidence
    assert evidence["log_loss_after"] < evidence["log_loss_before"]
    assert evidence["brier_after"] < evidence["brier_before"]
    assert evidence["reliability_after"]["ece"] < evidence["reliability_before"]["ece"]
    # Rows the calibrator never saw, from the same distribution.
    y_new, p_new = binary_truth(20_000, 103)
    raw = stack(distort(p_new))
    calibrated = choice.calibrator.apply(raw)
    assert log_loss(y_new, calibrated) < log_loss(y_new, raw) - 0.02
    assert brier_score(y_new, calibrated) < brier_score(y_new, raw)
    json.dumps(evidence)


def test_multiclass_overconfidence_is_calibrated_one_vs_rest():
    y, p = multiclass_truth(2000, 4)
    over = np.exp(3 * np.log(p)) / np.exp(3 * np.log(p)).sum(axis=1, keepdims=True)
    choice = choose_calibration(y, over, seed=4)
    assert choice.method != "none"
    y_new, p_new = multiclass_truth(10_000, 104)
    raw = p_new ** 3 / (p_new ** 3).sum(axis=1, keepdims=True)
    calibrated = choice.calibrator.apply(raw)
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    assert log_loss(y_new, calibrated) < log_loss(y_new, raw) - 0.05


def test_already_calibrated_scores_are_left_alone_in_most_seeds():
    methods = [choose_calibration(*binary_truth(1000, seed), seed=seed).method for seed in range(10)]
    assert methods.count("none") >= 9, methods
    methods = [choose_calibration(*multiclass_truth(600, seed), seed=seed).method for seed in range(5)]
    assert methods.count("none") >= 4, methods


def test_one_method_asked_for_is_fitted_whatever_the_evidence():
    y, p = binary_truth(1000, 5)
    choice = choose_calibration(y, p, methods=("isotonic",))
    assert choice.method == "isotonic" and "sigmoid" not in choice.evidence["candidates"]
    assert choice.evidence["candidates"]["isotonic"]["p_value"] > 0.05


def test_too_few_rows_choose_none_and_say_why():
    y, p = binary_truth(60, 6)
    choice = choose_calibration(y, p)
    assert choice.method == "none" and choice.calibrator is None and "too few rows" in choice.evidence["reason"]
    with pytest.raises(ConfigError, match="Unknown calibration method"):
        choose_calibration(y, p, methods=("platt",))


def test_calibrators_are_plain_numbers_matching_sklearn_and_pickle():
    y, p = binary_truth(3000, 7)
    raw = stack(DISTORTIONS["cube_root"](p))
    iso = fit_calibrator(y, raw, "isotonic")
    floor = 1 / (len(y) + 2)
    reference = IsotonicRegression(y_min=floor, y_max=1 - floor, out_of_bounds="clip").fit(raw[:, 1], y)
    np.testing.assert_allclose(iso.apply(raw)[:, 1], reference.predict(raw[:, 1]))
    sig = fit_calibrator(y, raw, "sigmoid")
    a, b = float(sig.a[0]), float(sig.b[0])
    np.testing.assert_allclose(sig.apply(raw)[:, 1], expit(a * logit(raw[:, 1]) + b))
    for calibrator in (iso, sig):
        copy = pickle.loads(pickle.dumps(calibrator))
        np.testing.assert_array_equal(copy.apply(raw[:1]), calibrator.apply(raw[:1]))
        assert len(pickle.dumps(calibrator)) < 100_000


# ---------------------------------------------------------------------- thresholds
def test_costly_false_negatives_move_the_threshold_down_and_lower_cost_on_new_rows():
    y, p = binary_truth(3000, 8)
    choice = tune_threshold(y, p, costs="fp=1,fn=5", seed=8)
    # Bayes-optimal cut for calibrated probabilities: fp / (fp + fn) = 1/6.
    assert 0.08 < choice.threshold < 0.3
    effect = choice.effect
    assert effect["at_threshold"] < effect["at_default"] and effect["improvement_interval"][0] > 0
    y_new, p_new = binary_truth(20_000, 108)

    def cost(positive: np.ndarray) -> float:
        return float(np.mean(np.where(positive & (y_new == 0), 1, 0) + np.where(~positive & (y_new == 1), 5, 0)))

    assert cost(p_new >= choice.threshold) < cost(p_new > 0.5) - 0.1
    assert json.loads(json.dumps(choice.to_dict()))["costs"] == {"tp": 0.0, "fp": 1.0, "tn": 0.0, "fn": 5.0}


def test_threshold_for_f1_on_a_rare_class_is_below_one_half():
    rng = np.random.default_rng(9)
    p = expit(rng.normal(-2.5, 1.5, 4000))
    y = (rng.random(4000) < p).astype(np.int64)
    choice = tune_threshold(y, p, metric="f1")
    assert choice.threshold < 0.5 and choice.objective == "f1"
    assert choice.effect["at_threshold"] > choice.effect["at_default"] and choice.effect["greater_is_better"]


def test_threshold_needs_one_objective_and_two_classes():
    y, p = binary_truth(200, 10)
    with pytest.raises(ConfigError, match="not both"):
        tune_threshold(y, p, metric="f1", costs="fp=1,fn=2")
    with pytest.raises(ConfigError, match="use one of f1"):
        tune_threshold(y, p, metric="roc_auc")
    ym, pm = multiclass_truth(200, 10)
    with pytest.raises(ConfigError, match="binary targets"):
        tune_threshold(ym, pm, costs="fp=1,fn=2")


def test_parse_costs():
    assert parse_costs("fp=1,fn=5") == {"tp": 0.0, "fp": 1.0, "tn": 0.0, "fn": 5.0}
    assert parse_costs(" FN = 5 ; fp=1 ; tp=-2") == {"tp": -2.0, "fp": 1.0, "tn": 0.0, "fn": 5.0}
    assert parse_costs({"fp": 2, "fn": 3})["fn"] == 3.0


@pytest.mark.parametrize("text, message", [
    ("", "--costs is empty"),
    ("fp=1,fn", "'fn' in --costs 'fp=1,fn' is not NAME=NUMBER"),
    ("fp=1,fx=5", "Unknown cost 'fx'"),
    ("fp=1,fn=five", "Cost 'fn' in --costs 'fp=1,fn=five' is 'five', not a number"),
    ("fp=1,fn=inf", "must be a finite number"),
    ("fp=1,fp=2,fn=3", "Cost 'fp' is given twice"),
    ("fn=5", r"a fp \(a negative row predicted wrongly\) costs no more than a tn"),
    ("fp=1,fn=1,tp=2", "a fn"),
])
def test_parse_costs_errors_name_the_bad_part(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_costs(text)


def test_options_refuse_what_does_not_apply_before_any_training():
    with pytest.raises(ConfigError, match="costs= does not apply to a multiclass task .its options are calibrate"):
        get_task("multiclass").options(costs="fp=1,fn=5")
    with pytest.raises(ConfigError, match="threshold_metric= does not apply to a regression task .it takes no"):
        get_task("regression").options(threshold_metric="f1")
    with pytest.raises(ConfigError, match="calibrate= does not apply to a regression task"):
        get_task("regression").options(calibrate="sigmoid")
    with pytest.raises(ConfigError, match="calibrate must be one of auto, none, sigmoid, isotonic"):
        get_task("binary").options(calibrate="platt")
    with pytest.raises(ConfigError, match="not both"):
        get_task("binary").options(costs="fp=1,fn=5", threshold_metric="f1")
    regression = get_task("regression")
    after = regression.post_fit({"y": np.zeros(3), "pred": np.zeros(3)}, regression.options(), seed=0)
    assert after.calibrator is None and after.threshold is None and not after.report


def test_decisions_threshold_is_tuned_on_calibrated_probabilities():
    y, p = binary_truth(2000, 11)
    oof = {"y": y, "pred": stack(DISTORTIONS["cube_root"](p))}
    binary = get_task("binary")
    d = binary.post_fit(oof, binary.options(costs="fp=1,fn=5"), seed=11)
    assert d.calibrator is not None and d.report["calibration"]["requested"] == "auto"
    # On the calibrated scale the cost-optimal cut is near 1/6, not near the raw scale's ~0.55.
    assert 0.08 < d.threshold < 0.3 and d.report["threshold"]["value"] == d.threshold
    json.dumps(dict(d.report))


# ---------------------------------------------------------------------- through labcoat.fit
@pytest.fixture(scope="module")
def fitted():
    df = make_churn(600, seed=1)
    model = labcoat.fit(df, target="churned", trials=2, families=["linear"], quiet=True, track=False,
                        calibrate="sigmoid", costs="fp=1,fn=5")
    return df, model


def test_fit_keeps_calibrator_and_threshold_and_applies_them(fitted):
    df, model = fitted
    assert model.calibrator is not None and model.info.calibration["method"] == "sigmoid"
    assert model.threshold == model.info.threshold["value"] < 0.5
    json.dumps(model.info.to_dict())
    rows = df.drop(columns=["churned"]).head(50)
    proba = model.predict_proba(rows)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    expected = model.classes_[(proba[:, 1] >= model.threshold).astype(int)]
    assert (model.predict(rows) == expected).all()
    frame = model.predict_frame(rows)
    assert (frame["churned_predicted"].to_numpy() == expected).all()
    # The calibrator is applied to the blend of the members.
    model.calibrator, calibrator = None, model.calibrator
    try:
        raw = model.predict_proba(rows)
    finally:
        model.calibrator = calibrator
    np.testing.assert_allclose(calibrator.apply(raw), proba)


def test_saved_and_loaded_model_predicts_identically(fitted, tmp_path):
    df, model = fitted
    rows = df.drop(columns=["churned"]).head(30)
    loaded = labcoat.Model.load(model.save(tmp_path / "m"))
    assert loaded.threshold == model.threshold and loaded.calibrator is not None
    assert loaded.info.calibration["method"] == "sigmoid"
    pd.testing.assert_frame_equal(loaded.predict_frame(rows), model.predict_frame(rows))


def test_a_model_saved_without_calibration_still_loads(fitted, tmp_path):
    df, model = fitted
    path = model.save(tmp_path / "m")
    native = next(path.glob("artifacts/*/model.joblib")).parent
    payload = joblib.load(native / "model.joblib")
    for key in ("calibrator", "threshold"):
        payload.pop(key)
    joblib.dump(payload, native / "model.joblib")
    meta = json.loads((native / "labcoat.json").read_text())
    (native / "labcoat.json").write_text(json.dumps({k: v for k, v in meta.items()
                                                     if k not in ("calibration", "threshold")}))
    old = labcoat.Model.load(path)
    assert old.calibrator is None and old.threshold is None and _decision_lines(old.info) == []
    rows = df.drop(columns=["churned"]).head(20)
    proba = old.predict_proba(rows)
    assert (old.predict(rows) == old.classes_[proba.argmax(axis=1)]).all()


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labcoat", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_cli_options_print_the_choice_and_refuse_bad_costs(tmp_path):
    make_churn(500, seed=2).to_csv(tmp_path / "train.csv", index=False)
    fit = run("fit", "train.csv", "--target", "churned", "--trials", "2", "--families", "linear",
              "--no-track", "--calibrate", "isotonic", "--threshold-metric", "f1", "--out", "model", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert "Calibration: isotonic (as asked)" in fit.stdout and "Decision threshold:" in fit.stdout
    assert "for f1; held-out" in fit.stdout
    bad = run("fit", "train.csv", "--target", "churned", "--trials", "2", "--no-track", "--costs", "fp=1,fn=lots",
              cwd=tmp_path)
    assert bad.returncode == 2 and "'lots', not a number" in bad.stderr and "Traceback" not in bad.stderr


# ---------------------------------------------------------------------- joint multiclass scaling
def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_temperature_scaling_recovers_a_known_temperature_and_applies_as_softmax():
    y, p = multiclass_truth(20_000, 21, k=5)
    over = softmax(3 * np.log(p))  # logits three times too large: the right temperature is 3
    cal = fit_calibrator(y, over, "temperature")
    assert cal.temperature == pytest.approx(3.0, rel=0.05)
    # as the calibrator takes logs: of probabilities clipped at 1e-12
    np.testing.assert_allclose(cal.apply(over), softmax(np.log(np.clip(over, 1e-12, 1)) / cal.temperature), rtol=1e-9)
    np.testing.assert_allclose(cal.apply(over), p, atol=0.03)


def test_vector_scaling_corrects_a_shifted_class_prior_that_temperature_cannot():
    y, p = multiclass_truth(10_000, 22, k=4)
    shifted = p * np.array([6.0, 1.0, 1.0, 1.0])
    shifted /= shifted.sum(axis=1, keepdims=True)  # class 0 six times too likely
    y_new, p_new = multiclass_truth(10_000, 122, k=4)
    raw = p_new * np.array([6.0, 1.0, 1.0, 1.0])
    raw /= raw.sum(axis=1, keepdims=True)
    vector, temperature = fit_calibrator(y, shifted, "vector"), fit_calibrator(y, shifted, "temperature")
    assert vector.b[0] - vector.b[1:].mean() == pytest.approx(-np.log(6.0), abs=0.15)
    assert log_loss(y_new, vector.apply(raw)) < log_loss(y_new, temperature.apply(raw)) - 0.02
    assert log_loss(y_new, vector.apply(raw)) == pytest.approx(log_loss(y_new, p_new), abs=0.01)


def test_auto_chooses_a_joint_method_for_overconfident_classes_and_it_helps_new_rows():
    y, p = multiclass_truth(3000, 23, k=6)
    choice = choose_calibration(y, softmax(2.5 * np.log(p)), seed=23)
    assert {"temperature", "vector"} <= set(choice.evidence["candidates"])
    assert choice.method in ("temperature", "vector", "sigmoid", "isotonic")
    y_new, p_new = multiclass_truth(10_000, 123, k=6)
    raw = softmax(2.5 * np.log(p_new))
    assert log_loss(y_new, choice.calibrator.apply(raw)) < log_loss(y_new, raw) - 0.05


def test_joint_methods_are_for_three_or_more_classes_and_pickle_small():
    y, p = binary_truth(1000, 24)
    assert "temperature" not in choose_calibration(y, stack(p), seed=0).evidence.get("candidates", {})
    with pytest.raises(ConfigError, match="three or more classes"):
        fit_calibrator(y, stack(p), "temperature")
    y, p = multiclass_truth(1000, 24)
    for method in ("temperature", "vector"):
        cal = fit_calibrator(y, p, method)
        copy = pickle.loads(pickle.dumps(cal))
        np.testing.assert_array_equal(copy.apply(p[:3]), cal.apply(p[:3]))
        assert len(pickle.dumps(cal)) < 2_000


@pytest.mark.parametrize("method", ["sigmoid", "temperature", "vector"])
def test_a_calibrator_fitted_on_rows_without_an_error_does_not_claim_certainty(method):
    # Out-of-fold rows the model got all right (small data, a strong model): fitted to hard
    # labels, each method sharpens without bound, and the first mistake on new rows gets a
    # probability near zero (an unbounded log loss). Fitted to Laplace's targets, the truth
    # keeps a probability of the order of 1 / (rows of its class).
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    proba = np.full((300, 3), 0.001)
    proba[np.arange(300), y] = 0.998
    mistake = np.array([[0.998, 0.001, 0.001]])  # the truth is class 1
    calibrated = fit_calibrator(y, proba, method).apply(mistake)[0, 1]
    assert calibrated > 1e-3
    assert choose_calibration(y, proba, seed=0).method == "none"  # none of them beats leaving it as it is
