"""Calibration and decisions for classifiers, from the ensemble's out-of-fold predictions.

- **How good are the probabilities?** :func:`brier_score` and :func:`reliability_curve` (with
  the expected calibration error).
- **Should they be recalibrated?** :func:`choose_calibration` compares no calibration, Platt
  scaling (``"sigmoid"``) and isotonic regression by cross-fitting on the out-of-fold rows: each
  calibrator is fitted on 4/5 of the rows and scored on the other 1/5, so the evidence is not
  optimistic. One-vs-rest for several classes, then renormalised.
- **Where to cut?** :func:`tune_threshold` picks a binary decision threshold that maximises a
  metric or minimises the mean cost of a cost matrix (:func:`parse_costs`), and reports its
  effect against the default cut at 0.5, also cross-fitted.

The classification tasks (``labcoat.tasks.classification``, ``binary``) run these on the
ensemble's out-of-fold predictions after ``fit``'s search. A fitted :class:`Calibrator` is
plain numbers applied with numpy (a few microseconds on one row).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> p = rng.uniform(0.02, 0.98, 4000)
>>> y = (rng.random(4000) < p).astype(np.int64)
>>> overconfident = np.where(p > 0.5, 1 - (1 - p) ** 3, p ** 3)
>>> choice = choose_calibration(y, overconfident, seed=0)
>>> choice.method != "none", choice.evidence["log_loss_after"] < choice.evidence["log_loss_before"]
(True, True)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit, logit

from labcoat.errors import ConfigError, did_you_mean
from labcoat.evaluate.metrics import METRICS

#: Folds of the cross-fitting over the out-of-fold rows.
CROSS_FOLDS = 5
#: Fewer out-of-fold rows than this (or fewer than CROSS_FOLDS rows of a class): no choice by resampling.
MIN_ROWS = 100
#: At most this many rows (drawn at random) are used to choose; the calibrator is fitted on all.
MAX_ROWS = 20_000
#: A calibrator must lower log loss by at least this fraction of the uncalibrated log loss.
MIN_RELATIVE_GAIN = 0.001
#: Holm-adjusted one-sided level of the paired test a calibrator must pass.
ALPHA = 0.05
METHODS = ("none", "sigmoid", "isotonic")
CALIBRATE_OPTIONS = ("auto", *METHODS)
THRESHOLD_METRICS = ("f1", "balanced_accuracy", "accuracy", "mcc")
COST_NAMES = ("tp", "fp", "tn", "fn")
_CLIP = 1e-12  # probabilities are kept in [_CLIP, 1 - _CLIP] before taking logits


# ---------------------------------------------------------------------- scores
def brier_score(y: np.ndarray, proba: np.ndarray) -> float:
    """Brier score (lower is better): scikit-learn's ``brier_score_loss``, i.e. the mean squared
    error of the positive-class probability for two classes and the mean over rows of the
    squared distance to the one-hot target for more.

    ``proba`` is ``(n, n_classes)``, or ``(n,)`` positive-class probabilities.

    Examples
    --------
    >>> brier_score(np.array([0, 1]), np.array([[0.8, 0.2], [0.4, 0.6]]))
    0.1
    >>> brier_score(np.array([0, 2]), np.array([[1.0, 0, 0], [0.5, 0, 0.5]]))
    0.25
    """
    proba = _as_matrix(proba)
    return METRICS["brier"].score(np.asarray(y), proba)


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-likelihood, probabilities clipped as ``metrics.log_loss`` does."""
    picked = proba[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.clip(picked, 1e-15, 1.0))))


