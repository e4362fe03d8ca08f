"""The report of a recommender: what was chosen and why, how good its recommendations were on
interactions it never saw (each score with a 95% interval over users, and a paired test
against the others), how popular what it recommends is compared with the catalogue, and
examples of what users are shown.

Examples
--------
>>> html = recommend_report(model)                                 # doctest: +SKIP
>>> Path("recommend.html").write_text(html)                        # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.reports import figures
from labcoat.reports.render import figure, render_page, write_page

#: Users whose recommendations are shown as examples, and the users sampled for the popularity figure.
EXAMPLE_USERS = 5
SAMPLED_USERS = 500
#: The scores the leaderboard shows, in its order (higher is better except popularity).
SHOWN = ("ndcg@10", "recall@20", "map@10", "hit_rate@10", "coverage@10", "popularity@10")


def recommend_report(model: Any, *, title: str | None = None, seed: int = 0) -> str:
    """The report as one self-contained HTML page."""
    info = model.info
    board = model.leaderboard.replace({np.nan: None})
    rows = board.to_dict("records")
    scored = [r for r in rows if r.get("ndcg@10") is not None]
    plots = {}
    if scored:
        plots["ndcg"] = figure(figures.interval_plot(
            [r["candidate"] for r in scored], [r["ndcg@10"] for r in scored], [r.get("ndcg@10_low") for r in scored],
            [r.get("ndcg@10_high") for r in scored], metric="NDCG@10 on the test interactions",
            highlight=[bool(r.get("chosen")) for r in scored]))
    activity = by_activity(model)
    if activity:
        plots["activity"] = figure(figures.bars(
            [a["users"] for a in activity], [a["ndcg"] for a in activity], errors=[a["half_width"] for a in activity],
            title="NDCG@10 of the chosen recommender by the users' number of interactions (95% intervals)",
            x_title="NDCG@10"))
    rng = np.random.default_rng(seed)
    users = model.user_ids[rng.choice(len(model.user_ids), min(SAMPLED_USERS, len(model.user_ids)), replace=False)]
    shown = model.recommend(list(users), k=10)
    percentile = pd.Series(model.popularity).rank(pct=True).to_numpy() * 100
    codes = pd.Index(model.item_ids).get_indexer(shown["item"])
    edges = np.linspace(0, 100, 11)
    recommended = np.histogram(percentile[codes[codes >= 0]], edges)[0]
    plots["popularity"] = figure(figures.bars(
        [f"{int(a)}–{int(b)}" for a, b in zip(edges[:-1], edges[1:])][::-1],
        (recommended / max(recommended.sum(), 1)).tolist()[::-1], percent=True,
        title=f"Popularity percentile of what {len(users):,} users are recommended (100: the most popular)",
        x_title="share of the recommendations"))
    examples = [{"user": u, "items": shown.loc[shown["user"] == u, ["rank", "item", "score", "reason"]]
                 .head(5).to_dict("records")} for u in users[:EXAMPLE_USERS]]
    chosen = next((r for r in rows if r.get("chosen")), rows[0] if rows else None)
    popular = next((r for r in rows if str(r["candidate"]).startswith("most_popular") and not r.get("chosen")), None)
    return render_page("recommend_report.html.j2", title=title or "Recommendations", info=info, board=rows,
                       chosen=chosen, popular=popular, shown=SHOWN, examples=examples, figures=plots,
                       coverage=float(len(np.unique(codes[codes >= 0])) / max(len(model.item_ids), 1)))


def by_activity(model: Any) -> list[dict[str, Any]]:
    """The chosen recommender's mean NDCG@10 on the test for users of growing activity (their
    interactions in the data), with a normal 95% half-width: who it serves well and who not."""
    values = model.user_ndcg.get("chosen")
    if values is None or not len(model.ndcg_users):
        return []
    codes = pd.Index(model.user_ids).get_indexer(model.ndcg_users)
    counts = np.diff(model.seen.indptr)[codes]
    out = []
    for low, high in ((1, 5), (6, 20), (21, 100), (101, None)):
        inside = (counts >= low) & (counts <= (high or counts.max()))
        if inside.sum() < 2:
            continue
        part = values[inside]
        out.append({"users": f"{low}-{high} ({int(inside.sum()):,} users)" if high
                    else f"over {low - 1} ({int(inside.sum()):,} users)",
                    "ndcg": float(part.mean()), "half_width": float(1.96 * part.std(ddof=1) / np.sqrt(len(part)))})
    return out


def write_recommend_report(model: Any, out_dir: str | Path) -> Path:
    """Write ``recommend_report.html`` in ``out_dir``; returns its path."""
    return write_page(out_dir, "recommend_report.html", recommend_report(model))
