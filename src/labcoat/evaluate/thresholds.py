"""Where a binary classifier cuts: the decision threshold that maximises a metric or minimises
the mean cost of a cost matrix (``--costs fp=1,fn=5``, read by :func:`parse_costs`), with its
effect against the default cut at 0.5 measured on held-out folds (the calibration's
cross-fitting folds). The binary task (``labcoat.tasks.binary``) runs it after calibration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from labcoat.errors import ConfigError, did_you_mean
from labcoat.evaluate.calibration import CROSS_FOLDS, _folds
from labcoat.evaluate.reliability import _as_matrix


THRESHOLD_METRICS = ("f1", "balanced_accuracy", "accuracy", "mcc")
COST_NAMES = ("tp", "fp", "tn", "fn")


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