@dataclass(frozen=True)
class ReliabilityCurve:
    """Per bin: mean predicted probability, observed frequency and row count; and the expected
    calibration error (count-weighted mean of ``|observed - mean_predicted|``).

    ``kind`` says what is binned: the positive class's probability (two classes) or the top
    class's confidence against accuracy (more classes).
    """

    mean_predicted: np.ndarray
    observed: np.ndarray
    count: np.ndarray
    ece: float
    kind: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready lists, rounded to 6 decimals."""
        return {"kind": self.kind, "ece": round(self.ece, 6),
                "mean_predicted": [round(float(v), 6) for v in self.mean_predicted],
                "observed": [round(float(v), 6) for v in self.observed],
                "count": [int(c) for c in self.count]}


def reliability_curve(y: np.ndarray, proba: np.ndarray, bins: int = 10,
                      strategy: str = "quantile") -> ReliabilityCurve:
    """Reliability diagram data, binned as ``sklearn.calibration.calibration_curve`` bins
    (``strategy`` ``"quantile"`` or ``"uniform"``; empty bins are left out), plus row counts.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1])
    >>> curve = reliability_curve(y, np.array([0.1, 0.3, 0.6, 0.9]), bins=2)
    >>> curve.mean_predicted.tolist(), curve.observed.tolist(), curve.count.tolist()
    ([0.2, 0.75], [0.0, 1.0], [2, 2])
    >>> round(curve.ece, 3)
    0.225
    """
    y = np.asarray(y)
    proba = _as_matrix(proba)
    if proba.shape[1] == 2:
        target, score, kind = (y == 1).astype(np.float64), proba[:, 1], "positive class"
    else:
        target = (proba.argmax(axis=1) == y).astype(np.float64)
        score, kind = proba.max(axis=1), "top-class confidence"
    if strategy == "quantile":
        edges = np.percentile(score, np.linspace(0, 100, bins + 1))
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    else:
        raise ConfigError(f"reliability_curve strategy must be 'quantile' or 'uniform'; got {strategy!r}.")
    ids = np.searchsorted(edges[1:-1], score)  # as calibration_curve does
    count = np.bincount(ids, minlength=bins)
    sums = np.bincount(ids, weights=score, minlength=bins)
    hits = np.bincount(ids, weights=target, minlength=bins)
    kept = count > 0
    mean_predicted, observed = sums[kept] / count[kept], hits[kept] / count[kept]
    ece = float(np.sum(count[kept] * np.abs(observed - mean_predicted)) / max(len(score), 1))
    return ReliabilityCurve(mean_predicted, observed, count[kept], ece, kind)


# ---------------------------------------------------------------------- calibrators
@dataclass
class Calibrator:
    """A fitted probability map, one-vs-rest: per calibrated column either a sigmoid of the
    logit (``a * logit(p) + b``, Platt scaling) or a piecewise-linear isotonic map (``x``, ``y``
    knots, applied with ``np.interp``). Two classes calibrate the positive column only; more are
    renormalised to sum to 1. Plain arrays, so it pickles small and applies in microseconds.
    """

    method: str
    n_classes: int
    a: np.ndarray | None = None
    b: np.ndarray | None = None
    knots: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for ``(n, n_classes)`` probabilities."""
        columns = proba[:, 1:] if self.n_classes == 2 else proba
        if self.method == "sigmoid":
            q = expit(self.a * logit(np.clip(columns, _CLIP, 1 - _CLIP)) + self.b)
        else:
            q = np.empty_like(columns, dtype=np.float64)
            for j, (x, y) in enumerate(self.knots):
                q[:, j] = np.interp(columns[:, j], x, y)
        if self.n_classes == 2:
            out = np.empty((len(proba), 2))
            out[:, 1] = q[:, 0]
            out[:, 0] = 1.0 - q[:, 0]
            return out
        return q / q.sum(axis=1, keepdims=True)


