"""Checks of a forecasting table before the search: covariates that give the target away.

A time-varying covariate that moves with the target (within each series) almost exactly,
at the same step or one step ahead, is usually the target recorded again, or a value known
only after the fact (returns, the day's final count). Declared known in advance, it would
leak the future into the backtest and promise accuracy no forecast can deliver.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from labcoat.tasks.forecast.data import prepare
>>> sales = np.random.default_rng(0).poisson(20, 60).astype(float)
>>> rows = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=60), "sales": sales,
...                      "booked": sales + 1})
>>> panel = prepare(rows, "sales", time_column="day", horizon=7, known=["booked"], quiet=True)
>>> leaking_covariates(panel)[0][:40]
"Covariate 'booked' moves with the target"
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from labcoat.tasks.forecast.data import KEY, TARGET, Panel

#: Within-series correlation with the target at which a covariate is named.
LEAK_CORRELATION = 0.95


def leaking_covariates(panel: Panel) -> list[str]:
    """Findings, in words, for the covariates whose within-series correlation with the target
    (at the same step, or with the next step's target) reaches :data:`LEAK_CORRELATION`."""
    frame = panel.frame
    y = frame[TARGET] - frame.groupby(KEY, sort=False)[TARGET].transform("mean")
    following = frame.groupby(KEY, sort=False)[TARGET].shift(-1)
    following = following - following.groupby(frame[KEY], sort=False).transform("mean")
    out = []
    for column in (*panel.known, *panel.past):
        if column.startswith("holiday_"):
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        x = values - values.groupby(frame[KEY], sort=False).transform("mean")
        same, ahead = _corr(x, y), _corr(x, following)
        worst = max(abs(same), abs(ahead))
        if worst >= LEAK_CORRELATION:
            when = "at the same step" if abs(same) >= abs(ahead) else "one step ahead"
            kind = "known in advance" if column in panel.known else "known only in the past"
            out.append(f"Covariate {column!r} moves with the target {when} (within-series r = "
                       f"{same if when == 'at the same step' else ahead:.3f}); declared {kind}. If its value is "
                       "only known after the target is, it gives the future away: drop it.")
    return out


def _corr(a: pd.Series, b: pd.Series) -> float:
    both = a.notna() & b.notna()
    if both.sum() < 3:
        return 0.0
    x, y = a[both].to_numpy(dtype=float), b[both].to_numpy(dtype=float)
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])
