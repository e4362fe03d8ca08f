"""The report of a match model: what was compared and how (roles, comparison levels with their
m and u probabilities, blocking rules), where the pairs' weights fall, precision and recall
against the threshold (against true links, or the model's own estimate), and the pairs it was
least sure of, each explained field by field.

Examples
--------
>>> html = match_report(model)                                   # doctest: +SKIP
>>> Path("match.html").write_text(html)                          # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.reports import figures
from labcoat.reports.render import figure, render_page, write_page

#: Uncertain pairs shown with their explanation.
UNCERTAIN_PAIRS = 6


def match_report(model: Any, *, title: str | None = None) -> str:
    """The report as one self-contained HTML page."""
    info = model.info
    weights = model.scored["match_weight"].to_numpy()
    plots = {}
    if len(weights):
        edges = np.linspace(np.floor(weights.min()), np.ceil(weights.max()), 41)
        plots["weights"] = figure(figures.histogram(
            edges, np.histogram(weights, edges)[0], title="Match weight of the compared pairs (kept above 1 in 1,000)",
            x_title="match weight (log2 odds of a match)"))
    curve = own_curve(model.scored["match_probability"].to_numpy())
    truth_curve = info.get("curve")
    if truth_curve:
        curve = pd.DataFrame(truth_curve)
    if len(curve):
        plots["curve"] = figure(figures.threshold_lines(
            curve["threshold"].tolist(), {n: curve[n].tolist() for n in ("precision", "recall", "f1") if n in curve},
            chosen=model.threshold, title=("Against the true links" if truth_curve else
                                           "The model's own estimate (no true links)")))
    return render_page("match_report.html.j2", title=title or "Record matching", info=info, model=model,
                       parameters=parameters(model.settings), figures=plots, uncertain=uncertain(model),
                       rules=model.rules, pairs_count=len(model.pairs()),
                       entities=int(model.clusters()["entity"].nunique()))


def own_curve(probabilities: np.ndarray, points: int = 101) -> pd.DataFrame:
    """Estimated precision, recall and F1 against the threshold, from the probabilities alone.

    >>> own_curve(np.array([0.99, 0.98, 0.1]), points=3)["precision"].round(3).tolist()
    [0.69, 0.985, 0.0]
    """
    if not len(probabilities):
        return pd.DataFrame(columns=["threshold", "precision", "recall", "f1"])
    grid = np.linspace(0, 1, points)
    p = np.sort(probabilities)
    tail = np.concatenate([np.cumsum(p[::-1])[::-1], [0.0]])
    start = np.searchsorted(p, grid, side="left")
    kept = len(p) - start
    found = tail[start]
    precision = np.where(kept > 0, found / np.maximum(kept, 1), 0.0)
    recall = found / max(p.sum(), 1e-12)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    return pd.DataFrame({"threshold": grid, "precision": precision, "recall": recall, "f1": f1})


def parameters(settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Every comparison level's m and u probabilities and the weight they give."""
    rows = []
    for comparison in settings.get("comparisons", []):
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = float(np.log2(m / u)) if m and u else None
            rows.append({"field": comparison["output_column_name"], "level": level.get("label_for_charts", ""),
                         "m": m, "u": u, "weight": weight})
    return rows


def uncertain(model: Any, n: int = UNCERTAIN_PAIRS) -> list[dict[str, Any]]:
    """The pairs nearest the threshold on either side, each with its explanation."""
    scored = model.scored
    if not len(scored):
        return []
    distance = (scored["match_weight"] - np.log2(model.threshold / (1 - model.threshold))).abs()
    nearest = scored.loc[distance.nsmallest(n).index]
    return [{"id_a": row.id_a, "id_b": row.id_b, "probability": float(row.match_probability),
             "explanation": model.explain(row.id_a, row.id_b).to_dict("records")}
            for row in nearest.itertuples()]


def write_match_report(model: Any, out_dir: str | Path) -> Path:
    """Write ``match_report.html`` in ``out_dir``; returns its path."""
    return write_page(out_dir, "match_report.html", match_report(model))
