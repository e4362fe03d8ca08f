"""Recommendation at scale: 1,000,000 interactions of 50,000 users and 10,000 items, within a budget.

Usage::

    python benchmarks/recommend_scale.py                      # 1M interactions, 2 min
    python benchmarks/recommend_scale.py --interactions 200000 --users 10000 --items 3000 --budget 60

The interactions are ``labcoat.datasets.make_interactions`` (latent tastes, skewed popularity,
drift in time). labcoat fits with the budget (``task="recommend"``, split in time); printed: the
wall time of the fit against the budget, the peak resident memory, the test leaderboard (NDCG@10
with its 95% interval over users, Recall@20, coverage, popularity) and the time to recommend 10
items to 1,000 users.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings

import pandas as pd

from labcoat.datasets import make_interactions
from labcoat.errors import LabcoatNotice
from labcoat.tasks.recommend.fit import fit_recommend


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    rows = make_interactions(args.users, args.items, args.interactions, seed=args.seed)
    generated = time.monotonic() - started
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        model = fit_recommend(rows, user="user_id", item="item_id", time="timestamp", budget=args.budget,
                              seed=args.seed)
    fitted = time.monotonic() - started
    users = rows["user_id"].unique()[:1000]
    model.recommend(users[:10], k=10)  # warm up
    started = time.monotonic()
    model.recommend(users, k=10)
    recommended = time.monotonic() - started
    columns = ["candidate", "ndcg@10", "ndcg@10_low", "ndcg@10_high", "recall@20", "coverage@10", "popularity@10",
               "validation_ndcg@10", "p_value_vs_chosen", "seconds", "status"]
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(model.leaderboard[[c for c in columns if c in model.leaderboard]].round(4).to_string(index=False))
    print(f"\ngenerated {len(rows):,} interactions in {generated:.1f} s; fit {fitted:.1f} s for a budget of "
          f"{args.budget:.0f} s; recommend 10 items to 1,000 users: {recommended:.3f} s; peak memory "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    print(f"chosen: {model.info['chosen']['why']}")


if __name__ == "__main__":
    sys.exit(main())
