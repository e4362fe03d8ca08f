"""Learning from labelled pairs: a calibrated classifier on the comparison vectors, chosen over
Fellegi–Sunter only when grouped cross-validation over the labelled pairs says it is better.

A pair's features are each field's comparison level, one-hot (``missing`` a level of its
own), and Fellegi–Sunter's match weight (over 10, clipped to ±5). The classifier is
fitted by one procedure, run inside every fold and then on all the labels: logistic
regression and gradient-boosted trees are scored by an inner grouped 3-fold cross-validation,
the one with the lower log loss is kept, and its inner out-of-fold probabilities choose a
calibration (none, sigmoid or isotonic, by :func:`labcoat.evaluate.calibration.choose_calibration`).

Labelled pairs that are not among the scored pairs (the blocking did not compare them, or
Fellegi–Sunter weighed them below the kept weight) are compared by Splink with the model's
settings (:func:`compare_pairs`), so random non-matching pairs teach the classifier too.

The comparison (:data:`RULE`): 5 folds grouped so that pairs sharing a record stay in one fold
(the connected pairs; by the first record when one group is too large), stratified by label.
On each fold both models' probabilities on the held-out pairs give a log loss (probabilities
clipped to ``[1e-4, 1 - 1e-4]``), a Brier score and the F1 at each model's best threshold on
that fold. The classifier is chosen when the 95% interval of the mean per-fold log-loss
difference (classifier minus Fellegi–Sunter) lies below 0, and the interval of its F1
difference reaches 0 or above (F1 not worse beyond noise). Intervals are Student's t over the
folds with Nadeau and Bengio's correction (:func:`labcoat.evaluate.stats.corrected_t_interval`).

Examples
--------
>>> features(pd.DataFrame({"gamma_name": [1, 0, -1], "match_weight": [5.0, -3.0, 0.0]}), [("name", 2)]).tolist()
[[0.0, 0.0, 1.0, 0.5], [0.0, 1.0, 0.0, -0.3], [1.0, 0.0, 0.0, 0.0]]
>>> best_f1(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
(0.8, 0.7)
"""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.errors import DataError
from labcoat.evaluate.stats import corrected_t_interval
from labcoat.tasks.match.estimate import posterior

if TYPE_CHECKING:
    from labcoat.tasks.match.model import MatchModel

logger = logging.getLogger(__name__)
_TABLES = itertools.count()

#: Fewer labelled matches or non-matches than this among the scored pairs: no classifier.
MIN_LABELS = 10
FOLDS = 5
INNER_FOLDS = 3
#: Probabilities are judged by log loss within [EPS, 1 - EPS]: one overconfident pair does
#: not decide the comparison alone.
EPS = 1e-4
#: Pairs given the classifier at a time.
CHUNK = 200_000
RULE = ("the classifier replaces Fellegi-Sunter when, over 5 grouped folds of the labelled pairs, the 95% interval "
        "(corrected resampled t) of the mean log-loss difference (classifier minus Fellegi-Sunter) is below 0 "
        "and that of the F1 difference (each at its best threshold per fold) reaches 0 or above")


@dataclass
class PairClassifier:
    """A classifier of pairs fitted on labels: ``predict`` maps pairs (``gamma_<field>`` and
    ``match_weight`` columns) to match probabilities."""

    name: str  #: the family and calibration chosen, e.g. ``"logistic regression, sigmoid-calibrated"``
    layout: list[tuple[str, int]]  #: each field and its number of graded comparison levels
    estimator: Any
    calibrator: Any = None  #: a :class:`labcoat.evaluate.calibration.Calibrator`, or None

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        """Each pair's match probability."""
        out = np.zeros(len(pairs))
        for start in range(0, len(pairs), CHUNK):  # the features of millions of pairs at once would not fit
            proba = self.estimator.predict_proba(features(pairs.iloc[start:start + CHUNK], self.layout))
            if self.calibrator is not None:
                proba = self.calibrator.apply(proba)
            out[start:start + CHUNK] = proba[:, 1]
        return out


