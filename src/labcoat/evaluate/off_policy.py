"""Off-policy evaluation of ranking policies from logged lists.

A log has one row per shown (request, position, item): the ``propensity`` with which the
logging policy showed that item at that position, the ``reward`` (a click 0/1, a purchase
value) and the ``target_propensity``, the probability that the policy under evaluation would
have shown the same item at the same position for that request. The value of a policy is the
expected reward per request, summed over positions.

All estimators here belong to the **independent item-position** family (IIPS, Li et al. 2018,
"Offline Evaluation of Ranking Policies with Click Models"; the position-based model of
clicks satisfies it). Assumption: the expected reward at a position depends on the request,
the item there and the position, not on the other items shown. Then
``V(π) = E_x Σ_j Σ_a π(a at j | x) r(x, a, j)`` and one weight per row,
``w = target_propensity / propensity``, makes each position's reward unbiased, provided the
logging policy gives positive probability to every (item, position) the target can show.
When users react to the whole list (a strong item above starves the ones below), the
estimates are biased; whole-list IPS would not be, at the cost of weights that are products
over positions.

- :func:`ips`: ``(1/N) Σ_i Σ_j w_ij r_ij``, unbiased.
- :func:`snips`: self-normalised per position, ``Σ_j (Σ_i w_ij r_ij) / (Σ_i w_ij)``: each
  position's weights have mean 1 under the assumption, so dividing by their sum trades a
  small O(1/N) bias for less variance.
- :func:`doubly_robust`: a reward model's value for the target plus the weighted correction
  ``w (r - r̂)``. The reward model is the mean reward per position, fitted on the other
  half of the requests (cross-fitting, so no row's correction uses its own reward). The log
  holds the target's probability only for the logged items, so the direct term can use no
  item-level model: per position, the target shows *some* item, whose modelled reward is
  ``r̂_j``. Unbiased like IPS whatever ``r̂``; ``r̂`` acts as a control variate.
- :func:`on_policy`: the logging policy's own value, the mean reward per request.

Intervals (95%): requests are independent, so each estimator is a mean (or, for SNIPS, a
ratio of means) of per-request contributions. IPS, DR and the on-policy value use the normal
interval of a mean over requests; SNIPS the delta method (its influence function per request is
``Σ_j (A_ij - V_j B_ij) / mean(B_j)`` with ``A = w r``, ``B = w``). Both are asymptotic: with
heavy-tailed weights (low effective sample size) they cover less than 95%.

Examples
--------
A logging policy that shows an item with probability 0.5, half the rows clicked, and a target
that would show the logged item in half the cases, independently of the clicks:

>>> i = np.arange(400)
>>> log = pd.DataFrame({"request": i, "position": 0, "reward": i % 2, "propensity": 0.5,
...                     "target_propensity": (i // 2) % 2})
>>> to_frame(estimate_all(log)).round(3)[["name", "value", "low", "high", "ess"]]
            name  value    low   high    ess
0            ips    0.5  0.415  0.585  200.0
1          snips    0.5  0.431  0.569  200.0
2  doubly_robust    0.5  0.431  0.570  200.0
3      on_policy    0.5  0.451  0.549  400.0
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from labcoat.errors import ConfigError, DataError, LabcoatNotice

CONFIDENCE = 0.95
COLUMNS = ("request", "position", "item", "reward", "propensity", "target_propensity")
# Warn below this effective sample size, as a share of the requests.
MIN_ESS_SHARE = 0.01
# Warn when one row carries more than this share of its position's total weight.
MAX_WEIGHT_SHARE = 0.1


@dataclass(frozen=True)
class PolicyEstimate:
    """One estimate of a policy's value (expected reward per request) and its 95% interval.

    ``ess`` is the effective sample size of the weights, ``(Σ w)² / Σ w²`` at the position where
    it is smallest (``n_requests`` on-policy); ``notes`` say what to keep in mind.
    """

    name: str
    value: float
    low: float
    high: float
    n_requests: int
    ess: float
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The fields as a dict, notes joined into one string."""
        row = asdict(self)
        row["notes"] = "; ".join(self.notes)
        return row


def to_frame(estimates: Sequence[PolicyEstimate]) -> pd.DataFrame:
    """One row per estimate.

    Examples
    --------
    >>> to_frame([PolicyEstimate("ips", 0.5, 0.4, 0.6, 100, 80.0)]).columns.tolist()
    ['name', 'value', 'low', 'high', 'n_requests', 'ess', 'notes']
    """
    return pd.DataFrame([e.to_dict() for e in estimates],
                        columns=["name", "value", "low", "high", "n_requests", "ess", "notes"])


@dataclass(frozen=True)
class _Matrices:
    """The log as (request × position) matrices; absent cells are 0 (no weight, no reward)."""

    reward: np.ndarray
    weight: np.ndarray
    shown: np.ndarray  # bool: a row exists for that cell
    notes: tuple[str, ...]


