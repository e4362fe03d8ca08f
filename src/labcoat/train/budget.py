"""How ``fit`` divides its time budget: the check for leaks by their effect, the search, the
selection-corrected estimate, the final refit of the ensemble members, and the steps after the
fit (explanations, reports, tracking), so that the whole call returns within the budget (plus
a few per cent).

What the steps after the fit are expected to cost is planned before the search
(:func:`after_fit_plan`) and kept out of it; those that no longer fit when their turn comes
are scaled down (explanations) or deferred with a notice (reports) by
:mod:`labcoat.train.post_fit`.
"""

from __future__ import annotations

from dataclasses import dataclass

from labcoat.guards_effect import SECONDS as LEAK_CHECK_CAP
from labcoat.search import Clock, Trial

#: Share of the budget the explanations of the final model may take (at most 10 s).
EXPLAIN_SHARE = 0.03
#: Explanations are computed only with at least this many seconds for them.
MIN_EXPLAIN_SECONDS = 0.3
#: Writing the data profile and the model report: a fixed part (templates, plots) and a part
#: per million cells of the training data (the profile's statistics). Measured on 2 cores:
#: 0.9 s for 1,000 x 20 cells, 1.5 s for 48,842 x 14 (credit_g, adult).
REPORT_SECONDS = 0.8
REPORT_SECONDS_PER_MILLION_CELLS = 1.0
#: Finishing the tracked run (the model and reports logged to a local MLflow store): 0.2-0.3 s
#: measured on credit_g's models of 4 to 16 estimators (0.6-1.2 s before the model's save
#: skipped MLflow's scan of the installed packages, see ``labcoat.artifact``); registering its
#: model: 0.16 s.
TRACKING_SECONDS = 0.4
REGISTER_SECONDS = 0.2
#: The steps after the fit keep at most this share of the budget from the search; what does
#: not fit in it is deferred.
AFTER_FIT_SHARE = 0.2

#: Share of the budget the check for leaks by their effect may take (1 s to 5 s).
LEAK_CHECK_SHARE = 0.05

#: Expected fold-to-full-data growth of a refit (5-fold CV trains on 80% of the rows).
_REFIT_GROWTH = 1.3


@dataclass(frozen=True)
class AfterFitPlan:
    """Seconds planned for the steps after the fit, by part (0: the part does not run);
    ``tracking`` includes the registration."""

    explain: float = 0.0
    reports: float = 0.0
    tracking: float = 0.0

    @property
    def total(self) -> float:
        return self.explain + self.reports + self.tracking


def after_fit_plan(clock: Clock, n_rows: int, n_columns: int, *, explain: bool, write: bool,
                   tracked: bool, registered: bool = False) -> AfterFitPlan:
    """What the explanations (``explain``), the written reports (``write``) and the tracked
    run (``tracked``, its model ``registered``) are expected to take after the fit.

    >>> plan = after_fit_plan(Clock(60.0), 1_000, 20, explain=True, write=True, tracked=True)
    >>> round(plan.explain, 2), round(plan.reports, 2), plan.tracking
    (1.8, 0.82, 0.4)
    """
    explain_seconds = 0.0
    if explain:
        explain_seconds = 3.0 if clock.budget is None else max(1.0, min(EXPLAIN_SHARE * clock.budget, 10.0))
    reports = REPORT_SECONDS + REPORT_SECONDS_PER_MILLION_CELLS * n_rows * n_columns / 1e6 if write else 0.0
    tracking = (TRACKING_SECONDS + (REGISTER_SECONDS if registered else 0.0)) if tracked else 0.0
    return AfterFitPlan(explain=explain_seconds, reports=reports, tracking=tracking)


def after_fit_reserve(plan: AfterFitPlan, clock: Clock) -> float:
    """Seconds the search and the refit leave for the steps after the fit: the plan, at most
    :data:`AFTER_FIT_SHARE` of the budget (the tracked run always)."""
    if clock.budget is None:
        return 0.0
    return max(plan.tracking, min(plan.total, AFTER_FIT_SHARE * clock.budget))


def selection_seconds(clock: Clock) -> float | None:
    """Time for the selection-corrected estimate: 3% of the budget, at most 10 s."""
    return None if clock.budget is None else min(0.03 * clock.budget, 10.0)


def leak_check_seconds(clock: Clock) -> float:
    """Time cap of the check for leaks by their effect (``labcoat.guards_effect``): 5% of the
    budget, at least 1 s and at most 5 s (5 s without a budget)."""
    if clock.budget is None:
        return LEAK_CHECK_CAP
    return min(LEAK_CHECK_CAP, max(1.0, LEAK_CHECK_SHARE * clock.budget))


def refit_seconds(trial: Trial) -> float:
    return trial.fold_seconds * _REFIT_GROWTH


def refit_reserve(done: list[Trial], clock: Clock, holdout: bool, after_fit: float = 0.0,
                  before_first: float = 0.0) -> float:
    """Seconds to keep for ensemble selection, the final refit of the likely members and the
    steps after the fit (``after_fit``, from :func:`after_fit_reserve`; until a trial has
    finished only ``before_first``, the tracked run's part: a model comes before its reports).

    With a holdout plan the fold models serve as final models when time runs short, so only
    ensemble selection is reserved and members are refit on all rows if time is left.
    """
    if clock.budget is None:
        return 0.0
    finished = [t for t in done if t.status == "ok"]
    overhead = 0.02 * clock.budget + 0.3 + (selection_seconds(clock) or 0.0) + (after_fit if finished else before_first)
    if holdout:
        return overhead
    # The members are not known until the end; the slowest few completed trials bound them.
    likely = sorted((refit_seconds(t) for t in finished), reverse=True)[:3]
    return sum(likely) + overhead