def fit_calibrator(y: np.ndarray, proba: np.ndarray, method: str) -> Calibrator:
    """Fit a ``"sigmoid"`` (Platt: scikit-learn's ``LogisticRegression`` on the logit) or
    ``"isotonic"`` (``IsotonicRegression``) calibrator on encoded labels ``y`` and ``proba``.

    Isotonic outputs are kept within ``[1/(n+2), 1 - 1/(n+2)]`` for ``n`` rows (an empty
    isotonic block is evidence of a small rate, not of zero). A class that is always or never
    the label here is left as it is.

    Examples
    --------
    >>> p = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    >>> cal = fit_calibrator(np.array([0, 0, 1, 0, 1, 1]), p, "isotonic")
    >>> cal.apply(np.column_stack([1 - p, p]))[:, 1].round(3).tolist()
    [0.125, 0.125, 0.5, 0.5, 0.875, 0.875]
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # BLAS/OpenMP pools only slow one-feature fits down
        return _fit_calibrator(np.asarray(y, dtype=np.int64), _as_matrix(proba), method)


def _fit_calibrator(y: np.ndarray, proba: np.ndarray, method: str) -> Calibrator:
    k = proba.shape[1]
    columns = [1] if k == 2 else list(range(k))
    if method == "sigmoid":
        ab = [_fit_sigmoid(proba[:, j], y == j) for j in columns]
        return Calibrator("sigmoid", k, a=np.array([v[0] for v in ab]), b=np.array([v[1] for v in ab]))
    if method == "isotonic":
        return Calibrator("isotonic", k, knots=[_fit_isotonic(proba[:, j], y == j) for j in columns])
    raise ConfigError(f"Unknown calibration method {method!r}; use 'sigmoid' or 'isotonic'.")


def _fit_sigmoid(p: np.ndarray, hit: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    if hit.all() or not hit.any():
        return 1.0, 0.0
    x = logit(np.clip(p, _CLIP, 1 - _CLIP)).reshape(-1, 1)
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(x, hit.astype(np.int64))
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _fit_isotonic(p: np.ndarray, hit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.isotonic import IsotonicRegression

    if hit.all() or not hit.any():
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    floor = 1.0 / (len(p) + 2)
    iso = IsotonicRegression(y_min=floor, y_max=1 - floor, out_of_bounds="clip").fit(p, hit.astype(np.float64))
    return np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, dtype=np.float64)


@dataclass(frozen=True)
class CalibrationChoice:
    """The chosen ``method``, its ``calibrator`` fitted on all rows (None for ``"none"``), and
    the ``evidence`` (JSON-ready; see :func:`choose_calibration`)."""

    method: str
    calibrator: Calibrator | None
    evidence: dict[str, Any]


def choose_calibration(y: np.ndarray, oof_proba: np.ndarray, *, seed: int = 0,
                       methods: Sequence[str] = METHODS) -> CalibrationChoice:
    """Choose a calibration of out-of-fold probabilities by cross-fitting on them.

    The rows are split into 5 folds (stratified, seeded; repeated 4 times below 2,000 rows and
    twice below 20,000); each method's calibrator is fitted on 4 folds and predicts the fifth,
    so every row gets an honest calibrated prediction.

    The rule: a method is eligible when its mean per-fold improvement in log loss over no
    calibration is positive, at least 0.1% of the uncalibrated log loss, and significant at the
    5% level (one-sided) by the corrected resampled paired t-test over the folds
    (:func:`labcoat.evaluate.stats.paired_test`), Holm-adjusted over the methods tried. The
    eligible method with the largest improvement wins; otherwise ``"none"``. With a single
    method other than ``"none"``, that method is fitted whatever the evidence says.

    ``evidence`` holds, from the cross-fitted predictions: log loss and Brier score before and
    after, each candidate's scores, mean improvement, its 95% interval and p-value, and the
    reliability curves before and after, over the rows used (a random 20,000 when there are
    more; ``rows`` says how many). The returned calibrator is fitted on all rows.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> p = rng.uniform(0.05, 0.95, 3000)
    >>> y = (rng.random(3000) < p).astype(np.int64)
    >>> choose_calibration(y, p, seed=1).method   # already calibrated
    'none'
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # BLAS/OpenMP pools only slow one-feature fits down
        return _choose(np.asarray(y, dtype=np.int64), _as_matrix(oof_proba), seed, methods)


def _choose(y: np.ndarray, proba: np.ndarray, seed: int, methods: Sequence[str]) -> CalibrationChoice:
    from labcoat.evaluate.stats import holm, paired_test

    methods = list(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ConfigError(f"Unknown calibration method(s) {unknown or methods}; use some of {', '.join(METHODS)}.")
    fitted = [m for m in methods if m != "none"]
    forced = fitted[0] if methods == fitted and len(fitted) == 1 else None
    final = (y, proba)  # the chosen calibrator is fitted on every row
    if len(y) > MAX_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(y), MAX_ROWS, replace=False))
        y, proba = y[rows], proba[rows]
    evidence: dict[str, Any] = {"rows": int(len(y)),
                                "log_loss_before": round(_log_loss(y, proba), 6),
                                "brier_before": round(brier_score(y, proba), 6),
                                "reliability_before": reliability_curve(y, proba).to_dict()}
    folds = _folds(y, seed, repeats=_repeats(len(y)))
    if folds is None:
        counts = np.bincount(y)
        evidence["reason"] = (f"too few rows to choose by resampling: {len(y)} rows, {counts[counts > 0].min()} "
                              f"in the rarest class; {MIN_ROWS} rows and {CROSS_FOLDS} per class are needed")
        return _final(forced, *final, evidence)
    n_test = len(y) / CROSS_FOLDS
    evidence.update(folds=len(folds), rule=_RULE)
    crossed, fold_scores = {"none": proba}, {"none": [_fold_scores(y[v], proba[v]) for _, v in folds]}
    for method in fitted:
        crossed[method], fold_scores[method] = _cross_fit(y, proba, method, folds)
    weights = np.array([len(v) for _, v in folds], dtype=np.float64)
    candidates: dict[str, dict[str, float | list[float]]]
    candidates = {m: {name: round(float(np.average([f[i] for f in scores], weights=weights)), 6)
                      for i, name in enumerate(("log_loss", "brier"))}
                  for m, scores in fold_scores.items()}
    tests = {m: paired_test([f[0] for f in fold_scores["none"]], [f[0] for f in fold_scores[m]],
                            len(y) - n_test, n_test) for m in fitted}
    adjusted = dict(zip(tests, holm([_one_sided(t) for t in tests.values()]))) if tests else {}
    base = evidence["log_loss_before"]
    eligible = []
    for method, test in tests.items():
        candidates[method].update(improvement=round(test.difference, 6),
                                  improvement_interval=[round(test.low, 6), round(test.high, 6)],
                                  p_value=round(adjusted[method], 6))
        if test.difference > MIN_RELATIVE_GAIN * base and adjusted[method] < ALPHA:
            eligible.append(method)
    chosen = forced or max(eligible, key=lambda m: tests[m].difference, default="none")
    evidence.update(candidates=candidates,
                    log_loss_after=candidates[chosen]["log_loss"], brier_after=candidates[chosen]["brier"],
                    reliability_after=reliability_curve(y, crossed[chosen]).to_dict())
    return _final(chosen, *final, evidence)


