"""Monitoring an anomaly model on a window of new rows: its alert rate and its score
distribution against those of training.

Two alerts, each a reason for exit code 1:

- the window's **alert rate** (share of rows flagged) differs from the training alert rate by
  more than ``tolerance`` (relative) and an exact two-sided binomial test of the window's alerts
  against the training rate gives ``p < alpha``: the alert volume the threshold was set for no
  longer holds (more alerts to work, or fewer frauds caught);
- the window's **score distribution** has shifted: the two-sample Kolmogorov-Smirnov test of
  the window's scores against the training scores gives ``p < alpha`` and the population
  stability index over the training scores' deciles is at least :data:`PSI_SHIFT` (both a
  significant and a material shift: on large windows the KS test alone flags shifts too small
  to matter).

The training scores are in-sample (each training row took part in the fits that score it), so
new rows from the same source can score a little higher: in two of three trials on
``make_transactions`` (1,000 new rows, 3,000 or 4,000 training rows, random splits) the KS test
found that difference significant (p < 0.01) while the PSI stayed below 0.04; the PSI condition
keeps it from being called a shift. On small training sets (below a few thousand rows)
new rows also meet values training never saw more often, and their alert rate runs above the
training one (a difference the check reports: it is what the threshold will give).

Fewer than :data:`MIN_ROWS` rows is an error, not a verdict. With a time column (the model's,
present in the window) the alerts are also counted per day.

Examples
--------
>>> bins = score_bins(np.linspace(0, 1, 101))
>>> [round(float(b), 2) for b in bins[:3]]
[0.1, 0.2, 0.3]
>>> shares(np.array([0.05, 0.95, 0.95]), bins).round(2).tolist()
[0.33, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.67]
"""
from __future__ import annotations

import math
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from labcoat.errors import ConfigError, DataError
from labcoat.monitoring.stattests import psi

#: PSI of the scores (training deciles) from which a significant shift is material.
PSI_SHIFT = 0.1
#: Fewest rows in a window for a verdict.
MIN_ROWS = 30
#: Significance level of both tests.
ALPHA = 0.05
#: Relative change of the alert rate tolerated.
TOLERANCE = 0.1


def monitor_anomaly(model: Any, rows: pd.DataFrame, *, label: str, source: str, alpha: float = ALPHA,
                    tolerance: float = TOLERANCE) -> dict[str, Any]:
    """The check of ``model`` on ``rows`` as a JSON-able dict: ``model``, ``window``,
    ``alert_rate``, ``scores``, ``per_day`` (or None), ``alerts`` (words), ``exit_code``
    (0 or 1). ``label`` names the model and ``source`` the rows in the document."""
    _enough(len(rows), source)
    predicted = model.predict(rows)
    return compare(model, predicted["anomaly_score"].to_numpy(dtype=float), predicted["is_anomaly"].to_numpy(dtype=bool),
                   rows, label=label, source=source, alpha=alpha, tolerance=tolerance)


def monitor_log(model: Any, log: str | Path, *, name: str, version: str, since: float | None, label: str,
                alpha: float = ALPHA, tolerance: float = TOLERANCE) -> dict[str, Any]:
    """:func:`monitor_anomaly` on the rows ``labcoat serve`` answered with this model (its
    served ``name`` and ``version``) since ``since`` (Unix time; None: all), from its prediction
    log: the scores and flags it answered, not scored again."""
    from labcoat.serve.predlog import read_log

    if not Path(log).is_file():
        raise ConfigError(f"No prediction log at '{log}'; pass the --log of `labcoat serve`.")
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    for entry in read_log(log, since=since):
        if entry["endpoint"] == "/predict" and entry["model"] == name and str(entry["version"]) == version:
            inputs += entry["inputs"]
            outputs += entry["outputs"]
    source = f"the prediction log '{log}' ({name} v{version}" + (", since the given time)" if since else ")")
    _enough(len(outputs), source)
    try:
        scores = np.array([o["anomaly_score"] for o in outputs], dtype=float)
        flags = np.array([o["is_anomaly"] for o in outputs], dtype=bool)
    except (KeyError, TypeError):
        raise DataError(f"The requests logged for {name} v{version} in '{log}' hold no anomaly scores: the log was "
                        "written by another kind of model.") from None
    return compare(model, scores, flags, pd.DataFrame(inputs), label=label, source=source, alpha=alpha,
                   tolerance=tolerance)


