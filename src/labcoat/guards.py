"""Checks on the data before training: each problem found is a :class:`Finding`.

Checks: target leakage by a single column, identifier-like columns, duplicate rows (and rows
shared by the training data and a test set, :func:`check_overlap`), a datetime column that
orders the target (use a time-based split), columns with > 95% missing values, severe class
imbalance, too few rows per class or per feature, high-cardinality categoricals.

Examples
--------
>>> import pandas as pd
>>> x = np.random.default_rng(0).normal(size=40)
>>> df = pd.DataFrame({"x": x, "y": ["a", "b"] * 20, "y_copy": ["A", "B"] * 20})
>>> [f.check for f in check_data(df, "y", "binary")]
['leakage']
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from labcoat.tasks import Task, get_task, infer_schema

if TYPE_CHECKING:
    from labcoat.data.schema import Schema

Severity = Literal["high", "medium", "low"]
#: A single column whose values alone classify the target this well is suspected of leakage.
LEAKAGE_ACCURACY = 0.99
MISSING_SHARE = 0.95
IMBALANCE_SHARE = 0.05
MIN_ROWS_PER_CLASS = 10
MIN_ROWS_PER_FEATURE = 10
#: A text-like column with more distinct values than this (and than 10% of rows) is high-cardinality.
HIGH_CARDINALITY = 50
#: Rank association (Spearman's rho, or Somers' D per class) between a datetime column and the
#: target above which the data is treated as time-ordered: the lower bar applies when the rows
#: are also stored in that column's order (a log of events), the higher one otherwise (a date
#: that is merely informative, such as a signup date, should not trigger it).
TIME_ASSOCIATION = (0.1, 0.5)
#: Spearman's rho between row position and time from which rows count as stored in time order.
STORED_IN_ORDER = 0.9
#: Columns with at most this many values are tested for class-by-value leakage.
LEAKAGE_MAX_VALUES = 50


@dataclass(frozen=True)
class Finding:
    """One problem: which check found it, how serious, the evidence and what to do."""

    check: str
    severity: Severity
    column: str | None
    evidence: str
    fix: str

    def __str__(self) -> str:
        where = f"column '{self.column}': " if self.column else ""
        return f"[{self.severity}] {self.check}: {where}{self.evidence} {self.fix}"


def check_data(frame: pd.DataFrame, target: str, task: str | Task, *, schema: Schema | None = None) -> list[Finding]:
    """Every finding on ``frame`` for predicting ``target``, most severe first: the checks the
    task asks for (``Task.guards``; a name is looked up in ``labcoat.tasks``). With the inferred
    ``schema``, also the columns it excluded as identifiers and the ones it read as datetimes."""
    task = get_task(task)
    y = frame[target]
    features = frame.drop(columns=[target])
    categorical = task.estimator_type == "classifier"
    if schema is None:
        schema = _infer_schema(frame, target, task)
    checks: dict[str, Callable[[], list[Finding]]] = {
        "leakage": lambda: _leakage(features, y, categorical),
        "duplicates": lambda: _duplicates(frame),
        "missing": lambda: _missing(features),
        "classes": lambda: _classes(y),
        "cardinality": lambda: _cardinality(features, schema),
        "rows_per_feature": lambda: _rows_per_feature(features),
        "time_order": lambda: _time_order(features, y, categorical, schema),
        "identifiers": lambda: _identifiers(schema) if schema is not None else [],
    }
    unknown = task.guards - checks.keys()
    if unknown:
        raise ValueError(f"Task {task.name} asks for unknown checks: {', '.join(sorted(unknown))}")
    return _by_severity([f for name, check in checks.items() if name in task.guards for f in check()])


def check_overlap(train: pd.DataFrame, test: pd.DataFrame, target: str) -> list[Finding]:
    """Rows of ``test`` that also occur in ``train`` (same features and target): a test score
    on them measures memory, not generalisation.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    >>> [f.check for f in check_overlap(a, a.head(2), "y")]
    ['train/test overlap']
    """
    columns = [c for c in test.columns if c in train.columns]
    if target not in columns:
        return []
    seen = pd.MultiIndex.from_frame(train[columns].astype(str).drop_duplicates())
    shared = int(pd.MultiIndex.from_frame(test[columns].astype(str)).isin(seen).sum())
    if shared == 0:
        return []
    share = shared / len(test)
    return [Finding("train/test overlap", "high" if share > 0.05 else "medium", None,
                    f"{shared:,} test rows ({share:.1%}) also occur in the training data, so the test "
                    "score is optimistic.", "Remove them from the test set (or split before deduplicating).")]


def _infer_schema(frame: pd.DataFrame, target: str, task: Task) -> Any:
    from labcoat.errors import LabcoatError

    try:
        return infer_schema(frame, target, task)
    except LabcoatError:  # the checks that need roles are skipped; fit reports the error itself
        return None


def _by_severity(findings: list[Finding]) -> list[Finding]:
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(findings, key=lambda f: order[f.severity])


def _leakage(features: pd.DataFrame, y: pd.Series, classification: bool) -> list[Finding]:
    """A column that, value by value, tells the target (classification), or is a near-exact
    linear copy of it (regression)."""
    found = []
    known = y.notna()
    for name in features.columns:
        x = features.loc[known, name]
        distinct = x.nunique()
        if classification:
            if not 2 <= distinct <= min(LEAKAGE_MAX_VALUES, 0.5 * len(x)):
                continue  # constant, or so many values that "each value its own rule" proves nothing
            # Accuracy of predicting the target by the majority class of each value of x.
            majority = y[known].groupby(x.astype(str)).agg(lambda s: s.value_counts().iloc[0])
            accuracy = majority.sum() / known.sum()
            if accuracy >= LEAKAGE_ACCURACY and y[known].value_counts(normalize=True).iloc[0] < 0.95:
                found.append(Finding("leakage", "high", str(name),
                                     f"its values alone predict the target for {accuracy:.1%} of rows.",
                                     "If it is known only after the outcome (or is the outcome in other "
                                     "words), drop it before training."))
        elif distinct >= 2 and pd.api.types.is_numeric_dtype(x):
            r = np.corrcoef(x.astype(float).fillna(x.astype(float).mean()), y[known].astype(float))[0, 1]
            if abs(r) >= 0.995:
                found.append(Finding("leakage", "high", str(name),
                                     f"it correlates with the target at r = {r:.4f}.",
                                     "Check it is not derived from the target; drop it if so."))
    return found


def _duplicates(frame: pd.DataFrame) -> list[Finding]:
    count = int(frame.duplicated().sum())
    if count == 0:
        return []
    share = count / len(frame)
    return [Finding("duplicates", "medium" if share > 0.05 else "low", None,
                    f"{count:,} rows ({share:.1%}) repeat an earlier row exactly; cross-validation "
                    "then scores rows the model has seen.",
                    "Remove duplicates unless they are real repeated observations.")]


def _missing(features: pd.DataFrame) -> list[Finding]:
    share = features.isna().mean()
    return [Finding("missing", "low", str(name), f"{value:.1%} of its values are missing.",
                    "It carries little information; consider dropping it.")
            for name, value in share.items() if value > MISSING_SHARE]


def _classes(y: pd.Series) -> list[Finding]:
    counts = y.value_counts()
    found = []
    if len(counts) >= 2 and counts.iloc[-1] / counts.sum() < IMBALANCE_SHARE:
        found.append(Finding("imbalance", "medium", str(y.name),
                             f"class '{counts.index[-1]}' is {counts.iloc[-1] / counts.sum():.1%} of rows.",
                             "Judge the model by PR AUC or balanced accuracy (--metric pr_auc), "
                             "not accuracy."))
    rare = [str(c) for c, n in counts.items() if n < MIN_ROWS_PER_CLASS]
    if rare:
        found.append(Finding("rare classes", "medium", str(y.name),
                             f"{len(rare)} class(es) have fewer than {MIN_ROWS_PER_CLASS} rows: "
                             f"{', '.join(rare[:5])}.",
                             "Collect more rows for them or merge them; their scores will be noise."))
    return found


def _cardinality(features: pd.DataFrame, schema: Schema | None) -> list[Finding]:
    names = ([c.name for c in schema.features if c.role.value == "categorical"] if schema is not None
             else [c for c in features.columns if not (pd.api.types.is_numeric_dtype(features[c])
                                                       or pd.api.types.is_bool_dtype(features[c]))])
    found = []
    for name in names:
        x = features[name]
        distinct, rows = x.nunique(), x.notna().sum()
        if HIGH_CARDINALITY < distinct < 0.95 * rows and distinct > 0.1 * rows:
            found.append(Finding("high cardinality", "low", str(name),
                                 f"{distinct:,} distinct values in {rows:,} rows; most values are seen "
                                 "a few times, so the model learns little from each.",
                                 "Group rare values (or map them to a coarser category) if you can."))
    return found


def _rows_per_feature(features: pd.DataFrame) -> list[Finding]:
    rows, columns = len(features), features.shape[1]
    if columns == 0 or rows / columns >= MIN_ROWS_PER_FEATURE:
        return []
    return [Finding("rows per feature", "medium", None,
                    f"{rows:,} rows for {columns:,} columns ({rows / columns:.1f} per column); models "
                    "can fit noise, and scores vary a lot between folds.",
                    "Drop columns you know are irrelevant, or collect more rows.")]


def _time_order(features: pd.DataFrame, y: pd.Series, classification: bool, schema: Schema | None) -> list[Finding]:
    """A datetime column whose order goes with the target: random folds then train on the
    future of the rows they validate, which deployment never can."""
    from scipy import stats

    names = ([c.name for c in schema.features if c.role.value == "datetime"] if schema is not None
             else [c for c in features.columns if pd.api.types.is_datetime64_any_dtype(features[c])])
    found = []
    for name in names:
        when = pd.to_datetime(features[name], errors="coerce", format="mixed")
        keep = when.notna() & y.notna()
        if keep.sum() < 30:
            continue
        order = when[keep].rank().to_numpy()
        if classification:
            labels = y[keep].astype(str).to_numpy()
            # Somers' D of time against each class (one vs rest): 2·AUC − 1.
            strength = max((abs(2 * _auc(labels == c, order) - 1) for c in np.unique(labels)), default=0.0)
            measure = "Somers' D"
        else:
            strength = abs(float(stats.spearmanr(order, y[keep].astype(float)).statistic))
            measure = "Spearman's rho"
        in_order = float(stats.spearmanr(np.arange(len(order)), order).statistic) >= STORED_IN_ORDER
        if strength >= TIME_ASSOCIATION[0 if in_order else 1]:
            stored = "the rows are stored in its order and " if in_order else ""
            found.append(Finding("time order", "medium", str(name),
                                 f"{stored}the target changes with it ({measure} {strength:.2f}): random "
                                 "folds let the model learn from later rows to predict earlier ones.",
                                 f"Validate forward in time: --split time --time-column {name} "
                                 f"(split='time', time_column='{name}')."))
    return found


def _auc(positive: np.ndarray, score: np.ndarray) -> float:
    n1, n0 = int(positive.sum()), int((~positive).sum())
    if n1 == 0 or n0 == 0:
        return 0.5
    from scipy.stats import rankdata

    ranks = rankdata(score)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _identifiers(schema: Schema) -> list[Finding]:
    return [Finding("identifier", "low", c.name, f"it looks like an identifier ({c.reason}), so it is "
                    "left out of the features.", "Nothing to do if it is a key; if it carries meaning, "
                    "convert it to a number or category before training.")
            for c in schema.columns if c.role.value == "identifier"]
