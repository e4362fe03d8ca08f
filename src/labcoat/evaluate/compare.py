"""Is one model really better than another? Paired tests over the same resampling folds.

The corrected resampled paired t-test (Nadeau & Bengio, 2003): the per-fold differences of
two models scored on the same folds have a variance that the fold overlap understates, so it
is inflated by ``n_test / n_train``. With more than two models, p-values are Holm-adjusted.
The statistics are in :mod:`labcoat.evaluate.stats`; this module pairs the candidates.

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
from typing import TYPE_CHECKING, Any


from labcoat.evaluate.stats import Comparison, holm, paired_test

if TYPE_CHECKING:
    from labcoat.model import Model


def compare_trials(model: Model, *candidates: str | int) -> list[dict[str, Any]]:
    """Compare candidates of one fitted model's search, on the folds they shared.

    A candidate is a trial number or a family name (its best trial). Every pair is tested;
    with more than one pair the p-values are Holm-adjusted. Holdout plans have one fold: no
    test is possible, and a :class:`ValueError` says so.

    Examples
    --------
    >>> import labcoat                                     # doctest: +SKIP
    >>> compare_trials(model, "lightgbm", "linear")[0]["verdict"]  # doctest: +SKIP
    'lightgbm is better than linear by 0.012 roc_auc [0.004, 0.020], p = 0.003.'
    """
    import json

    from labcoat.errors import ConfigError

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
    from itertools import combinations

    n_train, n_test = fold_rows
    results = []
    for (name_a, a), (name_b, b) in combinations(scores, 2):
        if len(a) != len(b) or len(a) < 2:
            raise ValueError(f"{name_a} and {name_b} do not share at least 2 complete folds "
                             "(a holdout plan or a stopped trial); they cannot be paired.")
        results.append((name_a, name_b, paired_test(a, b, n_train, n_test)))
    adjusted = holm([r.p_value for _, _, r in results]) if len(results) > 1 else [results[0][2].p_value]
    out = []
    for (name_a, name_b, result), p in zip(results, adjusted):
        result = Comparison(result.difference, result.low, result.high, p)
        out.append({"a": name_a, "b": name_b, "difference": result.difference, "low": result.low,
                    "high": result.high, "p_value": p, "holm_adjusted": len(results) > 1,
                    "verdict": result.verdict(name_a, name_b, metric, greater_is_better)})
    return out


def _candidate(board: Any, candidate: str | int) -> tuple[str, Any]:
    from labcoat.errors import ConfigError

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
