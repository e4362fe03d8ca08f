"""``labcoat.match``: deduplicate one table or link two with no configuration: roles inferred,
comparisons chosen per role, blocking chosen within a budget of pairs, Fellegi–Sunter
estimated without labels through Splink, a threshold chosen, and the result measured
(against true links when the ids or labels give them, else by the model's own estimate).

Examples
--------
>>> from labcoat.datasets import make_people                                  # doctest: +SKIP
>>> people = make_people(400, seed=3)                                        # doctest: +SKIP
>>> model = fit_match(people, id_column="rec_id", budget=30, quiet=True)     # doctest: +SKIP
>>> model.info["evaluation"]["f1"] > 0.9                                      # doctest: +SKIP
True
"""
from __future__ import annotations

import json
import sys
import time as timer
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.io import as_table
from labcoat.errors import ConfigError, DataError, LabcoatNotice
from labcoat.search.budget import Clock, parse_budget
from labcoat.tasks.match import quality, supervised
from labcoat.tasks.match.blocking import BlockingRule, choose_rules, found_by
from labcoat.tasks.match.comparisons import Level, comparison_spec, swap_partners
from labcoat.tasks.match.data import Records, prepare_records
from labcoat.tasks.match.estimate import FellegiSunter, splink_modules, train
from labcoat.tasks.match.model import MatchModel
from labcoat.tasks.match.spark import check_backend

BUDGET = 120.0
#: Pairs Splink scores per second on one core, measured on FEBRL 3 (5,000 records, 9 fields,
#: DuckDB): the blocking is sized so that scoring takes at most a third of the budget.
PAIRS_PER_SECOND = 4e5
#: At most this many pairs are compared whatever the budget (memory: DuckDB's table of
#: scored pairs, then the kept ones in pandas).
MAX_PAIRS = 60_000_000
MIN_PAIRS = 100_000
#: Random pairs for the u-probabilities: Splink's default, more when the budget allows.
U_PAIRS = (1e6, 1e7)
#: A fit taking longer than its budget times this says so (tabular fits keep to 5% over).
OVER_BUDGET = 1.05
SETTINGS_KEYS = {"roles", "blocking", "threshold", "exclude", "columns", "costs"}