def _matrices(log: pd.DataFrame, clip: float | None) -> _Matrices:
    missing = [c for c in COLUMNS if c not in log.columns and c != "item"]
    if missing:
        raise DataError(f"The log has no column {missing[0]!r}. It needs {', '.join(COLUMNS)}.")
    if len(log) == 0:
        raise DataError("The log is empty: there is nothing to estimate from.")
    reward = log["reward"].to_numpy(dtype=np.float64)
    logging = log["propensity"].to_numpy(dtype=np.float64)
    target = log["target_propensity"].to_numpy(dtype=np.float64)
    if not np.isfinite(reward).all():
        raise DataError("The log's 'reward' column has missing or infinite values.")
    if not ((logging > 0) & (logging <= 1)).all():
        raise DataError("The log's 'propensity' must be in (0, 1]: a shown item had a chance "
                        "to be shown. Rows with 0 or missing propensities come from a policy "
                        "that did not log them; drop them before estimating.")
    if not ((target >= 0) & (target <= 1)).all():
        raise DataError("The log's 'target_propensity' must be in [0, 1].")
    if clip is not None and not clip > 0:
        raise ConfigError(f"The weight clip must be positive (or None for no clipping). "
                          f"Got {clip}.")
    requests, row = np.unique(log["request"].to_numpy(), return_inverse=True)
    positions, column = np.unique(log["position"].to_numpy(), return_inverse=True)
    if pd.DataFrame({"r": row, "c": column}).duplicated().any():
        raise DataError("The log has two rows for the same request and position.")
    weight = target / logging
    notes: tuple[str, ...] = ()
    if clip is not None:
        clipped = int((weight > clip).sum())
        weight = np.minimum(weight, clip)
        notes = (f"weights clipped at {clip:g} ({clipped} of {len(weight)} rows): biased "
                 "(towards the logging policy's value), less variable",)
    shape = (len(requests), len(positions))
    matrices = [np.zeros(shape) for _ in range(2)]
    matrices[0][row, column] = reward
    matrices[1][row, column] = weight
    shown = np.zeros(shape, dtype=bool)
    shown[row, column] = True
    return _Matrices(matrices[0], matrices[1], shown, notes)