@dataclass
class Learned:
    """What the labels taught: the comparison's ``folds`` (a row per fold), the ``summary``
    (each model's mean score and interval, the differences'), whether the classifier was
    ``chosen`` (and then the ``classifier`` fitted on all labels and the ``threshold`` chosen),
    and ``info`` for ``MatchModel.info['supervised']``."""

    folds: pd.DataFrame
    summary: dict[str, Any]
    chosen: bool
    classifier: PairClassifier | None
    threshold: float | None
    info: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- features
def layout_of(settings: dict[str, Any]) -> list[tuple[str, int]]:
    """Each compared field and its number of graded levels (Splink's trained settings)."""
    return [(c["output_column_name"], sum(1 for lv in c["comparison_levels"] if not lv.get("is_null_level")))
            for c in settings["comparisons"]]


def features(pairs: pd.DataFrame, layout: list[tuple[str, int]]) -> np.ndarray:
    """The pairs' comparison vectors: per field a one-hot of its level (``-1``, missing, first),
    then the match weight over 10, clipped to ±5."""
    blocks = []
    for column, graded in layout:
        gamma = pairs[f"gamma_{column}"].to_numpy(dtype=np.int64)
        block = np.zeros((len(pairs), graded + 1))
        block[np.arange(len(pairs)), np.clip(gamma, -1, graded - 1) + 1] = 1.0
        blocks.append(block)
    weight = np.clip(pairs["match_weight"].to_numpy(dtype=float) / 10, -5, 5)
    return np.column_stack([*blocks, weight])


