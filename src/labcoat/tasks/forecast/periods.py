"""Frequencies: inferred from the timestamps, their seasonal periods, and holiday flags.

Examples
--------
>>> import pandas as pd
>>> infer_frequency([pd.date_range("2024-01-01", periods=30, freq="D")])
'D'
>>> seasons("D"), mase_season("h")
((7, 365), 24)
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import warnings

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError, DataError

#: The frequencies a user may name (``freq=``), in words for messages.
FREQUENCY_WORDS = {"h": "hourly", "D": "daily", "B": "business-daily", "W": "weekly", "MS": "monthly",
                   "ME": "monthly", "QS": "quarterly", "QE": "quarterly", "YS": "yearly", "YE": "yearly"}

#: Seasonal periods the models try, per frequency family (the first is the main one).
_SEASONS = {"min": (), "h": (24, 168), "D": (7, 365), "B": (5,), "W": (52,), "M": (12,), "Q": (4,), "Y": ()}
#: The seasonal period of MASE's scale, as the M4 competition set it (daily and weekly: 1).
_MASE_SEASON = {"min": 1, "h": 24, "D": 1, "B": 1, "W": 1, "M": 12, "Q": 4, "Y": 1}


def family(freq: str) -> str:
    """The frequency's family: ``"W-SUN"`` → ``"W"``, ``"MS"`` → ``"M"``, ``"15min"`` → ``"min"``."""
    base = freq.split("-")[0].lstrip("0123456789")
    if base in ("MS", "ME", "M"):
        return "M"
    if base in ("QS", "QE", "Q"):
        return "Q"
    if base in ("YS", "YE", "Y", "A", "AS"):
        return "Y"
    if base in ("min", "T", "s"):
        return "min"
    if base in ("h", "H"):
        return "h"
    return base


def seasons(freq: str) -> tuple[int, ...]:
    """The seasonal periods tried for ``freq`` (a day of 15-minute steps: 96)."""
    fam = family(freq)
    if fam == "min":
        step = pd.tseries.frequencies.to_offset(freq)
        minutes = int(getattr(step, "nanos", 60 * 10**9) // (60 * 10**9)) or 1
        return (1440 // minutes,) if 1440 % minutes == 0 and 1440 // minutes > 1 else ()
    if fam == "h":
        hours = int(freq[:-1] or 1) if freq[:-1].isdigit() else 1
        return tuple(s // hours for s in _SEASONS["h"] if s % hours == 0)
    return _SEASONS.get(fam, ())


def mase_season(freq: str) -> int:
    """The seasonal period of the naive forecast that scales MASE and RMSSE (M4's choice)."""
    fam = family(freq)
    return _MASE_SEASON.get(fam, 1) if fam != "min" else (seasons(freq) or (1,))[0]


def check_frequency(freq: str) -> str:
    """``freq`` as pandas spells it, or a :class:`ConfigError` listing the usual ones."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        raise ConfigError(f"Frequency {freq!r} is not one pandas knows. Use one of "
                          f"{', '.join(sorted(set(FREQUENCY_WORDS)))} (or e.g. '15min', 'W-MON').") from None
    return offset.freqstr


def infer_frequency(times: Sequence[pd.DatetimeIndex]) -> str:
    """The frequency of series with timestamps ``times`` (each sorted, without duplicates).

    pandas' ``infer_freq`` on the longest series first; if gaps defeat it, the most common step
    across all series, named by its length (an hour, a day, a week, a calendar month...) and,
    for days, whether weekends ever occur (business days).
    """
    longest = max(times, key=len)
    if len(longest) >= 3:
        with warnings.catch_warnings():  # pandas 3 announces an offset instead of a string: take either
            warnings.simplefilter("ignore")
            guessed = pd.infer_freq(longest)
        if guessed is not None:
            return check_frequency(getattr(guessed, "freqstr", guessed))
    steps: Counter[pd.Timedelta] = Counter()
    for index in times:
        if len(index) > 1:
            steps.update(pd.Timedelta(d) for d in np.diff(index.values))
    if not steps:
        raise DataError("Cannot infer the frequency: every series has a single timestamp. "
                        "Give more history, or pass freq= (--freq), e.g. 'D' or 'W-MON'.")
    step = steps.most_common(1)[0][0]
    days = step / pd.Timedelta(days=1)
    every = pd.DatetimeIndex(np.concatenate([np.asarray(t) for t in times]))
    if step < pd.Timedelta(days=1):
        minutes = int(step.total_seconds() // 60)
        return check_frequency(f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}min")
    if days == 1:
        return "B" if (every.day_of_week < 5).all() and len(every) > 5 else "D"
    if days == 7:
        return check_frequency(f"W-{every[0].day_name()[:3].upper()}")
    if 28 <= days <= 31:
        return "MS" if (every.day == 1).all() else "ME" if every.is_month_end.all() else "MS"
    if 89 <= days <= 92:
        return "QS" if (every.day == 1).all() else "QE"
    if 365 <= days <= 366:
        return "YS" if (every.day == 1).all() else "YE"
    raise DataError(f"Cannot infer the frequency: the most common step between timestamps is {step}. "
                    "Pass freq= (--freq), e.g. 'D', 'W-MON', 'MS'.")


def holiday_flags(times: pd.DatetimeIndex, country: str, freq: str) -> np.ndarray:
    """1.0 where a period of ``freq`` starting at ``times`` holds a public holiday of ``country``
    (the ``holidays`` package, from ``labcoat[forecast]``), else 0.0."""
    import holidays as holidays_lib

    try:
        calendar = holidays_lib.country_holidays(country.upper(), years=range(times.min().year - 1,
                                                                              times.max().year + 2))
    except NotImplementedError:
        raise ConfigError(f"No holiday calendar for country {country!r}; use an ISO 3166 code such as "
                          "'US', 'GB', 'DE', 'FR'.") from None
    days = pd.DatetimeIndex(sorted(calendar.keys()))
    fam = family(freq)
    if fam in ("h", "min", "D", "B"):
        return np.isin(times.normalize(), days).astype(float)
    period_end = times + pd.tseries.frequencies.to_offset(freq)
    starts, ends = times.values.astype("datetime64[D]"), period_end.values.astype("datetime64[D]")
    marks = days.values.astype("datetime64[D]")
    first = np.searchsorted(marks, starts, side="left")
    after = np.searchsorted(marks, ends, side="left")
    return (after > first).astype(float)
