"""``fit(..., task="recommend")``: prepare the interactions, hold out a test and a validation
part, search the recommenders on validation under the budget, choose the best one or a blend,
score every candidate on the test, and refit the chosen one on everything.

Honesty: the search and the blend weights only ever see the validation part (carved out of the
training part); the test part is used once, to score the configurations already chosen, each
fitted on the training part; :func:`~labcoat.tasks.recommend.split.check_no_leak` asserts that
no held-out pair is in the matrix a model learns from.

Examples
--------
>>> from labcoat.datasets import make_interactions
>>> rows = make_interactions(n_users=300, n_items=100, n_interactions=8000, seed=0)
>>> model = fit_recommend(rows, user="user_id", item="item_id", time="timestamp", budget=10,
...                       candidates=["most_popular", "item_knn"], quiet=True)
>>> model.recommend(rows["user_id"].iloc[0], k=3)["rank"].tolist()
[1, 2, 3]
"""
from __future__ import annotations

import importlib.util
import sys
import time as timer
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError, DataError, LabcoatNotice
from labcoat.search.budget import Clock, parse_budget
from labcoat.tasks.recommend.blend import blend_scores, standardise, weight_grid
from labcoat.tasks.recommend.candidates import (EASE, RERANK, MostPopular, Recommender, Skipped, Training,
                                                ease_skip_reason, installed, select)
from labcoat.tasks.recommend.data import Interactions, check_table, prepare
from labcoat.tasks.recommend.features import item_features, segment_column
from labcoat.tasks.recommend.metrics import MAIN, Evaluation, evaluate, paired
from labcoat.tasks.recommend.model import RecommendModel
from labcoat.tasks.recommend.rerank import Reranker, fit_reranker
from labcoat.tasks.recommend.split import Holdout, check_no_leak, split as holdout_split

#: Default budget, seconds.
BUDGET = 60.0
#: Share of the budget kept for the test scoring and the final fit.
FINAL_SHARE = 0.25
#: Validation users scored per trial (a seeded sample beyond this: the search needs a ranking of
#: configurations, not a precise score).
VALIDATION_USERS = 3000
#: Test users scored (a seeded sample beyond this; the intervals say how precise that is).
TEST_USERS = 20_000
#: Members of a blend at most, and the cells of validation scores kept to choose its weights.
BLEND_MEMBERS = 3
BLEND_CELLS = 30_000_000
#: A blend is chosen over the best single recommender only when it scores this much more (relative).
BLEND_MARGIN = 0.01
#: Share of the budget kept from the search for the re-ranker.
RERANK_SHARE = 0.1
#: Tuning stops after this many suggested trials in a row that would not fit in the time left.
MAX_SKIPS = 6


@dataclass
class Trial:
    """One configuration of a candidate scored on validation."""

    name: str
    params: dict[str, Any]
    score: float = float("nan")
    seconds: float = 0.0
    status: str = "ok"
    model: Recommender | None = field(default=None, repr=False)


