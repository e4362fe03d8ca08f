"""Is one forecaster really better than another? Paired over the series of the backtest.

Each series' MASE, averaged over the backtest windows it is in, is one paired value per
forecaster; series are the independent units (a window shares its training values with the
others of its series, so windows are averaged first). The mean difference gets a t interval
over series and a two-sided p-value; with more than two forecasters the p-values are
Holm-adjusted.

Examples
--------
>>> compare_candidates(model, "lightgbm", "auto_ets")[0]["verdict"]   # doctest: +SKIP
'lightgbm is better than auto_ets by 0.041 MASE [0.012, 0.070], p = 0.006.'
"""
from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
from scipy import stats

from labcoat.errors import ConfigError
from labcoat.evaluate.compare import adjusted_verdicts
from labcoat.evaluate.stats import CONFIDENCE, Comparison
from labcoat.tasks.forecast.model import ForecastModel


def compare_candidates(model: ForecastModel, *names: str) -> list[dict[str, Any]]:
    """Every pair of the named forecasters (``"ensemble"`` included) tested on their per-series
    backtest MASE."""
    if len(names) < 2:
        raise ConfigError("Give at least two forecasters to compare, e.g. lightgbm auto_ets (or ensemble).")
    errors = {"ensemble": model.series_mase, **model.candidate_errors}
    unknown = [n for n in names if n not in errors]
    if unknown:
        raise ConfigError(f"No backtest of {', '.join(unknown)} in this model; it has "
                          f"{', '.join(errors)} (a forecaster skipped for the budget has none).")
    tested = [(a, b, paired_over_series(errors[a], errors[b])) for a, b in combinations(names, 2)]
    return adjusted_verdicts(tested, "MASE", greater_is_better=False)


def paired_over_series(a: np.ndarray, b: np.ndarray) -> Comparison:
    """mean(a − b) over the series both have, its t interval and two-sided p-value."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    diff = diff[np.isfinite(diff)]
    if len(diff) < 2:
        raise ConfigError("A paired comparison needs both forecasters' errors on at least 2 series.")
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    if sd == 0:
        return Comparison(mean, mean, mean, 1.0 if mean == 0 else 0.0)
    se = sd / np.sqrt(len(diff))
    t = float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(diff) - 1))
    p = float(2 * stats.t.sf(abs(mean / se), len(diff) - 1))
    return Comparison(mean, mean - t * se, mean + t * se, p)
