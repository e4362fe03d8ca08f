"""Each ensemble member averaged with its fold models: models of its parameters fitted on each
fold's training rows, beside the one fitted on all rows (AutoGluon's bagging, kept with the
all-row model).

A single model fitted on all rows of a small table carries the variance of one fit: a booster's
or a network's probabilities move with the rows it saw, and the log loss pays for the
confident mistakes. The mean of the all-row model and the fold models (each on 80% of the rows
with 5 folds) is smoother. Measured on the 22 benchmark sets of at most 10,000 training rows,
the ensembles of a 60 s fit with their members fitted both ways (``benchmarks/RESULTS.md``,
"Fold models"): better on 13 (penguins' log loss 0.139 -> 0.107, gen_categorical_classes 0.861
-> 0.839, diabetes' RMSE 59.9 -> 57.7, mammography's ROC AUC 0.977 -> 0.983), worse on 9 (tips'
RMSE 0.869 -> 0.892, iris' log loss 0.0139 -> 0.0171, titanic's ROC AUC 0.863 -> 0.858); and
in three runs of the AutoML benchmark the mean rank over its 23 sets went from 1.52-1.57 to
1.39-1.48 (the note under its table).
Forests already average bootstrap models, and linear and neighbour models barely move with
the rows: families say whether they gain (``Family.bags_folds``).

Fold models are fitted after the refit, heaviest member first, while their time fits in the
budget (the search reserves it: :func:`bag_reserve`), through the all-row preprocessing so
that one row is encoded once per style. A few rows are predicted by a member's fold models
together with it (``Family.merge``: one tree walk for a family's boosters, one stack for the
networks); one row takes 0.5-2.8 ms over the benchmark's sets with them (``benchmarks/RESULTS.md``).
Under ``fit(latency_limit=...)`` they are the first to go (``labcoat.train.latency_limit``).
"""

from __future__ import annotations

import time
from typing import Any

from labcoat.model import Member
from labcoat.models import FAMILIES
from labcoat.search import Clock, Trial, TrialData

#: Tables of more rows get no fold models: there the fits cost most and one model varies least.
BAG_MAX_ROWS = 10_000
#: The search keeps at most this share of the budget for the fold models.
BAG_SHARE = 0.1


def bags(data: TrialData) -> bool:
    """Whether members of ``data`` get fold models: cross-validation whose folds validate every
    row (not a holdout, not folds forward in time, whose training rows are only the past), on
    at most :data:`BAG_MAX_ROWS` rows."""
    plan = data.resampling
    return not plan.is_holdout and len(data.y) <= BAG_MAX_ROWS and bool(plan.validated_rows().all())


def bag_seconds(trial: Trial, folds: int) -> float:
    """Expected seconds to fit ``trial``'s ``folds`` fold models: one fold's model fit each (the
    preprocessing is done: the refit's)."""
    return trial.model_fold_seconds * folds


def bag_reserve(done: list[Trial], clock: Clock, folds: int, planned: set[str]) -> float:
    """Seconds the search keeps for the fold models of the likely members (the three slowest of
    the families that get them), at most :data:`BAG_SHARE` of the budget; nothing until every
    family of ``planned`` has had a trial, so that fold models never take a family's first
    trial's time (on gen_rare_classes at 60 s, reserved from the start, they kept the MLP, the
    last family tried and the best, out of the search: log loss 0.23 -> 0.32)."""
    if clock.budget is None or not planned <= {t.family for t in done}:
        return 0.0
    likely = sorted((bag_seconds(t, folds) for t in done if t.status == "ok" and FAMILIES[t.family].bags_folds),
                    reverse=True)[:3]
    return min(sum(likely), BAG_SHARE * clock.budget)


def add_fold_models(members: list[Member], trials: dict[int, Trial], data: TrialData, clock: Clock, *,
                    keep: float = 0.0) -> None:
    """Fit the fold models of ``members`` refitted on all rows (``Member.bag``), heaviest first,
    each member's only if they are expected to fit in the time left less ``keep`` seconds; a
    member whose fold models the deadline cuts short keeps none."""
    if not bags(data):
        return
    folds = data.resampling.folds[:data.resampling.folds_per_repeat]
    for member in sorted(members, key=lambda m: -m.weight):
        family = FAMILIES[member.family]
        if not family.bags_folds or member.preprocessor != family.style:  # a fold's model stands in
            continue
        started, left = time.monotonic(), clock.remaining - keep
        if left < bag_seconds(trials[member.trial], len(folds)):
            continue
        _, X, _ = data.fold(family.style, -1)  # the refit's, cached
        bag = []
        for train, _ in folds:
            estimator = family.build(member.params, data.context(family.style))
            if family.fit(estimator, _rows(X, train), data.y[train], deadline=started + left).stopped:
                break  # a model cut short by the deadline would pull the member's average down
            # its few-row predictor (flat trees, numpy arrays) is made now, in the time counted
            # here, rather than by the first prediction (the saved model's input example)
            family.predict(estimator, _rows(X, [0]), data.task.estimator_type, n_classes=data.n_classes or None,
                           threads=1)
            bag.append(estimator)
            if (time.monotonic() - started) * len(folds) / len(bag) > left:
                break  # the rest would not fit
        if len(bag) == len(folds):
            member.bag = bag
            member.rows = f"all rows, averaged with {len(folds)} models of each fold's training rows"


def _rows(X: Any, index: Any) -> Any:
    return X.iloc[index] if hasattr(X, "iloc") else X[index]
