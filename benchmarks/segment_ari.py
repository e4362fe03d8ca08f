"""Segmentation against known groups: adjusted Rand index of labcoat's segments (k chosen, and
k given as the true number of classes) and of plain k-means with the true k (numbers
standardised, categories one-hot, missing values imputed), on data sets whose classes are
natural groups, the class column removed. A sanity check, not a target: classes need not be
the structure a clusterer finds.

    PYTHONPATH=src python benchmarks/segment_ari.py [--budget 30s]
"""
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import labcoat

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tabular"


def datasets() -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    from sklearn.datasets import load_wine

    out = {}
    penguins = SHARED / "penguins.csv"
    if penguins.exists():
        frame = pd.read_csv(penguins).dropna(subset=["species"])
        out["penguins (species)"] = (frame.drop(columns="species"), frame["species"])
    wine = load_wine(as_frame=True)  # bundled with scikit-learn: 3 cultivars
    out["wine (cultivar, sklearn)"] = (wine.data, wine.target)
    white = SHARED / "wine_quality_white.csv"
    if white.exists():
        frame = pd.read_csv(white)
        out["wine quality white (quality)"] = (frame.drop(columns="quality"), frame["quality"])
    return out


def kmeans_true_k(frame: pd.DataFrame, k: int, seed: int = 0) -> np.ndarray:
    numbers = frame.select_dtypes("number").columns.tolist()
    others = [c for c in frame.columns if c not in numbers]
    encode = ColumnTransformer([("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
                                ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                                      OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                                 others)])
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(encode.fit_transform(frame))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", default="30s")
    args = parser.parse_args()
    rows = []
    for name, (frame, truth) in datasets().items():
        k = int(truth.nunique())
        line = {"data set": name, "rows": len(frame), "true k": k,
                "k-means, true k": adjusted_rand_score(truth, kmeans_true_k(frame, k))}
        for label, given in (("labcoat, k chosen", None), ("labcoat, true k", k)):
            started = time.monotonic()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = labcoat.fit(frame, task="segment", k=given, budget=args.budget, quiet=True, track=False,
                                    report=False)
            line[label] = adjusted_rand_score(truth, model.predict(frame))
            chosen = model.info["chosen"]
            line[f"{label}: model"] = (f"{chosen['candidate']} k={model.info['k']}, stability {chosen['stability']:.2f} "
                                       f"[{chosen['stability_low']:.2f}, {chosen['stability_high']:.2f}], "
                                       f"{time.monotonic() - started:.0f} s")
        rows.append(line)
        print(line, flush=True)
    table = pd.DataFrame(rows)
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
