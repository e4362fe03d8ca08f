"""The ensemble's out-of-fold predictions and its score on each fold, from its members' trials."""

from __future__ import annotations

import numpy as np

from labcoat.search import StudyResult, TrialData


def ensemble_oof(result: StudyResult, data: TrialData) -> dict[str, np.ndarray] | None:
    """The ensemble's out-of-fold predictions on the rows the search validated:
    ``{"y": encoded target, "pred": probabilities or values}`` (``Model.oof``)."""
    blend = ensemble_blend(result)
    if blend is None:
        return None
    rows = ~np.isnan(blend.reshape(len(blend), -1)).any(axis=1)
    return {"y": data.y[rows], "pred": blend[rows]}


def ensemble_blend(result: StudyResult) -> np.ndarray | None:
    parts = [(t.oof, w) for t, w in result.ensemble if t.oof is not None]
    if len(parts) != len(result.ensemble) or not parts:
        return None
    return np.asarray(sum(w * oof for oof, w in parts))


def ensemble_fold_scores(result: StudyResult, data: TrialData) -> list[float]:
    """The ensemble's score on each fold's validation rows, from its out-of-fold predictions."""
    blend = ensemble_blend(result)
    if blend is None:
        return []
    # On the folds every member scored (the first repeat only when later trials dropped it).
    shared = min(len(t.fold_scores) for t, _ in result.ensemble)
    scores = []
    for _, valid in data.resampling.folds[:shared]:
        rows = valid[~np.isnan(blend[valid].reshape(len(valid), -1)).any(axis=1)]
        if len(rows):
            scores.append(data.metric.score(data.y[rows], blend[rows]))
    return scores