# ---------------------------------------------------------------------- labels
def labelled_vectors(model: MatchModel, labels: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The labelled pairs' comparison vectors: ``id_a``, ``id_b``, ``match_weight``, each
    ``gamma_<field>`` and ``match``; from the scored pairs when there (either way round), else
    computed by Splink with the model's settings. A pair labelled twice keeps its last label; a
    record paired with itself is dropped. Also counts of each kind."""
    labels = labels[labels["id_a"] != labels["id_b"]]
    labels = labels.drop_duplicates(["id_a", "id_b"], keep="last").reset_index(drop=True)
    scored = model.scored
    key = scored[["id_a", "id_b"]].reset_index().rename(columns={"index": "_row"})
    straight = labels.merge(key, on=["id_a", "id_b"], how="left")["_row"]
    flipped = labels.merge(key.rename(columns={"id_a": "id_b", "id_b": "id_a"}), on=["id_a", "id_b"], how="left")["_row"]
    row = straight.fillna(flipped).to_numpy()
    found = ~np.isnan(row)
    columns = ["id_a", "id_b", "match_weight", *(c for c in scored.columns if c.startswith("gamma_"))]
    parts = [scored.loc[row[found].astype(np.int64), columns].assign(match=labels["match"].to_numpy(dtype=bool)[found])]
    rest = labels[~found]
    if len(rest):
        parts.append(compare_pairs(model, rest)[columns].assign(match=rest["match"].to_numpy(dtype=bool)))
    joined = pd.concat(parts, ignore_index=True).drop_duplicates(["id_a", "id_b"], keep="last").reset_index(drop=True)
    return joined, {"labelled": len(labels), "among_scored": int(found.sum()), "computed": int((~found).sum())}


def compare_pairs(model: MatchModel, pairs: pd.DataFrame) -> pd.DataFrame:
    """Splink's comparison of the fitted records' pairs ``id_a``, ``id_b`` (in that order):
    ``match_weight`` and each ``gamma_<field>``, with the model's trained settings (term
    frequencies included), blocked on the pairs themselves."""
    from labcoat.tasks.match.find import scorer

    found = scorer(model)
    records = model.records.drop(columns=["source_dataset"], errors="ignore").set_index("unique_id", drop=False)
    number = next(_TABLES)
    tables = []
    for side, ids in (("a", pairs["id_a"]), ("b", pairs["id_b"])):
        part = records.loc[pd.Index(ids.astype(str))].reset_index(drop=True)
        part["unique_id"] = [f"{side}{i}" for i in range(len(part))]
        part["__labcoat_pair"] = np.arange(len(part))
        tables.append(found.db_api.register(part, table_name=f"__labcoat_labelled_{side}_{number}"))
    predicted = found.linker.inference.predict_between(
        tables[0], tables[1], blocking_rules_to_generate_predictions=["l.__labcoat_pair = r.__labcoat_pair"])
    try:
        gammas = [f"gamma_{c}" for c in found.columns]
        table = predicted.query_sql("SELECT unique_id_l, unique_id_r, match_weight, " + ", ".join(gammas)
                                    + " FROM {this}")
        out = table.as_pandas_dataframe()
        table.drop_table_from_database_and_remove_from_cache()
    finally:
        predicted.drop_table_from_database_and_remove_from_cache()
        for registered in tables:
            registered.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    left_first = out["unique_id_l"].astype(str).str.startswith("a")
    position = np.where(left_first, out["unique_id_l"], out["unique_id_r"]).astype(str)
    order = np.argsort(np.array([int(p[1:]) for p in position]), kind="stable")
    out = out.iloc[order].reset_index(drop=True)
    if len(out) != len(pairs):
        raise DataError(f"Splink compared {len(out):,} of the {len(pairs):,} labelled pairs given it; check the "
                        "labels' ids.")
    result = pd.DataFrame({"id_a": pairs["id_a"].astype(str).to_numpy(), "id_b": pairs["id_b"].astype(str).to_numpy(),
                           "match_weight": out["match_weight"].to_numpy(dtype=float)})
    for column in gammas:
        result[column] = out[column].to_numpy(dtype=np.int8)
    return result


def check_labels(labels: pd.DataFrame) -> None:
    """A :class:`DataError` when the labels hold too few matches or non-matches."""
    distinct = labels[labels["id_a"] != labels["id_b"]].drop_duplicates(["id_a", "id_b"], keep="last")
    matches = int(distinct["match"].sum())
    others = len(distinct) - matches
    if min(matches, others) < MIN_LABELS:
        raise DataError(f"The labels hold {matches:,} matches and {others:,} non-matches; a classifier needs at "
                        f"least {MIN_LABELS} of each to be compared with Fellegi-Sunter. Label more pairs (labcoat "
                        "match --review asks about the uncertain ones); Fellegi-Sunter alone is used.")


def groups_of(pairs: pd.DataFrame, folds: int) -> tuple[np.ndarray, str]:
    """Fold groups: the connected labelled pairs (pairs sharing a record, directly or through
    others), or each pair's first record when one such group holds more than a fold's share."""
    from labcoat.tasks.match.quality import clusters_from_pairs

    ids = pd.Series(pd.unique(np.concatenate([pairs["id_a"].to_numpy(), pairs["id_b"].to_numpy()])))
    component = clusters_from_pairs(ids, pairs)
    groups = component.reindex(pairs["id_a"].astype(str).to_numpy()).to_numpy()
    if pd.Series(groups).value_counts().iloc[0] <= len(pairs) / folds:
        return groups, "connected pairs"
    return pairs["id_a"].to_numpy(), "first record"


def _splits(y: np.ndarray, groups: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedGroupKFold

    return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


# ---------------------------------------------------------------------- scores
def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood of labels ``y`` under ``p`` clipped to ``[EPS, 1 - EPS]``."""
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def best_f1(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """The best F1 of linking the pairs of probability ``p`` at or above a threshold, and that
    threshold (the lowest probability linked)."""
    if not y.any():
        return float("nan"), 1.0
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order].astype(float)
    tp = np.cumsum(ys)
    f1 = 2 * tp / (np.arange(1, len(p) + 1) + ys.sum())
    cut = np.r_[ps[1:] != ps[:-1], True]  # a threshold cannot split tied probabilities
    f1 = np.where(cut, f1, -1.0)
    best = int(np.argmax(f1))
    return float(f1[best]), float(ps[best])


