"""Checks on the data before training: each problem found is a :class:`Finding`.

Implemented: target leakage by a single column, duplicate rows, columns with > 95% missing
values, severe class imbalance, too few rows per class. (Issue 4 lists more: time order,
train/test duplicates, high cardinality, rows per feature.)

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"x": range(40), "y": ["a", "b"] * 20, "y_copy": ["A", "B"] * 20})
>>> [f.check for f in check_data(df, "y", "binary")]
['leakage']
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Severity = Literal["high", "medium", "low"]
#: A single column whose values alone classify the target this well is suspected of leakage.
LEAKAGE_ACCURACY = 0.99
MISSING_SHARE = 0.95
IMBALANCE_SHARE = 0.05
MIN_ROWS_PER_CLASS = 10
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


def check_data(frame: pd.DataFrame, target: str, task: str) -> list[Finding]:
    """Every finding on ``frame`` for predicting ``target`` (``task``: binary, multiclass or
    regression), most severe first."""
    y = frame[target]
    features = frame.drop(columns=[target])
    classification = str(getattr(task, "value", task)) != "regression"
    findings = [*_leakage(features, y, classification), *_duplicates(frame), *_missing(features),
                *(_classes(y) if classification else [])]
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