def fit_match(data: pd.DataFrame | str | Path, target: str | None = None, *, other: pd.DataFrame | str | Path | None = None,
              id_column: str | None = None, labels: pd.DataFrame | str | Path | None = None,
              settings: Mapping[str, Any] | str | Path | None = None, threshold: float | None = None,
              costs: str | tuple[float, float] | None = None, columns: Mapping[str, str] | None = None,
              budget: float | str | None = None, seed: int = 0, quiet: bool = False,
              candidates: Sequence[str] | None = None, metric: str | None = None, time_column: str | None = None,
              n_jobs: int | None = None, executor: str | None = None, ray_address: str | None = None,
              backend: str | None = None, spark: Any = None) -> MatchModel:
    """Deduplicate ``data`` (or link it with ``other``) and return a :class:`MatchModel`.

    ``id_column`` names the record ids (default: row numbers); ``labels`` are pairs known to
    match or not (``id_a``, ``id_b``, ``match``); ``settings`` (a mapping or a JSON/YAML file)
    overrides what is chosen: ``roles`` (column → role), ``blocking`` (lists of columns),
    ``threshold``, ``exclude`` (columns), ``columns`` (``other``'s names → ``data``'s);
    ``threshold`` is a match probability, else chosen for F1 or for ``costs`` (a false merge's
    cost against a missed match's, ``"merge=1,miss=3"``). ``backend`` is where Splink trains:
    ``"duckdb"`` (the default) or ``"spark"`` (the default when ``spark`` is given) on ``spark``,
    a SparkSession or a master URL (``"local[2]"``, ``"spark://host:7077"``; default: the active
    session, else ``"local[*]"``). The model is the same either way, and scores new records
    on DuckDB.
    """
    started = timer.monotonic()
    say = _printer(quiet)
    clock = Clock(parse_budget(budget) if budget is not None else BUDGET)
    _refuse(target=target, candidates=candidates, metric=metric, time_column=time_column, executor=executor,
            ray_address=ray_address)
    splink_modules()
    backend = check_backend(backend, spark)
    chosen = _settings(settings)
    threshold = chosen.get("threshold", threshold)
    costs = chosen.get("costs", costs)
    _check_cut(threshold, costs)
    records = prepare_records(as_table(data, "records"), None if other is None else as_table(other, "other"),
                              id_column=id_column, roles=chosen.get("roles"),
                              exclude=tuple(chosen.get("exclude", ())), columns=chosen.get("columns", columns))
    notes = list(records.notes)
    say(f"matching {len(records.frame):,} records: " + ", ".join(f"{r.column} as {r.role}" for r in records.roles))
    partners = swap_partners(records.roles)
    levels = {r.column: comparison_spec(r, swap_with=partners.get(r.column),
                                        longest=int(records.frame[r.column].str.len().fillna(0).max()))
              for r in records.roles}
    seconds = clock.budget or BUDGET
    max_pairs = int(np.clip(seconds / 3 * PAIRS_PER_SECOND, MIN_PAIRS, MAX_PAIRS))
    rules = choose_rules(records.frame, records.roles, max_pairs=max_pairs,
                         given=[tuple(r) for r in chosen["blocking"]] if "blocking" in chosen else None)
    if not rules:
        raise DataError("No blocking rule keeps the compared pairs within budget: no field is shared exactly by "
                        "enough records. Give blocking rules in a settings file, or more budget.")
    say("blocking: " + "; ".join(map(str, rules)))
    u_pairs = float(np.clip(seconds * 5e4, *U_PAIRS))
    trained = train(records, levels, rules, u_pairs=u_pairs, seed=seed, backend=backend, spark=spark)
    notes += trained.notes
    say(f"scored {trained.compared:,} pairs; prior: 1 pair in {1 / trained.prior:,.0f} matches")
    truth = _truth(records, labels)
    how, cut = _threshold(trained, threshold, costs)
    model = MatchModel(records.frame, records.roles, levels, rules, trained.settings, trained.pairs, cut, records.link,
                       pd.DataFrame(), {"task": "match", "id_column": id_column, "link": records.link})
    learned = None
    if truth is not None and "labels" in truth:
        learned = _learn(model, truth["labels"], keep_threshold=threshold is not None or costs is not None, seed=seed,
                         notes=notes, say=say)
        if learned is not None and learned.chosen:
            how, cut = _learned_threshold(how, model.threshold, threshold is not None or costs is not None)
    evaluation = _evaluate(model, records, trained, truth)
    model.leaderboard = _leaderboard(evaluation)
    spent = timer.monotonic() - started
    if spent > seconds * OVER_BUDGET:
        notes.append(over_budget(spent, seconds, backend))
    model.info.update(_info(records, levels, rules, trained, how, cut, evaluation, notes, clock, spent, max_pairs))
    if truth is not None and "labels" in truth:
        model.info["supervised"] = _plain(learned.info) if learned is not None else {"refused": notes[-1]}
    if learned is not None:
        model.leaderboard = supervised.leaderboard(model.leaderboard, learned)
        if learned.chosen:
            model.info["estimator"] = (f"a classifier on the comparison vectors ({learned.info['classifier']}), chosen "
                                       "over Fellegi-Sunter on the labelled pairs; match_weight is Fellegi-Sunter's "
                                       f"(Splink, {trained.backend}), match_probability the classifier's")
    for note in notes:
        warnings.warn(note, LabcoatNotice, stacklevel=2)
    return model


