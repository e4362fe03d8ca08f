"""The promotion gate: does a challenger beat (or match) the champion on the same labelled rows?

Both models predict the same recent rows; a paired bootstrap over those rows
(:func:`labcoat.evaluate.paired.paired_bootstrap`) gives the difference of their metric,
challenger − champion oriented so that positive means the challenger is better, with a 95%
percentile interval. Its lower bound is a one-sided 97.5% lower bound, so each policy is a
one-sided test at 2.5%:

- ``non-inferiority``: promote when the lower bound is above ``-margin`` (the challenger is not
  worse by more than the margin). Default margin: 1% of the champion's score on those rows
  (0.0085 ROC AUC at 0.85; 0.03 RMSE at 3.0), the tolerance the performance monitor uses for a
  drop; a fresher model that is as good is worth having, a clearly worse one is not.
- ``superiority``: promote when the lower bound is above ``margin`` (default 0): the challenger
  is better, by more than the margin if one is given.

The p-value reported is the bootstrap p-value of the policy's null hypothesis
(``difference <= -margin`` or ``difference <= margin``).

Examples
--------
>>> from labcoat.evaluate.metrics import get_metric
>>> rng = np.random.default_rng(0)
>>> y = rng.normal(size=500)
>>> old, new = y + rng.normal(0, 1.0, 500), y + rng.normal(0, 0.5, 500)
>>> result = gate(y, old, new, get_metric("rmse", "regression"), policy="superiority")
>>> result.promote, result.margin
(True, 0.0)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labcoat.errors import ConfigError, did_you_mean
from labcoat.evaluate.metrics import Metric
from labcoat.evaluate.paired import ROUNDS, PairedBootstrap, paired_bootstrap

POLICIES = ("non-inferiority", "superiority")
#: Default non-inferiority margin, as a share of the champion's score.
MARGIN_SHARE = 0.01


@dataclass(frozen=True)
class GateResult:
    """The policy, its margin and boundary (the difference must be above ``boundary``), the
    paired evidence (``evidence.difference``, ``low``, ``high``: challenger − champion, positive
    = challenger better), the p-value of the policy's null hypothesis, and the decision."""

    policy: str
    margin: float
    boundary: float
    evidence: PairedBootstrap
    p_value: float
    promote: bool

    def reason(self, metric: str) -> str:
        """The decision in words."""
        low, bound = self.evidence.low, self.boundary
        if self.policy == "non-inferiority":
            claim = f"at most {self.margin:.4g} {metric} worse than the champion"
        else:
            claim = "better than the champion" + (f" by more than {self.margin:.4g} {metric}" if self.margin else "")
        evidence = f"the lower bound of the difference, {low:+.4g}, is {'' if self.promote else 'not '}above {bound:+.4g}"
        if self.promote:
            return f"the challenger is {claim}: {evidence}"
        why = f"the challenger is not shown to be {claim}: {evidence}"
        if self.evidence.difference > bound:  # no sign of a loss, only too little evidence
            need = ("more recent labelled rows or a wider margin would be needed to show it"
                    if self.policy == "non-inferiority" else "a gain this small, if real, needs more rows to show")
            why += f" (the interval is {self.evidence.high - low:.4g} wide: {need})"
        return why


def check_policy(policy: str) -> str:
    """``policy`` if known, else a :class:`ConfigError` naming the choices."""
    if policy not in POLICIES:
        raise ConfigError(f"Unknown policy {policy!r}; use {' or '.join(POLICIES)}."
                          + did_you_mean(str(policy), POLICIES))
    return policy


def resolve_margin(margin: float | str | None, policy: str, champion_score: float) -> float:
    """The margin in the metric's units: given as a number, or as a share of the champion's
    score (``"2%"``); by default 1% of the champion's score (non-inferiority) or 0 (superiority).

    Examples
    --------
    >>> resolve_margin(None, "non-inferiority", 0.85), resolve_margin("2%", "superiority", -3.0)
    (0.0085, 0.06)
    """
    if margin is None:
        return round(MARGIN_SHARE * abs(champion_score), 12) if policy == "non-inferiority" else 0.0
    text = str(margin).strip()
    try:
        value = float(text[:-1]) / 100 * abs(champion_score) if text.endswith("%") else float(text)
    except ValueError:
        raise ConfigError(f"margin must be a number in the metric's units (0.01) or a share of the "
                          f"champion's score (1%); got {margin!r}.") from None
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"margin must be zero or positive; got {margin!r}.")
    return round(value, 12)


def gate(y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, metric: Metric, *,
         policy: str = "non-inferiority", margin: float | str | None = None, stratify: bool = False,
         rounds: int = ROUNDS, seed: int = 0) -> GateResult:
    """Decide whether ``challenger``'s predictions of the rows ``y`` justify replacing
    ``champion``'s under ``policy`` (see the module docstring)."""
    check_policy(policy)
    evidence = paired_bootstrap(y, challenger, champion, metric, stratify=stratify, rounds=rounds, seed=seed)
    chosen = resolve_margin(margin, policy, evidence.score_b)
    boundary = -chosen if policy == "non-inferiority" else chosen
    return GateResult(policy=policy, margin=chosen, boundary=boundary, evidence=evidence,
                      p_value=evidence.p_value(boundary), promote=bool(evidence.low > boundary))


def mean_interval(values: np.ndarray) -> tuple[float, float]:
    """A 95% bootstrap interval of the mean of the finite ``values`` (series, users)."""
    finite = values[np.isfinite(values)]
    if len(finite) < 2:
        return float(finite.mean()), float(finite.mean())
    rng = np.random.default_rng(0)
    means = finite[rng.integers(0, len(finite), (2000, len(finite)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)
