"""Post-hoc calibration of a classifier's out-of-fold probabilities: no calibration, Platt
scaling (``"sigmoid"``) or isotonic regression, one-vs-rest for several classes then
renormalised, and, for three or more classes, temperature scaling (one divisor of the log
probabilities) and vector scaling (a scale and a shift per class), which treat the classes
jointly (Guo et al., 2017, "On calibration of modern neural networks"); chosen by
cross-fitting on the out-of-fold rows (each calibrator fitted on 4/5 of
the rows and scored on the other 1/5, so the evidence is not optimistic). The classification
tasks (``labcoat.tasks.classification``) run it after ``fit``'s search. A fitted
:class:`Calibrator` is plain numbers applied with numpy (a few microseconds on one row).

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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit, logit

from labcoat.errors import ConfigError
from labcoat.evaluate.reliability import _as_matrix, brier_score, reliability_curve


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
#: Methods for any number of classes, and those for three or more (with two classes temperature
#: and vector scaling are Platt scaling without and with its shift).
METHODS = ("none", "sigmoid", "isotonic")
MULTICLASS_METHODS = ("temperature", "vector")
CALIBRATE_OPTIONS = ("auto", *METHODS, *MULTICLASS_METHODS)
_CLIP = 1e-12  # probabilities are kept in [_CLIP, 1 - _CLIP] before taking logits


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-likelihood, probabilities clipped as ``metrics.log_loss`` does."""
    picked = proba[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.clip(picked, 1e-15, 1.0))))


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
    #: Temperature scaling: ``softmax(log(p) / temperature)``.
    temperature: float = 1.0

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for ``(n, n_classes)`` probabilities."""
        if self.method in MULTICLASS_METHODS:
            logp = np.log(np.clip(proba, _CLIP, 1.0))
            return _softmax(logp / self.temperature if self.method == "temperature" else self.a * logp + self.b)
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
    isotonic block is evidence of a small rate, not of zero); the sigmoid, temperature and
    vector scaling fit the targets of :func:`laplace_targets` for the same reason. A class that
    is always or never the label here is left as it is.

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
    if method in MULTICLASS_METHODS:
        if k < 3:
            raise ConfigError(f"Calibration {method!r} is for three or more classes; with two use 'sigmoid'.")
        logp = np.log(np.clip(proba, _CLIP, 1.0))
        if method == "temperature":
            return Calibrator("temperature", k, temperature=_fit_temperature(logp, y))
        a, b = _fit_vector(logp, y)
        return Calibrator("vector", k, a=a, b=b)
    columns = [1] if k == 2 else list(range(k))
    if method == "sigmoid":
        ab = [_fit_sigmoid(proba[:, j], y == j) for j in columns]
        return Calibrator("sigmoid", k, a=np.array([v[0] for v in ab]), b=np.array([v[1] for v in ab]))
    if method == "isotonic":
        return Calibrator("isotonic", k, knots=[_fit_isotonic(proba[:, j], y == j) for j in columns])
    raise ConfigError(f"Unknown calibration method {method!r}; use 'sigmoid' or 'isotonic'.")


def laplace_targets(y: np.ndarray, k: int) -> np.ndarray:
    """Soft targets for fitting a calibrator: a row of class ``c`` gets ``(n_c + 1) / (n_c + k)``
    for ``c`` and ``1 / (n_c + k)`` for each other class, ``n_c`` the rows of class ``c``
    (Laplace's rule of succession; with two classes, Platt's targets, as scikit-learn's sigmoid
    calibration uses). On out-of-fold rows with no error, hard targets drive a temperature, a
    vector scaling or a sigmoid to ever sharper probabilities (measured: penguins, 258 rows
    without an error, temperature 1/20: one mistake on the test rows got 4e-35 and alone made
    the log loss 0.42); these targets say that no error among ``n_c`` rows means a rate of about
    ``1 / n_c``, not zero.

    >>> laplace_targets(np.array([0, 0, 0, 1]), 2).round(3).tolist()
    [[0.8, 0.2], [0.8, 0.2], [0.8, 0.2], [0.333, 0.667]]
    """
    n = np.bincount(y, minlength=k).astype(np.float64)[y]  # the rows of each row's class
    targets = np.repeat((1.0 / (n + k))[:, None], k, axis=1)
    targets[np.arange(len(y)), y] = (n + 1) / (n + k)
    return targets


def _fit_sigmoid(p: np.ndarray, hit: np.ndarray) -> tuple[float, float]:
    """Platt scaling: a logistic regression of the Laplace targets on ``logit(p)`` (each row
    twice, as a hit and a miss weighted by its target: the same log loss as soft targets)."""
    from sklearn.linear_model import LogisticRegression

    if hit.all() or not hit.any():
        return 1.0, 0.0
    x = logit(np.clip(p, _CLIP, 1 - _CLIP)).reshape(-1, 1)
    target = laplace_targets(hit.astype(np.int64), 2)[:, 1]
    labels = np.concatenate([np.ones(len(x), dtype=np.int64), np.zeros(len(x), dtype=np.int64)])
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(np.vstack([x, x]), labels,
                                                      sample_weight=np.concatenate([target, 1 - target]))
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll(z: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of logits ``z`` against soft ``targets`` (rows summing to 1) and its
    gradient with respect to ``z``."""
    z = z - z.max(axis=1, keepdims=True)
    log_q = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -np.mean((targets * log_q).sum(axis=1))
    return float(loss), (np.exp(log_q) - targets) / len(z)


