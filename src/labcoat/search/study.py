"""The budgeted search: default portfolio first, then Optuna's TPE, then ensemble selection.

Call order of :meth:`Study.run`:

1. run the portfolio: each family's strong defaults, interleaved so that every family is
   tried early (:func:`plan_portfolio`);
2. then tune: pick one of the three best families so far (the best one every other time),
   and ask that family's own Optuna TPE sampler, which has seen the family's earlier
   trials, for the next configuration;
   before any trial, estimate its cost and skip it if it cannot finish in the time left;
3. stop when the trial count is reached or the time left is what the final refit needs;
4. select the ensemble over the out-of-fold predictions of the completed trials.

With ``trials=N`` and no budget nothing depends on the clock, so the same seed gives the
same trials, scores and ensemble on every run.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labcoat.data.schema import Task
from labcoat.evaluate.metrics import Metric
from labcoat.models import FAMILIES, Family, Params
from labcoat.search.budget import Clock
from labcoat.search.ensemble import select_ensemble
from labcoat.search.executor import Executor, LocalExecutor
from labcoat.search.trial import Trial, TrialData

log = logging.getLogger(__name__)

#: Families skipped when k-NN's pairwise comparisons would dominate the budget.
KNN_MAX_ROWS = 30_000
#: Out-of-fold predictions of at most this many best trials enter ensemble selection.
ENSEMBLE_CANDIDATES = 20
#: The fold models of this many best trials are kept (see Trial.fold_model).
FOLD_MODELS_KEPT = 10


@dataclass
class StudyResult:
    """What the search found: every trial, and the ensemble as (trial, weight) pairs."""

    trials: list[Trial]
    ensemble: list[tuple[Trial, float]]
    ensemble_score: float
    resampling: str
    search_seconds: float
    skipped: int = 0

    @property
    def completed(self) -> list[Trial]:
        return [t for t in self.trials if t.status == "ok"]


@dataclass
class StudyState:
    """What a progress display needs after each trial."""

    trial: Trial
    done: int
    best: Trial | None
    elapsed: float
    remaining: float
    planned: int | None


def plan_portfolio(families: Sequence[Family], task: Any) -> list[tuple[Family, dict[str, Any]]]:
    """Every family's default configurations, round-robin: each family's best default first.

    Examples
    --------
    >>> from labcoat.data.schema import Task
    >>> [f.name for f, _ in plan_portfolio([FAMILIES["linear"], FAMILIES["knn"]], Task.BINARY)]
    ['linear', 'knn']
    """
    queues = [[(f, p) for p in f.portfolio(task)] for f in families]
    plan = []
    for depth in range(max(len(q) for q in queues)):
        plan.extend(q[depth] for q in queues if depth < len(q))
    return plan


@dataclass
class Study:
    """A budgeted search over model families and their hyperparameters.

    Parameters
    ----------
    data : the prepared training data, resampling plan and metric.
    clock : wall clock and budget; ``clock.budget is None`` means no time limit.
    trials : stop after this many trials (``None``: until the budget is spent).
    families : names of the families to search (default: all that suit the data).
    reserve : callable giving the seconds to keep for the final refit, from the trials so far.
    """

    data: TrialData
    clock: Clock
    trials: int | None = None
    families: Sequence[str] | None = None
    executor: Executor = field(default_factory=LocalExecutor)
    reserve: Callable[[list[Trial]], float] = lambda trials: 0.0
    callbacks: Sequence[Callable[[StudyState], None]] = ()

    def run(self) -> StudyResult:
        families = self._families()
        portfolio = plan_portfolio(families, self.data.task)
        tuner = _Tuner(self.data.task, self.data.seed)
        trials: list[Trial] = []
        ratios: dict[str, list[float]] = {}
        skipped = 0
        while self.trials is None or len(trials) < self.trials:
            left = self._time_left(trials)
            if left <= 0 or skipped > 50:
                break
            if portfolio:
                family, params = portfolio.pop(0)
                origin, asked = "portfolio", None
            else:
                family = tuner.next_family(trials, self.data.metric)
                if family is None:
                    break
                asked, params = tuner.ask(family)
                origin = "optuna"
            estimate = self._estimate(family, params, ratios) if self.clock.budget is not None else 0.0
            if estimate > left:
                log.debug("skipping %s %s: not enough time left (%.1fs)", family.name, params, left)
                tuner.tell(family, asked, None)
                skipped += 1
                continue
            trial = self.executor.evaluate(family, params, self.data, number=len(trials),
                                           origin=origin, deadline=self._deadline(left, estimate))
            trial.finished = self.clock.elapsed
            trials.append(trial)
            self._keep_best_fold_models(trials)
            loss = self.data.metric.to_loss(trial.score) if trial.status == "ok" else None
            tuner.tell(family, asked, loss, params=params)
            if trial.fold_scores:
                expected = family.cost(self._rows_per_fold(), self._columns(family), params)
                ratios.setdefault(family.name, []).append(trial.fold_seconds / max(expected, 1e-3))
            for callback in self.callbacks:
                callback(StudyState(trial, len(trials), self.best(trials), self.clock.elapsed,
                                    self.clock.remaining, self.trials))
        completed = [t for t in trials if t.status == "ok"]
        ensemble, score = self._ensemble(completed)
        return StudyResult(trials=trials, ensemble=ensemble, ensemble_score=score,
                           resampling=self.data.resampling.description,
                           search_seconds=self.clock.elapsed, skipped=skipped)

    # ------------------------------------------------------------------ helpers
    def best(self, trials: list[Trial]) -> Trial | None:
        ok = [t for t in trials if t.status == "ok"]
        if not ok:
            return None
        return min(ok, key=lambda t: self.data.metric.to_loss(t.score))

    def _keep_best_fold_models(self, trials: list[Trial]) -> None:
        """Free the fold models of all but the best few trials."""
        kept = sorted((t for t in trials if t.fold_model is not None and t.status == "ok"),
                      key=lambda t: (self.data.metric.to_loss(t.score), t.number))
        for t in kept[FOLD_MODELS_KEPT:]:
            t.fold_model = None
        for t in trials:
            if t.status != "ok":
                t.fold_model = None

    def _families(self) -> list[Family]:
        names = list(self.families) if self.families else list(FAMILIES)
        chosen = [FAMILIES[n] for n in names if self.data.task in FAMILIES[n].tasks]
        if not self.families and len(self.data.y) > KNN_MAX_ROWS:
            chosen = [f for f in chosen if f.name != "knn"]
        return chosen

    def _time_left(self, trials: list[Trial]) -> float:
        if self.clock.budget is None:
            return math.inf
        return self.clock.remaining - self.reserve(trials)

    def _deadline(self, left: float, estimate: float) -> float | None:
        if self.clock.budget is None:
            return None
        # A trial may take a good share of what is left, or twice its estimate when that is more,
        # but never more than what is left.
        return time.monotonic() + min(left, max(0.4 * left, 2.0 * estimate, 1.0))

    def _rows_per_fold(self) -> int:
        return len(self.data.resampling.folds[0][0])

    def _columns(self, family: Family) -> int:
        return self.data.X.shape[1] if family.style == "catboost" else max(self.data.X.shape[1], 1)

    def _estimate(self, family: Family, params: dict[str, Any], ratios: dict[str, list[float]]) -> float:
        """Seconds for all folds, from the family's cost model calibrated by observed trials."""
        raw = family.cost(self._rows_per_fold(), self._columns(family), params)
        own = ratios.get(family.name)
        pooled = [r for rs in ratios.values() for r in rs]
        ratio = float(np.median(own)) if own else float(np.median(pooled)) if pooled else 1.0
        return raw * ratio * len(self.data.resampling.folds)

    def _ensemble(self, completed: list[Trial]) -> tuple[list[tuple[Trial, float]], float]:
        if not completed:
            return [], float("nan")
        metric = self.data.metric
        ranked = ensemble_candidates(completed, metric)
        weights = select_ensemble([t.oof for t in ranked], self.data.y, metric)
        members = [(t, float(w)) for t, w in zip(ranked, weights) if w > 0]
        blend = sum(w * t.oof for t, w in members)
        rows = ~np.isnan(np.asarray(blend)).reshape(len(self.data.y), -1).any(axis=1)
        return members, metric.score(self.data.y[rows], np.asarray(blend)[rows])


