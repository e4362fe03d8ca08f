"""The interactions checked and encoded: :func:`prepare` gives :class:`Interactions`.

Users and items become contiguous codes (``user_ids[code]`` is the user's id); each row is
one (user, item) pair, with a preference weight and whether it is a *positive* (what the
recommenders learn from and are scored on). Without a rating column every row is a positive
of weight 1; with ratings, a row is a positive when its rating reaches the threshold (the rule
is stated in words in :attr:`Interactions.preference`); ``threshold="weight"`` reads the column
as a weight (counts, seconds watched) and keeps every row as a positive of that weight.

Examples
--------
>>> import pandas as pd
>>> rows = pd.DataFrame({"u": ["a", "a", "b", "c"], "i": ["x", "y", "x", "z"], "stars": [5, 2, 4, 4]})
>>> data = prepare(rows, user="u", item="i", rating="stars")
>>> data.n_users, data.n_items, int(data.positive.sum())
(3, 3, 3)
>>> data.preference
'a rating of 4 or more is a preference (ratings between 2 and 5, read as a 5-star scale; pass threshold= to change it)'
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labcoat.errors import ConfigError, DataError, LabcoatNotice, did_you_mean, listed

#: The default threshold on ratings that lie on a 1-5 (or 0-5) scale: 4 stars or more.
FIVE_STAR_THRESHOLD = 4.0


@dataclass(frozen=True)
class Interactions:
    """One row per (user, item) pair, encoded; sorted by time when there is a time column."""

    user: np.ndarray  #: user codes (int32)
    item: np.ndarray  #: item codes (int32)
    weight: np.ndarray  #: preference weights (float32; 0 for a row that is not a positive)
    positive: np.ndarray  #: bool: the row counts as a preference
    time: np.ndarray | None  #: float64 ordering key (seconds), or None without a time column
    user_ids: np.ndarray  #: the user id of each code
    item_ids: np.ndarray  #: the item id of each code
    preference: str  #: the rule that made rows positives, in words
    notes: tuple[str, ...] = ()

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def matrix(self, rows: np.ndarray | None = None) -> sp.csr_matrix:
        """The users × items CSR matrix of the positives among ``rows`` (a boolean mask or
        positions; default all), valued by their weights.

        Examples
        --------
        >>> rows = pd.DataFrame({"u": [1, 1, 2], "i": [1, 2, 2], "stars": [5, 1, 4]})
        >>> prepare(rows, user="u", item="i", rating="stars").matrix().toarray().tolist()
        [[1.0, 0.0], [0.0, 1.0]]
        """
        return to_csr(self, rows, positives=True)

    def seen(self, rows: np.ndarray | None = None) -> sp.csr_matrix:
        """The users × items 0/1 CSR matrix of every pair among ``rows`` (positive or not): the
        items a user has already met, left out of their recommendations."""
        return to_csr(self, rows, positives=False)


def to_csr(data: Interactions, rows: np.ndarray | None, *, positives: bool) -> sp.csr_matrix:
    """The CSR matrix of ``rows`` of ``data`` (see :meth:`Interactions.matrix`)."""
    keep = np.ones(len(data.user), dtype=bool) if rows is None else _mask(rows, len(data.user))
    if positives:
        keep = keep & data.positive
    values = data.weight[keep] if positives else np.ones(int(keep.sum()), dtype=np.float32)
    matrix = sp.csr_matrix((values, (data.user[keep], data.item[keep])), shape=(data.n_users, data.n_items),
                           dtype=np.float32)
    matrix.sum_duplicates()
    return matrix


def _mask(rows: np.ndarray, n: int) -> np.ndarray:
    if rows.dtype == bool:
        return rows
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def prepare(frame: pd.DataFrame, *, user: str, item: str, rating: str | None = None, time: str | None = None,
            threshold: float | str | None = None, quiet: bool = False) -> Interactions:
    """Check the interactions and encode them.

    Errors name the column or value and what to do: absent columns, missing ids, fewer than
    two users or items, unparsable times, ratings that are not numbers. Duplicate (user, item)
    rows are merged and counted in a notice: weights summed (implicit feedback), the last
    rating kept (by time when there is one).
    """
    for column in (user, item, rating, time):
        if column is not None and column not in frame.columns:
            raise DataError(f"Column {column!r} is not in the interactions (columns: {listed(frame.columns)})."
                            + did_you_mean(column, frame.columns))
    if threshold is not None and rating is None:
        raise ConfigError(f"threshold={threshold!r} applies to a rating column, and none is given; pass rating= "
                          "(the column of ratings or weights) or leave threshold out.")
    if user == item:
        raise ConfigError(f"user and item must be different columns; both are {user!r}.")
    for column in (user, item):
        missing = frame[column].isna()
        if missing.any():
            raise DataError(f"{int(missing.sum())} interactions have no {column!r} (e.g. row "
                            f"{frame.index[missing.to_numpy()][0]!r}). Drop those rows or fill the id.")
    notes: list[str] = []
    data = pd.DataFrame({"user": frame[user].to_numpy(), "item": frame[item].to_numpy()})
    if time is not None:
        data["time"] = parse_times(frame[time], time)
    values = None if rating is None else _numbers(frame[rating], rating)
    mode = "implicit" if rating is None else ("weight" if threshold == "weight" else "rating")
    data["value"] = 1.0 if values is None else values
    if time is not None:
        data = data.sort_values("time", kind="stable")  # "last" means the latest
    duplicated = data.duplicated(["user", "item"], keep=False)
    if duplicated.any():
        n = int(data.duplicated(["user", "item"]).sum())
        if mode == "rating":
            data = data.drop_duplicates(["user", "item"], keep="last")
            notes.append(f"{n} repeated (user, item) rows dropped: the {'latest' if time else 'last'} "
                         f"rating of each pair is kept")
        else:
            merged = data.groupby(["user", "item"], sort=False, as_index=False).agg(
                value=("value", "sum"), **({"time": ("time", "max")} if time is not None else {}))
            data = merged.sort_values("time", kind="stable") if time is not None else merged
            notes.append(f"{n} repeated (user, item) rows merged: their weights are summed"
                         + (" and the pair dated by its latest row" if time is not None else ""))
    user_codes, user_ids = pd.factorize(data["user"], sort=True)
    item_codes, item_ids = pd.factorize(data["item"], sort=True)
    for what, column, ids in (("users", user, user_ids), ("items", item, item_ids)):
        if len(ids) < 2:
            raise DataError(f"The interactions hold {len(ids)} distinct {what} (column {column!r}); at least 2 "
                            "are needed to learn what to recommend. Give more interactions.")
    value = data["value"].to_numpy(dtype=np.float64)
    if mode == "rating":
        cut, preference = preference_rule(value, threshold)
        positive = value >= cut
    else:
        positive = value > 0
        preference = ("every interaction is a preference of weight 1 (implicit feedback)" if mode == "implicit"
                      else f"every interaction is a preference weighted by {rating!r}")
    if not positive.any():
        raise DataError(f"No interaction is a preference under the rule: {preference}. Lower threshold= "
                        "or check the rating column.")
    weight = np.where(positive, value if mode != "rating" else 1.0, 0.0).astype(np.float32)
    for note in notes:
        if not quiet:
            warnings.warn(note + ".", LabcoatNotice, stacklevel=2)
    return Interactions(user=user_codes.astype(np.int32), item=item_codes.astype(np.int32), weight=weight,
                        positive=positive, time=data["time"].to_numpy(dtype=np.float64) if time is not None else None,
                        user_ids=np.asarray(user_ids), item_ids=np.asarray(item_ids), preference=preference,
                        notes=tuple(notes))


def preference_rule(ratings: np.ndarray, threshold: float | str | None) -> tuple[float, str]:
    """The rating from which a row is a preference, and the rule in words: ``threshold`` when
    given; 4 when the ratings lie on a 1-5 (or 0-5) scale (the usual "liked it"); else the
    global median rating.

    Examples
    --------
    >>> preference_rule(np.array([1.0, 3.0, 8.0, 10.0]), None)
    (5.5, 'a rating of 5.5 or more (the median rating) is a preference (pass threshold= to change it)')
    """
    if threshold is not None:
        if isinstance(threshold, str) or not np.isfinite(float(threshold)):
            raise ConfigError(f"threshold must be a number (the rating from which a row is a preference) or "
                              f"'weight' (the column is a weight, every row a preference); got {threshold!r}.")
        cut = float(threshold)
        return cut, f"a rating of {cut:g} or more is a preference (threshold={cut:g})"
    low, high = float(ratings.min()), float(ratings.max())
    if low >= 0 and high <= 5 and high > FIVE_STAR_THRESHOLD:
        return FIVE_STAR_THRESHOLD, (f"a rating of {FIVE_STAR_THRESHOLD:g} or more is a preference (ratings between "
                                     f"{low:g} and {high:g}, read as a 5-star scale; pass threshold= to change it)")
    cut = float(np.median(ratings))
    return cut, f"a rating of {cut:g} or more (the median rating) is a preference (pass threshold= to change it)"


def parse_times(values: pd.Series, column: str) -> pd.Series:
    """``values`` as seconds (float): numbers are taken as they are (e.g. Unix seconds), other
    values parsed as dates; a :class:`DataError` names the first value that is neither.

    Examples
    --------
    >>> parse_times(pd.Series(["2024-01-01", "2024-01-02"]), "t").diff().iloc[1]
    np.float64(86400.0)
    """
    if pd.api.types.is_bool_dtype(values):
        raise DataError(f"Time column {column!r} holds booleans; give dates or numbers (e.g. Unix seconds).")
    bad: np.ndarray
    if pd.api.types.is_numeric_dtype(values):
        seconds = values.astype(np.float64)
        bad = ~np.isfinite(seconds.to_numpy())
    else:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
        bad = parsed.isna().to_numpy()
        seconds = (parsed - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()
    if bad.any():
        example = values[bad].iloc[0]
        raise DataError(f"{int(bad.sum())} values of time column {column!r} cannot be read as times, e.g. "
                        f"{example!r}. Fix them or drop those rows.")
    return seconds


def _numbers(values: pd.Series, column: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.fillna(0))
    if bad.any():
        raise DataError(f"Column {column!r} must hold numbers (ratings or weights); {int(bad.sum())} values do "
                        f"not, e.g. {values[bad.to_numpy()].iloc[0]!r}. Fix or drop those rows.")
    return numbers.to_numpy(dtype=np.float64)


def check_table(table: pd.DataFrame, key: str, what: str) -> pd.DataFrame:
    """The ``items`` or ``users`` table checked: it has the id column ``key``, one row per id
    (duplicates: the last kept, with a notice).

    Examples
    --------
    >>> check_table(pd.DataFrame({"item": [1, 2], "genre": ["a", "b"]}), "item", "items").shape
    (2, 2)
    """
    if key not in table.columns:
        raise DataError(f"The {what} table has no {key!r} column, the id column of the interactions (columns: "
                        f"{listed(table.columns)}). Name its id column {key!r}." + did_you_mean(key, table.columns))
    duplicated = table[key].duplicated(keep="last")
    if duplicated.any():
        warnings.warn(f"{int(duplicated.sum())} repeated ids in the {what} table (e.g. "
                      f"{table[key][duplicated].iloc[0]!r}); the last row of each is kept.", LabcoatNotice,
                      stacklevel=3)
        table = table[~duplicated]
    return table.dropna(subset=[key]).reset_index(drop=True)