def _fit_temperature(logp: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the cross-entropy against :func:`laplace_targets`, searched on
    its logarithm within [1/20, 20]."""
    from scipy.optimize import minimize_scalar

    targets = laplace_targets(y, logp.shape[1])
    found = minimize_scalar(lambda t: _nll(logp / np.exp(t), targets)[0], bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(found.x))


#: Vector scaling's scales and shifts are pulled towards no change (1 and 0) by this ridge
#: penalty (per row); with few rows per class the unpenalised fit chases single rows.
_VECTOR_RIDGE = 1e-3


def _fit_vector(logp: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class scale and shift of the log probabilities minimising the penalised
    cross-entropy against :func:`laplace_targets`."""
    from scipy.optimize import minimize

    k = logp.shape[1]
    targets = laplace_targets(y, k)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = theta[:k], theta[k:]
        loss, grad_z = _nll(a * logp + b, targets)
        penalty = _VECTOR_RIDGE * (np.sum((a - 1.0) ** 2) + np.sum(b ** 2))
        grad = np.concatenate([(grad_z * logp).sum(axis=0) + 2 * _VECTOR_RIDGE * (a - 1.0),
                               grad_z.sum(axis=0) + 2 * _VECTOR_RIDGE * b])
        return loss + penalty, grad

    found = minimize(objective, np.concatenate([np.ones(k), np.zeros(k)]), jac=True, method="L-BFGS-B")
    return found.x[:k].copy(), found.x[k:].copy()


def auto_methods(n_classes: int) -> tuple[str, ...]:
    """The methods ``calibrate="auto"`` chooses among for ``n_classes`` classes."""
    return METHODS + (MULTICLASS_METHODS if n_classes > 2 else ())


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
                       methods: Sequence[str] | None = None) -> CalibrationChoice:
    """Choose a calibration of out-of-fold probabilities by cross-fitting on them.

    The rows are split into 5 folds (stratified, seeded; repeated 4 times below 2,000 rows and
    twice below 20,000); each method's calibrator is fitted on 4 folds and predicts the fifth,
    so every row gets an honest calibrated prediction. ``methods`` default to
    :func:`auto_methods` for the number of classes.

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
        proba = _as_matrix(oof_proba)
        return _choose(np.asarray(y, dtype=np.int64), proba, seed,
                       auto_methods(proba.shape[1]) if methods is None else methods)


def _choose(y: np.ndarray, proba: np.ndarray, seed: int, methods: Sequence[str]) -> CalibrationChoice:
    from labcoat.evaluate.stats import holm, paired_test

    methods = list(dict.fromkeys(methods))
    known = auto_methods(proba.shape[1])
    unknown = [m for m in methods if m not in known]
    if unknown or not methods:
        raise ConfigError(f"Unknown calibration method(s) {unknown or methods} for {proba.shape[1]} classes; "
                          f"use some of {', '.join(known)}.")
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
