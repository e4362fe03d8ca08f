"""``POST /recommend`` latency of a served recommender: one user, 10 items, one request at a time.

Usage::

    python benchmarks/recommend_serving.py            # MovieLens 100K and a generated 10,000-item set

Each set is fitted by labcoat (MovieLens 100K: 30 s; ``make_interactions`` of 10,000 users,
10,000 items and 200,000 interactions: 60 s), saved, and served by ``labcoat serve`` (one
uvicorn worker) greedily and with ``--explore 0.05``; 20 warm-up requests, then 300 users in
turn, timed at the client (the answer read and parsed). Figures: p50 and p95 in milliseconds,
into ``benchmarks/RESULTS.md`` (section ``recommend_serving``). The issue's target: p50 ≤ 10 ms.
"""
from __future__ import annotations

import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from _results import cpu_name, write_section
from _serving import post, serving

ROOT = Path(__file__).resolve().parents[1]
MOVIELENS = ROOT.parent / "shared" / "datasets" / "recsys" / "movielens100k_ratings.csv"
REQUESTS, WARM_UP = 300, 20


def sets() -> list[tuple[str, pd.DataFrame, float]]:
    from labcoat.datasets import make_interactions

    out = []
    if MOVIELENS.exists():
        out.append(("MovieLens 100K", pd.read_csv(MOVIELENS), 30.0))
    out.append(("generated, 10,000 items", make_interactions(n_users=10_000, n_items=10_000,
                                                             n_interactions=200_000, seed=0), 60.0))
    return out


def latencies(folder: Path, users: list, explore: str | None) -> np.ndarray:
    """Milliseconds of each request to a fresh ``labcoat serve`` of ``folder``."""
    log = folder.with_suffix(f".{explore or 'greedy'}.db")
    with serving(folder, log, *(["--explore", explore] if explore else []), timeout=60) as port:
        for user in users[:WARM_UP]:
            post(port, "/recommend", {"user": user, "k": 10})
        out = []
        for user in users[:REQUESTS]:
            started = time.perf_counter()
            post(port, "/recommend", {"user": user, "k": 10})
            out.append((time.perf_counter() - started) * 1000)
        return np.array(out)


def main() -> None:
    import labcoat

    warnings.simplefilter("ignore")
    rows = []
    with tempfile.TemporaryDirectory(prefix="labcoat-rec-serving-") as scratch:
        for name, frame, budget in sets():
            model = labcoat.fit(frame, task="recommend", user="user_id", item="item_id", time="timestamp",
                                budget=budget, track=False, report=False, quiet=True)
            folder = model.save(Path(scratch) / f"model{len(rows)}")
            users = [u.item() if hasattr(u, "item") else u for u in model.user_ids[:REQUESTS]]
            for explore in (None, "0.05"):
                ms = latencies(folder, users, explore)
                rows.append({"set": name, "items": len(model.item_ids), "chosen": model.info["chosen"]["name"],
                             "policy": explore or "greedy", "p50": float(np.median(ms)),
                             "p95": float(np.percentile(ms, 95))})
                print(rows[-1], flush=True)
    lines = ["## Serving recommendations: `POST /recommend` latency (`benchmarks/recommend_serving.py`)", "",
             f"Written on {date.today().isoformat()}; {cpu_name()}. One `labcoat serve` worker, one request at a "
             f"time, {REQUESTS} users after {WARM_UP} warm-up requests, 10 items each, timed at the client. "
             "Target: p50 ≤ 10 ms.", "",
             "| set | items | chosen recommender | policy | p50 ms | p95 ms |", "|---|---:|---|---|---:|---:|"]
    lines += [f"| {r['set']} | {r['items']:,} | {r['chosen']} | {r['policy']} | {r['p50']:.2f} | {r['p95']:.2f} |"
              for r in rows]
    write_section("recommend_serving", "\n".join(lines))


if __name__ == "__main__":
    main()
