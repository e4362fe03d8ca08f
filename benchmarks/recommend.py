"""Recommendation side by side: labcoat, most popular, implicit's ALS and BPR (defaults and
tuned) and EASE, on MovieLens 100K and a generated set of 1M interactions.

Usage::

    python benchmarks/recommend.py                 # both sets, the generated one at 1M interactions
    python benchmarks/recommend.py --small         # generated set of 200k interactions (quick look)
    python benchmarks/recommend.py --sets movielens100k --systems most_popular,labcoat

Each set is cut once in time: the latest 20% of the interactions (rows sharing the cut's
instant go together) are the test. Every system gets the training part only (labcoat in this
repository's venv; implicit's models and EASE each in a venv of its own under
``benchmarks/.venvs/``, made on first use; ``_recommend_runner.py`` runs them) and returns its
top 20 items for every test user: a user with a test interaction and a training one. The
tuned peers pick their parameters on a validation part cut the same way out of the training
part (20 Optuna TPE trials for ALS and BPR, 8 lambdas on a log grid for EASE), then refit on
all training. labcoat's budget is the fit time of the slowest tuned peer on that set (at least
60 s); it is measured first.

Every system is scored here, by one scorer over the full ranking: the items a user met in
training are left out of the lists, relevant are the user's test items not met in training.
NDCG@10 (binary gains) and Recall@20 (hits / relevant items) per user with 95% bootstrap
intervals over users, coverage@10 (share of the training items in someone's top 10), and a
paired comparison over users of labcoat against the best peer on NDCG@10.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from _results import cpu_name, machine_state, peer_python, run_in_group, write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MOVIELENS = ROOT.parent / "shared" / "datasets" / "recsys" / "movielens100k_ratings.csv"
VENVS = HERE / ".venvs"
RUNNER = HERE / "_recommend_runner.py"
SETS = ("movielens100k", "generated")
SYSTEMS = ("most_popular", "implicit_als_default", "implicit_bpr_default", "implicit_als_tuned",
           "implicit_bpr_tuned", "ease_tuned", "labcoat")
TUNED = ("implicit_als_tuned", "implicit_bpr_tuned", "ease_tuned")
#: venv name and pinned packages of each peer
PEERS = {"implicit": ["implicit==0.7.3", "optuna==5.1.0", "numpy==2.4.6", "scipy==1.17.1", "pandas==3.1.1",
                      "pyarrow==25.0.1", "threadpoolctl==3.8.0"],
         "ease": ["optuna==5.1.0", "numpy==2.4.6", "scipy==1.17.1", "pandas==3.1.1", "pyarrow==25.0.1"]}
TEST_SHARE = 0.2
MIN_BUDGET = 60.0
BOOTSTRAP = 1000
TOP, K = 20, 10


# ---- data ---------------------------------------------------------------------------------

def load(name: str, small: bool) -> pd.DataFrame:
    """The interactions ``user_id``, ``item_id``, ``timestamp`` of set ``name``."""
    if name == "movielens100k":
        return pd.read_csv(MOVIELENS)[["user_id", "item_id", "timestamp"]]
    sys.path.insert(0, str(ROOT / "src"))
    from labcoat.datasets import make_interactions

    sizes = (10_000, 3_000, 200_000) if small else (50_000, 10_000, 1_000_000)
    return make_interactions(n_users=sizes[0], n_items=sizes[1], n_interactions=sizes[2], seed=0)


def temporal_split(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and test parts: the test holds the rows at or after the instant that leaves
    :data:`TEST_SHARE` of them after it."""
    times = rows["timestamp"]
    cut = times.quantile(1 - TEST_SHARE, interpolation="higher")
    held = (times >= cut).to_numpy()
    return rows[~held].reset_index(drop=True), rows[held].reset_index(drop=True)


class Truth:
    """What the lists are scored against: the training catalogue, the test users (a training
    row and a test row on an item they had not met), each one's seen and relevant items."""

    def __init__(self, train: pd.DataFrame, test: pd.DataFrame) -> None:
        self.items = pd.Index(train["item_id"].unique())
        seen = train.groupby("user_id")["item_id"].agg(set)
        new = test.groupby("user_id")["item_id"].agg(set)
        new = new[new.index.isin(seen.index)]
        relevant = pd.Series({u: items - seen[u] for u, items in new.items()}, dtype=object)
        relevant = relevant[relevant.map(len) > 0]
        self.users = relevant.index.to_numpy(dtype=object)
        self.relevant = relevant.to_list()
        self.seen = seen.reindex(relevant.index).to_list()


