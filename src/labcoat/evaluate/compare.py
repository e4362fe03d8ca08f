"""Is one model really better than another? Paired tests over the same resampling folds.

The corrected resampled paired t-test (Nadeau & Bengio, 2003): the per-fold differences of
two models scored on the same folds have a variance that the fold overlap understates, so it
is inflated by ``n_test / n_train``. With more than two models, p-values are Holm-adjusted.
A single holdout (more than 100,000 rows) has no folds to pair: models validated on the same
holdout rows are compared by a paired bootstrap of their predictions on those rows instead
(:func:`bootstrap_pairwise`, :mod:`labcoat.evaluate.paired`). The statistics are in
:mod:`labcoat.evaluate.stats`; this module pairs the candidates.

Examples
--------
>>> a = [0.80, 0.82, 0.79, 0.81, 0.83, 0.80, 0.82, 0.81, 0.80, 0.82]
>>> b = [0.82, 0.83, 0.81, 0.83, 0.84, 0.82, 0.84, 0.82, 0.83, 0.83]
>>> pairwise([("B", b), ("A", a)], fold_rows=[900, 100], metric="ROC AUC",
...          greater_is_better=True)[0]["verdict"]
'B is better than A by 0.017 ROC AUC [0.010, 0.024], p = 0.000389.'
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from labcoat.errors import ConfigError
from labcoat.evaluate.metrics import Metric
from labcoat.evaluate.paired import paired_bootstrap
from labcoat.evaluate.stats import Comparison, common_folds, holm, paired_test

if TYPE_CHECKING:
    import pandas as pd
    from labcoat.model import Model


def compare_trials(model: Model, *candidates: str | int) -> list[dict[str, Any]]:
    """Compare candidates of one fitted model's search, on the folds they shared.

    A candidate is a trial number or a family name (its best trial). Every pair is tested;
    with more than one pair the p-values are Holm-adjusted. Holdout plans have one fold: no
    test is possible, and a :class:`~labcoat.errors.ConfigError` says so.

    Examples
    --------
    >>> import labcoat                                     # doctest: +SKIP
    >>> compare_trials(model, "lightgbm", "linear")[0]["verdict"]  # doctest: +SKIP
    'lightgbm is better than linear by 0.012 roc_auc [0.004, 0.020], p = 0.003.'
    """
    import json

    if len(candidates) < 2:
        raise ConfigError("Give at least two candidates to compare (trial numbers or families).")
    board = model.leaderboard
    if "fold_scores" not in board:
        raise ConfigError("This model was saved before fold scores were kept; fit it again to compare.")
    chosen = [(name, json.loads(row["fold_scores"])) for name, row in (_candidate(board, c) for c in candidates)]
    return pairwise(chosen, model.info.fold_rows, model.metric, bool(model.info.greater_is_better))


def pairwise(scores: list[tuple[str, Sequence[float]]], fold_rows: Sequence[float], metric: str,
             greater_is_better: bool) -> list[dict[str, Any]]:
    """Every pair of named fold-score lists tested; Holm-adjusted when there is more than one pair."""
    n_train, n_test = fold_rows
    tested = []
    for (name_a, a), (name_b, b) in combinations(scores, 2):
        if min(len(a), len(b)) < 2:
            raise ConfigError(f"{name_a} and {name_b} do not share at least 2 complete folds (a holdout plan, "
                              "used from 100,000 rows, or a stopped trial), so their scores cannot be paired.")
        tested.append((name_a, name_b, paired_test(*common_folds(a, b), n_train, n_test)))
    return adjusted_verdicts(tested, metric, greater_is_better)


def bootstrap_pairwise(y: np.ndarray, predictions: list[tuple[str, np.ndarray]], metric: Metric, *,
                       stratify: bool, seed: int = 0) -> list[dict[str, Any]]:
    """Every pair of named predictions of the same rows ``y`` compared by a paired bootstrap
    (two-sided p-value); Holm-adjusted when there is more than one pair.

    Examples
    --------
    >>> from labcoat.evaluate.metrics import get_metric
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=300)
    >>> close, far = y + rng.normal(0, 0.5, 300), y + rng.normal(0, 1.0, 300)
    >>> bootstrap_pairwise(y, [("close", close), ("far", far)], get_metric("rmse", "regression"),
    ...                    stratify=False)[0]["verdict"][:40]
    'close is better than far by 0.439 rmse ['
    """
    sign = 1.0 if metric.greater_is_better else -1.0
    tested = []
    for (name_a, a), (name_b, b) in combinations(predictions, 2):
        boot = paired_bootstrap(y, a, b, metric, stratify=stratify, seed=seed)
        low, high = sorted((sign * boot.low, sign * boot.high))
        tested.append((name_a, name_b, Comparison(sign * boot.difference, low, high, boot.two_sided_p_value())))
    return adjusted_verdicts(tested, metric.name, metric.greater_is_better)


def adjusted_verdicts(tested: list[tuple[str, str, Comparison]], metric: str, greater_is_better: bool) -> list[dict[str, Any]]:
    """The tested pairs with Holm-adjusted p-values (when more than one) and their verdicts."""
    adjusted = holm([r.p_value for _, _, r in tested]) if len(tested) > 1 else [tested[0][2].p_value]
    out = []
    for (name_a, name_b, result), p in zip(tested, adjusted):
        result = Comparison(result.difference, result.low, result.high, p)
        out.append({"a": name_a, "b": name_b, "difference": result.difference, "low": result.low,
                    "high": result.high, "p_value": p, "holm_adjusted": len(tested) > 1,
                    "verdict": result.verdict(name_a, name_b, metric, greater_is_better)})
    return out


def _candidate(board: pd.DataFrame, candidate: str | int) -> tuple[str, Any]:
    ok = board[board["status"] == "ok"]
    text = str(candidate)
    if text.isdigit():
        rows = ok[ok["trial"] == int(text)]
        name = f"trial {text}"
    else:
        rows = ok[ok["family"] == text]  # the leaderboard is best first
        name = text
    if rows.empty:
        raise ConfigError(f"No completed trial '{text}' in this model's search; the leaderboard "
                          f"has families {sorted(set(ok['family']))} and trials {sorted(ok['trial'])[:10]}...")
    row = rows.iloc[0]
    return (name if text.isdigit() else f"{name} (trial {int(row['trial'])})"), row
