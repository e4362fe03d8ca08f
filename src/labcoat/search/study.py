"""The budgeted search: default portfolio first, then Optuna's TPE, then ensemble selection.

Call order of :meth:`Study.run`:

1. run the portfolio: each family's strong defaults, interleaved so that every family is
   tried early (:func:`plan_portfolio`); under a budget, after the first family the others
   come cheapest first (:meth:`Study._ordered_families`);
2. then tune: pick one of the three best families so far (the best one every other time),
   and ask that family's own Optuna TPE sampler, which has seen the family's earlier
   trials, for the next configuration;
   before any trial, estimate its cost and skip it if it cannot finish in the time left;
   when the plan repeats its folds and the families not tried yet would not fit in three
   quarters of the time left with every repeat, later trials score on the first repeat only
   (:func:`keep_repeats`);
3. stop when the trial count is reached or the time left is what the final refit needs;
4. select the ensemble over the out-of-fold predictions of the completed trials.

Trials run through an :class:`~labcoat.search.executor.Executor`, up to its ``capacity`` at
once (one for the default, in-process executor; worker processes or a Ray cluster for more).
Portfolio trials are submitted as soon as a slot is free. With ``trials=N`` and no budget
nothing depends on the clock: proposal ``k`` sees the results of trials ``0 .. k - 2 x slots``
exactly (``k - 1`` with one slot), told in number order, so the same seed and the same number of
slots give the same trials, scores and ensemble on every run (with one slot, those of a
sequential search). With a
budget, results are told as they arrive and each trial gets a deadline; trials still running
well past it are cancelled.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from labcoat.evaluate.metrics import Metric
from labcoat.models import FAMILIES, EstimatorType, Family, Params, default_families
from labcoat.search.budget import Clock
from labcoat.search.executor import Executor, LocalExecutor, TrialRequest
from labcoat.search.signals import raise_if_terminated, sigterm_as_interrupt
from labcoat.search.trial import Trial, TrialData

log = logging.getLogger(__name__)

#: Out-of-fold predictions of at most this many best trials enter ensemble selection.
ENSEMBLE_CANDIDATES = 20
#: The fold models of this many best trials are kept (see Trial.fold_model).
FOLD_MODELS_KEPT = 10
#: Seconds past its deadline (at least; 25% of its time if more) before a trial is cancelled.
OVERDUE_GRACE = 2.0
#: Repeated folds are kept while a first trial of each family not tried yet fits in this
#: share of the time left.
REPEATS_SHARE = 0.75


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


@dataclass
class _Pending:
    """A submitted trial: its request, the executor's handle and Optuna's trial (or None)."""

    request: TrialRequest
    handle: Any
    asked: Any
    submitted: float = field(default_factory=time.monotonic)

    @property
    def overdue_at(self) -> float | None:
        """When to cancel it: its deadline plus a grace of 25% of its time (at least 2 s)."""
        deadline = self.request.deadline
        return None if deadline is None else deadline + max(OVERDUE_GRACE, 0.25 * (deadline - self.submitted))


@dataclass
class _SearchState:
    """What :meth:`Study.run` keeps between submissions and results."""

    portfolio: list[tuple[Family, dict[str, Any]]]
    tuner: _Tuner
    slots: int
    ordered: bool
    number: int = 0
    skipped: int = 0
    exhausted: bool = False
    #: Ordered mode: the next proposal waits until every submitted trial is told.
    barrier: bool = False
    running: dict[int, _Pending] = field(default_factory=dict)
    finished: list[Trial] = field(default_factory=list)
    results: dict[int, Trial] = field(default_factory=dict)
    asked: dict[int, tuple[Family, Any]] = field(default_factory=dict)
    told: list[Trial] = field(default_factory=list)
    ratios: dict[str, list[float]] = field(default_factory=dict)
    #: Trials from now on score on this many of the plan's folds (None: all).
    folds: int | None = None
    #: Why the repeats were dropped, for the resampling's description.
    folds_note: str = ""


def plan_portfolio(families: Sequence[Family], kind: EstimatorType) -> list[tuple[Family, dict[str, Any]]]:
    """Every family's default configurations, round-robin: each family's best default first.

    Examples
    --------
    >>> [f.name for f, _ in plan_portfolio([FAMILIES["linear"], FAMILIES["knn"]], "classifier")]
    ['linear', 'knn']
    """
    queues = [[(f, p) for p in f.portfolio(kind)] for f in families]
    plan: list[tuple[Family, dict[str, Any]]] = []
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
    families : names of the families to search (default: all that suit the data and are
        installed; see ``labcoat.models.default_families``).
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
        """Search until the trial count, the budget or the proposals run out; see the module."""
        try:
            with sigterm_as_interrupt():
                self.executor.start(self.data)
                trials, skipped, folds_note = self._search()
        finally:  # also on Ctrl-C or SIGTERM: no trial keeps running, no worker is left behind
            self.executor.stop()
        completed = [t for t in trials if t.status == "ok"]
        ensemble, score = self._ensemble(completed)
        return StudyResult(trials=trials, ensemble=ensemble, ensemble_score=score,
                           resampling=self.data.resampling.description + folds_note,
                           search_seconds=self.clock.elapsed, skipped=skipped)

    def _search(self) -> tuple[list[Trial], int, str]:
        portfolio = plan_portfolio(self._ordered_families(), self.data.task.estimator_type)
        state = _SearchState(portfolio=portfolio,
                             tuner=_Tuner(self.data.task.estimator_type, self.data.seed),
                             slots=max(1, self.executor.capacity),
                             ordered=self.clock.budget is None)
        while True:
            raise_if_terminated()
            self._submit(state)
            if not state.running:
                break
            for trial in self.executor.wait([p.handle for p in state.running.values()],
                                            self._wait_timeout(state)):
                self._record(state, trial)
            self._cancel_overdue(state)
        return sorted(state.finished, key=lambda t: t.number), state.skipped, state.folds_note

    def _submit(self, state: _SearchState) -> None:
        """Submit trials while a slot is free and the next proposal may be made."""
        while not state.exhausted and len(state.running) < state.slots:
            left = self._time_left(state.finished)
            if (self.trials is not None and state.number >= self.trials) or left <= 0 or state.skipped > 50:
                state.exhausted = True
                return
            origin: Literal["portfolio", "optuna"]
            if state.portfolio:
                family, params = state.portfolio.pop(0)
                origin, asked = "portfolio", None
            else:
                if not self._catch_up(state):
                    return  # a result this proposal must see is not in yet
                tuned = state.tuner.next_family(state.told, self.data.metric)
                if tuned is None:  # no completed trial to tune from (yet)
                    if state.running or len(state.told) < len(state.finished):
                        state.barrier = True  # decide once every submitted trial is told
                        if state.running:
                            return
                        continue
                    state.exhausted = True
                    return
                family = tuned
                state.barrier = False
                asked, params = state.tuner.ask(family)
                origin = "optuna"
            estimate = (self._estimate(family, params, state.ratios, state.folds)
                        if self.clock.budget is not None else 0.0)
            if estimate > left:
                log.debug("skipping %s %s: not enough time left (%.1fs)", family.name, params, left)
                state.tuner.tell(family, asked, None)
                state.skipped += 1
                continue
            first = not any(t.status == "ok" for t in state.finished)
            request = TrialRequest(family, params, state.number, origin, self._deadline(left, estimate, first=first),
                                   folds=state.folds)
            state.running[state.number] = _Pending(request, self.executor.submit(request), asked)
            state.number += 1

    def _catch_up(self, state: _SearchState) -> bool:
        """Tell the tuner the results the next proposal depends on; False if one is missing.

        Without a budget (``ordered``) proposal ``k`` sees exactly the trials numbered up to
        ``k - lag`` (see :func:`_lag`), told in number order, whatever order they finished in:
        with one slot, every earlier trial, as a sequential search; with more, the same trials on
        every run.
        With a budget, results are told as they arrive (see :meth:`_record`).
        """
        if not state.ordered:
            return True
        last = state.number - 1 if state.barrier else state.number - _lag(state.slots)
        while len(state.told) <= last and len(state.told) in state.results:
            self._tell(state, state.results[len(state.told)])
        return len(state.told) > last

    def _tell(self, state: _SearchState, trial: Trial) -> None:
        family, asked = state.asked.pop(trial.number)
        loss = self.data.metric.to_loss(trial.score) if trial.status == "ok" else None
        state.tuner.tell(family, asked, loss, params=trial.params)
        state.told.append(trial)

    def _record(self, state: _SearchState, trial: Trial) -> None:
        pending = state.running.pop(trial.number)
        trial.finished = self.clock.elapsed
        state.finished.append(trial)
        state.results[trial.number] = trial
        state.asked[trial.number] = (pending.request.family, pending.asked)
        self._keep_best_fold_models(state.finished)
        if not state.ordered:
            self._tell(state, trial)
        if trial.fold_scores:
            family = pending.request.family
            expected = family.cost(self._rows_per_fold(), self._columns(family), trial.params, self.data.n_classes)
            state.ratios.setdefault(family.name, []).append(trial.model_fold_seconds / max(expected, 1e-3))
            self._drop_repeats_if_needed(state)
        for callback in self.callbacks:
            callback(StudyState(trial, len(state.finished), self.best(state.finished), self.clock.elapsed,
                                self.clock.remaining, self.trials))

    def _drop_repeats_if_needed(self, state: _SearchState) -> None:
        """Score later trials on the first repeat only when the families not tried yet do not
        fit (with a budget; once dropped, repeats stay dropped so later trials stay comparable)."""
        plan = self.data.resampling
        if state.folds is not None or plan.n_repeats < 2 or self.clock.budget is None:
            return
        left = self._time_left(state.finished)
        one = plan.folds_per_repeat
        tried = {t.family for t in state.finished} | {p.request.family.name for p in state.running.values()}
        untried: dict[str, tuple[Family, dict[str, Any]]] = {}
        for family, params in state.portfolio:  # each family's best default comes first
            if family.name not in tried:
                untried.setdefault(family.name, (family, params))
        # A family that cannot finish even one repeat in the time left is no reason to drop them.
        runnable = [(f, p) for f, p in untried.values() if self._estimate(f, p, state.ratios, one) <= left]
        projected = sum(self._estimate(f, p, state.ratios) for f, p in runnable)
        if not keep_repeats(projected, left):
            state.folds = one
            state.folds_note = (f"; from trial {state.number} on, its first repeat only ({one} folds): the "
                                f"families not tried yet needed about {projected:.0f} s with every repeat, "
                                f"{left:.0f} s were left")
            log.info("dropping repeated folds%s", state.folds_note)

    def _wait_timeout(self, state: _SearchState) -> float | None:
        """Seconds until the first running trial is overdue (``None``: no deadline)."""
        due = [p.overdue_at for p in state.running.values() if p.overdue_at is not None]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _cancel_overdue(self, state: _SearchState) -> None:
        """Cancel trials still running well past their deadline (a fold that ignores it)."""
        now = time.monotonic()
        for pending in [p for p in state.running.values() if p.overdue_at is not None and now >= p.overdue_at]:
            self.executor.cancel([pending.handle])
            self._record(state, pending.request.unfinished(
                "stopped", "cancelled: still running past its deadline", now - pending.submitted))

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

    def planned_families(self) -> list[str]:
        """The names of the families the search will try (those of ``families`` the task and the
        table admit)."""
        return [f.name for f in self._families()]

    def _families(self) -> list[Family]:
        names = list(self.families) if self.families else default_families()
        documents = self.data.schema.documents is not None
        chosen = self.data.task.eligible(FAMILIES[n] for n in names if documents or not FAMILIES[n].documents)
        if not self.families:  # a family asked for by name runs whatever the size
            chosen = [f for f in chosen if f.max_rows is None or len(self.data.y) <= f.max_rows]
        return chosen

    def _ordered_families(self) -> list[Family]:
        """The families in the portfolio's order: the registry's, and under a budget the first
        (the strongest default, so a good model exists early) then the rest cheapest first, by
        the estimated seconds of their best default, so the budget tries the most families.
        In registry order on 12 classes x 3,000 rows at 60 s, the boosters' folds (which cost per
        class) used the budget and the MLP, the best family there (alone: test log loss 0.43
        against the search's 0.78), came last and never ran."""
        families = self._families()
        if self.clock.budget is None:
            return families
        kind = self.data.task.estimator_type
        rest = sorted(families[1:], key=lambda f: self._estimate(f, f.portfolio(kind)[0], {}))
        return families[:1] + rest

    def _time_left(self, trials: list[Trial]) -> float:
        if self.clock.budget is None:
            return math.inf
        return self.clock.remaining - self.reserve(trials)

    def _deadline(self, left: float, estimate: float, *, first: bool = False) -> float | None:
        if self.clock.budget is None:
            return None
        # Until a trial has finished, a trial may take all that is left: a model comes first (on
        # a busy machine the first estimates can be several times too low). Then a trial may
        # take a good share of what is left, or twice its estimate when that is more, but never
        # more than what is left.
        if first:
            return time.monotonic() + left
        return time.monotonic() + min(left, max(0.4 * left, 2.0 * estimate, 1.0))

    def _rows_per_fold(self) -> int:
        return len(self.data.resampling.folds[0][0])

    def _columns(self, family: Family) -> int:
        return self.data.X.shape[1] if family.style == "catboost" else max(self.data.X.shape[1], 1)

    def _estimate(self, family: Family, params: dict[str, Any], ratios: dict[str, list[float]],
                  folds: int | None = None) -> float:
        """Seconds for ``folds`` folds (all by default), from the family's cost model calibrated
        by observed trials."""
        raw = family.cost(self._rows_per_fold(), self._columns(family), params, self.data.n_classes)
        own = ratios.get(family.name)
        pooled = [r for rs in ratios.values() for r in rs]
        ratio = float(np.median(own)) if own else float(np.median(pooled)) if pooled else 1.0
        return raw * ratio * (folds or len(self.data.resampling.folds))

    def _ensemble(self, completed: list[Trial]) -> tuple[list[tuple[Trial, float]], float]:
        if not completed:
            return [], float("nan")
        return select_members(ensemble_candidates(completed, self.data.metric), self.data)


def keep_repeats(projected: float, left: float) -> bool:
    """Whether to keep scoring trials on every repeat of the folds: while a first trial of each
    family not tried yet (``projected`` seconds with every repeat) fits in
    :data:`REPEATS_SHARE` of the ``left`` seconds. Breadth wins over repeats: a family never
    tried costs more than the variance a second repeat removes (measured: 12 classes, 60 s, two
    repeats left XGBoost and the forests untried), while on small tables, where the repeats
    matter most, every family fits with them.

    Examples
    --------
    >>> keep_repeats(30.0, 50.0), keep_repeats(40.0, 50.0)
    (True, False)
    """
    return projected <= REPEATS_SHARE * left


def select_members(trials: list[Trial], data: TrialData) -> tuple[list[tuple[Trial, float]], float]:
    """Ensemble selection over the completed ``trials``' out-of-fold predictions: the trials
    with a weight, and the out-of-fold score of their blend (on the rows every member scored)."""
    weights = data.task.select_ensemble([_oof(t) for t in trials], data.y, data.metric)
    members = [(t, float(w)) for t, w in zip(trials, weights) if w > 0]
    blend = np.asarray(sum(w * _oof(t) for t, w in members))
    rows = ~np.isnan(blend).reshape(len(data.y), -1).any(axis=1)
    return members, data.metric.score(data.y[rows], blend[rows])


def _oof(trial: Trial) -> np.ndarray:
    """A completed trial's out-of-fold predictions (every trial with status ``"ok"`` has them)."""
    assert trial.oof is not None
    return trial.oof


def ensemble_candidates(completed: list[Trial], metric: Metric) -> list[Trial]:
    """The trials whose out-of-fold predictions enter ensemble selection: the best
    :data:`ENSEMBLE_CANDIDATES` by score."""
    return sorted(completed, key=lambda t: (metric.to_loss(t.score), t.number))[:ENSEMBLE_CANDIDATES]


def _lag(slots: int) -> int:
    """Without a budget, proposal k sees the trials numbered up to k - lag: k - 1 with one slot
    (the sequential search), k - 2 x slots with more. The minimum, k - slots, would leave a slot
    idle whenever a later trial finishes before an earlier one: measured with 2 workers on a mix
    of LightGBM and XGBoost trials, the CPUs were busy 72% of the time with k - 2, 80% with k - 3
    and 87% with k - 4 (``benchmarks/ray_scaling.py``), with the same best scores.

    Examples
    --------
    >>> _lag(1), _lag(2), _lag(8)
    (1, 4, 16)
    """
    return 1 if slots == 1 else 2 * slots


def family_offset(name: str) -> int:
    """A family's own offset to the study's seed, from its name alone: adding or reordering
    families changes no other family's sampler (``zlib.crc32`` is stable across runs and
    machines, unlike ``hash``)."""
    return zlib.crc32(name.encode()) % 1000


#: Which of the best families tuning picks, in turn (0 = the best so far).
_SCHEDULE = (0, 1, 0, 2)


class _Tuner:
    """One Optuna TPE study per family, fed with that family's portfolio results."""

    def __init__(self, kind: EstimatorType, seed: int) -> None:
        self.kind = kind
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
        return asked, family.search_space(asked, self.kind)

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
        sampler = optuna.samplers.TPESampler(seed=self.seed * 1000 + family_offset(family.name), multivariate=True,
                                             n_startup_trials=4)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        for params, loss in self._history.get(family.name, []):
            study.enqueue_trial({f"{family.name}.{k}": v for k, v in params.items()})
            replay = study.ask()
            family.search_space(replay, self.kind)
            if loss is None:
                study.tell(replay, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(replay, loss)
        self._studies[family.name] = study
        return study