# ---- systems ------------------------------------------------------------------------------

def python_for(system: str) -> Path:
    """The interpreter of ``system``: this one for labcoat, else its peer's venv (made on first use)."""
    if system == "labcoat":
        return Path(sys.executable)
    peer = "ease" if system.startswith("ease") else "implicit"
    return peer_python(VENVS / f"rec-{peer}", PEERS[peer])


def run_runner(system: str, task: dict, out: Path, timeout: float) -> dict:
    """Run ``_recommend_runner.py`` for ``system`` in its venv on ``task``: its JSON report and
    the wall seconds, or the error."""
    task_file = out.with_suffix(".task.json")
    task_file.write_text(json.dumps({**task, "system": system, "out": str(out)}))
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT / "src") if system == "labcoat" else ""}
    started = time.monotonic()
    done = run_in_group([str(python_for(system)), str(RUNNER), str(task_file)], timeout=timeout, env=env)
    wall = time.monotonic() - started
    if done is None:
        return {"error": f"stopped after {timeout:.0f} s", "wall": wall}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1][:200], "wall": wall}
    return {**json.loads(Path(str(out) + ".json").read_text()), "wall": wall}


def most_popular(train: pd.DataFrame, truth: Truth) -> tuple[np.ndarray, dict]:
    """The most interacted-with training items not yet met, the same order for everyone."""
    started = time.monotonic()
    ranked = train["item_id"].value_counts().index.to_numpy(dtype=object)
    seconds = time.monotonic() - started

    def recommend(seen: list[set]) -> np.ndarray:
        top = np.full((len(seen), TOP), None, dtype=object)
        for row, met in enumerate(seen):
            column = 0
            for item in ranked:
                if item not in met:
                    top[row, column] = item
                    column += 1
                    if column == TOP:
                        break
        return top
    recommend(truth.seen[:10])
    started = time.monotonic()
    recommend(truth.seen[:1000])
    thousand = time.monotonic() - started
    return recommend(truth.seen), {"fit_seconds": seconds, "recommend_1000_seconds": thousand, "wall": seconds}


def lists_of(path: Path, truth: Truth) -> np.ndarray:
    """A runner's top-20 file as test users x 20 item ids (None where missing)."""
    frame = pd.read_parquet(path)
    top = np.full((len(truth.users), TOP), None, dtype=object)
    row = pd.Index(truth.users).get_indexer(frame["user"])
    keep = (row >= 0) & (frame["rank"].to_numpy() <= TOP)
    top[row[keep], frame["rank"].to_numpy()[keep] - 1] = frame["item"].to_numpy()[keep]
    return top


# ---- the shared scorer --------------------------------------------------------------------

def per_user(top: np.ndarray, truth: Truth) -> tuple[dict[str, np.ndarray], int]:
    """NDCG@10 and Recall@20 per test user of the lists ``top`` (seen and unknown items dropped,
    the rest moved up), the kept top 10s' items for the coverage, and the dropped count."""
    discounts = 1.0 / np.log2(np.arange(2, TOP + 2))
    ndcg, recall, dropped, covered = np.zeros(len(top)), np.zeros(len(top)), 0, set()
    catalogue = set(truth.items)
    for row, (items, seen, relevant) in enumerate(zip(top, truth.seen, truth.relevant)):
        valid = [i for i in items if i is not None and i in catalogue and i not in seen]
        dropped += sum(i is not None for i in items) - len(valid)
        hits = np.array([i in relevant for i in valid] + [False] * (TOP - len(valid)))
        ideal = discounts[:min(len(relevant), K)].sum()
        ndcg[row] = (hits[:K] * discounts[:K]).sum() / ideal
        recall[row] = hits[:TOP].sum() / len(relevant)
        covered.update(valid[:K])
    return {"ndcg@10": ndcg, "recall@20": recall, "covered": np.array([len(covered)])}, dropped


