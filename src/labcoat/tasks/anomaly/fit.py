"""``labcoat.fit(data, task="anomaly")``: unusual rows found with no configuration.

The columns are read from the schema (:mod:`features`), the PyOD detectors fitted within the
budget (:mod:`detectors`), the ensemble chosen without labels by agreement and stability, or by
the labels when there are at least :data:`MIN_LABELLED` labelled anomalies (:mod:`weights`).
From one labelled anomaly the labels add a score of how much nearer each row is to a labelled
anomaly than to a labelled normal row (:mod:`neighbours`), averaged alike with the detectors';
from 50, a supervised model is tried too (:mod:`supervised`) and the choice made by
cross-validated PR AUC; the threshold set by a share,
an alert budget or costs (:mod:`threshold`); and, with labels, the result measured on folds the
choices were not made on (:mod:`evaluate`).

Examples
--------
>>> from labcoat.datasets import make_transactions
>>> data = make_transactions(1500, seed=2)                                    # doctest: +SKIP
>>> model = fit_anomaly(data, labels="is_fraud", budget=10, quiet=True)      # doctest: +SKIP
>>> model.info["threshold"]["mode"], model.info["selection"]                  # doctest: +SKIP
('contamination', 'labels')
"""
from __future__ import annotations

import functools
import json
import sys
import time as timer
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.io import as_table
from labcoat.errors import ConfigError, DataError, LabcoatNotice, did_you_mean, listed
from labcoat.search.budget import Clock, parse_budget
from labcoat.tasks.anomaly import supervised as learned
from labcoat.tasks.anomaly.entity_use import EntityProfile, add_at_fit, as_numbers, input_schema
from labcoat.tasks.anomaly.detectors import DETECTORS, FittedDetector, fit_detector, require_pyod, to_ranks
from labcoat.tasks.anomaly.examples import report_examples
from labcoat.tasks.anomaly.evaluate import average_precision, label_folds, label_metrics
from labcoat.tasks.anomaly.features import anomaly_schema, build_features, check_matrix, feature_columns
from labcoat.tasks.anomaly.model import AnomalyModel, combine
from labcoat.tasks.anomaly import neighbours as near
from labcoat.tasks.anomaly.reasons import ColumnProfile
from labcoat.tasks.anomaly.threshold import DEFAULT_SHARE, by_costs, by_share, check_modes, days_spanned
from labcoat.tasks.anomaly.weights import COMMITTEE, PRIOR_ROUNDS, ROUNDS, label_weights, to_uniform, unsupervised_weights
from labcoat.evaluate.thresholds import parse_costs

BUDGET = 60.0
#: Labelled anomalies needed for the labels to choose and weigh the detectors.
MIN_LABELLED = 10
#: Shares of the budget by the end of which the detectors' fits, then their stability refits,
#: must be done; the labels' folds and supervised models use what is left.
FIT_SHARE, STABILITY_SHARE = 0.4, 0.6