def fit_recommend(data: pd.DataFrame | str | Path, target: str | None = None, *, user: str, item: str,
                  rating: str | None = None, time: str | None = None, time_column: str | None = None,
                  items: pd.DataFrame | None = None, users: pd.DataFrame | None = None,
                  budget: float | str | None = None, candidates: Sequence[str] | None = None,
                  metric: str | None = None, seed: int = 0, quiet: bool = False, n_jobs: int | None = None,
                  executor: str | None = None, ray_address: str | None = None, split: str = "time",
                  threshold: float | str | None = None) -> RecommendModel:
    """Fit a recommender of ``item`` s for each ``user`` from their interactions.

    ``rating`` names explicit ratings (a preference from ``threshold``; see
    :func:`~labcoat.tasks.recommend.data.preference_rule`) or, with ``threshold="weight"``, an
    implicit weight; ``time`` (alias ``time_column``) dates the interactions for the split in
    time (``split="time"``, default) or each user's last (``split="leave_last"``); ``items`` and
    ``users`` are side tables keyed by the same id columns (cold start); ``candidates`` names the
    recommenders tried (default: all); ``n_jobs`` the threads of ALS and BPR (default: the idle
    cores). Returns a :class:`RecommendModel`.
    """
    clock = Clock(parse_budget(budget) if budget is not None else BUDGET)
    if executor not in (None, "local") or ray_address is not None:
        raise ConfigError("executor= and ray_address= are not supported for recommend yet; the recommenders run in "
                          "this process (ALS and BPR on n_jobs threads). Leave them out.")
    if time is not None and time_column is not None and time != time_column:
        raise ConfigError(f"time= and time_column= name the same setting; got {time!r} and {time_column!r}.")
    time = time or time_column
    if target is not None and target != rating:
        if rating is None:
            rating = target
        else:
            raise ConfigError(f"target {target!r} and rating {rating!r} differ; a recommender's target is its rating "
                              "column, if any. Pass one of them.")
    if metric not in (None, MAIN, "ndcg"):
        raise ConfigError(f"Recommenders are chosen by NDCG@10; {metric!r} cannot be optimised. Recall@20, MAP@10, "
                          "hit rate, coverage and popularity are reported beside it on the leaderboard.")
    frame = data if isinstance(data, pd.DataFrame) else _read(data)
    interactions = prepare(frame, user=user, item=item, rating=rating, time=time, threshold=threshold, quiet=True)
    notes = list(interactions.notes)
    items_table = None if items is None else check_table(items, item, "items")
    users_table = None if users is None else check_table(users, user, "users")
    test = holdout_split(interactions, split, seed=seed)
    validation = holdout_split(interactions, split, within=test.train, seed=seed + 1, what="validation")
    notes += test.notes
    classes = installed(select(candidates), notes)
    reason = ease_skip_reason(interactions.n_items) if EASE in classes else None
    if reason:
        notes.append(f"ease skipped: {reason}")
        classes.remove(EASE)
    from labcoat.search.cores import idle_cores

    threads = n_jobs or idle_cores()
    say = _printer(quiet)
    say(f"recommend: {interactions.n_users:,} users, {interactions.n_items:,} items, "
        f"{int(interactions.positive.sum()):,} preferences; test: {len(test.evaluable):,} users "
        f"({test.method}), validation: {len(validation.evaluable):,} users")
    rerank = (candidates is None or RERANK in [str(c).lower() for c in candidates])
    if rerank and importlib.util.find_spec("lightgbm") is None:
        notes.append(f"the {RERANK} re-ranker skipped: lightgbm is not installed")
        rerank = False
    model = _fit(interactions, test, validation, classes, clock, seed=seed, threads=threads, say=say, notes=notes,
                 rerank=rerank)
    model.info.update({
        "user": user, "item": item, "rating": rating, "time": time, "threshold": threshold,
        "preference": interactions.preference, "split": test.method, "n_users": interactions.n_users,
        "n_items": interactions.n_items, "interactions": len(interactions.user),
        "preferences": int(interactions.positive.sum()), "test_users": int(len(test.evaluable)),
        "test_users_scored": int(min(len(test.evaluable), TEST_USERS)),
        "validation_users": int(len(validation.evaluable)), "notes": notes, "budget": clock.budget,
        "seconds": round(clock.elapsed, 2), "seed": seed, "n_jobs": threads})
    _side_tables(model, interactions, items_table, users_table, item, user)
    for note in notes:
        warnings.warn(note, LabcoatNotice, stacklevel=2)
    return model


