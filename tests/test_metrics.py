import numpy as np
import pytest
from sklearn import metrics as skm

from labcoat.errors import ConfigError
from labcoat.evaluate.metrics import METRICS, get_metric
from labcoat.tasks import get_task


def test_defaults_by_task():
    assert get_task("binary").default_metric([]).name == "roc_auc"
    assert get_task("multiclass").default_metric([]).name == "log_loss"
    assert get_task("regression").default_metric([]).name == "rmse"


def test_every_classification_metric_agrees_with_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p1 = np.clip(y * 0.6 + rng.random(200) * 0.4, 0, 1)
    proba = np.column_stack([1 - p1, p1])
    labels = (p1 > 0.5).astype(int)
    expected = {
        "roc_auc": skm.roc_auc_score(y, p1), "pr_auc": skm.average_precision_score(y, p1),
        "log_loss": skm.log_loss(y, proba), "accuracy": skm.accuracy_score(y, labels),
        "balanced_accuracy": skm.balanced_accuracy_score(y, labels), "f1": skm.f1_score(y, labels),
        "f1_macro": skm.f1_score(y, labels, average="macro"),
        "f1_weighted": skm.f1_score(y, labels, average="weighted"),
    }
    for name, value in expected.items():
        assert get_metric(name, "binary").score(y, proba) == pytest.approx(value), name


def test_regression_metrics_and_direction():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 2.0, 2.5, 5.0])
    assert get_metric("rmse", "regression").score(y, p) == pytest.approx(np.sqrt(np.mean((y - p) ** 2)))
    assert get_metric("mae", "regression").score(y, p) == pytest.approx(0.5)
    r2 = get_metric("r2", "regression")
    assert r2.loss(y, p) == pytest.approx(-skm.r2_score(y, p))
    assert get_metric("mape", "regression").score(y, p) == pytest.approx(skm.mean_absolute_percentage_error(y, p))


def test_multiclass_roc_auc_and_log_loss():
    y = np.array([0, 1, 2, 1, 0, 2])
    p = np.eye(3)[y] * 0.7 + 0.1
    assert get_metric("roc_auc", "multiclass").score(y, p) == pytest.approx(1.0)
    assert get_metric("log_loss", "multiclass").score(y, p) == pytest.approx(-np.log(0.8))


def test_log_loss_takes_probabilities_rounded_in_float32_without_a_warning():
    import warnings

    rng = np.random.default_rng(0)
    exact = rng.dirichlet(np.ones(12), size=300)
    rounded = exact.astype(np.float32).astype(np.float64)  # rows off 1 by up to ~1e-7, as XGBoost's
    y = rng.integers(0, 12, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = get_metric("log_loss", "multiclass").score(y, rounded)
    assert score == pytest.approx(skm.log_loss(y, exact), rel=1e-6)


def test_unknown_or_unfitting_metric_is_explained():
    with pytest.raises(ConfigError, match="Unknown metric 'auroc'"):
        get_metric("auroc", "binary")
    with pytest.raises(ConfigError, match="does not apply to a regression task"):
        get_metric("roc_auc", "regression")
    assert len(METRICS) == 13