def fit_anomaly(data: pd.DataFrame | str | Path, target: str | None = None, *, labels: str | None = None,
                contamination: float | None = None, alerts_per_day: float | None = None,
                costs: str | dict[str, float] | None = None, exclude: Sequence[str] = (),
                budget: float | str | None = None, seed: int = 0, quiet: bool = False,
                candidates: Sequence[str] | None = None, time_column: str | None = None,
                metric: str | None = None, n_jobs: int | None = None, executor: str | None = None,
                ray_address: str | None = None, entity_column: str | None = None) -> AnomalyModel:
    """Fit an :class:`AnomalyModel` on ``data``.

    ``labels`` names a column of known labels (1 = anomaly, 0 = normal, empty = unknown; ``target``
    is taken as it when given instead); ``candidates`` the detectors to try (default: all of
    :data:`~labcoat.tasks.anomaly.detectors.DETECTORS`); ``exclude`` columns to leave out. The
    threshold: ``contamination`` (the share of rows to flag; default the labels' prevalence, else
    1%), or ``alerts_per_day`` (with ``time_column``), or ``costs`` (``"fp=1,fn=50"``; needs labels).
    ``entity_column`` (with ``time_column``) adds each row's features over its entity's earlier
    events (:mod:`~labcoat.tasks.anomaly.entity`) before the detectors.
    """
    started = timer.monotonic()
    say = _printer(quiet)
    clock = Clock(parse_budget(budget) if budget is not None else BUDGET)
    _refuse(metric=metric, executor=executor, ray_address=ray_address)
    if target is not None and labels is not None and target != labels:
        raise ConfigError(f"Give the labels column once: target={target!r} and labels={labels!r} differ.")
    labels = labels or target
    require_pyod()
    check_modes(contamination, alerts_per_day, costs, time_column)
    names = _candidates(candidates)
    frame = as_table(data)
    for name, what in ((labels, "labels"), (time_column, "time_column"), *((c, "exclude") for c in exclude)):
        if name is not None and name not in frame.columns:
            raise DataError(f"The {what} column '{name}' is not in the data.{did_you_mean(str(name), frame.columns)} "
                            f"Columns are: {listed(frame.columns)}.")
    entity_features, not_inputs, given = None, list[str](), frame
    if entity_column is not None:  # the entity's past, added before the detectors (see entity_use.py)
        entity_features, frame, not_inputs, entity_notes = add_at_fit(
            frame, entity_column, time_column, leave_out=[*exclude, *([labels] if labels else [])])
    if len(frame) < 20:
        raise DataError(f"{len(frame)} rows are too few to tell what is unusual; give at least 20.")
    if alerts_per_day is not None:
        _alert_share(alerts_per_day, frame[time_column], len(frame))
    y, labelled = _labels(frame, labels)
    positives = int(y[labelled].sum()) if labels else 0
    if costs is not None and positives < MIN_LABELLED:
        raise ConfigError(f"costs= needs labels with at least {MIN_LABELLED} labelled anomalies to find the cheapest "
                          f"threshold ({positives} given); set contamination= or alerts_per_day= instead.")
    notes: list[str] = entity_notes if entity_column is not None else []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LabcoatNotice)
        schema = anomaly_schema(frame, exclude=[*exclude, *not_inputs], labels=labels)
        if entity_features is not None:
            schema = as_numbers(schema, entity_features)
    notes += [str(w.message) for w in caught] + list(schema.notices)
    for w in caught:
        warnings.warn(w.message, LabcoatNotice, stacklevel=2)
    prepared = schema.prepare(frame, warn=False)
    kinds = feature_columns(schema)
    transformer = build_features(schema).fit(prepared)
    X = np.asarray(transformer.transform(prepared), dtype=np.float64)
    check_matrix(X)
    say(f"anomaly detection on {len(frame):,} rows: " + ", ".join(f"{c} ({k})" for c, k in kinds.items()))
    detectors = _fit_all(names, X, clock, seed, notes, say)
    ranks = {d.name: d.ranks(X) for d in detectors}
    stability = _stability(detectors, X, clock, seed, notes)
    supervised_scorer, supervised_weight = None, 0.0
    evaluation: dict[str, Any] = {}
    prior, figures = unsupervised_weights(ranks, stability)
    if positives >= MIN_LABELLED:
        weights, supervised_scorer, supervised_weight, evaluation = _with_labels(
            detectors, ranks, X, y, labelled, frame[time_column] if time_column else None, seed, notes, say, prior,
            clock)
        selection, criterion = "labels", (
            "greedy forward selection (with replacement) of the rank average with the best PR AUC on the labelled "
            f"rows, {ROUNDS} picks after the unsupervised choice counted as {PRIOR_ROUNDS}")
        if evaluation.get("candidates") and len(evaluation["candidates"]) > 2:
            criterion += (f"; then {evaluation['chosen']} kept for the best cross-validated PR AUC among "
                          f"{listed(evaluation['candidates'])}")
        elif evaluation.get("chosen") == "detectors+neighbours":
            criterion += ("; averaged alike with the nearest labelled anomaly against the nearest labelled normal "
                          f"row (fewer than {learned.MIN_POSITIVES} labelled anomalies: too few to choose between "
                          "them by cross-validation)")
    else:
        weights = prior
        selection = "unsupervised"
        criterion = ("agreement with the other detectors' consensus times stability between fits on two halves of "
                     f"the rows, both on a tail-weighted scale; the {COMMITTEE} best kept, weighed alike")
        if labels and positives and (1 - y[labelled]).sum():
            supervised_scorer, supervised_weight, evaluation = _few_labels(detectors, ranks, X, y, labelled, prior,
                                                                           seed)
            weights = {k: v * (1 - supervised_weight) for k, v in prior.items()}
            selection = "few labels"
            criterion += (f"; averaged alike with the nearest labelled anomaly against the nearest labelled normal "
                          f"row ({positives} labelled anomalies: too few to choose the detectors)")
            notes.append(f"Only {positives} labelled anomalies (fewer than {MIN_LABELLED}): the labels do not choose "
                         "the detectors; they add a score of how much nearer each row is to a labelled anomaly than "
                         "to a labelled normal row, averaged alike with the detectors' (measured leave-one-out).")
    weight_vector = np.array([weights[d.name] for d in detectors])
    combined = combine(X, detectors, weight_vector, supervised_scorer, supervised_weight)
    reference = np.sort(combined)
    training_scores = to_ranks(combined, reference)
    y_eval, oof = evaluation.pop("_y", None), evaluation.pop("_oof", None)
    threshold, how = _threshold(training_scores, y[labelled] if labels else None,
                                to_ranks(oof, reference) if oof is not None else None, y_eval,
                                contamination=contamination, alerts_per_day=alerts_per_day, costs=costs,
                                times=frame[time_column] if time_column else None, positives=positives)
    metrics = None
    if labels and positives and (1 - y[labelled]).sum():
        if oof is not None:
            scored = to_ranks(oof, reference)
            metrics = label_metrics(y_eval, scored, scored >= threshold, seed=seed)
        else:  # the labels chose nothing: the training scores are honest
            metrics = label_metrics(y[labelled], training_scores[labelled], training_scores[labelled] >= threshold,
                                    seed=seed)
            evaluation["validation"] = "the labelled rows' scores (the labels were not used to fit)"
        how["expected_precision"] = metrics["precision_at_threshold"]
    profile = ColumnProfile.fit(prepared, kinds)
    if entity_features is not None:
        profile = EntityProfile.of(profile, entity_features, prepared)
    leaderboard = _leaderboard(detectors, ranks, weights, figures, y, labelled, seed)
    reads_ranks = supervised_weight > 0 and getattr(supervised_scorer, "reads_ranks", True)
    kept = [d for d in detectors if weights[d.name] > 0 or reads_ranks]  # drop what scoring never reads
    inputs = schema if entity_features is None else input_schema(given, entity_features, exclude=exclude, labels=labels)
    model = AnomalyModel(inputs, transformer, kept, np.array([weights[d.name] for d in kept]), reference,
                         threshold, profile, training_scores, leaderboard, supervised=supervised_scorer,
                         supervised_weight=supervised_weight, entity_features=entity_features,
                         features_schema=schema if entity_features is not None else None)
    model.info.update(_plain({
        "task": "anomaly", "rows": len(frame), "columns": kinds, "labels_column": labels, "time_column": time_column,
        "excluded": list(exclude), "seed": seed, "entity_column": entity_column,
        "entity_features": entity_features.feature_names_ if entity_features is not None else [],
        "detectors": [{"name": d.name, "title": DETECTORS[d.name].title, "weight": round(weights[d.name], 4),
                       "rows_fitted": d.rows} for d in detectors if weights[d.name] > 0],
        "supervised": ({"model": supervised_scorer.name, "weight": supervised_weight}
                       if supervised_scorer is not None else None),
        "selection": selection, "criterion": criterion, "threshold": how, "threshold_score": threshold,
        "contamination": how["share"], "training_alert_rate": float((training_scores >= threshold).mean()),
        "training_score_quantiles": {str(q): float(np.quantile(combined, q)) for q in (0.5, 0.9, 0.99, 0.999)},
        "metrics": metrics, "validation": evaluation.get("validation"),
        "candidates_with_labels": evaluation.get("candidates"), "chosen_with_labels": evaluation.get("chosen"),
        "labelled_rows": int(labelled.sum()) if labels else 0, "labelled_anomalies": positives,
        "notices": notes, "seconds": round(timer.monotonic() - started, 3), "budget": clock.budget,
    }))
    held = ((y_eval, to_ranks(oof, reference)) if oof is not None else
            (y[labelled], training_scores[labelled]) if metrics is not None else (None, None))
    model.examples = report_examples(model, frame, ranks, time_column=time_column, labels_column=labels,
                                     y_held_out=held[0], held_out_scores=held[1], seed=seed)
    say(f"chosen: {', '.join(f'{d.name} {weights[d.name]:.2f}' for d in detectors if weights[d.name] > 0)}"
        + (f" + {supervised_scorer.name} {supervised_weight:.2f}" if supervised_scorer else "")
        + f"; threshold {threshold:.4f} flags {model.info['training_alert_rate']:.2%} of the training rows")
    return model


