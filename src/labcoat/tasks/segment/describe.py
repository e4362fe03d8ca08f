"""Each segment against the whole, in numbers (:func:`profile`: every column's value in the
segment and overall, and how far apart they are in standard deviations) and in words
(:func:`describe_segments`: its size, then its most distinctive columns, such as "tenure
three times the average (31.2 vs 10.4), mostly region = north (84% vs 25% overall)").

A number's difference is (segment mean − overall mean) / overall standard deviation; a
category's is (share in the segment − share overall) / √(share overall × (1 − share overall)),
the same standardised difference for its indicator. Differences under :data:`NOTABLE` are not
put in words.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"tenure": [10.0, 12.0, 11.0, 9.0] * 5 + [31.0, 33.0, 30.0, 32.0] * 5,
...                       "region": ["south"] * 20 + ["north"] * 20})
>>> labels = [0] * 20 + [1] * 20
>>> describe_segments(frame, labels).loc[1, "description"]
'segment 1, 50% of rows: mostly region = north (100% vs 50% overall), tenure 1.5 times the average (31.5 vs 21)'
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

#: Differences (in standard deviations) from which a column is put in words.
NOTABLE = 0.5
#: At most this many columns describe a segment in words.
MAX_PHRASES = 3
_TIMES = {2: "twice", 3: "three times", 4: "four times", 5: "five times"}
_FRACTIONS = {2: "half", 3: "a third of", 4: "a quarter of", 5: "a fifth of"}
PROFILE_COLUMNS = ["segment", "column", "kind", "value", "segment_value", "overall_value", "difference", "words"]


def profile(frame: pd.DataFrame, labels: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """Every (segment, column[, category]) with the segment's and the whole's value, their
    standardised difference and, for numbers and categories worth it, the words."""
    labels = np.asarray(labels)
    rows: list[dict[str, Any]] = []
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_bool_dtype(values) or not (pd.api.types.is_numeric_dtype(values)
                                                      or pd.api.types.is_datetime64_any_dtype(values)):
            rows += _categorical(name, values, labels)
        else:
            rows += _numeric(name, values, labels)
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def describe_segments(frame: pd.DataFrame, labels: Sequence[int] | np.ndarray,
                      profiled: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per segment: ``segment``, ``rows``, ``share`` and its ``description`` in words."""
    labels = np.asarray(labels)
    profiled = profile(frame, labels) if profiled is None else profiled
    out = []
    for segment in sorted(set(labels.tolist())):
        rows = int((labels == segment).sum())
        share = rows / len(labels)
        mine = profiled[(profiled["segment"] == segment) & (profiled["words"] != "")]
        # Largest differences first; of equal ones (a boolean's two values), what the segment has.
        mine = mine.assign(size=mine["difference"].abs()).sort_values(["size", "difference"], ascending=False,
                                                                     kind="stable")
        mine = mine.drop_duplicates("column").head(MAX_PHRASES)
        said = ", ".join(mine["words"]) or "close to the average on every column"
        out.append({"segment": segment, "rows": rows, "share": round(share, 4),
                    "description": f"segment {segment}, {_percent(share)} of rows: {said}"})
    return pd.DataFrame(out).set_index("segment", drop=False).rename_axis(None)


def _numeric(name: str, values: pd.Series, labels: np.ndarray) -> list[dict[str, Any]]:
    dates = pd.api.types.is_datetime64_any_dtype(values)
    numbers = (pd.DatetimeIndex(values).as_unit("s").asi8.astype(float) / 86_400 if dates
               else values.to_numpy(dtype=float, na_value=np.nan))
    numbers = np.where(pd.isna(values).to_numpy(), np.nan, numbers)
    overall, spread = float(np.nanmean(numbers)), float(np.nanstd(numbers))
    nonnegative = bool(np.nanmin(numbers) >= 0) and not dates
    rows = []
    for segment in sorted(set(labels.tolist())):
        mine = numbers[labels == segment]
        mean = float(np.nanmean(mine)) if np.isfinite(mine).any() else math.nan
        difference = (mean - overall) / spread if spread > 0 and mean == mean else 0.0
        words = ""
        if abs(difference) >= NOTABLE:
            words = (_date_words(name, mean, overall, difference) if dates
                     else _number_words(name, mean, overall, difference, nonnegative))
        shown_mean, shown_overall = ((_day(mean), _day(overall)) if dates else (round(mean, 6), round(overall, 6)))
        rows.append({"segment": segment, "column": name, "kind": "date" if dates else "number", "value": "",
                     "segment_value": shown_mean, "overall_value": shown_overall,
                     "difference": round(difference, 4), "words": words})
    return rows


def _categorical(name: str, values: pd.Series, labels: np.ndarray) -> list[dict[str, Any]]:
    shown = values.astype(object).where(values.notna(), "(missing)").astype(str).to_numpy()
    categories, counts = np.unique(shown, return_counts=True)
    overall_share = dict(zip(categories.tolist(), (counts / len(shown)).tolist()))
    rows = []
    for segment in sorted(set(labels.tolist())):
        mine = shown[labels == segment]
        for category, overall in overall_share.items():
            share = float((mine == category).mean()) if len(mine) else 0.0
            spread = math.sqrt(overall * (1 - overall))
            difference = (share - overall) / spread if spread > 0 else 0.0
            words = ""
            if difference >= NOTABLE:
                if share >= 0.5:
                    words = f"mostly {name} = {category} ({_percent(share)} vs {_percent(overall)} overall)"
                elif share >= 0.1:
                    words = f"more {name} = {category} ({_percent(share)} vs {_percent(overall)} overall)"
            elif difference <= -NOTABLE and share <= overall / 3:
                words = f"few {name} = {category} ({_percent(share)} vs {_percent(overall)} overall)"
            rows.append({"segment": segment, "column": name, "kind": "category", "value": category,
                         "segment_value": round(share, 4), "overall_value": round(overall, 4),
                         "difference": round(difference, 4), "words": words})
    return rows


def _number_words(name: str, mean: float, overall: float, difference: float, nonnegative: bool) -> str:
    both = f"({_figure(mean)} vs {_figure(overall)})"
    if nonnegative and overall > 0:
        ratio = mean / overall
        if ratio >= 1.5:
            whole = round(ratio)
            times = _TIMES.get(whole) if abs(ratio - whole) < 0.1 else None
            return f"{name} {times or f'{ratio:.1f} times'} the average {both}"
        if ratio <= 2 / 3:
            part = round(1 / ratio) if ratio > 0 else 0
            fraction = _FRACTIONS.get(part) if part and abs(1 / ratio - part) < 0.15 else None
            return f"{name} {fraction or f'{ratio:.2f} times'} the average {both}"
    return f"{name} {'above' if difference > 0 else 'below'} average {both}"


def _date_words(name: str, mean: float, overall: float, difference: float) -> str:
    return f"{name} {'later' if difference > 0 else 'earlier'} than average ({_day(mean)} vs {_day(overall)})"


def _day(days: float) -> str:
    return "" if days != days else str(pd.Timestamp(days * 86_400, unit="s").date())


def _figure(value: float) -> str:
    """A number as people read it: 3 significant figures, thousands separated.

    >>> _figure(31.24), _figure(12345.6), _figure(0.01234)
    ('31.2', '12,346', '0.0123')
    """
    if value != value:
        return "missing"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{float(f'{value:.3g}'):g}"


def _percent(share: float) -> str:
    return f"{100 * share:.0f}%" if share >= 0.01 or share == 0 else "<1%"