# ---------------------------------------------------------------------- the classifier
def _families(seed: int) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    return {"logistic regression": LogisticRegression(C=1.0, max_iter=2000),
            "boosted trees": HistGradientBoostingClassifier(max_iter=50, max_leaf_nodes=8, min_samples_leaf=10,
                                                            early_stopping=False, random_state=seed)}


def fit_classifier(x: np.ndarray, y: np.ndarray, groups: np.ndarray, layout: list[tuple[str, int]], *,
                   seed: int = 0) -> tuple[PairClassifier, np.ndarray]:
    """The classifier procedure on labelled pairs ``x``, ``y``: the family with the lower
    inner grouped 3-fold log loss, calibrated as its inner out-of-fold probabilities say,
    fitted on all; returns it and those out-of-fold probabilities (calibrated)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # small fits: OpenMP threads only contend (with DuckDB's too)
        return _fit_classifier(x, y, groups, layout, seed)


def _fit_classifier(x: np.ndarray, y: np.ndarray, groups: np.ndarray, layout: list[tuple[str, int]],
                    seed: int) -> tuple[PairClassifier, np.ndarray]:
    from sklearn.base import clone

    from labcoat.evaluate.calibration import choose_calibration

    families = _families(seed)
    splits = _splits(y, groups, min(INNER_FOLDS, int(np.bincount(y, minlength=2).min())), seed)
    oof: dict[str, np.ndarray] = {}
    for name, estimator in families.items():
        p = np.full(len(y), np.nan)
        for train, test in splits:
            if len(np.unique(y[train])) < 2:
                p[test] = y[train].mean()
                continue
            p[test] = clone(estimator).fit(x[train], y[train]).predict_proba(x[test])[:, 1]
        oof[name] = p
    name = min(oof, key=lambda n: log_loss(y, oof[n]))
    choice = choose_calibration(y, oof[name], seed=seed)
    calibrator = choice.calibrator
    held = oof[name] if calibrator is None else calibrator.apply(np.column_stack([1 - oof[name], oof[name]]))[:, 1]
    label = name if choice.method == "none" else f"{name}, {choice.method}-calibrated"
    estimator = clone(families[name]).fit(x, y)
    return PairClassifier(label, layout, estimator, calibrator), held


def compare(model: MatchModel, labels: pd.DataFrame, *, seed: int = 0) -> Learned:
    """Compare a classifier with Fellegi–Sunter on the model's labelled pairs (module
    docstring: the folds, the scores and the rule); the classifier is fitted on all the labels
    when it is chosen. A :class:`DataError` when there are too few labels."""
    check_labels(labels)
    joined, counts = labelled_vectors(model, labels)
    layout = layout_of(model.settings)
    x = features(joined, layout)
    y = joined["match"].to_numpy(dtype=np.int64)
    fs = posterior(joined["match_weight"].to_numpy(dtype=float))
    k = min(FOLDS, int(np.bincount(y, minlength=2).min()))
    groups, grouped_by = groups_of(joined, k)
    rows, held = [], np.full(len(y), np.nan)
    for fold, (train, test) in enumerate(_splits(y, groups, k, seed)):
        fold_classifier, _ = fit_classifier(x[train], y[train], groups[train], layout, seed=seed)
        p = fold_classifier.predict(joined.iloc[test])
        held[test] = p
        yt = y[test].astype(bool)
        rows.append({"fold": fold, "pairs": len(test), "matches": int(yt.sum()), "classifier_name": fold_classifier.name,
                     "fellegi_sunter_log_loss": log_loss(yt, fs[test]), "classifier_log_loss": log_loss(yt, p),
                     "fellegi_sunter_brier": float(np.mean((fs[test] - yt) ** 2)),
                     "classifier_brier": float(np.mean((p - yt) ** 2)),
                     "fellegi_sunter_f1": best_f1(yt, fs[test])[0], "classifier_f1": best_f1(yt, p)[0]})
        logger.debug("fold %d: %s", fold, rows[-1])
    folds = pd.DataFrame(rows)
    n_test = len(y) / k
    summary: dict[str, Any] = {}
    for metric in ("log_loss", "brier", "f1"):
        for name in ("fellegi_sunter", "classifier"):
            values = folds[f"{name}_{metric}"].to_numpy(dtype=float)
            low, high = corrected_t_interval(values.tolist(), len(y) - n_test, n_test)
            top = np.inf if metric == "log_loss" else 1.0  # the interval kept within the score's range
            summary[f"{name}_{metric}"] = (float(np.nanmean(values)), float(np.clip(low, 0, top)),
                                            float(np.clip(high, 0, top)))
        difference = (folds[f"classifier_{metric}"] - folds[f"fellegi_sunter_{metric}"]).to_numpy(dtype=float)
        summary[f"{metric}_difference"] = (float(np.nanmean(difference)),
                                           *corrected_t_interval(difference.tolist(), len(y) - n_test, n_test))
    chosen = bool(summary["log_loss_difference"][2] < 0 and summary["f1_difference"][2] >= 0)
    classifier: PairClassifier | None = None
    threshold: float | None = None
    if chosen:
        classifier, _ = fit_classifier(x, y, groups, layout, seed=seed)
        threshold = best_f1(y.astype(bool), held)[1]  # the out-of-fold probabilities: no optimism
    info = {"rule": RULE, "chosen": "classifier" if chosen else "fellegi_sunter", "folds": k,
            "grouped_by": grouped_by, "classifier": classifier.name if classifier else None,
            "classifier_per_fold": folds["classifier_name"].tolist(), **counts,
            "matches": int(y.sum()), "non_matches": int(len(y) - y.sum()),
            **{name: list(value) for name, value in summary.items()}}
    if chosen:
        info["note"] = ("the classifier was fitted on all the labelled pairs, so its scores on them elsewhere in info "
                        "are in-sample; the cross-validated scores here are the honest ones")
    return Learned(folds, summary, chosen, classifier, threshold, info)


def learn(model: MatchModel, labels: pd.DataFrame, *, keep_threshold: bool = False, seed: int = 0) -> Learned:
    """Compare a classifier with Fellegi–Sunter on ``labels`` (``id_a``, ``id_b``, ``match``,
    checked) and, when it is chosen, make it the model's: its probabilities for the scored
    pairs (``match_weight`` stays Fellegi–Sunter's), ``model.classifier`` (used by ``find``)
    and, unless ``keep_threshold`` (a given threshold or costs), the threshold that maximises
    F1 on the labelled pairs' out-of-fold probabilities. A :class:`DataError` when there are
    too few labels (the model is left as it was)."""
    learned = compare(model, labels, seed=seed)
    if learned.chosen and learned.classifier is not None:
        model.classifier = learned.classifier
        model.scored["match_probability"] = learned.classifier.predict(model.scored)
        if not keep_threshold and learned.threshold is not None:
            model.threshold = learned.threshold
    return learned


def leaderboard(base: pd.DataFrame, learned: Learned) -> pd.DataFrame:
    """``base`` (Fellegi–Sunter's row) with the cross-validated scores and their intervals, and
    a row for the classifier; ``chosen`` marks the one used."""
    rows = []
    for name in ("fellegi_sunter", "classifier"):
        row: dict[str, Any] = dict(base.iloc[0]) if name == "fellegi_sunter" and len(base) else {}
        row["candidate"] = name
        for metric in ("log_loss", "brier", "f1"):
            value, low, high = learned.summary[f"{name}_{metric}"]
            row.update({f"cv_{metric}": value, f"cv_{metric}_low": low, f"cv_{metric}_high": high})
        row["chosen"] = learned.info["chosen"] == name
        rows.append(row)
    return pd.DataFrame(rows)
