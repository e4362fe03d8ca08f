"""Monitoring a segment model: the segments' shares in a window of new rows (a table, or the
rows ``labcoat serve`` answered on ``/segment``) against their shares in training.

Two figures: the population stability index (PSI) of the shares, and the p-value of the
chi-square test of the window's segment counts against training's (a 2 × k contingency
table). The shares have shifted, exit code 1, when the PSI reaches ``psi_threshold`` (default
0.1: "moderate" on the usual scale) *and* the test finds the difference beyond chance
(p < 0.01), so that neither a small window's noise nor a large window's trifle raises it.
Each segment's change is put in words.

Examples
--------
>>> check = check_segment_shares(model, new_customers)     # doctest: +SKIP
>>> check["exit_code"], check["summary"][0]                # doctest: +SKIP
(1, 'The segment shares have shifted: PSI 0.31, chi-square p < 0.0001 over 500 rows.')
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from labcoat.errors import ConfigError, DataError
from labcoat.monitoring.stattests import psi

#: PSI of the shares from which a shift is called (with the chi-square test below ALPHA).
PSI_THRESHOLD = 0.1
ALPHA = 0.01
#: Fewest rows in the window.
MIN_ROWS = 30


def check_segment_shares(model: Any, current: pd.DataFrame, *, psi_threshold: float = PSI_THRESHOLD,
                         source: str = "the given rows") -> dict[str, Any]:
    """The check of ``current`` rows' segments (predicted by ``model``) as a JSON-able dict:
    ``rows``, ``psi``, ``p_value``, ``shifted``, ``segments`` (per segment: training share,
    current share, change), ``summary`` (words), ``exit_code`` (0 or 1)."""
    if not isinstance(current, pd.DataFrame) or current.empty:
        raise DataError("Give the rows to check as a non-empty table (--current FILE).")
    return _check(model, model.predict(current).to_numpy(), psi_threshold=psi_threshold, source=source)


def check_logged_shares(model: Any, log_path: str | Path, *, since: float | None = None,
                        psi_threshold: float = PSI_THRESHOLD) -> dict[str, Any]:
    """:func:`check_segment_shares` over the segments ``labcoat serve`` answered on ``/segment``
    (from the log at ``log_path``, requests since ``since``, a Unix time)."""
    from labcoat.serve.predlog import read_log

    if not Path(log_path).exists():
        raise ConfigError(f"No prediction log at '{log_path}'; pass the --log of `labcoat serve`.")
    answered = [int(s) for entry in read_log(log_path, since=since) if entry.get("endpoint") == "/segment"
                for s in entry["outputs"]]
    return _check(model, np.asarray(answered, dtype=int), psi_threshold=psi_threshold,
                  source=f"the {len(answered):,} rows answered on /segment" + (" in the window" if since else ""))


def _check(model: Any, segments: np.ndarray, *, psi_threshold: float, source: str) -> dict[str, Any]:
    if not 0 < psi_threshold:
        raise ConfigError(f"The PSI threshold must be positive; got {psi_threshold!r}.")
    if len(segments) < MIN_ROWS:
        raise DataError(f"Only {len(segments)} rows to check: at least {MIN_ROWS} are needed to compare the "
                        "segment shares; give more rows or a wider window.")
    info = model.info
    k = int(info["k"])
    reference = np.asarray(info["shares"], dtype=float)
    trained = np.round(reference * int(info["rows"]))
    counts = np.bincount(segments, minlength=k)[:k].astype(float)
    shares = counts / counts.sum()
    index = psi(reference, shares)
    table = np.vstack([trained, counts])
    table = table[:, table.sum(axis=0) > 0]
    p_value = float(stats.chi2_contingency(table, correction=False)[1]) if table.shape[1] > 1 else 1.0
    shifted = bool(index >= psi_threshold and p_value < ALPHA)
    described = model.segments["description"]
    rows: list[dict[str, Any]] = [
        {"segment": s, "training_share": round(float(reference[s]), 4), "current_share": round(float(shares[s]), 4),
         "change": round(float(shares[s] - reference[s]), 4), "description": str(described[s])} for s in range(k)]
    verdict = ("The segment shares have shifted" if shifted else "No shift in the segment shares")
    summary = [f"{verdict}: PSI {index:.3f} (threshold {psi_threshold:g}), chi-square p "
               f"{'< 0.0001' if p_value < 1e-4 else f'= {p_value:.4f}'} over {len(segments):,} rows ({source})."]
    for r in sorted(rows, key=lambda r: -abs(r["change"])):
        if abs(r["change"]) >= 0.02:
            summary.append(f"segment {r['segment']}: {r['training_share']:.1%} of the rows in training, "
                           f"{r['current_share']:.1%} now ({r['description'].split(': ', 1)[-1]}).")
    return {"rows": int(len(segments)), "psi": round(index, 4), "p_value": p_value, "psi_threshold": psi_threshold,
            "alpha": ALPHA, "shifted": shifted, "segments": rows, "summary": summary, "source": source,
            "exit_code": 1 if shifted else 0}
