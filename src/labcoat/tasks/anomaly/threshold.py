"""Where the anomaly score is cut: a share of the rows (``contamination``), an alert budget per
day (``alerts_per_day`` over the training period of ``time_column``), or the costs of a false
alert and of a missed anomaly (``costs``, which needs labels).

The default share is 1%, or the labels' prevalence when labels are given. PyOD's default of
10% is a setting for benchmarks whose anomalies are that common; fraud and faults run far below
it, and an alert queue of one row in a hundred is what a reviewer can work through. It is a
guess all the same, and is said to be one (``info["threshold"]["why"]``).

Examples
--------
>>> scores = np.arange(1, 1001) / 1000
>>> cut = by_share(scores, 0.01)
>>> cut, float((scores >= cut).mean())
(0.991, 0.01)
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError
from labcoat.evaluate.thresholds import parse_costs

DEFAULT_SHARE = 0.01


def check_modes(contamination: float | None, alerts_per_day: float | None, costs: Any,
                time_column: str | None) -> None:
    """Refuse a threshold setting out of range, or two at once."""
    given = [name for name, value in (("contamination", contamination), ("alerts_per_day", alerts_per_day),
                                      ("costs", costs)) if value is not None]
    if len(given) > 1:
        raise ConfigError(f"Give one way to set the threshold, not {' and '.join(given)}: a share of the rows "
                          "(contamination), an alert budget (alerts_per_day with time_column) or costs.")
    if contamination is not None:
        if isinstance(contamination, bool) or not isinstance(contamination, (int, float)) or not 0 < contamination < 0.5:
            raise ConfigError(f"contamination is the share of rows to flag, above 0 and below 0.5; got "
                              f"{contamination!r}. For 1% write 0.01.")
    if alerts_per_day is not None:
        if isinstance(alerts_per_day, bool) or not isinstance(alerts_per_day, (int, float)) or not alerts_per_day > 0:
            raise ConfigError(f"alerts_per_day is how many alerts a day can be reviewed, a number above 0; got "
                              f"{alerts_per_day!r}.")
        if time_column is None:
            raise ConfigError("alerts_per_day needs time_column (--time-column), the column of each row's date and "
                              "time: the budget is spread over the days it spans.")
    if costs is not None:
        parse_costs(costs)


def by_share(scores: np.ndarray, share: float) -> float:
    """The score at or above which ``share`` of ``scores`` lie (at least one row)."""
    ordered = np.sort(scores)[::-1]
    k = max(1, int(round(share * len(ordered))))
    return float(ordered[k - 1])


def days_spanned(times: pd.Series) -> float:
    """The days the training rows span (at least one)."""
    stamps = pd.to_datetime(times, errors="coerce")
    span = (stamps.max() - stamps.min()) / pd.Timedelta(days=1)
    return float(max(1.0, span if span == span else 1.0))


def by_costs(scores: np.ndarray, y: np.ndarray, costs: dict[str, float]) -> tuple[float, float]:
    """The cut of the labelled rows' (validated) ``scores`` with the least mean cost, and that cost.

    >>> by_costs(np.array([0.1, 0.2, 0.9, 0.95]), np.array([0, 0, 1, 1]), {"tp": 0, "fp": 1, "tn": 0, "fn": 5})
    (0.9, 0.0)
    """
    order = np.argsort(-scores, kind="stable")
    s, truth = scores[order], y[order]
    tp = np.cumsum(truth)
    fp = np.cumsum(1 - truth)
    positives, negatives = tp[-1], fp[-1]
    last = np.r_[s[1:] != s[:-1], True]  # cut below each distinct score
    cost = (costs["tp"] * tp + costs["fp"] * fp + costs["fn"] * (positives - tp)
            + costs["tn"] * (negatives - fp))[last] / len(s)
    best = int(np.argmin(cost))
    return float(s[last][best]), float(cost[best])