def bootstrap(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of ``values`` (users resampled)."""
    rng = np.random.default_rng(seed)
    means = np.array([values[rng.integers(0, len(values), len(values))].mean() for _ in range(BOOTSTRAP)])
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def scores(top: np.ndarray, truth: Truth) -> dict:
    values, dropped = per_user(top, truth)
    out = {"dropped": dropped, "coverage@10": float(values["covered"][0] / len(truth.items)),
           "per_user": {m: values[m] for m in ("ndcg@10", "recall@20")}}
    for metric in ("ndcg@10", "recall@20"):
        low, high = bootstrap(values[metric])
        out.update({metric: float(values[metric].mean()), f"{metric}_low": low, f"{metric}_high": high})
    return out


def paired(a: np.ndarray, b: np.ndarray) -> dict:
    """Mean of ``a - b`` over users, its 95% bootstrap interval and the paired t-test's p."""
    from scipy.stats import ttest_rel

    low, high = bootstrap(a - b, seed=1)
    return {"difference": float((a - b).mean()), "low": low, "high": high, "p": float(ttest_rel(a, b).pvalue)}


# ---- the run ------------------------------------------------------------------------------

def run_set(name: str, small: bool, systems: list[str], scratch: Path, timeout: float, runs: list[dict],
            out_md: Path) -> None:
    """Every system on set ``name``, appended to ``runs`` (the set's facts, the labcoat budget, a
    row of figures per system, the comparison); the section is rewritten after each system."""
    rows = load(name, small)
    train, test = temporal_split(rows)
    truth = Truth(train, test)
    facts = {"set": name + (" (small)" if small and name == "generated" else ""), "interactions": len(rows),
             "users": rows["user_id"].nunique(), "items": rows["item_id"].nunique(), "train": len(train),
             "test": len(test), "test_users": len(truth.users), "catalogue": len(truth.items),
             "state_before": machine_state()}
    print(json.dumps(facts), flush=True)
    train_path, users_path = scratch / f"{name}-train.parquet", scratch / f"{name}-users.parquet"
    train.to_parquet(train_path)
    pd.DataFrame({"user_id": truth.users}).to_parquet(users_path)
    results: dict[str, dict] = {}
    run = {"facts": facts, "results": results, "comparison": None}
    runs.append(run)
    for system in [s for s in systems if s != "labcoat"] + [s for s in systems if s == "labcoat"]:
        if system == "most_popular":
            top, info = most_popular(train, truth)
        else:
            tuned = [results[s]["fit_seconds"] for s in TUNED if "fit_seconds" in results.get(s, {})]
            budget = max(MIN_BUDGET, max(tuned, default=MIN_BUDGET))
            if system == "labcoat":
                facts["budget"] = budget
            out = scratch / f"{name}-{system}.parquet"
            info = run_runner(system, {"train": str(train_path), "users": str(users_path), "budget": budget}, out,
                              timeout=timeout if system != "labcoat" else max(timeout, 2 * budget + 300))
            top = lists_of(out, truth) if "error" not in info else None
        results[system] = {**info, **(scores(top, truth) if top is not None else {})}
        shown = {k: v for k, v in results[system].items() if k not in ("per_user", "trials", "leaderboard")}
        print(system, json.dumps(shown, default=str), flush=True)
        facts["state_after"] = machine_state()
        run["comparison"] = compare(results)
        write_section("recommend", render(runs), out_md)


def compare(results: dict[str, dict]) -> dict | None:
    """labcoat against the peer with the best mean NDCG@10, paired over the same test users."""
    peers = {s: r for s, r in results.items() if s != "labcoat" and "per_user" in r}
    if "per_user" not in results.get("labcoat", {}) or not peers:
        return None
    best = max(peers, key=lambda s: peers[s]["ndcg@10"])
    return {"peer": best, **paired(results["labcoat"]["per_user"]["ndcg@10"], peers[best]["per_user"]["ndcg@10"])}


def render(runs: list[dict]) -> str:
    lines = ["## Recommendation: labcoat vs most popular, implicit ALS/BPR and EASE (`benchmarks/recommend.py`)", "",
             f"Written on {date.today().isoformat()}; {os.cpu_count()} cores ({cpu_name()}); one run, every system on "
             "the same 2 cores one after another. Each set is cut once in time: the latest 20% of the interactions "
             "are the test, every interaction is implicit feedback. Each system learns from the training part only "
             "and returns its top 20 for every test user (a training row and a test row on an item not met before); "
             "the lists are scored here by one scorer over the full ranking of the training items, the items a user "
             "met in training left out. Tuned peers: 20 Optuna TPE trials (ALS, BPR) or 8 lambdas from 10 to 10,000 "
             "(EASE, float32), each scored by NDCG@10 on the latest 20% of the training part (at most 5,000 users), "
             "then refitted on all training; defaults: implicit 0.7.3's own (ALS on the counts, confidence as-is). "
             "labcoat's budget: the fit time of the slowest tuned peer (at least 60 s). Intervals: 95% bootstrap over "
             "test users. Fit s: the system's fit (with its tuning); recommend: 10 items for the first 1,000 "
             "test users (all of them when fewer); peak RSS: the runner process (most_popular runs inside the "
             "benchmark: none given)."]
    for run in runs:
        f = run["facts"]
        lines += ["", f"**{f['set']}**: {f['interactions']:,} interactions, {f['users']:,} users, "
                  f"{f['items']:,} items; "
                  f"train {f['train']:,}, test {f['test']:,} interactions, {f['test_users']:,} test users, "
                  f"{f['catalogue']:,} training items ranked. labcoat budget {f.get('budget', 0):.0f} s. "
                  f"Machine before: {f['state_before']}; after: {f['state_after']}.", "",
                  "| system | NDCG@10 [95% CI] | Recall@20 [95% CI] | coverage@10 | fit s | recommend 1,000 users s | "
                  "peak RSS MB | notes |", "|---|---|---|---:|---:|---:|---:|---|"]
        for system, r in run["results"].items():
            if "error" in r:
                lines.append(f"| {system} | failed: {r['error']} | | | {r.get('wall', 0):.0f} | | | |")
                continue
            rss = f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else "-"
            lines.append(f"| {system} | {r['ndcg@10']:.4f} [{r['ndcg@10_low']:.4f}, {r['ndcg@10_high']:.4f}] | "
                         f"{r['recall@20']:.4f} [{r['recall@20_low']:.4f}, {r['recall@20_high']:.4f}] | "
                         f"{100 * r['coverage@10']:.1f}% | {r['fit_seconds']:.1f} | "
                         f"{r['recommend_1000_seconds']:.3f} | "
                         f"{rss} | {notes(system, r)} |")
        scored = {s: r for s, r in run["results"].items() if "ndcg@10" in r}
        if scored:
            top = max(scored, key=lambda s: scored[s]["ndcg@10"])
            lines += ["", f"Highest mean NDCG@10: {top} ({scored[top]['ndcg@10']:.4f}); whether it is ahead of the "
                      "next beyond noise: see the intervals and the paired comparison."]
        c = run["comparison"]
        if c:
            lines += ["", f"labcoat - {c['peer']} (the best peer) on NDCG@10, paired over the {f['test_users']:,} test "
                      f"users: {c['difference']:+.4f} [{c['low']:+.4f}, {c['high']:+.4f}], paired t-test p = "
                      f"{c['p']:.2g}."]
    return "\n".join(lines)


def notes(system: str, r: dict) -> str:
    parts = []
    if system == "labcoat":
        parts.append(f"chose {r.get('chosen')}")
    elif "params" in r:
        shown = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in r["params"].items())
        parts.append(f"{shown}; validation NDCG@10 {r['validation_ndcg@10']:.4f}")
    if r.get("dropped"):
        parts.append(f"{r['dropped']} seen/unknown items dropped from the lists")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--small", action="store_true", help="the generated set at 200k interactions of 10k users "
                        "and 3k items (a quick look)")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds after which a peer is stopped (labcoat: at least twice its budget + 300)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="labcoat-recommend-bench-") as scratch:
        for name in args.sets.split(","):
            if name == "movielens100k" and not MOVIELENS.exists():
                print(f"skip {name}: {MOVIELENS} not found", flush=True)
                continue
            run_set(name, args.small, args.systems.split(","), Path(scratch), args.timeout, runs, args.out)
    print("\n" + render(runs) + f"\n\nwrote {args.out}")


if __name__ == "__main__":
    main()
