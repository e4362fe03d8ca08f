"""A limit on one row's prediction time: the ensemble made smaller until it predicts one row
within ``latency_limit`` (``fit(..., latency_limit="1ms")``), as AutoGluon's ``infer_limit``.

Ensemble selection weighs accuracy only; every member it adds is one more model to evaluate on
every call, and each of its fold models one more (``labcoat.train.fold_bag``). With a limit,
after the members are fitted on all rows, one row's prediction time is measured on this machine
(the median of :data:`CALLS` calls on training rows, the preprocessing included, as a loaded
model answers). While it is over the limit, the fold models are left out first (the out-of-fold
score stays as it is), those whose absence saves the most time per share of the ensemble's
weight first (each member's measured without them; the lightest member's first when the budget
leaves no time for that); then one member is left out: each is
tried out, the weights of the others chosen again by ensemble selection on their out-of-fold
predictions, and the smaller ensemble measured; the one within the limit with the best
out-of-fold score is kept, or, when none is within it yet, the one that gives up least score
per millisecond saved. It stops at one member: a single model slower than the limit is said to
be so, not replaced by a worse one. Limits depend on the machine: measure on the one that
serves.

Examples
--------
>>> parse_latency("1ms"), parse_latency("250us"), parse_latency(0.002), parse_latency(None)
(0.001, 0.00025, 0.002, None)
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from labcoat.model import Member, Model
from labcoat.model_info import ModelInfo
from labcoat.search import Clock, StudyResult, TrialData
from labcoat.search.budget import parse_duration
from labcoat.search.study import select_members

#: Calls timed per measurement (after :data:`WARM_UP` calls), each on one training row.
CALLS = 15
WARM_UP = 3

_UNITS = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}


def parse_latency(value: float | int | str | None) -> float | None:
    """Seconds in ``value``: a number of seconds, or a string such as ``"1ms"``, ``"500us"``."""
    return parse_duration(value, _UNITS, what="latency_limit", examples="seconds (0.001) or a number with a unit: "
                                                                        "'1ms', '500us', '0.01s'")


@dataclass
class Ensemble:
    """Members with their weights, and the out-of-fold score of their blend."""

    members: list[Member]
    score: float
    seconds: float = float("nan")  #: one row's median prediction time


def one_row_seconds(model: Model, rows: pd.DataFrame) -> float:
    """The median seconds of ``model.predict`` on one of ``rows`` at a time (after a warm-up).

    >>> import labcoat
    >>> from labcoat.datasets import make_churn
    >>> df = make_churn(300)
    >>> model = labcoat.fit(df, target="churned", trials=1, families=["linear"], quiet=True, track=False)
    >>> 0 < one_row_seconds(model, df.head(3)) < 1
    True
    """
    singles = [rows.iloc[[i]] for i in range(len(rows))]
    for row in singles[:WARM_UP]:
        model._blend(row)
    seconds = []
    for i in range(CALLS):
        row = singles[i % len(singles)]
        started = time.perf_counter()
        model._blend(row)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def ensemble_seconds(members: list[Member], preprocessors: dict[str, Any], data: TrialData,
                     rows: pd.DataFrame) -> float:
    """:func:`one_row_seconds` of the model made of ``members``."""
    probe = Model(schema=data.schema, members=members, preprocessors=_used(preprocessors, members),
                  leaderboard=pd.DataFrame(), info=ModelInfo(metric=data.metric.name))
    return one_row_seconds(probe, rows)


def keep_within(limit: float, members: list[Member], preprocessors: dict[str, Any], result: StudyResult,
                data: TrialData, rows: pd.DataFrame, clock: Clock, *, keep: float = 0.0
                ) -> tuple[list[Member], dict[str, Any], dict[str, Any]]:
    """The members (reweighed) and preprocessors of the largest ensemble found within ``limit``
    seconds a row, and what was done (``ModelInfo.latency``); ``result``'s ensemble and score
    are updated to match. ``rows``: training rows of the feature columns to time on."""
    trials = {t.number: t for t, _ in result.ensemble}
    metric = data.metric

    def measured(ensemble: Ensemble) -> Ensemble:
        ensemble.seconds = ensemble_seconds(ensemble.members, preprocessors, data, rows)
        return ensemble

    def without(current: Ensemble, left_out: Member) -> Ensemble:
        kept = {m.trial: m for m in current.members if m is not left_out}
        chosen, score = select_members([trials[n] for n in kept], data)
        return Ensemble([replace(kept[t.number], weight=w) for t, w in chosen], score)

    current = measured(Ensemble(members, result.ensemble_score))
    before = current
    dropped: list[str] = []
    unbagged: list[str] = []
    stopped = ""
    # Fold models first (they leave the out-of-fold score as it is): those that cost the most time
    # per share of the ensemble's weight first (a booster's fold models walk with it and cost
    # little, an MLP's networks are each read on every row); the lightest member's first when
    # the budget has no time to measure each.
    while current.seconds > limit and any(m.bag for m in current.members):
        bagged = [m for m in current.members if m.bag]
        unbagging = {id(m): _unbagged(current, m) for m in bagged}
        round_seconds = len(bagged) * (WARM_UP + CALLS) * current.seconds * 2
        if len(bagged) > 1 and (clock.budget is None or clock.remaining - keep >= round_seconds):
            for ensemble in unbagging.values():
                measured(ensemble)
            member = max(bagged, key=lambda m: (current.seconds - unbagging[id(m)].seconds) / max(m.weight, 1e-9))
        else:
            member = min(bagged, key=lambda m: m.weight)
            measured(unbagging[id(member)])
        unbagged.append(f"{member.family} #{member.trial}")
        current = unbagging[id(member)]
    while current.seconds > limit and len(current.members) > 1:
        # each member tried out: its calls, and as much again for the reselection and first calls
        round_seconds = len(current.members) * (WARM_UP + CALLS) * current.seconds * 2
        if clock.budget is not None and clock.remaining - keep < round_seconds:
            stopped = "the budget ran out"
            break
        tried = [measured(without(current, m)) for m in current.members]
        within = [e for e in tried if e.seconds <= limit]
        if within:
            chosen = min(within, key=lambda e: metric.to_loss(e.score))
        else:  # the least score given up per second saved (a slower ensemble saves nothing)
            chosen = min(tried, key=lambda e: (metric.to_loss(e.score) - metric.to_loss(current.score))
                         / max(current.seconds - e.seconds, 1e-9))
        kept = {m.trial for m in chosen.members}
        dropped += [f"{m.family} #{m.trial}" for m in current.members if m.trial not in kept]
        current = chosen
    if current is not before:
        result.ensemble = [(trials[m.trial], m.weight) for m in current.members]
        result.ensemble_score = current.score
    report = {"limit_ms": round(limit * 1e3, 4), "before_ms": round(before.seconds * 1e3, 4),
              "after_ms": round(current.seconds * 1e3, 4), "met": current.seconds <= limit,
              "members_before": len(before.members), "members_after": len(current.members), "dropped": dropped,
              "fold_models_dropped": unbagged, "score_before": before.score, "score_after": current.score,
              "stopped": stopped or ("one member left" if current.seconds > limit else "")}
    return current.members, _used(preprocessors, current.members), report


def _unbagged(current: Ensemble, member: Member) -> Ensemble:
    """``current`` with ``member``'s fold models left out (not yet measured)."""
    return Ensemble([replace(m, bag=[], rows="all rows") if m is member else m for m in current.members],
                    current.score)


