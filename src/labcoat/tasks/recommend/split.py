"""Holdouts of interactions: what the recommenders learn from and what they are scored on.

- ``split="time"`` (default with a time column): a global cut in time; the latest
  :data:`TEST_SHARE` of the interactions are held out, as in production, where the model only
  ever knows the past. Held-out rows of a user who has no interaction before the cut are
  dropped (that user cannot be scored by a model that has never seen them; counted in a note).
- ``split="leave_last"``: each user's last ``n`` interactions (by time; at random without a
  time column) are held out, for users with more than ``n``.
- Without a time column, ``split="time"`` becomes a random holdout of :data:`TEST_SHARE` of
  each user's interactions (with a note: it cannot say how the model does on the future).

The validation holdout used for tuning is carved the same way out of the training part, so
the test rows are never seen while searching. :func:`check_no_leak` asserts that no held-out
(user, item) pair is in the training matrix.

Examples
--------
>>> import pandas as pd
>>> from labcoat.tasks.recommend.data import prepare
>>> rows = pd.DataFrame({"u": [1, 1, 1, 2, 2, 2, 3, 3], "i": [1, 2, 3, 1, 2, 4, 2, 3],
...                      "t": [1, 2, 9, 3, 4, 10, 5, 6]})
>>> data = prepare(rows, user="u", item="i", time="t")
>>> holdout = split(data, "time", seed=0)
>>> int(holdout.test.sum()), holdout.evaluable.tolist()
(2, [0, 1])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from labcoat.errors import ConfigError, DataError
from labcoat.tasks.recommend.data import Interactions

#: Share of the interactions held out for the test (and again, of the rest, for validation).
TEST_SHARE = 0.2
#: The split strategies.
SPLITS = ("time", "leave_last")


@dataclass(frozen=True)
class Holdout:
    """Boolean masks over the interactions' rows: ``train`` and ``test`` (disjoint; a row in
    neither was dropped); ``evaluable`` the user codes with a positive in the test and one in
    training; ``notes`` what was done on the user's behalf."""

    train: np.ndarray
    test: np.ndarray
    evaluable: np.ndarray
    method: str
    notes: tuple[str, ...] = ()


def split(data: Interactions, method: str = "time", *, within: np.ndarray | None = None, n: int = 1,
          seed: int = 0, what: str = "test") -> Holdout:
    """Hold out part of the rows ``within`` (a mask; default all): see the module docstring.

    A :class:`DataError` when no user can be evaluated (no user has positives on both sides).
    """
    if method not in SPLITS:
        raise ConfigError(f"Unknown split {method!r}. Use 'time' (a cut in time, the default) or 'leave_last' "
                          "(each user's last interaction).")
    rows = np.ones(len(data.user), dtype=bool) if within is None else within
    notes: list[str] = []
    if method == "time" and data.time is not None:
        test = _time_cut(data.time, rows)
        described = f"the latest {TEST_SHARE:.0%} of the interactions in time"
    elif method == "leave_last":
        test = _leave_last(data, rows, n, seed)
        described = f"each user's last {n} interaction{'s' if n > 1 else ''}" + (
            "" if data.time is not None else " (at random: no time column)")
    else:
        test = _per_user_random(data, rows, seed)
        described = f"a random {TEST_SHARE:.0%} of each user's interactions"
        if what == "test":
            notes.append("no time column: the test holds out a random 20% of each user's interactions, which "
                         "cannot tell how the model does on future interactions; pass time= for a split in time")
    train = rows & ~test
    in_train = np.zeros(data.n_users, dtype=bool)
    in_train[data.user[train]] = True
    orphan = test & ~in_train[data.user]
    if orphan.any():
        lost = np.unique(data.user[orphan])
        notes.append(f"{len(lost)} users have all their interactions in the {what} part ({described}): they "
                     "cannot be evaluated and their held-out interactions are left out")
        test = test & ~orphan
    positive_train = np.zeros(data.n_users, dtype=bool)
    positive_train[data.user[train & data.positive]] = True
    positive_test = np.zeros(data.n_users, dtype=bool)
    positive_test[data.user[test & data.positive]] = True
    evaluable = np.flatnonzero(positive_train & positive_test)
    if len(evaluable) == 0:
        raise DataError(f"No user can be evaluated on the {what} part ({described}): none has a preference both "
                        "before and in it. Give more interactions per user, or use split='leave_last'.")
    return Holdout(train=train, test=test, evaluable=evaluable, method=method, notes=tuple(notes))


def _time_cut(time: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The rows at or after the time that leaves :data:`TEST_SHARE` of ``rows`` after it
    (rows sharing that time go together, so the cut is a single instant)."""
    times = time[rows]
    cut = np.quantile(times, 1 - TEST_SHARE, method="higher")
    test = rows & (time >= cut)
    if test.sum() == rows.sum():  # one instant holds everything: nothing would be left to learn from
        test = rows & (time > cut)
    return test


def _leave_last(data: Interactions, rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    if n < 1:
        raise ConfigError(f"leave_last needs n of at least 1; got {n}.")
    positions = np.flatnonzero(rows)
    rng = np.random.default_rng(seed)
    # Order each user's rows by time (random without one), then number them from the end.
    key = data.time[positions] if data.time is not None else rng.random(len(positions))
    order = np.lexsort((key, data.user[positions]))
    ordered = positions[order]
    users = data.user[ordered]
    counts = np.bincount(users, minlength=data.n_users)
    ends = np.cumsum(counts)[users]  # one past each row's user's last row, in ``ordered``
    from_end = ends - np.arange(len(ordered))  # 1 for the user's last row
    test = np.zeros(len(data.user), dtype=bool)
    test[ordered[(from_end <= n) & (counts[users] > n)]] = True
    return test


def _per_user_random(data: Interactions, rows: np.ndarray, seed: int) -> np.ndarray:
    """A random :data:`TEST_SHARE` of each user's rows (at least one for users with two or more)."""
    positions = np.flatnonzero(rows)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(positions)), data.user[positions]))
    ordered = positions[order]
    users = data.user[ordered]
    counts = np.bincount(users, minlength=data.n_users)
    starts = np.cumsum(counts)[users] - counts[users]
    rank = np.arange(len(ordered)) - starts  # 0 for each user's first (random) row
    held = np.maximum(np.floor(TEST_SHARE * counts[users] + 0.5), 1)
    test = np.zeros(len(data.user), dtype=bool)
    test[ordered[(rank < held) & (counts[users] >= 2)]] = True
    return test


def check_no_leak(train: sp.csr_matrix, test: sp.csr_matrix, what: str = "test") -> None:
    """Raise a :class:`DataError` when a (user, item) pair of ``test`` is also in ``train``:
    the held-out interactions leaked into what the model learns from, and every score would be
    flattering.

    Examples
    --------
    >>> train = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> check_no_leak(train, sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]])))
    >>> check_no_leak(train, sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 0.0]])))
    Traceback (most recent call last):
    ...
    labcoat.errors.DataError: 1 held-out (user, item) pairs of the test are also in the training matrix (e.g. user code 0, item code 0): the split leaks. This is a bug; please report it.
    """
    both = train.astype(bool).multiply(test.astype(bool)).tocoo()
    if both.nnz:
        raise DataError(f"{both.nnz} held-out (user, item) pairs of the {what} are also in the training matrix "
                        f"(e.g. user code {both.row[0]}, item code {both.col[0]}): the split leaks. This is a bug; "
                        "please report it.")