def _fit(data: Interactions, test: Holdout, validation: Holdout, classes: list[type[Recommender]], clock: Clock, *,
         seed: int, threads: int, say: Any, notes: list[str], rerank: bool = False) -> RecommendModel:
    """The search, the choice, the test and the final fit (see :func:`fit_recommend`)."""
    inner = Training(data.matrix(validation.train), _times(data, validation.train))
    val_truth, val_seen = data.matrix(validation.test), data.seen(validation.train)
    check_no_leak(val_seen, val_truth, "validation")
    rng = np.random.default_rng(seed)
    val_users = validation.evaluable
    if len(val_users) > VALIDATION_USERS:
        val_users = np.sort(rng.choice(val_users, VALIDATION_USERS, replace=False))

    def on_validation(model: Recommender, users: np.ndarray = val_users) -> Evaluation:
        return evaluate(model.score, inner.matrix, val_truth, users, seen=val_seen, intervals=False)

    trials = _search(classes, inner, on_validation, clock, seed=seed, threads=threads, say=say,
                     keep=RERANK_SHARE if rerank else 0.0)
    best = _best_per_candidate(trials)
    if not best:
        raise DataError("No recommender could be fitted: " + "; ".join(f"{t.name} {t.status}" for t in trials)
                        + ". Give a larger budget.")
    names, weights, why = _choose(best, val_users, on_validation, data.n_items)
    booster = None
    tried: dict[str, Any] = {}
    if rerank and len(best) >= 2:
        needed = 4 * sum(t.seconds for t in sorted(best.values(), key=lambda t: -t.score)[:BLEND_MEMBERS])
        if clock.remaining - FINAL_SHARE * (clock.budget or 0) > 0.5 * needed:  # the search kept RERANK_SHARE
            found = _try_rerank(best, names, weights, val_users, inner, val_truth, on_validation, seed, threads, say,
                                tried)
            if found is not None:
                booster, names, why = found
                weights = [1.0] * len(names)
        else:
            notes.append(f"the {RERANK} re-ranker was not tried: too little of the budget left")
    say(f"  chosen: {why}")

    # The test: every candidate's best configuration fitted on the training part, scored once.
    train = Training(data.matrix(test.train), _times(data, test.train))
    test_truth, test_seen = data.matrix(test.test), data.seen(test.train)
    check_no_leak(test_seen, test_truth)
    test_users = test.evaluable
    if len(test_users) > TEST_USERS:
        test_users = np.sort(rng.choice(test_users, TEST_USERS, replace=False))
    fitted: dict[str, Recommender] = {}
    results: dict[str, Evaluation] = {}
    seconds: dict[str, float] = {}
    statuses: dict[str, str] = {}
    order = sorted(best, key=lambda n: (n not in names, n))  # the chosen members first: they are needed
    final_cost = 1.3 * sum(best[n].seconds for n in names)  # the last fit, on every interaction
    for name in order:
        # MostPopular is always scored: it is the baseline every recommender is compared with.
        if name not in names and name != MostPopular.name and clock.remaining < final_cost + 1.3 * best[name].seconds:
            statuses[name] = "not scored on test: budget spent"
            continue
        started = timer.monotonic()
        member = _make(type(best[name].model), best[name].params, seed, threads).fit(train)  # type: ignore[arg-type]
        seconds[name] = timer.monotonic() - started
        fitted[name] = member
        results[name] = evaluate(member.score, train.matrix, test_truth, test_users, seen=test_seen, seed=seed)
        statuses[name] = "ok"
        say(f"  test     {name:14s} ndcg@10 {results[name].value():.4f}  ({seconds[name]:.1f} s fit)")
    members = [fitted[n] for n in names]
    chosen_name = names[0] if len(names) == 1 else "blend(" + ", ".join(
        f"{n} {w:.2f}" for n, w in zip(names, weights)) + ")"
    if booster is not None:
        chosen_name = f"{RERANK}({', '.join(names)})"
        chosen = evaluate(Reranker(members, booster).score, train.matrix, test_truth, test_users, seen=test_seen,
                          seed=seed)
    elif len(names) == 1:
        chosen = results[names[0]]
    else:
        chosen = evaluate(lambda users: blend_scores(members, weights, users), train.matrix, test_truth,
                          test_users, seen=test_seen, seed=seed)
    leaderboard = _leaderboard(best, results, chosen, chosen_name, seconds, statuses, trials,
                               {n: {"weight": w, **best[n].params} for n, w in zip(names, weights)})

    # The final model learns from every interaction.
    everything = Training(data.matrix(), _times(data, None))
    final: list[Recommender] = [_make(type(m), m.params, seed, threads).fit(everything) for m in members]
    if booster is not None:  # the ranker learned on validation orders the refitted members' candidates
        final, weights = [Reranker(final, booster)], [1.0]
    popular = np.asarray((everything.matrix > 0).sum(axis=0), dtype=np.float64).ravel()
    model = RecommendModel(user_ids=data.user_ids, item_ids=data.item_ids, members=final, weights=list(weights),
                           seen=data.seen(), popularity=popular, leaderboard=leaderboard)
    kind = RERANK if booster is not None else "single" if len(names) == 1 else "blend"
    model.info["chosen"] = {"name": chosen_name, "kind": kind,
                            "members": {n: {"weight": float(w), "params": best[n].params}
                                        for n, w in zip(names, weights)}, "why": why}
    model.info["test"] = {k: {"value": s.value, "low": s.low, "high": s.high} for k, s in chosen.scores.items()}
    model.info["trials"] = len(trials)
    model.info["rerank"] = tried or None
    model.user_ndcg = {"chosen": chosen.per_user[MAIN], **{n: r.per_user[MAIN] for n, r in results.items()}}
    model.ndcg_users = data.user_ids[chosen.users]
    return model