_RULE = ("cross-fitted on 5 folds (repeated below 20,000 rows) of the out-of-fold rows; a calibrator "
         "is used when it lowers log loss on held-out folds by at least 0.1%, significantly "
         "(corrected paired t-test, one-sided 5%, Holm-adjusted)")


def _final(method: str | None, y: np.ndarray, proba: np.ndarray, evidence: dict[str, Any]) -> CalibrationChoice:
    method = method or "none"
    evidence.setdefault("log_loss_after", evidence["log_loss_before"])
    evidence.setdefault("brier_after", evidence["brier_before"])
    calibrator = None if method == "none" else _fit_calibrator(y, proba, method)
    return CalibrationChoice(method, calibrator, {"method": method, **evidence})


def _one_sided(test: Any) -> float:
    """One-sided p-value (improvement > 0) from a two-sided paired test."""
    return test.p_value / 2 if test.difference > 0 else 1 - test.p_value / 2


def _cross_fit(y: np.ndarray, proba: np.ndarray, method: str,
               folds: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Held-out calibrated predictions of the first repeat of folds, and the held-out
    (log loss, Brier) of every fold."""
    out = np.empty_like(proba, dtype=np.float64)
    scores = []
    for index, (train, valid) in enumerate(folds):
        held = _fit_calibrator(y[train], proba[train], method).apply(proba[valid])
        scores.append(_fold_scores(y[valid], held))
        if index < CROSS_FOLDS:
            out[valid] = held
    return out, scores


def _fold_scores(y: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    return _log_loss(y, proba), brier_score(y, proba)


def _folds(y: np.ndarray, seed: int, min_rows: int = MIN_ROWS,
           repeats: int = 1) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Stratified folds over the rows (``repeats`` times), or None when there are too few rows."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    counts = np.bincount(y)
    if len(y) < min_rows or counts[counts > 0].min() < CROSS_FOLDS:
        return None
    splitter = RepeatedStratifiedKFold(n_splits=CROSS_FOLDS, n_repeats=repeats, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def _repeats(n_rows: int) -> int:
    """Repeats of the cross-fitting: more on few rows, where one split's fold scores are noisy."""
    return 4 if n_rows < 2_000 else 2 if n_rows < 20_000 else 1


def _as_matrix(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    return np.column_stack([1 - proba, proba]) if proba.ndim == 1 else proba


# ---------------------------------------------------------------------- thresholds
def parse_costs(text: str | Mapping[str, float]) -> dict[str, float]:
    """Costs of the four outcomes of a binary decision from ``"fp=1,fn=5"`` (or a mapping).

    Names are ``tp``, ``fp``, ``tn``, ``fn``; missing ones cost 0; a gain is a negative cost
    (``tp=-10``). Errors must cost more than the matching correct decision (``fp > tn`` and
    ``fn > tp``), otherwise one decision for every row is always best.

    Examples
    --------
    >>> parse_costs("fp=1, fn=5")
    {'tp': 0.0, 'fp': 1.0, 'tn': 0.0, 'fn': 5.0}
    >>> parse_costs("fp=1,fn")
    Traceback (most recent call last):
    ...
    labcoat.errors.ConfigError: 'fn' in --costs 'fp=1,fn' is not NAME=NUMBER; write e.g. --costs 'fp=1,fn=5'.
    """
    shown = text if isinstance(text, str) else ",".join(f"{k}={v}" for k, v in dict(text).items())
    pairs = _cost_pairs(text, shown)
    costs = dict.fromkeys(COST_NAMES, 0.0)
    seen: set[str] = set()
    for name, value in pairs:
        key = name.strip().lower()
        if key not in costs:
            raise ConfigError(f"Unknown cost {name.strip()!r} in --costs {shown!r}; use tp, fp, tn, fn "
                              "(true/false positives, true/false negatives).")
        if key in seen:
            raise ConfigError(f"Cost '{key}' is given twice in --costs {shown!r}.")
        seen.add(key)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"Cost '{key}' in --costs {shown!r} is {str(value).strip()!r}, not a number.") from None
        if not np.isfinite(number):
            raise ConfigError(f"Cost '{key}' in --costs {shown!r} must be a finite number; got {value!r}.")
        costs[key] = number
    for error, right, what in (("fp", "tn", "negative"), ("fn", "tp", "positive")):
        if costs[error] <= costs[right]:
            raise ConfigError(
                f"In --costs {shown!r} a {error} (a {what} row predicted wrongly) costs no more than a {right} "
                f"({error}={costs[error]:g} <= {right}={costs[right]:g}), so one decision for every row "
                "would always be best. Give errors a higher cost, e.g. --costs 'fp=1,fn=5'.")
    return costs


def _cost_pairs(text: str | Mapping[str, float], shown: str) -> list[tuple[str, Any]]:
    if not isinstance(text, str):
        return [(str(k), v) for k, v in dict(text).items()]
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise ConfigError("--costs is empty; give the cost of each kind of error, e.g. --costs 'fp=1,fn=5'.")
    pairs = []
    for part in parts:
        if part.count("=") != 1:
            raise ConfigError(f"{part.strip()!r} in --costs {shown!r} is not NAME=NUMBER; "
                              "write e.g. --costs 'fp=1,fn=5'.")
        name, value = part.split("=")
        pairs.append((name, value))
    return pairs


@dataclass(frozen=True)
class ThresholdChoice:
    """A binary decision threshold (predict the positive class when its probability is at
    least ``threshold``) and its cross-fitted ``effect`` (JSON-ready, see :func:`tune_threshold`)."""

    threshold: float
    objective: str
    costs: dict[str, float] | None
    effect: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.threshold, "objective": self.objective, "costs": self.costs,
                **self.effect}


