"""The drift tests, computed from counts (see :mod:`labcoat.monitoring.sketch`), never from rows.

Each matches the test of the same name in Evidently, with these differences:

* ``chisquare`` is the two-sample test of homogeneity (the 2 x k contingency table of reference
  and current counts). Evidently's is a goodness-of-fit test that takes the reference's shares as
  the true ones, ignoring that they are estimated: on two samples of one distribution it rejects
  far more often than its level when the current window is larger than the reference (the
  statistic is inflated by about ``1 + n_current / n_reference``).
* ``ks`` from cells: exact statistic when the reference is kept whole; its p-value is scipy's
  (``ks_2samp``, method ``"auto"``: exact up to 10,000 rows on either side, else asymptotic). On
  a quantile sketch the statistic is taken at the edges: it can fall short of the true one by at
  most the largest cell's share (about 1% of the reference plus the current rows in that cell;
  0.0007 short on lognormal samples of 50,000 and 5,000 rows, ``tests/test_drift.py``).
* ``wasserstein`` (normalised by the reference's standard deviation, at least 0.001) is exact
  except in cells where the CDFs cross: there the part that cancels out is taken as if the
  difference of the CDFs were linear in the cell. Within 0.002 of scipy's on exact samples
  (gamma, shifted and scaled; references of 700 and 50,000 rows; ``tests/test_drift.py``).
* ``jensenshannon``, ``psi`` and ``chisquare`` on numbers use bins of equal reference mass
  (20 for the first and the last, deciles for PSI) plus one bin below the reference's minimum
  and one above its maximum; Evidently uses equal-width bins over both samples' range.
  ``psi`` replaces empty shares as Evidently does (1e-4, or a millionth of the smallest share).

Examples
--------
>>> float(round(jensenshannon(np.array([0.5, 0.5]), np.array([0.5, 0.5])), 6))
0.0
>>> stat, p = chisquare(np.array([50, 50]), np.array([50, 50]))
>>> float(stat), float(p)
(0.0, 1.0)
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

#: Above this many rows on either side the KS p-value is asymptotic (scipy's "auto").
KS_EXACT_ROWS = 10_000
P_VALUE_METHODS = ("ks", "chisquare", "z")
DISTANCE_METHODS = ("wasserstein", "jensenshannon", "psi")
METHODS = P_VALUE_METHODS + DISTANCE_METHODS
DEFAULT_THRESHOLD = {"ks": 0.05, "chisquare": 0.05, "z": 0.05, "wasserstein": 0.1,
                     "jensenshannon": 0.1, "psi": 0.1}


def is_drift(method: str, statistic: float, p_value: float | None, threshold: float) -> bool:
    """p-value tests drift when ``p < threshold``; distances when ``distance >= threshold``."""
    if method in P_VALUE_METHODS:
        return p_value is not None and p_value < threshold
    return bool(np.isfinite(statistic) and statistic >= threshold)


# ---------------------------------------------------------------------- numbers, per cell
def ks(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample KS statistic and p-value from counts over the same cells.

    Examples
    --------
    >>> d, p = ks(np.array([0, 1, 0, 1, 0]), np.array([0, 0, 0, 1, 1]))
    >>> float(d)
    0.5
    """
    n1, n2 = int(ref.sum()), int(cur.sum())
    d = float(np.max(np.abs(np.cumsum(ref) / n1 - np.cumsum(cur) / n2)))
    return d, ks_p_value(d, n1, n2)