def _ess(weight: np.ndarray) -> float:
    """``(Σ w)² / Σ w²`` per position; the smallest (the scarcest position)."""
    squares = (weight ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_position = np.where(squares > 0, weight.sum(axis=0) ** 2 / squares, 0.0)
    return float(per_position.min())


def _weight_notes(name: str, weight: np.ndarray) -> tuple[float, tuple[str, ...]]:
    """The ESS, with a notice (and a note) when the weights are extreme."""
    n = weight.shape[0]
    ess = _ess(weight)
    totals = weight.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = float(np.nanmax(np.where(totals > 0, weight.max(axis=0) / totals, 0.0)))
    notes = []
    if ess < MIN_ESS_SHARE * n:
        notes.append(f"effective sample size {ess:.1f} is under {MIN_ESS_SHARE:.0%} of the "
                     f"{n} requests: the target policy is far from the logging one")
    if share > MAX_WEIGHT_SHARE:
        notes.append(f"one row carries {share:.0%} of a position's total weight")
    if notes:
        warnings.warn(f"{name}: extreme importance weights, the interval is unreliable: "
                      + "; ".join(notes) + ". Log with more exploration, or evaluate a policy "
                      "closer to the logging one.", LabcoatNotice, stacklevel=3)
    return ess, tuple(notes)


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _mean_estimate(name: str, contributions: np.ndarray, ess: float, notes: tuple[str, ...],
                   confidence: float) -> PolicyEstimate:
    """A mean over requests with the normal interval of a mean."""
    n = len(contributions)
    value = float(contributions.mean())
    half = _z(confidence) * float(contributions.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    return PolicyEstimate(name, value, value - half, value + half, n, ess, notes)


def on_policy(log: pd.DataFrame, *, confidence: float = CONFIDENCE) -> PolicyEstimate:
    """The logging policy's value: mean reward per request (summed over its positions).

    Examples
    --------
    >>> log = pd.DataFrame({"request": [0, 0, 1], "position": [0, 1, 0], "reward": [1.0, 1.0, 0.0],
    ...                     "propensity": 1.0, "target_propensity": 1.0})
    >>> on_policy(log).value
    1.0
    """
    m = _matrices(log, None)
    return _mean_estimate("on_policy", m.reward.sum(axis=1), float(m.reward.shape[0]), (),
                          confidence)


def ips(log: pd.DataFrame, *, clip: float | None = None,
        confidence: float = CONFIDENCE) -> PolicyEstimate:
    """Item-position IPS: ``(1/N) Σ_i Σ_j w_ij r_ij``, normal interval over requests.

    ``clip`` caps the weights (default: no cap, since capping biases the estimate).

    Examples
    --------
    >>> i = np.arange(400)  # weight 2 on a quarter of the clicked rows: 2 * 1/4
    >>> log = pd.DataFrame({"request": i, "position": 0, "reward": i % 2, "propensity": 0.5,
    ...                     "target_propensity": (i // 2) % 2})
    >>> e = ips(log)
    >>> e.value, e.n_requests, e.ess
    (0.5, 400, 200.0)
    """
    m = _matrices(log, clip)
    ess, notes = _weight_notes("ips", m.weight)
    return _mean_estimate("ips", (m.weight * m.reward).sum(axis=1), ess, m.notes + notes,
                          confidence)


def snips(log: pd.DataFrame, *, clip: float | None = None,
          confidence: float = CONFIDENCE) -> PolicyEstimate:
    """Self-normalised item-position IPS, per position; delta-method interval over requests.

    Examples
    --------
    >>> i = np.arange(400)  # weights 2 (clicked) and 1 (not): (2·100) / (2·100 + 1·100)
    >>> log = pd.DataFrame({"request": i, "position": 0, "reward": i % 2, "propensity": 0.5,
    ...                     "target_propensity": np.select([i % 4 == 1, i % 4 == 2], [1.0, 0.5])})
    >>> round(snips(log).value, 4)
    0.6667
    """
    m = _matrices(log, clip)
    ess, notes = _weight_notes("snips", m.weight)
    n = m.weight.shape[0]
    a, b = m.weight * m.reward, m.weight
    b_mean = b.mean(axis=0)
    used = b_mean > 0  # a position the target never fills adds nothing
    per_position = np.zeros_like(b_mean)
    per_position[used] = a.mean(axis=0)[used] / b_mean[used]
    value = float(per_position.sum())
    influence = ((a[:, used] - per_position[used] * b[:, used]) / b_mean[used]).sum(axis=1)
    half = _z(confidence) * float(influence.std(ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    return PolicyEstimate("snips", value, value - half, value + half, n, ess,
                          m.notes + notes + ("self-normalised: O(1/N) bias",))


def doubly_robust(log: pd.DataFrame, *, clip: float | None = None, folds: int = 2, seed: int = 0,
                  confidence: float = CONFIDENCE) -> PolicyEstimate:
    """Doubly robust: per-position mean reward (cross-fitted) plus ``w (r - r̂)``.

    Each request's contribution is ``Σ_j [r̂_j + w_ij (r_ij - r̂_j)]`` over its logged
    positions, ``r̂`` fitted on the requests of the other ``folds`` (assigned at random with
    ``seed``). The direct term assumes the target fills the same positions as the log.

    Examples
    --------
    >>> i = np.arange(400)
    >>> log = pd.DataFrame({"request": i, "position": 0, "reward": i % 2, "propensity": 0.5,
    ...                     "target_propensity": (i // 2) % 2})
    >>> round(doubly_robust(log).value, 3)
    0.5
    """
    if folds < 2:
        raise ConfigError(f"Cross-fitting needs at least 2 folds. Got folds={folds}.")
    m = _matrices(log, clip)
    ess, notes = _weight_notes("doubly_robust", m.weight)
    n = m.weight.shape[0]
    fold = np.random.default_rng(seed).permutation(n) % min(folds, n)
    contributions = np.zeros(n)
    for f in np.unique(fold):
        rest = fold != f
        counts = m.shown[rest].sum(axis=0)
        # A position no other fold filled: the other folds' mean reward, so that no row's
        # model uses its own reward (0 with a single request: DR is then IPS).
        fallback = float(m.reward[rest][m.shown[rest]].mean()) if counts.sum() else 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            model = np.where(counts > 0, m.reward[rest].sum(axis=0) / counts, fallback)
        mine = ~rest
        correction = m.weight[mine] * (m.reward[mine] - model)
        contributions[mine] = (np.where(m.shown[mine], model, 0.0) + correction).sum(axis=1)
    return _mean_estimate("doubly_robust", contributions, ess,
                          m.notes + notes + (f"reward model: mean per position, {folds}-fold "
                                             "cross-fitted",), confidence)


def estimate_all(log: pd.DataFrame, *, clip: float | None = None,
                 confidence: float = CONFIDENCE) -> list[PolicyEstimate]:
    """IPS, SNIPS and DR of the target, and the logging policy's own value, for a report.

    Examples
    --------
    >>> i = np.arange(400)
    >>> log = pd.DataFrame({"request": i, "position": 0, "reward": i % 2, "propensity": 0.5,
    ...                     "target_propensity": (i // 2) % 2})
    >>> [e.name for e in estimate_all(log)]
    ['ips', 'snips', 'doubly_robust', 'on_policy']
    """
    return [ips(log, clip=clip, confidence=confidence),
            snips(log, clip=clip, confidence=confidence),
            doubly_robust(log, clip=clip, confidence=confidence),
            on_policy(log, confidence=confidence)]
