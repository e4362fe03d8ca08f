"""Unsupervised anomaly detection on anomalies the project did not choose: ADBench's four kinds of
synthetic anomalies planted in the normal rows of eight ADBench sets, labcoat against each PyOD
detector with its defaults (the protocol of ``benchmarks/anomaly.py``, part 1).

Usage::

    python benchmarks/anomaly_synthetic.py               # 32 sets, about 4 minutes on 2 cores
    python benchmarks/anomaly_synthetic.py --no-write    # print only

The ADBench sets' own anomalies are the ones every detector paper tunes to; a change to labcoat's
choice of detectors is judged here as well. Per base set, its normal rows (a seeded sample of at
most :data:`MAX_NORMAL` rows) get 5% anomalies of each kind (ADBench, Han et al. 2022, section 4.3):

- **local**: drawn from a Gaussian mixture fitted to the normal rows, its covariances scaled by 5;
- **global**: uniform within the normal rows' range widened by 10% on each side;
- **dependency**: each column drawn independently from its normal values (the marginals kept,
  the dependence between columns broken);
- **clustered**: drawn from the mixture with its means scaled by 5.

Everything is fitted on all rows without labels and scored on all of them: ROC AUC and average
precision, mean ranks (1 = best, ties averaged) per kind and over all 32 sets. Figures into
``benchmarks/RESULTS.md`` (section ``anomaly_synthetic``).
"""
from __future__ import annotations

import argparse
import time
import warnings
from datetime import date

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from _results import cpu_name, machine_state, write_section
from anomaly import DETECTORS, anomaly_sets, fit_labcoat, fmt, frame_of, load_anomaly, pyod_detector

#: The ADBench sets whose normal rows carry the planted anomalies (numeric, 6 to 36 columns).
BASES = ("Pima", "WDBC", "cardio", "pendigits", "satellite", "shuttle", "thyroid", "yeast")
KINDS = ("local", "global", "dependency", "clustered")
MAX_NORMAL = 3_000
SHARE = 0.05
SCALE = 5.0
SYSTEMS = ("labcoat", *DETECTORS)


def plant(normal: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``normal`` with ``SHARE`` of anomalies of ``kind`` appended, and the labels (1 = anomaly)."""
    from sklearn.mixture import GaussianMixture

    count = max(10, int(SHARE * len(normal)))
    if kind == "global":
        low, high = normal.min(axis=0), normal.max(axis=0)
        anomalies = rng.uniform(low - 0.1 * (high - low), high + 0.1 * (high - low), size=(count, normal.shape[1]))
    elif kind == "dependency":
        anomalies = np.column_stack([rng.choice(normal[:, j], count) for j in range(normal.shape[1])])
    else:
        mixture = GaussianMixture(n_components=5, covariance_type="full", reg_covar=1e-3, random_state=0).fit(normal)
        if kind == "local":
            mixture.covariances_ = mixture.covariances_ * SCALE
        else:
            mixture.means_ = mixture.means_ * SCALE
        mixture.random_state = int(rng.integers(2**31))
        anomalies = mixture.sample(count)[0]
    return np.vstack([normal, anomalies]), np.r_[np.zeros(len(normal)), np.ones(count)].astype(int)


def run_set(X: np.ndarray, y: np.ndarray, budget: str) -> dict[str, dict[str, float]]:
    scores = {"labcoat": fit_labcoat(frame_of(X), budget).score(frame_of(X))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in DETECTORS:
            with np.errstate(all="ignore"):
                raw = np.asarray(pyod_detector(name).fit(X).decision_scores_, dtype=float)
            scores[name] = np.nan_to_num(raw, nan=-np.inf)
    return {"roc": {s: roc_auc_score(y, v) for s, v in scores.items()},
            "ap": {s: average_precision_score(y, v) for s, v in scores.items()}}


def mean_ranks(table: pd.DataFrame) -> pd.Series:
    return table.rank(axis=1, ascending=False, method="average").mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", default="30s", help="labcoat's budget per set (default 30s)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    before, started = machine_state(), time.monotonic()
    rng = np.random.default_rng(0)
    rows: list[dict] = []
    paths = anomaly_sets(list(BASES))
    for base in BASES:
        X, y, _ = load_anomaly(paths[base])
        normal = X[y == 0]
        if len(normal) > MAX_NORMAL:
            normal = normal[np.sort(rng.choice(len(normal), MAX_NORMAL, replace=False))]
        for kind in KINDS:
            Xs, ys = plant(normal, kind, rng)
            result = run_set(Xs, ys, args.budget)
            rows.append({"set": f"{base} / {kind}", "kind": kind, **result})
            print(f"{base:10s} {kind:10s} rows {len(ys):5d}  labcoat ROC AUC {result['roc']['labcoat']:.3f} "
                  f"AP {result['ap']['labcoat']:.3f}", flush=True)
    wall = time.monotonic() - started
    lines = ["## Anomaly detection on synthetic anomalies: labcoat vs PyOD (benchmarks/anomaly_synthetic.py)", "",
             f"{date.today().isoformat()}, {cpu_name()}, labcoat from this tree, PyOD with its defaults, one process. "
             f"Command: `PYTHONPATH=src python benchmarks/anomaly_synthetic.py`; wall {wall / 60:.1f} min. "
             f"Machine before: {before}. After: {machine_state()}.", "",
             f"ADBench's four kinds of synthetic anomalies, {SHARE:.0%} of each, planted in the normal rows (at most "
             f"{MAX_NORMAL:,}, seeded) of {', '.join(BASES)}: 32 sets whose anomalies ADBench defined, not this project. Fitted on "
             f"all rows without labels (labcoat: `task=\"anomaly\"`, budget {args.budget}, seed 0; PyOD: defaults, "
             "IForest and PCA seeded 0), scored on all rows.", ""]
    summary = []
    for metric, title in (("roc", "ROC AUC"), ("ap", "Average precision")):
        table = pd.DataFrame([{"set": r["set"], **r[metric]} for r in rows]).set_index("set")[list(SYSTEMS)]
        ranks = pd.DataFrame({kind: mean_ranks(table[[r["kind"] == kind for r in rows]]) for kind in KINDS}).T
        ranks.loc["all 32"] = mean_ranks(table)
        ranks.loc["mean score, all 32"] = table.mean()
        ranks.index.name = "kind"
        lines += [f"{title}, mean rank by kind (1 = best; the last row the mean {title}):", "", fmt(ranks, 3), ""]
        best = ranks.loc["all 32", list(DETECTORS)].idxmin()
        ahead = ranks.loc["all 32", "labcoat"] < ranks.loc["all 32", best]
        summary.append(f"- {title}: labcoat's mean rank over the 32 sets {ranks.loc['all 32', 'labcoat']:.2f}, the best "
                       f"PyOD detector's ({best}) {ranks.loc['all 32', best]:.2f}: labcoat "
                       f"{'ahead' if ahead else 'not ahead'}.")
        lines += [f"<details><summary>{title} per set</summary>", "", fmt(table), "", "</details>", ""]
    text = "\n".join(lines + summary) + "\n"
    print(text)
    if not args.no_write:
        write_section("anomaly_synthetic", text)


if __name__ == "__main__":
    main()