def over_budget(spent: float, budget: float, backend: str) -> str:
    """The notice of a fit that took ``spent`` seconds of a ``budget``: the work sized by the
    budget (the compared pairs, the random pairs for u) has floors, and Spark has fixed costs.

    Examples
    --------
    >>> over_budget(84.0, 60.0, "duckdb")[:46]
    'Matching took 84 s, over its budget of 60 s: t'
    """
    why = (f"the least work it does ({MIN_PAIRS:,} compared pairs, {U_PAIRS[0]:,.0f} random pairs for the "
           "u-probabilities, every record read) does not shrink further")
    if backend == "spark":
        why = ("Spark's costs do not shrink with the budget: starting a session, and several seconds for each of "
               "expectation-maximisation's queries however few the pairs (FEBRL 3's 5,000 records on local[2]: "
               "~90 s). Give it more budget, or use DuckDB (the default) for tables one machine holds")
    return f"Matching took {spent:.0f} s, over its budget of {budget:.0f} s: {why}."


def _learn(model: MatchModel, labels: pd.DataFrame, *, keep_threshold: bool, seed: int, notes: list[str],
           say: Any) -> supervised.Learned | None:
    """A classifier compared with Fellegi-Sunter on the labelled pairs (and used when better);
    None, with a notice, when the labels are too few to compare them."""
    try:
        learned = supervised.learn(model, labels, keep_threshold=keep_threshold, seed=seed)
    except DataError as error:
        notes.append(str(error))
        return None
    diff = learned.summary["log_loss_difference"]
    say(f"labelled pairs: classifier minus Fellegi-Sunter log loss {diff[0]:+.4f} [{diff[1]:+.4f}, {diff[2]:+.4f}]; "
        f"using {learned.info['chosen'].replace('_', '-')}")
    return learned


def _learned_threshold(how: str, cut: float, kept: bool) -> tuple[str, float]:
    """The threshold and how it was chosen once a classifier gives the probabilities."""
    if kept:
        return how + " (on the classifier's calibrated probabilities)", cut
    return "F1 on the labelled pairs (the classifier's out-of-fold probabilities)", cut


def _refuse(**given: Any) -> None:
    """Settings of ``fit`` that matching has no use for, refused rather than ignored."""
    used = [name for name, value in given.items() if value is not None]
    if used:
        raise ConfigError(f"{', '.join(used)} {'does' if len(used) == 1 else 'do'} not apply to record matching; "
                          "drop it. Matching takes the records, other, id_column, labels, settings, a budget and a "
                          "backend (spark).")


def _settings(settings: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    """The user's settings (a mapping or a JSON/YAML file), checked for unknown keys."""
    if settings is None:
        return {}
    if isinstance(settings, (str, Path)):
        path = Path(settings)
        if not path.is_file():
            raise ConfigError(f"Settings file '{path}' does not exist.")
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            loaded = yaml.safe_load(text)
        else:
            try:
                loaded = json.loads(text)
            except ValueError as error:
                raise ConfigError(f"Settings file '{path}' is not valid JSON: {error}.") from None
        settings = loaded or {}
    unknown = sorted(set(settings) - SETTINGS_KEYS)
    if unknown:
        raise ConfigError(f"Unknown matching setting(s) {', '.join(unknown)}; use: {', '.join(sorted(SETTINGS_KEYS))}.")
    return dict(settings)


def _truth(records: Records, labels: pd.DataFrame | str | Path | None) -> dict[str, Any] | None:
    """The true entities when the ids encode them (FEBRL's ``rec-N-org``/``rec-N-dup-K``), or
    the labelled pairs; None without either."""
    frame = records.frame
    if labels is not None:
        table = as_table(labels, "labels")
        ids = frame["unique_id"]
        return {"labels": quality.labelled_pairs(table, ids, None)}
    entities = quality.entities_from_ids(frame["unique_id"])
    if entities is None:
        return None
    return {"entities": pd.Series(entities.to_numpy(), index=frame["unique_id"].to_numpy())}


def _threshold(trained: FellegiSunter, threshold: float | None, costs: str | tuple[float, float] | None
               ) -> tuple[str, float]:
    """The match probability above which pairs link, and how it was chosen."""
    if threshold is not None:
        return "given", float(threshold)
    if costs is not None:
        merge, miss = _costs(costs)
        return f"expected cost (a false merge costs {merge:g}, a missed match {miss:g})", merge / (merge + miss)
    p = np.sort(trained.pairs["match_probability"].to_numpy())[::-1]
    if not len(p):
        return "no pair scored", 0.5
    found = np.cumsum(p)
    precision = found / np.arange(1, len(p) + 1)
    recall = found / found[-1]
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1))
    return "the best F1 by the model's own probabilities; true links, when known, only measure it", float(p[best])


