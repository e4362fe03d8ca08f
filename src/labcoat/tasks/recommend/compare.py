"""Is one recommender really better than another? Paired over the test users.

Each test user's NDCG@10 is one paired value per recommender (every candidate scored on the
test ranked for the same users); the mean difference gets a t interval over users and a
two-sided p-value, Holm-adjusted over the pairs.

Examples
--------
>>> compare_recommenders(model, "chosen", "most_popular")[0]["verdict"]   # doctest: +SKIP
'chosen is better than most_popular by 0.041 NDCG@10 [0.021, 0.061], p < 0.001.'
"""
from __future__ import annotations

from itertools import combinations
from typing import Any

from labcoat.errors import ConfigError
from labcoat.evaluate.compare import adjusted_verdicts
from labcoat.tasks.recommend.metrics import paired


def compare_recommenders(model: Any, *names: str) -> list[dict[str, Any]]:
    """Every pair of the named recommenders (``"chosen"`` is the model's own) tested on their
    per-user NDCG@10 on the test."""
    if len(names) < 2:
        raise ConfigError("Give at least two recommenders to compare, e.g. chosen most_popular (or ease als).")
    scores = model.user_ndcg
    unknown = [n for n in names if n not in scores]
    if unknown:
        raise ConfigError(f"No test scores of {', '.join(unknown)} in this model; it has {', '.join(scores)} "
                          "(a candidate not scored on the test for the budget has none).")
    tested = [(a, b, paired(scores[a], scores[b])) for a, b in combinations(names, 2)]
    return adjusted_verdicts(tested, "NDCG@10", greater_is_better=True)
