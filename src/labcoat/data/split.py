"""Resampling: how a configuration is scored without touching the rows it was trained on.

The plan is chosen from the data's size so that small data gets low-variance estimates and
large data stays within the time budget:

============  ==========================================
rows          resampling
============  ==========================================
< 1,000       5-fold cross-validation, repeated 3 times
< 5,000       5-fold cross-validation, repeated 2 times
< 20,000      5-fold cross-validation
<= 100,000    3-fold cross-validation
larger        one holdout of 20% (at most 50,000 rows)
============  ==========================================

Under a time budget the search may score its later trials on the first repeat only, when the
repeats would leave model families untried (``labcoat.search.study.keep_repeats``).
Folds are stratified by class for classification tasks. When the rows are observations over
time (``fit(split="time", time_column=...)``), :func:`time_resampling` validates forward in
time instead: the rows are ordered by time and cut into 6 blocks; fold i trains on blocks
1..i and validates on block i + 1, so no model sees the future of the rows it is scored on.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold, TimeSeriesSplit, RepeatedKFold, RepeatedStratifiedKFold, StratifiedKFold, train_test_split



@dataclass(frozen=True)
class Resampling:
    """A list of (train rows, validation rows) index pairs and how they were made.

    Examples
    --------
    >>> plan = choose_resampling(np.array([0, 1] * 300), stratify=True, seed=0)
    >>> plan.description, len(plan.folds)
    ('5-fold cross-validation, repeated 3 times (stratified)', 15)
    """

    folds: list[tuple[np.ndarray, np.ndarray]]
    n_rows: int
    n_repeats: int
    description: str

    @property
    def is_holdout(self) -> bool:
        return len(self.folds) == 1

    @property
    def folds_per_repeat(self) -> int:
        """Folds of one repeat: they validate every row once (the plan's first folds)."""
        return len(self.folds) // max(self.n_repeats, 1)

    def validated_rows(self) -> np.ndarray:
        """Boolean mask of the rows that are validated at least once (all rows for CV)."""
        mask = np.zeros(self.n_rows, dtype=bool)
        for _, valid in self.folds:
            mask[valid] = True
        return mask


def choose_resampling(y: np.ndarray, *, stratify: bool, seed: int = 0, n_splits: int = 5) -> Resampling:
    """Pick cross-validation or holdout for ``len(y)`` rows (see the module docstring);
    ``stratify`` by the values of ``y`` (class indices) when the task asks for it."""
    n = len(y)
    if stratify:
        # Classes rarer than the fold count still stratify (some folds lack them); a class seen
        # once cannot be, so then the folds are plain.
        stratify = int(np.bincount(np.asarray(y, dtype=np.int64)).min()) >= 2
    if n > 100_000:
        size = min(0.2, 50_000 / n)
        train, valid = train_test_split(np.arange(n), test_size=size, random_state=seed,
                                        stratify=y if stratify else None)
        return Resampling([(np.sort(train), np.sort(valid))], n, 1,
                          f"holdout of {len(valid):,} rows ({size:.0%})" + (" (stratified)" if stratify else ""))
    repeats = 3 if n < 1_000 else 2 if n < 5_000 else 1
    if n >= 20_000:
        n_splits = min(n_splits, 3)
    if repeats > 1:
        cls = RepeatedStratifiedKFold if stratify else RepeatedKFold
        splitter = cls(n_splits=n_splits, n_repeats=repeats, random_state=seed)
    else:
        cls = StratifiedKFold if stratify else KFold
        splitter = cls(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        folds = list(splitter.split(np.zeros(n), y if stratify else None))
    text = f"{n_splits}-fold cross-validation"
    if repeats > 1:
        text += f", repeated {repeats} times"
    return Resampling(folds, n, repeats, text + (" (stratified)" if stratify else ""))


def time_resampling(times: np.ndarray, *, n_splits: int = 5, column: str = "time") -> Resampling:
    """Forward-in-time folds over rows ordered by ``times`` (ties keep their row order).

    Examples
    --------
    >>> plan = time_resampling(np.arange(60)[::-1], n_splits=2)
    >>> [(int(tr.min()), int(va.max())) for tr, va in plan.folds]  # trains on the latest rows' past
    [(40, 39), (20, 19)]
    """
    order = np.argsort(np.asarray(times), kind="stable")
    folds = [(np.sort(order[train]), np.sort(order[valid]))
             for train, valid in TimeSeriesSplit(n_splits=n_splits).split(order)]
    return Resampling(folds, len(order), 1, f"{n_splits} folds forward in time by '{column}'")