def ks_p_value(d: float, n1: int, n2: int) -> float:
    """scipy's ``ks_2samp`` p-value (two-sided, method "auto") for statistic ``d``."""
    if max(n1, n2) <= KS_EXACT_ROWS:
        try:
            # Private, so scipy-stubs leaves it out (the ImportError below covers its going).
            from scipy.stats._stats_py import _attempt_exact_2kssamp  # type: ignore[attr-defined]

            ok, _, p = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
            if ok:
                return float(np.clip(p, 0, 1))
        except (ImportError, TypeError, ValueError, FloatingPointError, OverflowError):
            pass
    m, n = sorted([float(n1), float(n2)], reverse=True)
    return float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def wasserstein(edges: np.ndarray, ref: np.ndarray, ref_offsets: np.ndarray, cur: np.ndarray,
                cur_offsets: np.ndarray, std: float) -> float:
    """Wasserstein-1 distance between the two samples summarised over ``edges``' cells, divided
    by ``max(std, 0.001)`` (see the module docstring for its accuracy)."""
    n1, n2 = ref.sum(), cur.sum()
    k = len(edges)
    fr, fc = np.cumsum(ref) / n1, np.cumsum(cur) / n2
    # Signed integral of F_ref - F_cur over each open cell, from counts and offsets.
    width = np.diff(edges)
    idx = np.arange(2, 2 * k, 2)
    start = fr[idx - 1] - fc[idx - 1]
    end = fr[idx] - fc[idx]
    inner = start * width + ((ref[idx] * width - ref_offsets[idx]) / n1
                             - (cur[idx] * width - cur_offsets[idx]) / n2)
    # Where the CDFs cross inside a cell, |signed integral| misses twice the smaller of the
    # positive and negative parts: added back as a linear difference would have them.
    crossing = start * end < 0
    with np.errstate(invalid="ignore", divide="ignore"):
        smaller = width * np.minimum(start ** 2, end ** 2) / (2 * (np.abs(start) + np.abs(end)))
    total = float(np.sum(np.abs(inner) + np.where(crossing, 2 * smaller, 0.0)))
    # Tails: below e_0 offsets are negative (x - e_0); above e_{K-1} positive.
    total += abs(-ref_offsets[0] / n1 + cur_offsets[0] / n2)
    total += abs(ref_offsets[-1] / n1 - cur_offsets[-1] / n2)
    return total / max(std, 0.001)


# ---------------------------------------------------------------------- counts over categories or bins
def chisquare(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Chi-squared test of homogeneity of two count vectors (the 2 x k table; categories empty
    on both sides are left out). p = 1 when fewer than two categories remain."""
    keep = (ref + cur) > 0
    table = np.vstack([ref[keep], cur[keep]]).astype(np.float64)
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))


def z_proportions(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sided pooled z-test of the share of the first category (Evidently's ``z``: the first
    category in sorted order against the rest)."""
    n1, n2 = float(ref.sum()), float(cur.sum())
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    p1, p2 = ref[0] / n1, cur[0] / n2
    pooled = (ref[0] + cur[0]) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 0.0, 1.0
    z = float((p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)))
    return z, float(2 * stats.norm.sf(abs(z)))


def jensenshannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log, as ``scipy.spatial.distance.jensenshannon``)."""
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        right = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(math.sqrt(max((left + right) / 2, 0.0)))


def psi(p: np.ndarray, q: np.ndarray) -> float:
    """Population stability index of counts or shares ``q`` (current) against ``p`` (reference)."""
    p = _fill_zeros(p / p.sum())
    q = _fill_zeros(q / q.sum())
    return float(np.sum((p - q) * np.log(p / q)))


def _fill_zeros(share: np.ndarray) -> np.ndarray:
    positive = share[share > 0]
    smallest = positive.min() if len(positive) else 1.0
    return np.where(share == 0, smallest / 1e6 if smallest <= 1e-4 else 1e-4, share)


def missing_rise(ref_missing: int, ref_rows: int, cur_missing: int, cur_rows: int) -> float:
    """One-sided p-value of the pooled two-proportion z-test that the current missing rate is
    higher than the reference's.

    Examples
    --------
    >>> round(missing_rise(50, 1000, 100, 1000), 6) < 0.001
    True
    """
    if ref_rows == 0 or cur_rows == 0:
        return 1.0
    pooled = (ref_missing + cur_missing) / (ref_rows + cur_rows)
    if pooled in (0.0, 1.0):
        return 1.0
    z = (cur_missing / cur_rows - ref_missing / ref_rows) / math.sqrt(
        pooled * (1 - pooled) * (1 / ref_rows + 1 / cur_rows))
    return float(stats.norm.sf(z))
