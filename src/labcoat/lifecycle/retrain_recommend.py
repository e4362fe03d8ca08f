"""``labcoat retrain`` for a recommender champion: a challenger fitted like it on the new
interactions without their latest 20% in time, both recommending to the users of that latest
part, and the gate deciding on their per-user NDCG@10, paired over users.

Each ranks every item the user has not met in the new data's earlier part, so the comparison
is of what each would recommend now: the champion with what it learned before, the challenger
with the newer interactions too. The difference challenger − champion (positive: the
challenger is better) gets a t interval over users; the policies are those of
:mod:`labcoat.lifecycle.gate`, in NDCG@10 (default non-inferiority margin: 1% of the champion's).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labcoat.errors import DataError
from labcoat.lifecycle.gate import mean_interval, resolve_margin
from labcoat.lifecycle.retrain import RetrainDecision
from labcoat.tasks.recommend.data import prepare
from labcoat.tasks.recommend.metrics import MAIN, RECALL_K, paired, ranking_metrics, top_items
from labcoat.tasks.recommend.split import TEST_SHARE

#: The champion's fit settings the challenger takes.
SETTINGS = ("user", "item", "rating", "time", "threshold", "split", "seed")
#: Most users scored (a seeded sample beyond): each is ranked by both models one at a time.
SCORED_USERS = 5000


def retrain_recommend(champion: Any, frame: pd.DataFrame, *, name: str, champion_version: str,
                      budget: float | str | None, policy: str, margin: float | str | None, seed: int | None,
                      tracking_uri: str | None, report: bool, progress: bool, source: str) -> RetrainDecision:
    """Fit, compare and (when the policy holds) promote; the decision as for row models."""
    import labcoat
    from labcoat.tracking.registry import promote

    info = champion.info
    user, item, rating, time = info["user"], info["item"], info.get("rating"), info.get("time")
    if time is None:
        raise DataError("The champion was fitted without a time column, so the new interactions cannot be split "
                        "into earlier and later ones; retrain it by fitting again (labcoat fit --task recommend).")
    for column in (user, item, rating, time):
        if column is not None and column not in frame.columns:
            raise DataError(f"The new interactions lack column {column!r}, which the champion was fitted on.")
    seed = int(info.get("seed", 0) if seed is None else seed)
    train, held = split_latest(frame, time)
    challenger = labcoat.fit(train, task="recommend", user=user, item=item, rating=rating, time=time,
                             threshold=info.get("threshold"), budget=budget if budget is not None else info.get("budget"),
                             seed=seed, quiet=not progress, tracking_uri=tracking_uri, register=name, report=report,
                             source=source)
    challenger_version = str(challenger.info["registered"]["version"])
    promote(name, challenger_version, alias="challenger", uri=tracking_uri)
    users, seen, relevant, relevant_ids = holdout_targets(train, held, info)
    if len(users) > SCORED_USERS:
        keep = np.sort(np.random.default_rng(seed).choice(len(users), SCORED_USERS, replace=False))
        users, seen, relevant = users[keep], [seen[i] for i in keep], relevant[keep]
    old = per_user_ndcg(champion, users, seen, relevant, relevant_ids)
    new = per_user_ndcg(challenger, users, seen, relevant, relevant_ids)
    result = paired(new, old)  # challenger − champion: + = challenger better
    champion_score = float(old.mean())
    margin_value = resolve_margin(margin, policy, champion_score)
    bar = -margin_value if policy == "non-inferiority" else margin_value
    promoted = result.low > bar
    if promoted:
        promote(name, challenger_version, alias="champion", uri=tracking_uri)
    reason = f"the difference's lower bound {result.low:+.4f} is {'above' if promoted else 'not above'} {bar:+.4f}"
    return RetrainDecision(
        name=name, champion_version=champion_version, challenger_version=challenger_version, metric=MAIN,
        policy=policy, margin=margin_value, champion_score=champion_score, champion_interval=mean_interval(old),
        challenger_score=float(new.mean()), challenger_interval=mean_interval(new), difference=result.difference,
        ci_low=result.low, ci_high=result.high, p_value=result.p_value, promoted=promoted, reason=reason,
        holdout=f"the latest {TEST_SHARE:.0%} of the interactions in time, {len(users):,} users",
        holdout_rows=len(held), train_rows=len(train), challenger_run_id=challenger.info.get("run_id"),
        settings={k: info.get(k) for k in SETTINGS} | {"budget": budget if budget is not None else info.get("budget")})


def split_latest(frame: pd.DataFrame, time: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The interactions before the latest :data:`TEST_SHARE` in time, and those."""
    from labcoat.tasks.recommend.data import parse_times

    when = parse_times(frame[time], time)
    cut = when.quantile(1 - TEST_SHARE)
    later = (when > cut).to_numpy()
    if later.all() or not later.any():
        raise DataError(f"The new interactions' times ({time!r}) do not spread enough to hold out the latest "
                        f"{TEST_SHARE:.0%}; give interactions over a longer period.")
    return frame.loc[~later].reset_index(drop=True), frame.loc[later].reset_index(drop=True)


def holdout_targets(train: pd.DataFrame, held: pd.DataFrame, info: dict[str, Any]
                    ) -> tuple[np.ndarray, list[list[Any]], sp.csr_matrix, np.ndarray]:
    """The users with interactions on both sides, the items each met before (left out of their
    rankings), their later preferences (by the champion's preference rule) as a users × items
    matrix, and that matrix's item ids."""
    user, item = info["user"], info["item"]
    later = prepare(held, user=user, item=item, rating=info.get("rating"), time=info.get("time"),
                    threshold=info.get("threshold"), quiet=True)
    positive_users = pd.unique(later.user_ids[later.user[later.positive]])
    met = train.groupby(user)[item].agg(list)
    users = np.array([u for u in positive_users if u in met.index], dtype=object)
    if not len(users):
        raise DataError("No user of the latest interactions has earlier ones too: the two models cannot be "
                        "compared on them. Give interactions over a longer period.")
    rows = later.matrix()[pd.Index(later.user_ids).get_indexer(users)]
    return users, [met[u] for u in users], rows, later.item_ids


def per_user_ndcg(model: Any, users: np.ndarray, seen: list[list[Any]], relevant: sp.csr_matrix,
                  relevant_ids: np.ndarray) -> np.ndarray:
    """Each user's NDCG@10 of ``model``'s ranking (the items in ``seen`` left out) against the
    rows of ``relevant`` (columns: ``relevant_ids``); an item the matrix lacks is never a hit."""
    index = pd.Index(relevant_ids)
    never = len(relevant_ids)  # an extra column, empty
    tops = np.full((len(users), RECALL_K), never, dtype=np.int64)
    for row, (user, met) in enumerate(zip(users, seen)):
        # Only what the user met in the new data's earlier part is left out, for both models: the
        # champion's own training pairs may be among the later ones (repeat purchases).
        ids, scores, _ = model.user_scores(user, exclude=met, exclude_seen=False)
        k = min(RECALL_K, len(scores))
        if k == 0:
            continue
        codes = index.get_indexer(ids[top_items(scores[None, :], k)[0]])
        tops[row, :k] = np.where(codes >= 0, codes, never)
    padded = sp.csr_matrix((relevant.data, relevant.indices, relevant.indptr), shape=(len(users), never + 1))
    return ranking_metrics(tops, padded, np.zeros(never + 1))[MAIN]
