"""The model's score on labelled current rows, next to the training estimate, and a one-sided
test of degradation.

The current score gets a 95% percentile bootstrap interval over the labelled rows
(:func:`labcoat.evaluate.intervals.bootstrap_interval`, stratified by class). The training
estimate is the model's own (``Model.reference.performance``, else ``Model.info``: the score
on kept-apart rows, the selection-corrected estimate, or the out-of-fold score with its
corrected t interval), with its 95% interval.

**The test.** The two estimates come from different rows, so they are independent and their
variances add. With ``drop`` the loss of score (positive when worse), ``tolerance`` 1% of the
training estimate, and each standard error read off its 95% interval (half-width / 1.96),
``z = (drop - tolerance) / sqrt(se_training² + se_current²)`` and the one-sided
``p = 1 - Φ(z)`` tests "the score dropped by more than the tolerance"; the model is called
degraded when ``p < 0.05``. Leaving the training side's uncertainty out would call a
degradation whenever the training estimate happened to be lucky; testing against the
tolerance rather than zero keeps a tiny drop on a huge window from being an alarm, and
absorbs the slight excess of alarms that standard errors read off bootstrap percentiles give.
In simulation (3,000 checks of 300 rows against an estimate from 300 others, MAE; see
``tests/test_monitor.py``) this test flags 3.9% of unchanged models, a test against zero
6.1%, one that takes the training estimate as exact 13.1%; errors 20% larger are found 88% of
the time, 30% larger 99.6%. With ROC AUC (500 checks, stratified bootstrap) it flags 2.6% of
unchanged models, and finds a drop of 0.034 (5% of labels flipped) 21% of the time, of 0.071
58%, of 0.144 99%.

Examples
--------
>>> import numpy as np
>>> from labcoat.evaluate.metrics import get_metric
>>> rng = np.random.default_rng(0)
>>> y = rng.normal(size=300)
>>> result = assess(y, y + rng.normal(size=300), get_metric("rmse", "regression"),
...                 Estimate(1.0, 0.92, 1.08, 400, "out-of-fold"), stratify=False)
>>> result.degraded, result.current.low < 1.0 < result.current.high
(False, True)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from labcoat.evaluate.intervals import bootstrap_interval
from labcoat.evaluate.metrics import Metric
from labcoat.evaluate.stats import corrected_t_interval

if TYPE_CHECKING:
    from labcoat.model import Model

#: Fewer labelled rows than this: the score is not estimated.
MIN_LABELLED = 30
#: One-sided significance level of the degradation test.
ALPHA = 0.05
#: A drop smaller than this share of the training estimate is never called a degradation.
TOLERANCE = 0.01
_Z95 = float(stats.norm.ppf(0.975))


@dataclass
class Estimate:
    """A score with its 95% interval, how many rows it rests on and where it comes from."""

    score: float
    low: float
    high: float
    rows: int | None
    source: str

    @property
    def se(self) -> float:
        """The standard error implied by the 95% interval (half-width / 1.96)."""
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return float("nan")
        return (self.high - self.low) / (2 * _Z95)


@dataclass
class Performance:
    """The current score against the training estimate (see the module docstring)."""

    metric: str
    label: str
    greater_is_better: bool
    rows: int
    current: Estimate | None = None
    training: Estimate | None = None
    drop: float = float("nan")
    z: float = float("nan")
    p_value: float = float("nan")
    tolerance: float = float("nan")
    degraded: bool = False
    note: str = ""

    @property
    def tested(self) -> bool:
        return self.p_value == self.p_value

    def words(self) -> str:
        """The result in one sentence for someone who does not know the test."""
        if self.current is None:
            return f"Performance not measured: {self.note}"
        now = f"{self.label} on {self.rows:,} labelled rows is {self.current.score:.4f} " \
              f"[{self.current.low:.4f}, {self.current.high:.4f}]"
        if self.training is None or not self.tested:
            return f"{now}; {self.note or 'no training estimate to compare with'}."
        then = f"against {self.training.score:.4f} [{self.training.low:.4f}, {self.training.high:.4f}] " \
               f"estimated at training"
        if self.degraded:
            return f"Performance has degraded: {now} {then} (worse by {self.drop:.4f}, p = {self.p_value:.3g})."
        if self.drop > 0:
            return (f"No clear degradation: {now} {then}; worse by {self.drop:.4f}, within what chance "
                    f"explains (p = {self.p_value:.2g}).")
        return f"No degradation: {now} {then}."

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.words()
        return _finite(out)


def assess(y: np.ndarray, predictions: np.ndarray, metric: Metric, training: Estimate | None, *,
           stratify: bool, tolerance: float = TOLERANCE, seed: int = 0) -> Performance:
    """Score ``predictions`` against ``y`` (encoded as the metrics expect) with a bootstrap
    interval, and test for a degradation against ``training`` (see the module docstring)."""
    out = Performance(metric.name, metric.label, metric.greater_is_better, len(y), training=training)
    if len(y) < MIN_LABELLED:
        out.note = f"{len(y)} labelled row(s) in the window; at least {MIN_LABELLED} are needed"
        return out
    try:
        score = metric.score(y, predictions)
    except ValueError as error:  # e.g. ROC AUC on rows of one class
        out.note = f"{metric.label} cannot be computed on these rows ({error})"
        return out
    low, high = bootstrap_interval(y, predictions, metric, stratify=stratify, seed=seed)
    out.current = Estimate(score, low, high, len(y), "labelled current rows")
    if training is None:
        out.note = "the model carries no training estimate"
        return out
    return degradation(out, tolerance)


def degradation(result: Performance, tolerance: float = TOLERANCE) -> Performance:
    """Fill ``result``'s one-sided test of ``current`` being worse than ``training``."""
    current, training = result.current, result.training
    assert current is not None and training is not None
    result.drop = (training.score - current.score) * (1 if result.greater_is_better else -1)
    result.tolerance = tolerance * abs(training.score)
    spread = math.hypot(training.se, current.se)
    if not spread > 0:  # an interval is missing or has no width: nothing to test against
        result.note = "an interval is missing, so no test"
        return result
    result.z = (result.drop - result.tolerance) / spread
    result.p_value = float(stats.norm.sf(result.z))
    result.degraded = result.p_value < ALPHA
    return result


