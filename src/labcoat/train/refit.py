"""The ensemble's members fitted on all rows, within what is left of the budget."""

from __future__ import annotations

from typing import Any

import numpy as np

from labcoat.model import Member
from labcoat.models import FAMILIES
from labcoat.search import Clock, StudyResult, TrialData
from labcoat.train.budget import refit_seconds


def refit(result: StudyResult, data: TrialData, clock: Clock, *,
          keep: float = 0.0) -> tuple[list[Member], dict[str, Any], list[int]]:
    """Fit every ensemble member on all rows, heaviest weight first, within the budget less
    ``keep`` seconds (for the steps after the fit).

    A member whose refit no longer fits in the time left keeps its last fold's model (fitted on
    that fold's training rows, with that fold's preprocessing) or, without one, is dropped,
    except the heaviest member, which is then refit regardless.
    """
    members: list[Member] = []
    dropped: list[int] = []
    preprocessors: dict[str, Any] = {}
    for trial, weight in sorted(result.ensemble, key=lambda tw: (-tw[1], tw[0].number)):
        family = FAMILIES[trial.family]
        fits = clock.budget is None or refit_seconds(trial) <= clock.remaining - keep
        if not fits and trial.fold_model is not None:
            key = f"{family.style}@fold{trial.fold_index}"
            pre, Xfold, _ = data.fold(family.style, trial.fold_index)
            preprocessors[key] = pre
            members.append(Member(family=family.name, trial=trial.number, weight=weight,
                                  style=family.style, estimator=trial.fold_model, params=trial.params,
                                  preprocessor=key, rows=f"{Xfold.shape[0]:,} rows of fold {trial.fold_index + 1}"))
            continue
        if not fits and members:
            dropped.append(trial.number)
            continue
        iterations = int(np.mean(trial.iterations)) if trial.iterations else None
        params = family.refit_params(trial.params, iterations)
        pre, Xall, _ = data.fold(family.style, -1)
        preprocessors[family.style] = pre
        estimator = family.build(params, data.context(family.style))
        family.fit(estimator, Xall, data.y)
        members.append(Member(family=family.name, trial=trial.number, weight=weight,
                              style=family.style, estimator=estimator, params=params,
                              preprocessor=family.style))
    total = sum(m.weight for m in members)
    for m in members:
        m.weight /= total
    return members, preprocessors, dropped