def _try_rerank(best: dict[str, Trial], names: list[str], weights: list[float], users: np.ndarray, inner: Training,
                truth: Any, score: Any, seed: int, threads: int, say: Any,
                tried: dict[str, Any]) -> tuple[Any, list[str], str] | None:
    """The LightGBM re-ranker over the top :data:`BLEND_MEMBERS` candidates when it beats the
    choice so far: learned on half the validation users, compared on the other half (the same
    users for both), then learned again on all of them. None when it does not win."""
    ranked = [t for t in sorted(best.values(), key=lambda t: -t.score)[:BLEND_MEMBERS] if t.model is not None]
    if len(ranked) < 2 or len(users) < 20:
        return None
    models = [t.model for t in ranked if t.model is not None]
    halves = np.random.default_rng(seed).permutation(users)
    learn, judge = np.sort(halves[: len(users) // 2]), np.sort(halves[len(users) // 2:])
    ranker = fit_reranker(models, inner.matrix, truth, learn, seed=seed, threads=threads)
    current = [best[n].model for n in names]

    class Current(Recommender):
        name = "current"

        def _fit(self, training: Training) -> None:
            raise NotImplementedError

        def score(self, users: np.ndarray) -> np.ndarray:
            return blend_scores(current, weights, users)  # type: ignore[arg-type]

    reranked, before = score(ranker, judge).value(), score(Current(), judge).value()
    say(f"  {RERANK}   ndcg@10 {reranked:.4f} against {before:.4f} for the choice so far, on {len(judge):,} "
        "validation users it did not learn from")
    tried.update({"validation_ndcg@10": reranked, "choice_so_far": before, "users": len(judge),
                  "chosen": reranked >= before * (1 + BLEND_MARGIN)})
    if reranked < before * (1 + BLEND_MARGIN):
        return None
    final = fit_reranker(models, inner.matrix, truth, users, seed=seed, threads=threads)
    members = [t.name for t in ranked]
    return final.booster, members, (
        f"a LightGBM re-ranker over the top items of {', '.join(members)}: ndcg@10 {reranked:.4f} against "
        f"{before:.4f} for the best single or blend, on {len(judge):,} validation users it did not learn from")


def _search(classes: list[type[Recommender]], inner: Training, score: Any, clock: Clock, *, seed: int,
            threads: int, say: Any, keep: float = 0.0) -> list[Trial]:
    """Each candidate with its defaults, cheapest first, then Optuna (TPE, one seeded study per
    candidate) over their spaces in turn, while the budget lasts (a share kept for the end, and
    ``keep`` of the budget more for the re-ranker)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    reserve = FINAL_SHARE * (clock.budget or 0)
    trials: list[Trial] = []
    cost: dict[str, float] = {}
    for cls in classes:
        if clock.remaining - reserve <= 0:
            trials.append(Trial(cls.name, dict(cls.defaults), status="skipped: budget spent"))
            continue
        # A candidate is fitted three times at least (validation, test, final): skip one that cannot be.
        expected = cls.estimate(*inner.matrix.shape, inner.matrix.nnz)
        if 3 * expected > clock.remaining - reserve:
            trials.append(Trial(cls.name, dict(cls.defaults), status=f"skipped: a fit would take ~{expected:.0f} s, "
                                f"{max(clock.remaining - reserve, 0):.0f} s left for three"))
            say(f"  skipped  {cls.name:14s} {trials[-1].status[9:]}")
            continue
        trial = _run(cls, dict(cls.defaults), inner, score, seed, threads)
        trials.append(trial)
        cost[cls.name] = trial.seconds
        say(f"  default  {cls.name:14s} {_line(trial)}, {max(clock.remaining, 0):.0f} s left")
    # The test refits every candidate once and the final fit the chosen ones: keep that time too.
    reserve = max(reserve, 2.5 * sum(cost.values())) + keep * (clock.budget or 0)
    tunable = [cls for cls in classes if cls.name in cost and any(t.name == cls.name and t.status == "ok"
                                                                     for t in trials)]
    studies = {cls.name: _study(cls, trials, inner, seed) for cls in tunable}
    skips, turn = 0, 0
    while tunable and skips < MAX_SKIPS:
        cls = tunable[turn % len(tunable)]
        turn += 1
        left = clock.remaining - reserve
        if left <= 0:
            break
        study = studies[cls.name]
        ask = study.ask()
        params = {**cls.defaults, **_strip(cls.space(ask, inner))}
        if cost[cls.name] * _size(cls, params) > left or _repeated(trials, cls.name, params):
            study.tell(ask, state=optuna.trial.TrialState.PRUNED)
            skips += 1
            continue
        skips = 0
        trial = _run(cls, params, inner, score, seed, threads)
        trials.append(trial)
        _keep_best_model(trials, cls.name)
        study.tell(ask, trial.score if trial.status == "ok" else None,
                   state=optuna.trial.TrialState.COMPLETE if trial.status == "ok" else optuna.trial.TrialState.FAIL)
        if trial.status == "ok" and trial.score > max(t.score for t in trials if t.name == cls.name and t is not trial):
            say(f"  better   {cls.name:14s} {_line(trial)}, {max(clock.remaining, 0):.0f} s left")
    return trials


def _keep_best_model(trials: list[Trial], name: str) -> None:
    """Only the best configuration of candidate ``name`` keeps its fitted model: every fitted
    EASE on 10,000 items holds a 400 MB matrix, and a search tries several."""
    fitted = [t for t in trials if t.name == name and t.model is not None]
    best = max(fitted, key=lambda t: t.score, default=None)
    for trial in fitted:
        if trial is not best:
            trial.model = None


def _study(cls: type[Recommender], trials: list[Trial], inner: Training, seed: int) -> Any:
    """A seeded TPE study of ``cls`` that already knows its defaults' score."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed * 1000 + zlib.crc32(cls.name.encode()) % 1000, n_startup_trials=4)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    done = next(t for t in trials if t.name == cls.name and t.status == "ok")
    study.enqueue_trial({f"{cls.name}.{k}": v for k, v in done.params.items()})
    replay = study.ask()
    cls.space(replay, inner)
    study.tell(replay, done.score)
    return study


def _strip(params: dict[str, Any]) -> dict[str, Any]:
    """Optuna names without the candidate prefix."""
    return {k.split(".", 1)[-1]: v for k, v in params.items()}


def _size(cls: type[Recommender], params: dict[str, Any]) -> float:
    """How many times its defaults' time a configuration should take (for the budget)."""
    ratio = 1.0
    for name in ("factors", "iterations"):
        if name in params and name in cls.defaults:
            ratio *= max(float(params[name]) / float(cls.defaults[name]), 0.25)
    return ratio


def _repeated(trials: list[Trial], name: str, params: dict[str, Any]) -> bool:
    return any(t.name == name and t.params == params for t in trials)


def _make(cls: type[Recommender], params: dict[str, Any], seed: int, threads: int) -> Recommender:
    model = cls(**params)
    model.seed, model.threads = seed, threads
    return model


def _run(cls: type[Recommender], params: dict[str, Any], inner: Training, score: Any, seed: int,
         threads: int) -> Trial:
    """Fit one configuration on the validation's training part and score it on validation."""
    started = timer.monotonic()
    try:
        model = _make(cls, params, seed, threads).fit(inner)
        value = score(model).value()
    except Skipped as why:
        return Trial(cls.name, params, status=f"skipped: {why}", seconds=timer.monotonic() - started)
    except MemoryError:
        return Trial(cls.name, params, status="failed: out of memory", seconds=timer.monotonic() - started)
    return Trial(cls.name, params, score=value, seconds=timer.monotonic() - started, model=model)


def _line(trial: Trial) -> str:
    shown = f"ndcg@10 {trial.score:.4f}" if trial.status == "ok" else trial.status[:70]
    return f"{shown} ({trial.seconds:.1f} s)"


def _best_per_candidate(trials: list[Trial]) -> dict[str, Trial]:
    best: dict[str, Trial] = {}
    for trial in trials:
        if trial.status == "ok" and (trial.name not in best or trial.score > best[trial.name].score):
            best[trial.name] = trial
    return best


def _choose(best: dict[str, Trial], users: np.ndarray, score: Any,
            n_items: int) -> tuple[list[str], list[float], str]:
    """The best single candidate on validation, or a blend of the top :data:`BLEND_MEMBERS`
    with weights from :func:`weight_grid` when it beats it by :data:`BLEND_MARGIN`."""
    ranked = sorted(best.values(), key=lambda t: -t.score)
    top = ranked[0]
    single = f"{top.name} (best on validation: ndcg@10 {top.score:.4f})"
    members = ranked[:BLEND_MEMBERS]
    if len(members) < 2:
        return [top.name], [1.0], single
    keep = users[:max(1, min(len(users), BLEND_CELLS // max(n_items * len(members), 1)))]
    cached = [standardise(m.model.score(keep)) for m in members if m.model is not None]
    results = [(score(_Cached(keep, cached, weights), keep).value(), weights) for weights in weight_grid(len(members))]
    value, weights = max(results, key=lambda r: r[0])
    alone = max(v for v, w in results if max(w) == 1.0)
    if sum(w > 0 for w in weights) < 2 or value < alone * (1 + BLEND_MARGIN):
        return [top.name], [1.0], single
    used = [(m.name, w) for m, w in zip(members, weights) if w > 0]
    return ([n for n, _ in used], [w for _, w in used],
            f"a blend of {', '.join(f'{n} ({w:.2f})' for n, w in used)}: ndcg@10 {value:.4f} against {alone:.4f} for "
            f"the best of them alone, on {len(keep):,} validation users (weights chosen there)")


class _Cached(Recommender):
    """A blend of members' standardised scores computed once for some users (``cached``, one
    users × items array per member), to try many weights without scoring again."""

    name = "blend"

    def __init__(self, users: np.ndarray, cached: list[np.ndarray], weights: Sequence[float]) -> None:
        super().__init__()
        self.positions, self.cached, self.weights = pd.Index(users), cached, weights

    def _fit(self, training: Training) -> None:
        raise NotImplementedError("a cached blend is not fitted")

    def score(self, users: np.ndarray) -> np.ndarray:
        rows = self.positions.get_indexer(users)
        total = np.zeros((len(rows), self.cached[0].shape[1]), dtype=np.float32)
        for weight, scores in zip(self.weights, self.cached):
            if weight:
                total += np.float32(weight) * scores[rows]
        return total


def _leaderboard(best: dict[str, Trial], results: dict[str, Evaluation], chosen: Evaluation, chosen_name: str,
                 seconds: dict[str, float], statuses: dict[str, str], trials: list[Trial],
                 members: dict[str, Any]) -> pd.DataFrame:
    rows = [_row(chosen_name, members, chosen, sum(seconds[n] for n in members), "ok", None, chosen=True)]
    for name, trial in best.items():
        evaluation = results.get(name)
        p_value = None
        if evaluation is not None and chosen_name != name:
            p_value = paired(evaluation.per_user[MAIN], chosen.per_user[MAIN]).p_value
        rows.append(_row(name, trial.params, evaluation, seconds.get(name), statuses.get(name, "ok"), p_value,
                         validation=trial.score))
    for trial in trials:
        if trial.status != "ok" and trial.name not in best:
            rows.append({"candidate": trial.name, "params": trial.params, "status": trial.status})
    frame = pd.DataFrame(rows)
    return frame.sort_values(["chosen", MAIN], ascending=[False, False], na_position="last",
                             kind="stable").reset_index(drop=True)


def _row(name: str, params: dict[str, Any], evaluation: Evaluation | None, seconds: float | None, status: str,
         p_value: float | None, *, chosen: bool = False, validation: float | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"candidate": name, "chosen": chosen, "params": params}
    if evaluation is not None:
        for metric, s in evaluation.scores.items():
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = s.value, s.low, s.high
    row.update({"validation_ndcg@10": validation, "p_value_vs_chosen": p_value, "seconds": seconds,
                "status": status})
    return row


def _times(data: Interactions, rows: np.ndarray | None) -> Any:
    """The pairs' times as a CSR matrix of the positives' pattern (plus one: no stored zero)."""
    if data.time is None:
        return None
    import scipy.sparse as sp

    keep = data.positive if rows is None else rows & data.positive
    shifted = data.time[keep] - data.time.min() + 1.0
    return sp.csr_matrix((shifted, (data.user[keep], data.item[keep])), shape=(data.n_users, data.n_items))


def _side_tables(model: RecommendModel, data: Interactions, items: pd.DataFrame | None, users: pd.DataFrame | None,
                 item: str, user: str) -> None:
    """Cold start: per-segment popularity from the users table; item features from the items table."""
    if users is not None:
        column = segment_column(users, user)
        if column is not None:
            model.segment = column
            segments = users.set_index(user)[column]
            model.user_segments = {k: v for k, v in segments.dropna().items()}
            # Each segment's popularity: the preferences of its users, summed per item.
            of_user = segments.reindex(data.user_ids).to_numpy(dtype=object)
            codes, values = pd.factorize(of_user)  # -1: a user not in the table
            matrix = data.matrix()
            for j, value in enumerate(values):
                rows = np.flatnonzero(codes == j)
                model.segment_popularity[value] = np.asarray((matrix[rows] > 0).sum(axis=0), dtype=np.float64).ravel()
            model.info["segment"] = column
    if items is not None:
        model.feature_ids = items[item].to_numpy()
        model.item_features = item_features(items, item)
        known = pd.Index(data.item_ids).get_indexer(model.feature_ids) >= 0
        model.info["items_without_interactions"] = int((~known).sum())


def _printer(quiet: bool) -> Any:
    def say(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)
    return say


def _read(data: str | Path) -> pd.DataFrame:
    from labcoat.data.io import read_table

    return read_table(data)
