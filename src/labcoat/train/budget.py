"""How ``fit`` divides its time budget: the check for leaks by their effect, the search, the
selection-corrected estimate, the explanations, and the time reserved for the final refit of
the ensemble members."""

from __future__ import annotations

from labcoat.guards_effect import SECONDS as LEAK_CHECK_CAP
from labcoat.search import Clock, Trial

#: Share of the budget the explanations of the final model may take (at most 10 s).
EXPLAIN_SHARE = 0.03

#: Share of the budget the check for leaks by their effect may take (1 s to 5 s).
LEAK_CHECK_SHARE = 0.05

#: Expected fold-to-full-data growth of a refit (5-fold CV trains on 80% of the rows).
_REFIT_GROWTH = 1.3


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


def refit_reserve(done: list[Trial], clock: Clock, holdout: bool) -> float:
    """Seconds to keep for ensemble selection and the final refit of the likely members.

    With a holdout plan the fold models serve as final models when time runs short, so only
    ensemble selection is reserved and members are refit on all rows if time is left.
    """
    if clock.budget is None:
        return 0.0
    overhead = (0.02 + EXPLAIN_SHARE) * clock.budget + 0.3 + (selection_seconds(clock) or 0.0)
    if holdout:
        return overhead
    # The members are not known until the end; the slowest few completed trials bound them.
    likely = sorted((refit_seconds(t) for t in done if t.status == "ok"), reverse=True)[:3]
    return sum(likely) + overhead