def ensemble_candidates(completed: list[Trial], metric: Metric) -> list[Trial]:
    """The trials whose out-of-fold predictions enter ensemble selection: the best
    :data:`ENSEMBLE_CANDIDATES` by score."""
    return sorted(completed, key=lambda t: (metric.to_loss(t.score), t.number))[:ENSEMBLE_CANDIDATES]


#: Which of the best families tuning picks, in turn (0 = the best so far).
_SCHEDULE = (0, 1, 0, 2)


class _Tuner:
    """One Optuna TPE study per family, fed with that family's portfolio results."""

    def __init__(self, task: Task, seed: int) -> None:
        self.task = task
        self.seed = seed
        self._studies: dict[str, Any] = {}
        self._history: dict[str, list[tuple[Params, float | None]]] = {}
        self._turn = 0

    def next_family(self, trials: list[Trial], metric: Metric) -> Family | None:
        best: dict[str, float] = {}
        for t in trials:
            if t.status == "ok":
                loss = metric.to_loss(t.score)
                best[t.family] = min(best.get(t.family, math.inf), loss)
        if not best:
            return None
        ranked = sorted(best, key=lambda name: (best[name], name))[:3]
        pick = _SCHEDULE[self._turn % len(_SCHEDULE)]
        self._turn += 1
        return FAMILIES[ranked[min(pick, len(ranked) - 1)]]

    def ask(self, family: Family) -> tuple[Any, Params]:
        study = self._study(family)
        asked = study.ask()
        return asked, family.search_space(asked, self.task)

    def tell(self, family: Family, asked: Any, loss: float | None, *, params: Params | None = None) -> None:
        import optuna

        if asked is None:  # a portfolio configuration: remembered, replayed when tuning starts
            if params is not None:
                self._history.setdefault(family.name, []).append((params, loss))
            return
        state = optuna.trial.TrialState.COMPLETE if loss is not None else optuna.trial.TrialState.FAIL
        self._studies[family.name].tell(asked, loss if loss is not None else None, state=state)

    def _study(self, family: Family) -> Any:
        import optuna

        if family.name in self._studies:
            return self._studies[family.name]
        # ERROR: Optuna's warnings about conditional spaces falling back to independent
        # sampling are expected here (each family's space has conditional parameters).
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        index = list(FAMILIES).index(family.name)
        sampler = optuna.samplers.TPESampler(seed=self.seed * 1000 + index, multivariate=True,
                                             n_startup_trials=4)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        for params, loss in self._history.get(family.name, []):
            study.enqueue_trial({f"{family.name}.{k}": v for k, v in params.items()})
            replay = study.ask()
            family.search_space(replay, self.task)
            if loss is None:
                study.tell(replay, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(replay, loss)
        self._studies[family.name] = study
        return study