def _check_cut(threshold: float | None, costs: str | tuple[float, float] | None) -> None:
    """A given threshold or costs checked before any work is done."""
    if threshold is not None and not 0 < float(threshold) < 1:
        raise ConfigError(f"threshold is a match probability between 0 and 1; got {threshold!r}.")
    if costs is not None:
        _costs(costs)


def _costs(costs: str | tuple[float, float]) -> tuple[float, float]:
    """A false merge's and a missed match's costs from ``(merge, miss)`` or ``"merge=1,miss=3"``."""
    if isinstance(costs, str):
        parts = dict(part.split("=", 1) for part in costs.replace(" ", "").split(",") if "=" in part)
        try:
            pair = (float(parts["merge"]), float(parts["miss"]))
        except (KeyError, ValueError):
            raise ConfigError(f"costs must read 'merge=COST,miss=COST' (a false merge's cost, a missed match's); "
                              f"got {costs!r}.") from None
    else:
        pair = (float(costs[0]), float(costs[1]))
    if min(pair) <= 0:
        raise ConfigError(f"Both costs must be positive; got {pair}.")
    return pair


def _evaluate(model: MatchModel, records: Records, trained: FellegiSunter, truth: dict[str, Any] | None
              ) -> dict[str, Any]:
    """The model's quality at its threshold: against true links when there are, else its own
    estimate (with the caveat)."""
    probabilities = trained.pairs["match_probability"].to_numpy()
    own = quality.estimated_quality(probabilities, model.threshold)
    out: dict[str, Any] = {"estimated": own}
    recaptured = quality.capture_recapture_loss(_found_by_rules(records, model.pairs(), model.rules))
    if recaptured is not None:
        out["blocking_estimate"] = recaptured
    if truth is None:
        return out
    if "labels" in truth:
        labelled = truth["labels"]
        scored = labelled.merge(trained.pairs[["id_a", "id_b", "match_probability"]], on=["id_a", "id_b"], how="left")
        flipped = labelled.merge(trained.pairs[["id_a", "id_b", "match_probability"]].rename(
            columns={"id_a": "id_b", "id_b": "id_a"}), on=["id_a", "id_b"], how="left")
        p = scored["match_probability"].fillna(flipped["match_probability"]).fillna(0.0).to_numpy()
        predicted = p >= model.threshold
        actual = labelled["match"].to_numpy(dtype=bool)
        tp, fp, fn = int((predicted & actual).sum()), int((predicted & ~actual).sum()), int((~predicted & actual).sum())
        out["labelled"] = {"pairs": len(labelled), "tp": tp, "fp": fp, "fn": fn,
                           "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1)}
        return out
    entities: pd.Series = truth["entities"]
    truth_a, truth_b = _sides(entities, records)
    at_threshold = model.pairs()
    out["pairwise"] = quality.pairwise_quality(at_threshold, truth_a, truth_b)
    clusters = model.clusters()
    clustered = pd.Series(clusters["entity"].to_numpy(), index=clusters["id"].to_numpy())
    out["bcubed"] = quality.bcubed(clustered, entities)
    total = quality.true_pair_count(truth_a, truth_b)
    out["curve"] = quality.threshold_curve(trained.pairs, truth_a, truth_b, total_true=total)
    out["blocking"] = _blocking_loss(records, model.rules, entities)
    return out


def _sides(entities: pd.Series, records: Records) -> tuple[pd.Series, pd.Series | None]:
    """The true entities of the first table's records and of the second's (None: one table)."""
    if not records.link:
        return entities, None
    first = records.frame["source_dataset"].to_numpy() == "records"
    ids = records.frame["unique_id"].to_numpy()
    return entities.loc[ids[first]], entities.loc[ids[~first]]


def _found_by_rules(records: Records, pairs: pd.DataFrame, rules: list[BlockingRule]) -> pd.DataFrame:
    """Which rules compare each of ``pairs`` (their records' values looked up by id)."""
    frame = records.frame.set_index("unique_id")[records.columns]
    left = frame.loc[pairs["id_a"].to_numpy()].reset_index(drop=True)
    right = frame.loc[pairs["id_b"].to_numpy()].reset_index(drop=True)
    return found_by(left, right, rules)


def _blocking_loss(records: Records, rules: list[BlockingRule], entities: pd.Series) -> dict[str, Any]:
    """How many true matching pairs no blocking rule compares (counted on the true pairs)."""
    frame = records.frame.assign(_entity=entities.reindex(records.frame["unique_id"].to_numpy()).to_numpy())
    frame = frame[frame["_entity"].notna()]
    pairs = frame.merge(frame, on="_entity", suffixes=("_l", "_r"))
    pairs = pairs[pairs["unique_id_l"] < pairs["unique_id_r"]]
    if records.link:
        pairs = pairs[pairs["source_dataset_l"] != pairs["source_dataset_r"]]
    left = pairs[[f"{c}_l" for c in records.columns]].set_axis(records.columns, axis=1)
    right = pairs[[f"{c}_r" for c in records.columns]].set_axis(records.columns, axis=1)
    found = found_by(left.reset_index(drop=True), right.reset_index(drop=True), rules).any(axis=1)
    true_pairs = len(pairs)
    lost = int(true_pairs - found.sum())
    return {"true_pairs": true_pairs, "lost": lost, "lost_share": lost / true_pairs if true_pairs else float("nan")}


def _leaderboard(evaluation: dict[str, Any]) -> pd.DataFrame:
    """One row per candidate model with its quality at its threshold."""
    row: dict[str, Any] = {"candidate": "fellegi_sunter"}
    if "pairwise" in evaluation:
        for name in ("precision", "recall", "f1"):
            value, low, high = evaluation["pairwise"][name]
            row.update({name: value, f"{name}_low": low, f"{name}_high": high})
        row["bcubed_f1"] = evaluation["bcubed"]["f1"]
    else:
        own = evaluation["estimated"]
        row.update({"estimated_precision": own["precision"], "estimated_recall": own["recall"]})
    return pd.DataFrame([row])


def _info(records: Records, levels: dict[str, list[Level]], rules: list[BlockingRule], trained: FellegiSunter,
          how: str, cut: float, evaluation: dict[str, Any], notes: list[str], clock: Clock, seconds: float,
          max_pairs: int) -> dict[str, Any]:
    """What was decided and measured, in plain types (``labcoat info``, the report, the run)."""
    shown = {key: value for key, value in evaluation.items() if key != "curve"}
    return {
        "records": len(records.frame), "roles": [{"column": r.column, "role": r.role, "reason": r.reason}
                                                  for r in records.roles],
        "comparisons": {column: [level.label for level in spec] for column, spec in levels.items()},
        "blocking": [{"columns": list(r.columns), "pairs": r.pairs} for r in rules], "max_pairs": max_pairs,
        "compared_pairs": trained.compared, "prior": trained.prior, "threshold": cut, "threshold_chosen_by": how,
        "evaluation": _plain(shown), "notes": notes, "budget_seconds": clock.budget, "fit_seconds": round(seconds, 2),
        "estimator": f"Fellegi-Sunter (Splink, {trained.backend})",
        **({"curve": _plain(evaluation["curve"])} if "curve" in evaluation else {}),
    }


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and tuples made JSON-friendly."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.DataFrame):
        return value.to_dict("list")
    return value


def _printer(quiet: bool) -> Any:
    def say(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)
    return say