def _enough(rows: int, source: str) -> None:
    if rows < MIN_ROWS:
        raise DataError(f"Only {rows} row(s) in {source}; a check needs at least {MIN_ROWS}. Give a wider window.")


def compare(model: Any, scores: np.ndarray, flags: np.ndarray, rows: pd.DataFrame, *, label: str, source: str,
            alpha: float = ALPHA, tolerance: float = TOLERANCE) -> dict[str, Any]:
    """The window's ``scores`` and ``flags`` (of ``rows``) against the model's training ones."""
    training = np.asarray(model.training_scores, dtype=float)
    threshold = float(model.threshold)
    rate = alert_rate(int(flags.sum()), len(flags), float((training >= threshold).mean()), alpha=alpha,
                      tolerance=tolerance)
    shift = score_shift(training, scores, alpha=alpha)
    alerts = []
    if rate["shifted"]:
        alerts.append(f"the alert rate moved from {rate['training']:.2%} in training to {rate['window']:.2%} "
                      f"({rate['relative_change']:+.0%}; 95% interval {rate['low']:.2%} to {rate['high']:.2%}, "
                      f"binomial p = {rate['p_value']:.2g})")
    if shift["shifted"]:
        alerts.append(f"the score distribution shifted from training's (KS {shift['ks']:.3f}, p = "
                      f"{shift['p_value']:.2g}; PSI {shift['psi']:.3f} >= {PSI_SHIFT})")
    return {"model": {"label": label, "task": "anomaly", "threshold": threshold},
            "window": {"source": source, "rows": int(len(flags))},
            "created": datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
            "alert_rate": rate, "scores": shift, "per_day": per_day(model, rows, flags),
            "settings": {"alpha": alpha, "tolerance": tolerance, "psi_shift": PSI_SHIFT},
            "alerts": alerts, "exit_code": 1 if alerts else 0}


def alert_rate(alerts: int, rows: int, training: float, *, alpha: float = ALPHA,
               tolerance: float = TOLERANCE) -> dict[str, Any]:
    """The window's alert rate against ``training``'s: Wilson 95% interval, exact binomial
    p-value, relative change and whether it ``shifted``.

    >>> r = alert_rate(30, 1000, 0.01)
    >>> r["window"], r["shifted"], r["p_value"] < 1e-5
    (0.03, True, True)
    >>> alert_rate(11, 1000, 0.01)["shifted"]
    False
    """
    test = stats.binomtest(alerts, rows, min(max(training, 1e-12), 1 - 1e-12))
    low, high = test.proportion_ci(confidence_level=0.95, method="wilson")
    window = alerts / rows
    change = (window - training) / training if training > 0 else (math.inf if window > 0 else 0.0)
    return {"training": training, "window": window, "alerts": alerts, "rows": rows, "low": float(low),
            "high": float(high), "p_value": float(test.pvalue), "relative_change": change,
            "shifted": bool(test.pvalue < alpha and abs(change) > tolerance)}


def score_bins(training: np.ndarray) -> np.ndarray:
    """The inner edges of the training scores' deciles (distinct ones: ties merge bins)."""
    return np.unique(np.quantile(training, np.linspace(0.1, 0.9, 9)))