def training_estimate(model: Model) -> Estimate | None:
    """The model's estimate of its own score on new rows, with its 95% interval.

    From ``Model.reference.performance`` when the model has one, else from ``Model.info``, in
    this order: the score on rows kept apart from the search, the selection-corrected estimate,
    the out-of-fold ensemble score with its corrected resampled t interval.
    """
    reference = getattr(model, "reference", None)
    found = _from_reference(getattr(reference, "performance", None))
    if found is not None:
        return found
    info = model.info
    test = info.test or {}
    if _finite_all(test.get("score"), test.get("low"), test.get("high")):
        return Estimate(test["score"], test["low"], test["high"], test.get("rows"), test.get("source", "test rows"))
    sel = info.selection or {}
    if _finite_all(sel.get("corrected_score"), sel.get("low"), sel.get("high")):
        return Estimate(sel["corrected_score"], sel["low"], sel["high"], info.n_rows,
                        "selection-corrected estimate")
    folds, sizes = info.ensemble_fold_scores, info.fold_rows
    if folds and sizes and _finite_all(info.ensemble_score):
        low, high = corrected_t_interval(folds, n_train=sizes[0], n_test=sizes[1])
        return Estimate(float(info.ensemble_score), low, high, info.n_rows, "out-of-fold")
    return None


def _from_reference(perf: Any) -> Estimate | None:
    """Read ``Reference.performance`` (:func:`labcoat.monitoring.reference.model_performance`):
    the score on kept-apart rows, else the selection-corrected estimate, else the out-of-fold
    score. The out-of-fold score of the chosen ensemble is the last resort because it won among
    the search's candidates on those same folds, so it is biased upward: a check against it
    would report a drop on data that has not changed."""
    if not isinstance(perf, dict):
        return None
    for key, source in (("test", "score on rows kept apart at training"),
                        ("corrected", "selection-corrected estimate"), (None, "out-of-fold estimate")):
        found = perf.get(key) if key else perf
        if isinstance(found, dict) and _finite_all(found.get("estimate"), found.get("low"), found.get("high")):
            return Estimate(float(found["estimate"]), float(found["low"]), float(found["high"]),
                            found.get("rows") if key != "corrected" else perf.get("rows"),
                            str(found.get("source") or source) if key == "test" else source)
    return None


def _finite_all(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def _finite(value: Any) -> Any:
    """NaN as None, recursively: JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