# ---------------------------------------------------------------------------- settings and data
def _refuse(**given: Any) -> None:
    shown = {"metric": "metric", "executor": "executor", "ray_address": "ray_address"}
    wrong = [shown[k] for k, v in given.items() if v not in (None, "local")]
    if wrong:
        raise ConfigError(f"{', '.join(wrong)} do not apply to task 'anomaly': it fits detectors in this process "
                          "and measures them by ROC AUC and PR AUC when labels are given.")


def _candidates(candidates: Sequence[str] | None) -> list[str]:
    if candidates is None:
        return list(DETECTORS)
    names = [str(c).lower() for c in candidates]
    unknown = [c for c in names if c not in DETECTORS]
    if unknown:
        raise ConfigError(f"Unknown detector(s) {listed(unknown)}; the detectors are {listed(DETECTORS)}."
                          + did_you_mean(unknown[0], DETECTORS))
    if not names:
        raise ConfigError(f"Give at least one detector; the detectors are {listed(DETECTORS)}.")
    return list(dict.fromkeys(names))


def _labels(frame: pd.DataFrame, column: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The labels as 0/1 floats and the mask of the labelled rows; a :class:`DataError` names
    values other than 0/1 (or booleans) and a column without both kinds of label."""
    if column is None:
        return np.zeros(len(frame)), np.zeros(len(frame), dtype=bool)
    values = frame[column]
    labelled = values.notna().to_numpy()
    if pd.api.types.is_bool_dtype(values.dtype):
        numbers = values.astype(float)
    else:
        numbers = pd.to_numeric(values, errors="coerce")
    bad = values[labelled & ~numbers.isin([0, 1]).to_numpy()]
    if len(bad):
        shown = listed(pd.unique(bad.astype(object))[:5])
        raise DataError(f"The labels column '{column}' must hold 1 (anomaly), 0 (normal) or nothing (unknown); it "
                        f"holds {shown}. Recode it, e.g. frame['{column}'] = (frame['{column}'] == 'fraud').astype(int).")
    y = numbers.fillna(0).to_numpy(dtype=np.float64)
    if labelled.sum() and (y[labelled].sum() == 0 or y[labelled].sum() == labelled.sum()):
        which = "no 1 (anomaly)" if y[labelled].sum() == 0 else "no 0 (normal row)"
        raise DataError(f"The labels column '{column}' has {which} among its {int(labelled.sum()):,} labelled rows: "
                        "labels can only choose or measure detectors with both kinds. Drop labels= or label more rows.")
    return y, labelled


# ---------------------------------------------------------------------------- detectors
def _fit_all(names: list[str], X: np.ndarray, clock: Clock, seed: int, notes: list[str], say: Any) -> list[FittedDetector]:
    """Fit each detector in turn while the budget allows (a notice names those skipped)."""
    fitted: list[FittedDetector] = []
    limit = (clock.budget or BUDGET) * FIT_SHARE
    for name in names:
        if fitted and clock.elapsed + _estimate(fitted) > limit:
            notes.append(f"{name} was skipped: the budget ({clock.budget:.0f} s) did not leave time for it.")
            continue
        limit_rows = DETECTORS[name].max_rows
        if limit_rows is not None and len(X) > limit_rows:
            notes.append(f"{name} was fitted on a sample of {limit_rows:,} of the {len(X):,} rows (its cost grows with "
                         "the square of the rows).")
        detector = fit_detector(name, X, seed=seed)
        say(f"  {name}: {detector.seconds:.2f} s")
        fitted.append(detector)
    return fitted


def _estimate(fitted: list[FittedDetector]) -> float:
    """A guess at the next detector's seconds: the slowest so far."""
    return max(d.seconds for d in fitted)


def _stability(detectors: list[FittedDetector], X: np.ndarray, clock: Clock, seed: int,
               notes: list[str]) -> dict[str, float]:
    """Each detector's tail-weighted correlation between fits on two disjoint halves of the rows
    (each scoring every row), while the budget allows (NaN, with a notice, when it did not)."""
    from labcoat.tasks.anomaly.weights import correlation

    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(X))
    halves = (order[: len(X) // 2], order[len(X) // 2:])
    out: dict[str, float] = {}
    skipped = []
    limit = (clock.budget or BUDGET) * STABILITY_SHARE
    for detector in detectors:
        if clock.elapsed + detector.seconds * 1.2 > limit:  # two fits on halves: about one on the whole
            out[detector.name] = float("nan")
            skipped.append(detector.name)
            continue
        a, b = (fit_detector(detector.name, X, seed=seed, rows=_cap(h, detector.name, rng)) for h in halves)
        out[detector.name] = correlation(a.ranks(X), b.ranks(X))
    if skipped:
        notes.append(f"The stability of {listed(skipped)} was not measured (the budget ran out); it counts as 1.")
    return out


def _cap(rows: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
    limit = DETECTORS[name].max_rows
    return rows if limit is None or len(rows) <= limit else rng.choice(rows, limit, replace=False)


# ---------------------------------------------------------------------------- labels
def _with_labels(detectors: list[FittedDetector], ranks: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray,
                 labelled: np.ndarray, times: pd.Series | None, seed: int, notes: list[str], say: Any,
                 prior: dict[str, float], clock: Clock) -> tuple[dict[str, float], Any, float, dict[str, Any]]:
    """Weights chosen by the labels; a supervised model when it is better on held-out folds;
    and the out-of-fold combined scores of the labelled rows (``_oof``, ``_y``) to measure them."""
    rows = np.flatnonzero(labelled)
    y_l = y[rows]
    folds, validation = label_folds(y_l, times.iloc[rows] if times is not None else None, seed=seed)
    if not folds:
        notes.append("The labelled rows are too few to hold some out in time order; the labels choose the weights "
                     "but the result is measured on the rows they chose them on (optimistic).")
        folds, validation = [(np.arange(len(rows)), np.arange(len(rows)))], "none: measured on the choosing rows"
    names = [d.name for d in detectors]
    matrix = np.column_stack([ranks[n] for n in names])
    inputs = np.hstack([X, matrix])
    tested = np.unique(np.concatenate([test for _, test in folds]))
    oof = {"detectors": np.full(len(rows), np.nan)}
    positives = int(y_l.sum())
    try_supervised = positives >= learned.MIN_POSITIVES and len(y_l) - positives >= learned.MIN_POSITIVES
    if try_supervised:
        for name in learned.NAMES:
            oof[name] = np.full(len(rows), np.nan)
    elif positives < learned.MIN_POSITIVES:
        notes.append(f"{positives} labelled anomalies: a supervised model is tried from {learned.MIN_POSITIVES}.")
    oof["neighbours"] = np.full(len(rows), np.nan)
    for train, test in folds:
        w = label_weights(ranks, y_l[train], rows[train], prior=prior)
        oof["detectors"][test] = matrix[rows[test]] @ np.array([w[n] for n in names])
        known = np.full(len(X), -1)
        known[rows[train]] = y_l[train]
        oof["neighbours"][test] = near.NeighbourScorer.fit(X, known, seed=seed).raw(X[rows[test]])
        if try_supervised and clock.remaining < 0:
            notes.append("The supervised models were not finished: the budget ran out; the detectors' weights are kept.")
            try_supervised = False
            for name in learned.NAMES:
                del oof[name]
        if try_supervised:
            for name in learned.NAMES:
                estimator = learned.build(name, seed=seed).fit(inputs[rows[train]], y_l[train])
                oof[name][test] = learned.probabilities(estimator, inputs[rows[test]])
    candidates = {name: oof[name][tested] for name in oof if name != "neighbours"}
    candidates["detectors+neighbours"] = (to_uniform(oof["detectors"][tested])
                                          + to_uniform(oof["neighbours"][tested])) / 2
    if try_supervised:
        for name in learned.NAMES:
            candidates[f"detectors+{name}"] = (to_uniform(oof["detectors"][tested]) + to_uniform(oof[name][tested])) / 2
    scores = {name: average_precision(y_l[tested], values) for name, values in candidates.items()}
    if try_supervised:
        chosen = max(scores, key=lambda k: (scores[k], k == "detectors"))  # ties: the simpler
    else:  # fewer than learned.MIN_POSITIVES: too few to choose between candidates by their folds
        chosen = "detectors+neighbours"
    say("with labels, cross-validated PR AUC: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    weights = label_weights(ranks, y_l, rows, prior=prior)
    scorer: Any = None
    weight = 0.0
    oof_combined = oof["detectors"][tested]
    if chosen == "detectors+neighbours":
        known = np.full(len(X), -1)
        known[rows] = y_l
        scorer, weight = near.NeighbourScorer.fit(X, known, seed=seed), near.WEIGHT
        weights = {k: v * (1 - weight) for k, v in weights.items()}
        oof_combined = (1 - weight) * oof["detectors"][tested] + weight * to_ranks(oof["neighbours"][tested],
                                                                                     scorer.reference)
    elif chosen != "detectors":
        name = chosen.split("+")[-1]
        estimator = learned.build(name, seed=seed).fit(inputs[rows], y_l)
        crossfit = learned.probabilities(estimator, inputs)
        crossfit[rows[tested]] = oof[name][tested]  # labelled rows: held-out probabilities
        scorer = learned.SupervisedScorer(name, estimator, np.sort(crossfit))
        weight = 1.0 if chosen == name else 0.5
        weights = {k: v * (1 - weight) for k, v in weights.items()}
        oof_combined = (1 - weight) * oof["detectors"][tested] + weight * to_ranks(oof[name][tested], scorer.reference)
    evaluation = {"validation": validation + f"; chosen: {chosen}", "chosen": chosen, "_oof": oof_combined,
                  "_y": y_l[tested],
                  "candidates": {k: round(v, 4) for k, v in scores.items()}}
    return weights, scorer, weight, evaluation


def _few_labels(detectors: list[FittedDetector], ranks: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray,
                labelled: np.ndarray, prior: dict[str, float], seed: int
                ) -> tuple[near.NeighbourScorer, float, dict[str, Any]]:
    """Fewer labelled anomalies than :data:`MIN_LABELLED`: the unsupervised choice averaged alike
    with :class:`~labcoat.tasks.anomaly.neighbours.NeighbourScorer`; the labelled rows' combined
    scores held out (the detectors never saw the labels, the neighbours' scores are leave-one-out)."""
    known = np.where(labelled, y, -1)
    scorer = near.NeighbourScorer.fit(X, known, seed=seed)
    rows = np.flatnonzero(labelled)
    pos, neg = rows[y[rows] == 1], rows[y[rows] == 0]
    kept_pos = pos if len(pos) <= near.MAX_ANOMALIES else np.array([], dtype=int)
    if len(kept_pos) == len(pos) and len(neg) <= near.MAX_NORMALS:
        held = scorer.training_raw(X[rows], np.searchsorted(rows, pos), np.searchsorted(rows, neg))
    else:  # samples were kept: score the labelled rows by folds of two instead (rare with few anomalies)
        held = np.empty(len(rows))
        half = np.random.default_rng(seed).random(len(rows)) < 0.5
        for part in (half, ~half):
            other = np.where(labelled, y, -1)
            other[rows[part]] = -1
            held[part] = near.NeighbourScorer.fit(X, other, seed=seed).raw(X[rows[part]])
    detectors_part = np.column_stack([ranks[d.name][rows] for d in detectors]) @ np.array(
        [prior[d.name] for d in detectors])
    oof = (1 - near.WEIGHT) * detectors_part + near.WEIGHT * to_ranks(held, scorer.reference)
    evaluation = {"validation": "the labelled rows: the detectors' ranks (fitted without the labels) and the "
                                "neighbours' score of each without itself (leave-one-out)",
                  "chosen": "detectors+neighbours", "_oof": oof, "_y": y[rows]}
    return scorer, near.WEIGHT, evaluation


# ---------------------------------------------------------------------------- threshold
def _threshold(training_scores: np.ndarray, y_labelled: np.ndarray | None, oof_scores: np.ndarray | None,
               y_oof: np.ndarray | None, *, contamination: float | None, alerts_per_day: float | None,
               costs: Any, times: pd.Series | None, positives: int) -> tuple[float, dict[str, Any]]:
    """The cut on the anomaly score and how it was set."""
    n = len(training_scores)
    if alerts_per_day is not None:
        assert times is not None  # checked with the settings
        share, days = _alert_share(alerts_per_day, times, n)
        cut = by_share(training_scores, share)
        return cut, {"mode": "alerts_per_day", "alerts_per_day": alerts_per_day, "days": round(days, 2),
                     "share": share, "why": f"{alerts_per_day:g} alerts a day over the {days:.1f} days the training "
                     f"rows span: {share:.3%} of the rows"}
    if costs is not None:
        assert oof_scores is not None and y_oof is not None
        parsed = parse_costs(costs)
        cut, cost = by_costs(oof_scores, y_oof, parsed)
        share = float((training_scores >= cut).mean())
        return cut, {"mode": "costs", "costs": parsed, "share": share, "mean_cost": cost,
                     "why": "the least mean cost on the labelled rows' held-out scores"}
    if contamination is not None:
        share, why = float(contamination), "given"
    elif y_labelled is not None and positives:
        share = float(np.clip(y_labelled.mean(), 1.0 / n, 0.49))
        why = f"the labels' prevalence ({positives:,} of {len(y_labelled):,} labelled rows)"
    else:
        share, why = DEFAULT_SHARE, ("the default, 1% (a guess: fraud and faults are rarer than PyOD's 10%, and one "
                                     "row in a hundred is a queue a reviewer can work through); set contamination= "
                                     "or alerts_per_day= to match yours")
    return by_share(training_scores, share), {"mode": "contamination", "share": share, "why": why}


def _alert_share(alerts_per_day: float, times: pd.Series, n: int) -> tuple[float, float]:
    """The share of the ``n`` rows that ``alerts_per_day`` flags over the days ``times`` span, and
    those days; a :class:`ConfigError` when that is half of the rows or more."""
    days = days_spanned(times)
    share = alerts_per_day * days / n
    if share >= 0.5:
        raise ConfigError(f"alerts_per_day={alerts_per_day:g} over the {days:.1f} days of the training rows is "
                          f"{alerts_per_day * days:,.0f} alerts, {share:.0%} of the {n:,} rows: that flags half of "
                          "them or more. Give fewer alerts a day.")
    return share, days


# ---------------------------------------------------------------------------- reporting
def _leaderboard(detectors: list[FittedDetector], ranks: dict[str, np.ndarray], weights: dict[str, float],
                 figures: dict[str, dict[str, float]], y: np.ndarray, labelled: np.ndarray, seed: int) -> pd.DataFrame:
    rows = []
    has_labels = bool(labelled.any()) and 0 < y[labelled].sum() < labelled.sum()
    for d in detectors:
        row: dict[str, Any] = {"detector": d.name, "weight": round(weights[d.name], 4),
                               **{k: round(v, 4) for k, v in figures.get(d.name, {}).items()},
                               "rows_fitted": d.rows, "seconds": round(d.seconds, 3)}
        if has_labels:
            m = label_metrics(y[labelled], ranks[d.name][labelled], np.zeros(int(labelled.sum()), dtype=bool),
                              seed=seed, rounds=100)
            for name in ("roc_auc", "pr_auc"):
                row[name], row[f"{name}_low"], row[f"{name}_high"] = (round(m[name][k], 4) for k in ("value", "low", "high"))
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(["weight", "detector"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _plain(value: Any) -> Any:
    """``value`` as JSON has it: numpy numbers as Python ones, NaN as None.

    >>> _plain({"a": np.float64(0.5), "b": [np.int64(2), float("nan")]})
    {'a': 0.5, 'b': [2, None]}
    """
    text = json.dumps(value, default=lambda v: v.item() if isinstance(v, np.generic) else str(v))
    return json.loads(text, parse_constant=lambda _: None)


def _printer(quiet: bool) -> Callable[[str], None]:
    """Progress lines on stderr, or nothing when ``quiet``."""
    return (lambda line: None) if quiet else functools.partial(print, file=sys.stderr, flush=True)