def shares(scores: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The share of ``scores`` in each bin cut by the ``inner`` edges (a bin holds its upper edge)."""
    counts = np.bincount(np.searchsorted(inner, scores, side="left"), minlength=len(inner) + 1)
    return counts / max(counts.sum(), 1)


def score_shift(training: np.ndarray, window: np.ndarray, *, alpha: float = ALPHA) -> dict[str, Any]:
    """KS statistic and p-value, PSI over the training deciles, the quantiles and the bins'
    shares of both (for the report), and whether the distribution ``shifted``.

    >>> rng = np.random.default_rng(0)
    >>> same = score_shift(rng.random(2000), rng.random(500))
    >>> same["shifted"], score_shift(rng.random(2000), rng.random(500) ** 0.5)["shifted"]
    (False, True)
    """
    ks = stats.ks_2samp(training, window)
    inner = score_bins(training)
    reference, current = shares(training, inner), shares(window, inner)
    index = psi(reference, current)
    levels = [0.5, 0.9, 0.99]
    return {"ks": float(ks.statistic), "p_value": float(ks.pvalue), "psi": float(index),
            "shifted": bool(ks.pvalue < alpha and index >= PSI_SHIFT),
            "quantiles": {"levels": levels, "training": np.quantile(training, levels).round(6).tolist(),
                          "window": np.quantile(window, levels).round(6).tolist()},
            "plot": {"cuts": inner.round(6).tolist(), "reference": reference.round(6).tolist(),
                     "current": current.round(6).tolist(), "labels": bin_labels(inner)}}


def bin_labels(inner: np.ndarray) -> list[str]:
    """Names of the bins the ``inner`` edges cut.

    >>> bin_labels(np.array([0.1, 0.5]))
    ['≤ 0.1', '0.1 to 0.5', '> 0.5']
    """
    cuts = [f"{v:.3g}" for v in inner]
    return [f"≤ {cuts[0]}"] + [f"{a} to {b}" for a, b in zip(cuts[:-1], cuts[1:])] + [f"> {cuts[-1]}"]


def per_day(model: Any, rows: pd.DataFrame, flags: np.ndarray) -> list[dict[str, Any]] | None:
    """Alerts per day of the model's time column (None without one in ``rows``)."""
    from labcoat.tasks.anomaly.examples import daily

    column = model.info.get("time_column")
    if not column or column not in rows.columns:
        return None
    return [{str(k): v for k, v in row.items()} for row in daily(rows[column], flags).to_dict("records")]


def write_outputs(document: dict[str, Any], *, report: Path | None, track: bool, tracking_uri: str | None,
                  reference: str) -> str | None:
    """Write the HTML page to ``report`` (None: no page) and, with ``track``, log the check as
    a run of experiment ``labcoat-monitor`` (figures as metrics, the JSON and the page as
    artifacts); returns the run id (None untracked)."""
    from labcoat.monitoring.record import EXPERIMENT, open_run
    from labcoat.reports.anomaly_monitor_report import anomaly_monitor_report

    run = open_run(f"monitor {document['model']['label']}", tracking_uri, EXPERIMENT) if track else None
    try:
        html = anomaly_monitor_report(document) if report is not None or run is not None else ""
        if report is not None:
            try:
                Path(report).write_text(html, encoding="utf-8")
            except OSError as error:
                raise ConfigError(f"Cannot write the report to '{report}': {error.strerror or error}. Give a "
                                  "writable file path with --report.") from None
        if run is None:
            return None
        rate, scores = document["alert_rate"], document["scores"]
        metrics = {"alert_rate": rate["window"], "training_alert_rate": rate["training"],
                   "alert_rate_p_value": rate["p_value"], "score_ks": scores["ks"], "score_ks_p_value": scores["p_value"],
                   "score_psi": scores["psi"], "current_rows": float(document["window"]["rows"]),
                   "exit_code": float(document["exit_code"])}
        tags = {"labcoat.verdict": "shift" if document["alerts"] else "no shift",
                "labcoat.exit_code": str(document["exit_code"]), "labcoat.model": reference,
                "labcoat.task": "anomaly", "labcoat.window": document["window"]["source"]}
        with tempfile.TemporaryDirectory(prefix="labcoat-monitor-") as scratch:
            page = Path(scratch) / "monitor-report.html"
            page.write_text(html, encoding="utf-8")
            run.finish(metrics, tags, document, reports=[page])
        return run.run_id
    except BaseException:
        if run is not None:
            run.fail()
        raise