def tune_threshold(y: np.ndarray, proba: np.ndarray, *, metric: str | None = None,
                   costs: str | Mapping[str, float] | None = None, seed: int = 0) -> ThresholdChoice:
    """Choose the probability threshold of a binary classifier that maximises ``metric``
    (``f1``, ``balanced_accuracy``, ``accuracy``, ``mcc``) or minimises the mean cost per row
    of ``costs`` (see :func:`parse_costs`); exactly one of the two is given.

    The effect is cross-fitted: on 5 stratified folds, a threshold is chosen on 4 and applied to
    the fifth; ``effect`` compares those held-out decisions with the default cut (positive when
    the probability is above 0.5): ``at_default``, ``at_threshold`` (pooled over the held-out
    rows), ``improvement`` (mean over folds, in the better direction) with a 95% interval
    (corrected resampled t) and the fold thresholds. The returned threshold is chosen on all rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0, 1, 4000)
    >>> y = (rng.random(4000) < p).astype(np.int64)
    >>> choice = tune_threshold(y, p, costs="fp=1,fn=5")
    >>> bool(0.1 < choice.threshold < 0.25), choice.effect["at_threshold"] < choice.effect["at_default"]
    (True, True)
    """
    from labcoat.evaluate.stats import corrected_t_interval

    if (metric is None) == (costs is None):
        raise ConfigError("Tune a threshold for a metric (threshold_metric=) or for costs (costs=), "
                          "not both and not neither.")
    parsed = parse_costs(costs) if costs is not None else None
    objective = "cost" if parsed is not None else threshold_metric_name(metric)
    y = np.asarray(y, dtype=np.int64)
    p = _as_matrix(proba)
    if p.shape[1] != 2:
        raise ConfigError("Threshold tuning (--costs, --threshold-metric) is for binary targets; "
                          f"this one has {p.shape[1]} classes.")
    p = p[:, 1]
    threshold = _best_threshold(y, p, objective, parsed)
    greater = objective != "cost"
    effect: dict[str, Any] = {"greater_is_better": greater, "rows": int(len(y))}
    folds = _folds(y, seed, min_rows=2 * CROSS_FOLDS)
    if folds is None:
        effect["reason"] = "too few rows of each class to estimate the effect on held-out rows"
        return ThresholdChoice(threshold, objective, parsed, effect)
    held = np.zeros(len(y), dtype=bool)
    default = p > 0.5
    diffs, chosen = [], []
    for train, valid in folds:
        t = _best_threshold(y[train], p[train], objective, parsed)
        chosen.append(round(t, 6))
        held[valid] = p[valid] >= t
        gain = (_score(y[valid], held[valid], objective, parsed)
                - _score(y[valid], default[valid], objective, parsed))
        diffs.append(gain if greater else -gain)
    n_test = len(y) / CROSS_FOLDS
    low, high = corrected_t_interval(diffs, len(y) - n_test, n_test)
    effect.update(at_default=round(_score(y, default, objective, parsed), 6),
                  at_threshold=round(_score(y, held, objective, parsed), 6),
                  improvement=round(float(np.mean(diffs)), 6),
                  improvement_interval=[round(low, 6), round(high, 6)],
                  fold_thresholds=chosen, folds=CROSS_FOLDS)
    return ThresholdChoice(threshold, objective, parsed, effect)


