"""What the report of an anomaly model shows that needs the training rows, kept small in the
model when it is fitted: the most unusual rows with their reasons, each detector's ranks on a
sample of the rows (their agreement), the alerts per day (with a time column) and, with labels,
the held-out scores the metrics were measured on (the precision-recall curve).

Examples
--------
>>> daily(pd.Series(["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-02 09:00"]),
...       np.array([True, False, True])).values.tolist()
[['2024-01-01', 1, 2], ['2024-01-02', 1, 1]]
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: The most unusual training rows kept.
TOP_ROWS = 20
#: Rows on which the detectors' ranks are kept.
SAMPLE_ROWS = 2_000


def report_examples(model: Any, frame: pd.DataFrame, ranks: dict[str, np.ndarray], *, time_column: str | None,
                    labels_column: str | None, y_held_out: np.ndarray | None, held_out_scores: np.ndarray | None,
                    seed: int) -> dict[str, Any]:
    """The report's material for ``model`` fitted on ``frame`` (``ranks``: each detector's
    ranks of the training rows)."""
    scores = np.asarray(model.training_scores, dtype=float)
    top = np.argsort(-scores, kind="stable")[:TOP_ROWS]
    shown = [*model.columns, *(c for c in (time_column, labels_column) if c and c not in model.columns)]
    rows = frame.iloc[top]
    explained = model.predict(rows, threshold=max(float(scores[top].min()), 1e-9))
    table = rows[shown].reset_index(drop=True).assign(anomaly_score=scores[top],
                                                      reasons=explained["reasons"].to_numpy())
    sample = np.random.default_rng(seed).choice(len(scores), min(len(scores), SAMPLE_ROWS), replace=False)
    out: dict[str, Any] = {"top": table, "ranks": pd.DataFrame({n: r[np.sort(sample)] for n, r in ranks.items()})}
    if time_column:
        out["days"] = daily(frame[time_column], scores >= model.threshold)
    if y_held_out is not None and held_out_scores is not None:
        out["labelled"] = {"y": np.asarray(y_held_out, dtype=float), "scores": np.asarray(held_out_scores, dtype=float)}
    return out


def daily(times: pd.Series, flags: np.ndarray) -> pd.DataFrame:
    """Alerts and rows per calendar day of ``times`` (rows without a time left out)."""
    days = pd.to_datetime(times, errors="coerce").dt.floor("D").to_numpy()
    grouped = pd.DataFrame({"day": days, "alert": flags}).dropna().groupby("day")["alert"].agg(["sum", "size"])
    return pd.DataFrame({"day": pd.DatetimeIndex(grouped.index).strftime("%Y-%m-%d"), "alerts": grouped["sum"].astype(int).to_numpy(),
                         "rows": grouped["size"].astype(int).to_numpy()})
