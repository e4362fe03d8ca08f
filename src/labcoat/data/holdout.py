"""Rows kept out of the search, and the column that orders rows in time.

``fit`` scores its final model on rows the search never saw: a test set the user gives, or an
outer holdout cut from the data (automatic from :data:`AUTO_HOLDOUT_ROWS` rows; the latest rows
when the data is validated forward in time).

Examples
--------
>>> holdout_share("auto", 60_000), holdout_share("auto", 5_000), holdout_share(0.2, 100)
(0.1, 0.0, 0.2)
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from labcoat.data.columns import Role
from labcoat.data.infer import drop_missing_target
from labcoat.data.schema import Schema
from labcoat.errors import ConfigError, did_you_mean

#: From this many rows, ``holdout="auto"`` keeps an outer holdout of 10% (at most 10,000 rows).
AUTO_HOLDOUT_ROWS = 50_000


def check_split(split: str, time_column: str | None, schema: Schema) -> str | None:
    """The datetime column ordering the rows for ``split="time"`` (None for random folds);
    a :class:`ConfigError` names what is wrong with the settings."""
    if split not in ("random", "time"):
        raise ConfigError(f"split must be 'random' or 'time'; got {split!r}.")
    if split == "random":
        if time_column is not None:
            raise ConfigError("time_column is used with split='time' (--split time); add it or drop "
                              "the time column option.")
        return None
    dates = [c.name for c in schema.features if c.role is Role.DATETIME]
    if time_column is None:
        if len(dates) != 1:
            raise ConfigError("split='time' needs time_column= (--time-column): the datetime columns are "
                              f"{', '.join(dates) or 'none'}.")
        return dates[0]
    if time_column not in dates:
        known = [c.name for c in schema.columns]
        hint = did_you_mean(time_column, known) if time_column not in known else (
            f"Column '{time_column}' is not read as a date or time.")
        raise ConfigError(f"time_column '{time_column}' is not a datetime column of the data. {hint} "
                          f"Datetime columns: {', '.join(dates) or 'none'}.")
    return time_column


def as_times(values: pd.Series) -> pd.Series:
    """Datetimes of a column (strings parsed; unparseable values NaT)."""
    return pd.to_datetime(values, errors="coerce", format="mixed")


def outer_rows(frame: pd.DataFrame, target: str, *, test: str | Path | pd.DataFrame | None, holdout: float | str | None,
               seed: int, time_column: str | None, stratify: bool) -> tuple[pd.DataFrame | None, str]:
    """The rows the finished model is scored on and where they come from: ``test``'s, or a
    holdout cut from ``frame`` (the latest rows with ``time_column``, else random rows,
    stratified by the target when ``stratify``). A holdout's rows keep their index in
    ``frame``, so the caller can drop them."""
    if test is not None:
        if isinstance(test, (str, Path)):
            from labcoat.data.io import read_table

            test_frame = read_table(test)
        elif isinstance(test, pd.DataFrame):
            test_frame = test
        else:
            raise ConfigError(f"test= must be a DataFrame or a file path; got a {type(test).__name__}.")
        if target not in test_frame.columns:
            raise ConfigError(f"The test set has no target column '{target}'; it is needed to score the model.")
        source = str(test) if isinstance(test, (str, Path)) else f"{len(test_frame):,} rows in memory"
        return drop_missing_target(test_frame, target), f"test set ({source})"
    share = holdout_share(holdout, len(frame))
    if not share:
        return None, ""
    size = int(round(share * len(frame)))
    if time_column is not None:
        latest = as_times(frame[time_column]).rank(method="first").to_numpy() > len(frame) - size
        rows = frame[latest]
    else:
        from sklearn.model_selection import train_test_split

        y = frame[target]
        classes = y if stratify and y.value_counts().min() >= 2 else None
        _, rows = train_test_split(frame, test_size=size, random_state=seed, stratify=classes)
    return rows, f"holdout of {size:,} rows ({share:.0%}) kept out of the search"


def holdout_share(holdout: float | str | None, n_rows: int) -> float:
    """The share of ``n_rows`` to hold out for ``holdout`` ("auto", 0/None or a share)."""
    if holdout is None or holdout == 0:
        return 0.0
    if holdout == "auto":
        return min(0.1, 10_000 / n_rows) if n_rows >= AUTO_HOLDOUT_ROWS else 0.0
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 < holdout <= 0.5:
        raise ConfigError(f"holdout must be 'auto', 0, or a share of rows in (0, 0.5]; got {holdout!r}.")
    return float(holdout)


def time_span(frame: pd.DataFrame, schema: Schema) -> dict[str, list[str]]:
    """First and last value of each datetime column: the period a model learned from."""
    span = {}
    for c in schema.features:
        if c.role is Role.DATETIME:
            when = as_times(frame[c.name]).dropna()
            if len(when):
                span[c.name] = [str(when.min()), str(when.max())]
    return span