def threshold_metric_name(name: str | None) -> str:
    key = {"f1_binary": "f1", "acc": "accuracy", "matthews": "mcc"}.get(str(name).lower(), str(name).lower())
    if key not in THRESHOLD_METRICS:
        raise ConfigError(f"Cannot tune a threshold for {name!r}: use one of {', '.join(THRESHOLD_METRICS)}."
                          + did_you_mean(str(name), THRESHOLD_METRICS))
    return key


def _from_counts(tp: np.ndarray | int, fp: np.ndarray | int, tn: np.ndarray | int, fn: np.ndarray | int,
                 objective: str,
                 costs: dict[str, float] | None) -> np.ndarray:
    """The objective for arrays of confusion counts (mean cost per row for ``"cost"``)."""
    tp, fp, tn, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, tn, fn))
    n = tp + fp + tn + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        if objective == "cost":
            assert costs is not None
            value = (costs["tp"] * tp + costs["fp"] * fp + costs["tn"] * tn + costs["fn"] * fn) / n
        elif objective == "accuracy":
            value = (tp + tn) / n
        elif objective == "balanced_accuracy":
            value = (tp / (tp + fn) + tn / (tn + fp)) / 2
        elif objective == "f1":
            value = 2 * tp / (2 * tp + fp + fn)
        else:  # mcc
            value = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return np.nan_to_num(value, nan=0.0)


def _score(y: np.ndarray, positive: np.ndarray, objective: str, costs: dict[str, float] | None) -> float:
    tp = int(np.sum(positive & (y == 1)))
    fp = int(np.sum(positive & (y == 0)))
    tn = int(np.sum(~positive & (y == 0)))
    fn = int(np.sum(~positive & (y == 1)))
    return float(_from_counts(tp, fp, tn, fn, objective, costs))


def _best_threshold(y: np.ndarray, p: np.ndarray, objective: str, costs: dict[str, float] | None) -> float:
    """Sweep every distinct cut (all rows at once, from sorted scores) and return the best
    threshold, placed midway between neighbouring scores; ties go to the cut nearest 0.5."""
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ps) != 0), len(ps) - 1]  # last row of each run of ties
    cuts = ps[last]
    tp = np.r_[0, np.cumsum(ys == 1)[last]]
    fp = np.r_[0, np.cumsum(ys == 0)[last]]
    positives, negatives = int(np.sum(y == 1)), int(np.sum(y == 0))
    values = _from_counts(tp, fp, negatives - fp, positives - tp, objective, costs)
    top = cuts[0]
    thresholds = np.r_[(top + 1) / 2 if top < 1 else np.nextafter(1.0, 2.0),
                       (cuts + np.r_[cuts[1:], 0.0]) / 2]
    thresholds[-1] = min(thresholds[-1], cuts[-1])  # the all-positive cut takes every row
    values = values if objective != "cost" else -values
    best = np.flatnonzero(values >= values.max() - 1e-12)
    return float(thresholds[best[np.argmin(np.abs(thresholds[best] - 0.5))]])
