"""Why a row is unusual, column by column: each column's value against the training rows' values
of that column alone, as a surprise, ``-log10`` of how rare the value is (numbers: the share of
training rows at least as far out, both sides counted; categories, dates' hours and missing
values: the share of training rows whose value is at most as common, so that a column of many
equally common values, such as card ids, is not called rare). It is the per-column decomposition ECOD uses, applied to the
raw columns so that it can be said in words; it explains the row, not each detector's arithmetic
(a row unusual only in its combination of ordinary values has no single column to blame, and
is said to be so).

Examples
--------
>>> import pandas as pd
>>> train = pd.DataFrame({"amount": [10.0, 12.0, 11.0, 9.0] * 25, "country": ["FR"] * 99 + ["DE"]})
>>> profile = ColumnProfile.fit(train, {"amount": "numeric", "country": "categorical"})
>>> table = profile.explain(pd.DataFrame({"amount": [500.0], "country": ["NG"]}), top=2)
>>> table[["column", "surprise"]].values.tolist()
[['amount', 2.004], ['country', 2.004]]
>>> table["words"].tolist()
['amount = 500 is higher than every training row (median 10.5)', "country = 'NG' was never seen in training"]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labcoat.tasks.anomaly.features import MISSING, tail_shares
#: A column counts as a reason when its value is at most this rare (surprise 2: 1 row in 100).
REASON_SURPRISE = 2.0
#: Numbers are compared with at most this many training values (quantiles beyond).
GRID = 20_001
#: Frames of at most this many rows have their categories looked up value by value.
FEW = 64


@dataclass
class ColumnProfile:
    """The training values of each input column, kept to tell how rare a new value is."""

    kinds: dict[str, str]
    n: int
    sorted_values: dict[str, np.ndarray]  #: numbers (and dates' hours): sorted training values
    shares: dict[str, dict[Any, float]]  #: categories, booleans, dates' hours: share of each value
    tails: dict[str, dict[Any, float]]  #: the same: share of rows whose value is at most as common
    missing: dict[str, float]  #: share of training rows missing each column
    medians: dict[str, float]

    @classmethod
    def fit(cls, frame: pd.DataFrame, kinds: dict[str, str]) -> "ColumnProfile":
        """The profile of the prepared training ``frame`` over the columns ``kinds`` names."""
        sorted_values, shares, tails, missing, medians = {}, {}, {}, {}, {}
        for name, kind in kinds.items():
            values = _values(frame[name], kind)
            missing[name] = float(pd.isna(values).mean())
            if kind == "numeric":
                kept = np.sort(values[~np.isnan(values)])
                if len(kept) > GRID:
                    kept = np.quantile(kept, np.linspace(0, 1, GRID))
                sorted_values[name] = kept
                medians[name] = float(np.median(kept)) if len(kept) else float("nan")
            else:
                present = pd.Series(values).dropna()
                shares[name] = present.value_counts(normalize=False).div(len(frame)).to_dict()
                tails[name] = tail_shares(pd.Series(values))
        return cls(kinds, len(frame), sorted_values, shares, tails, missing, medians)

    # ------------------------------------------------------------------ numbers
    def surprise(self, frame: pd.DataFrame) -> np.ndarray:
        """Per row of the prepared ``frame`` and column (in ``kinds`` order): ``-log10`` of the
        value's rarity, 0 for the most ordinary values, ``log10(n + 1)`` at most."""
        out = np.zeros((len(frame), len(self.kinds)))
        floor = 1.0 / (self.n + 1)
        for j, (name, kind) in enumerate(self.kinds.items()):
            values = _values(frame[name], kind)
            absent = pd.isna(values)
            share = np.ones(len(frame))
            if kind == "numeric":
                grid = self.sorted_values[name]
                x = np.where(absent, 0.0, values).astype(np.float64)
                if len(grid):
                    below = np.searchsorted(grid, x, side="right") / len(grid)  # share of training <= x
                    above = 1 - np.searchsorted(grid, x, side="left") / len(grid)  # share >= x
                    share = np.minimum(np.minimum(below, above) * 2, 1.0)  # two-sided
                share = np.where(absent, self.missing[name], share)
            elif len(frame) <= FEW:  # a served request: dictionary look-ups (pandas' map: ~1 ms a column)
                tails = self.tails[name]
                share = np.array([tails.get(MISSING if a else v, 0.0) for v, a in zip(values, absent)],
                                 dtype=np.float64)
            else:
                keyed = pd.Series(np.asarray(values, dtype=object)).fillna(MISSING)
                share = keyed.map(self.tails[name]).fillna(0.0).to_numpy(dtype=np.float64)
            out[:, j] = -np.log10(np.maximum(share, floor))
        return out

    # ------------------------------------------------------------------ words
    def explain(self, frame: pd.DataFrame, top: int = 3) -> pd.DataFrame:
        """Per row of the prepared ``frame``, its ``top`` most surprising columns: ``row``
        (position), ``rank``, ``column``, ``value``, ``surprise``, ``share`` (of the row's
        total surprise) and ``words``."""
        surprise = self.surprise(frame)
        names = list(self.kinds)
        top = max(1, min(int(top), len(names)))
        order = np.argsort(-surprise, axis=1, kind="stable")[:, :top]
        total = surprise.sum(axis=1)
        rows = []
        for i in range(len(frame)):
            for rank, j in enumerate(order[i], start=1):
                name = names[j]
                value = frame[name].iloc[i]
                rows.append({"row": i, "rank": rank, "column": name, "value": _plain(value),
                             "surprise": round(float(surprise[i, j]), 3),
                             "share": round(float(surprise[i, j] / total[i]), 3) if total[i] > 0 else 0.0,
                             "words": self.words(name, value, float(surprise[i, j]))})
        return pd.DataFrame(rows, columns=["row", "rank", "column", "value", "surprise", "share", "words"])

    def reasons(self, frame: pd.DataFrame, flagged: np.ndarray, top: int = 3) -> np.ndarray:
        """The reasons of each flagged row in words ("; "-separated), empty for the others."""
        out = np.full(len(frame), "", dtype=object)
        where = np.flatnonzero(flagged)
        if not len(where):
            return out
        subset = frame.iloc[where]
        surprise = self.surprise(subset)
        names = list(self.kinds)
        values = [subset[name].to_numpy() for name in names]  # numpy, not pandas, per value: 20x faster
        order = np.argsort(-surprise, axis=1, kind="stable")[:, :top]
        for k, i in enumerate(where):
            said = [self.words(names[j], values[j][k], float(surprise[k, j]))
                    for j in order[k] if surprise[k, j] >= REASON_SURPRISE]
            out[i] = "; ".join(said) if said else "no single column is unusual: the combination of values is"
        return out

    def words(self, name: str, value: Any, surprise: float) -> str:
        """A column's value and how rare it is, in words."""
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return f"{name} is missing ({_percent(self.missing[name])} of training rows)"
        kind = self.kinds[name]
        if kind == "numeric":
            grid = self.sorted_values[name]
            x = float(value)
            below = float(np.searchsorted(grid, x, side="right") / len(grid)) if len(grid) else 0.5
            median = self.medians[name]
            if x > median:
                where = ("higher than every training row" if x > grid[-1] else
                         f"higher than {_percent(below)} of training rows")
            else:
                above = 1 - float(np.searchsorted(grid, x, side="left") / len(grid))
                where = ("lower than every training row" if x < grid[0] else
                         f"lower than {_percent(above)} of training rows") if x < median else "the median"
            return f"{name} = {_number(x)} is {where} (median {_number(median)})"
        share = self.shares.get(name, {}).get(_key(value, kind), 0.0)
        rare = "rare" if surprise >= REASON_SURPRISE else "common"
        if kind == "datetime":
            hour = _key(value, kind)
            if share == 0:
                return f"{name} at {hour} ({_plain(value)}): no training row at that hour"
            return f"{name} at {hour} is {rare} ({_percent(share)} of training rows at that hour)"
        shown = _plain(value)
        shown = repr(shown) if isinstance(shown, str) else shown
        if share == 0:
            return f"{name} = {shown} was never seen in training"
        return f"{name} = {shown} is {rare} ({_percent(share)} of training rows)"


def _values(column: pd.Series, kind: str) -> np.ndarray:
    """A prepared column as the profile compares it: floats for numbers, the hour for dates."""
    if kind == "numeric":
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "datetime":
        hours = pd.DatetimeIndex(column).hour
        return np.asarray(pd.Series(hours, dtype="float64").map(lambda h: f"{h:02.0f}h", na_action="ignore"),
                          dtype=object)
    return np.asarray(column, dtype=object)


def _key(value: Any, kind: str) -> Any:
    if kind == "datetime":
        return f"{pd.Timestamp(value).hour:02d}h"
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _percent(share: float) -> str:
    """A share as a percentage, never rounded up to 100% nor down to 0%.

    >>> _percent(0.9998), _percent(0.5), _percent(0.0004)
    ('99.98%', '50%', '0.04%')
    """
    if share <= 0 or share >= 1:
        return f"{share:.0%}"
    small = min(share, 1 - share)
    digits = 0 if small >= 0.1 else max(0, int(np.ceil(-np.log10(small))) - 2)
    return f"{share:.{digits}%}"


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.4g}"
