"""The leaderboard: one row per trial with its 95% interval and its Holm-adjusted p-value
against the best trial."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labcoat.model import Member
from labcoat.search import StudyResult, Trial, TrialData

#: With a holdout plan, the best this many trials get a bootstrap interval.
HOLDOUT_INTERVALS = 5


def leaderboard(result: StudyResult, data: TrialData, members: list[Member]) -> pd.DataFrame:
    """One row per trial, best first; failed and stopped trials last. ``score_low`` and
    ``score_high`` bound a 95% interval (see ``labcoat.evaluate.intervals``); ``p_vs_best`` is
    the Holm-adjusted p-value of a paired test against the best trial (``evaluate.stats``)."""
    weights = {m.trial: m.weight for m in members}
    greater_is_better = data.metric.greater_is_better
    # A holdout's bootstrap re-scores every row 200 times: done for the best few trials only.
    ranked = sorted((t for t in result.trials if t.status == "ok"),
                    key=lambda t: -t.score if greater_is_better else t.score)
    bootstrapped = {t.number for t in ranked[:HOLDOUT_INTERVALS]}
    rows = []
    for t in result.trials:
        low, high = (trial_interval(t, data) if not data.resampling.is_holdout or t.number in bootstrapped
                     else (float("nan"), float("nan")))
        rows.append({**t.summary(), "score_low": low, "score_high": high,
                     "ensemble_weight": weights.get(t.number, 0.0)})
    board = pd.DataFrame(rows)
    if board.empty:
        return board
    first = ["trial", "family", "score", "score_std", "score_low", "score_high"]
    board = board[first + [c for c in board.columns if c not in first]]
    board["p_vs_best"] = board["trial"].map(_p_values_vs_best(ranked, data))
    ok = board["status"] == "ok"
    key = board["score"] if not greater_is_better else -board["score"]
    board = board.assign(_ok=~ok, _key=key).sort_values(["_ok", "_key", "trial"]).drop(columns=["_ok", "_key"])
    board.insert(0, "rank", range(1, len(board) + 1))
    board["params"] = board["params"].map(lambda p: ", ".join(f"{k}={_short(v)}" for k, v in p.items()))
    return board.reset_index(drop=True)


def _p_values_vs_best(ranked: list[Trial], data: TrialData) -> dict[int, float]:
    """Holm-adjusted p-values of the corrected resampled paired t-test of each completed trial
    against the best one, on their common folds (none for a holdout)."""
    from labcoat.evaluate.stats import common_folds, holm, paired_test

    if data.resampling.is_holdout or not ranked:
        return {}
    best = ranked[0]
    n_train, n_test = fold_sizes(data)
    # Folds come in a fixed order and a trial scores a prefix of them (the first repeat
    # only, or fewer when stopped), so two trials pair on their common first folds.
    others = [t for t in ranked[1:] if min(len(t.fold_scores), len(best.fold_scores)) >= 2]
    if not others:
        return {}
    raw = [paired_test(*common_folds(t.fold_scores, best.fold_scores), n_train, n_test).p_value for t in others]
    return {t.number: p for t, p in zip(others, holm(raw))}


def fold_sizes(data: TrialData) -> tuple[float, float]:
    """Mean training and validation rows per fold."""
    folds = data.resampling.folds
    return (float(np.mean([len(train) for train, _ in folds])),
            float(np.mean([len(valid) for _, valid in folds])))


def trial_interval(trial: Trial, data: TrialData) -> tuple[float, float]:
    """95% interval of a trial's score: corrected resampled t over folds, or for a holdout a
    stratified bootstrap of its validation predictions (when they were kept)."""
    from labcoat.evaluate.intervals import bootstrap_interval
    from labcoat.evaluate.stats import corrected_t_interval

    if not data.resampling.is_holdout:
        return corrected_t_interval(trial.fold_scores, *fold_sizes(data))
    if trial.oof is None:
        return float("nan"), float("nan")
    valid = data.resampling.folds[0][1]
    return bootstrap_interval(data.y[valid], trial.oof[valid], data.metric,
                              stratify=data.task.stratified, seed=data.seed)


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