def changed(report: dict[str, Any]) -> bool:
    """Whether the limit left members out or was not met (what ``fit`` gives a notice for)."""
    return bool(report["dropped"] or report.get("fold_models_dropped")) or not report["met"]


def describe(report: dict[str, Any], metric: str) -> str:
    """What the limit did, in words.

    >>> describe({"limit_ms": 1.0, "before_ms": 1.4, "after_ms": 0.8, "met": True, "members_before": 4,
    ...           "members_after": 2, "dropped": ["knn #3", "mlp #5"], "score_before": 0.91,
    ...           "score_after": 0.905, "stopped": ""}, "roc_auc")
    'latency_limit 1 ms: knn #3 and mlp #5 left out of the ensemble (one row 1.4 -> 0.8 ms; out-of-fold roc_auc 0.91 -> 0.905).'
    """
    head = f"latency_limit {report['limit_ms']:g} ms: "
    if not changed(report):
        return head + f"met, one row in {report['after_ms']:.3g} ms with every member."
    change = (f"one row {report['before_ms']:.3g} -> {report['after_ms']:.3g} ms; out-of-fold {metric} "
              f"{report['score_before']:.4g} -> {report['score_after']:.4g}")
    unbagged = report.get("fold_models_dropped") or []  # none in models saved before fold models
    names = ([f"the fold models of {_listed(unbagged)}"] if unbagged else []) + report["dropped"]
    left_out = _listed(names)
    if report["met"]:
        return head + f"{left_out} left out of the ensemble ({change})."
    what = f"{left_out} left out, " if names else ""
    return (head + f"not met ({what}{report['stopped']}; {change}). Give a larger limit, or fewer or faster "
            "families (families=...).")


def _listed(names: list[str]) -> str:
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]


def _used(preprocessors: dict[str, Any], members: list[Member]) -> dict[str, Any]:
    """The preprocessors ``members`` read (each style's is applied on every call)."""
    keys = {m.preprocessor or m.style for m in members}
    return {k: v for k, v in preprocessors.items() if k in keys}
