"""A fitted match model: the records it was fitted on, the pairs it scored, its threshold, and
Splink's trained settings to score pairs it has not seen (:meth:`MatchModel.find`).

Examples
--------
>>> from labcoat.datasets import make_people                               # doctest: +SKIP
>>> people = make_people(300, seed=1)                                     # doctest: +SKIP
>>> model = fit_match(people, id_column="rec_id", budget=30, quiet=True)  # doctest: +SKIP
>>> model.pairs().columns.tolist()                                        # doctest: +SKIP
['id_a', 'id_b', 'match_probability', 'match_weight']
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd

from labcoat import __version__
from labcoat.errors import ConfigError, DataError
from labcoat.tasks.match.blocking import BlockingRule
from labcoat.tasks.match.comparisons import Level
from labcoat.tasks.match.data import FEW, clean_few, clean_values
from labcoat.tasks.match.roles import ColumnRole
from labcoat.tasks.saved_folder import load_saved, write_mlmodel

if TYPE_CHECKING:
    from labcoat.tasks.match.supervised import PairClassifier

FORMAT_VERSION = 1
KIND = "match"
PAIR_COLUMNS = ["id_a", "id_b", "match_probability", "match_weight"]


@dataclass
class MatchModel:
    """What ``labcoat.match`` returns. :meth:`pairs` are the record pairs it links,
    :meth:`clusters` the entities they make, :meth:`explain` each field's part in a pair's
    weight, :meth:`find` the best candidates among the fitted records for new ones."""

    records: pd.DataFrame  #: the cleaned records: ``unique_id`` (and ``source_dataset``) and the fields
    roles: list[ColumnRole]
    levels: dict[str, list[Level]]
    rules: list[BlockingRule]
    settings: dict[str, Any]  #: Splink's trained settings (m and u probabilities, prior)
    scored: pd.DataFrame  #: every compared pair kept: ids, weight, probability, ``gamma_<field>``
    threshold: float
    link: bool
    leaderboard: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    #: A classifier chosen over Fellegi–Sunter on labelled pairs (``tasks/match/supervised.py``):
    #: when set, it gives the scored pairs' and ``find``'s match probabilities (``match_weight``
    #: stays Fellegi–Sunter's).
    classifier: PairClassifier | None = None

    task = KIND

    # ------------------------------------------------------------------ the answers
    def pairs(self, threshold: float | None = None) -> pd.DataFrame:
        """The pairs whose match probability is at least ``threshold`` (default: the model's),
        most probable first: ``id_a``, ``id_b`` (in linking, ``id_a`` from the first table),
        ``match_probability``, ``match_weight``."""
        cut = self._threshold(threshold)
        kept = self.scored[self.scored["match_probability"] >= cut]
        return kept[PAIR_COLUMNS].sort_values("match_probability", ascending=False, kind="stable").reset_index(drop=True)

    def clusters(self, threshold: float | None = None) -> pd.DataFrame:
        """Every record's entity: ``id`` and ``entity`` (the records linked, directly or
        through others, by pairs at ``threshold`` or above share one; the entity is named by
        its first record's id), with ``source`` when linking two tables."""
        from labcoat.tasks.match.quality import clusters_from_pairs

        ids = self.records["unique_id"]
        entity = clusters_from_pairs(ids, self.pairs(threshold))
        out = pd.DataFrame({"id": ids.to_numpy(), "entity": entity.reindex(ids.to_numpy()).to_numpy()})
        if self.link:
            out["source"] = self.records["source_dataset"].to_numpy()
        return out

    def explain(self, id_a: Any, id_b: Any) -> pd.DataFrame:
        """Each field's part in the match weight of records ``id_a`` and ``id_b``: its two
        values, the level they reach, the weight it adds (log2 of m/u) and that in words; the
        prior is the first row and the total is the pair's ``match_weight`` (names' exact
        agreement weighed by how common the name is, which the rows show before that adjustment)."""
        a, b = self._record(id_a), self._record(id_b)
        gammas = self._gammas(str(id_a), str(id_b), a, b)
        a, b = ({k: None if pd.isna(v) else v for k, v in r.items()} for r in (a, b))  # missing shown as None
        rows = [{"field": "(prior)", "value_a": "", "value_b": "", "level": "two records taken at random",
                 "weight": _log2_odds(float(self.settings["probability_two_random_records_match"])),
                 "words": f"before looking at the fields, 1 pair in {1 / self.settings['probability_two_random_records_match']:,.0f} matches"}]
        for comparison in self.settings["comparisons"]:
            column = comparison["output_column_name"]
            gamma = int(gammas[column])
            graded = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
            level = graded[len(graded) - 1 - gamma] if 0 <= gamma < len(graded) else None  # Splink counts down to 0
            if gamma < 0 or level is None:
                rows.append({"field": column, "value_a": a.get(column), "value_b": b.get(column), "level": "missing",
                             "weight": 0.0, "words": f"{column} is missing on one side: no evidence either way"})
                continue
            weight = _level_weight(level)
            rows.append({"field": column, "value_a": a.get(column), "value_b": b.get(column),
                         "level": level.get("label_for_charts", ""), "weight": weight,
                         "words": _in_words(column, level.get("label_for_charts", ""), weight)})
        return pd.DataFrame(rows)

    def find(self, new_records: pd.DataFrame, k: int = 5, *, id_column: str | None = None) -> pd.DataFrame:
        """The best ``k`` candidates among the fitted records for each of ``new_records``
        (compared where the blocking rules would compare them): ``query`` (the new record's
        id, or its row number), ``rank``, ``id``, ``match_probability``, ``match_weight``."""
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a whole number of candidates, at least 1; got {k!r}.")
        queries = self._clean_new(new_records, id_column)
        from labcoat.tasks.match.find import best_candidates

        return best_candidates(self, queries, k)

    def summary(self) -> str:
        """What was matched, how, and how well, in a few lines of words."""
        info = self.info
        pairs = self.pairs()
        entities = self.clusters()["entity"].nunique()
        what = "linked the two tables'" if self.link else "deduplicated"
        lines = [f"labcoat {what} {info.get('records', len(self.records)):,} records: {len(pairs):,} pairs at match "
                 f"probability >= {self.threshold:.3f} ({info.get('threshold_chosen_by', 'given')}), "
                 f"{entities:,} entities.",
                 "Fields: " + ", ".join(f"{r.column} ({r.role})" for r in self.roles) + ".",
                 "Blocking: " + "; ".join(map(str, self.rules)) + f" ({info.get('compared_pairs', 0):,} pairs compared)."]
        evaluation = info.get("evaluation", {})
        if "pairwise" in evaluation:
            scores = evaluation["pairwise"]
            lines.append("Against the true links: " + ", ".join(
                f"{name} {scores[name][0]:.4f} [{scores[name][1]:.4f}, {scores[name][2]:.4f}]"
                for name in ("precision", "recall", "f1")) + f"; B-cubed F1 {evaluation['bcubed']['f1']:.4f}.")
            lost = evaluation.get("blocking", {})
            if lost:
                lines.append(f"Blocking left {lost['lost']:,} of {lost['true_pairs']:,} true matching pairs uncompared.")
        recaptured = evaluation.get("blocking_estimate")
        if recaptured and "blocking" not in evaluation:
            lines.append(f"Blocking is estimated to lose about {recaptured['lost']:,.0f} true matching pairs "
                         f"({recaptured['lost_share']:.2%}; {recaptured['caveat']}).")
        elif "labelled" in evaluation:
            scores = evaluation["labelled"]
            lines.append(f"On the {scores['pairs']:,} labelled pairs: precision {scores['precision']:.4f}, "
                         f"recall {scores['recall']:.4f}.")
        learned = info.get("supervised", {})
        if "chosen" in learned:
            ll, lf = learned["log_loss_difference"], learned["f1_difference"]
            per_fold = pd.Series(learned.get("classifier_per_fold", [])).value_counts()
            which = learned.get("classifier") or (f"{per_fold.index[0]} in {per_fold.iloc[0]} of {learned['folds']} "
                                                  "folds" if len(per_fold) else "")
            lines.append(f"Labelled pairs: {learned['matches']:,} matches, {learned['non_matches']:,} non-matches; "
                         f"the classifier ({which}) against Fellegi-Sunter "
                         f"over {learned['folds']} folds: log loss {ll[0]:+.4f} [{ll[1]:+.4f}, {ll[2]:+.4f}], "
                         f"F1 {lf[0]:+.4f} [{lf[1]:+.4f}, {lf[2]:+.4f}]; "
                         + ("the classifier is used." if learned["chosen"] == "classifier" else
                            "Fellegi-Sunter is kept (the classifier is not better beyond noise)."))
        elif "refused" in learned:
            lines.append(f"No classifier: {learned['refused']}")
        own = evaluation.get("estimated", {})
        if own:
            lines.append(f"The model's own estimate: precision {own['precision']:.4f}, recall {own['recall']:.4f} "
                         f"({own.get('caveat', '')})")
        return "\n".join(lines)

    # ------------------------------------------------------------------ helpers
    def _threshold(self, threshold: float | None) -> float:
        if threshold is None:
            return self.threshold
        if not 0 <= float(threshold) <= 1:
            raise ConfigError(f"A threshold is a match probability between 0 and 1; got {threshold!r}.")
        return float(threshold)

    def _record(self, record_id: Any) -> dict[str, Any]:
        found = self.records.index[self.records["unique_id"] == str(record_id)]
        if not len(found):
            raise DataError(f"Record {record_id!r} is not among the {len(self.records):,} records the model was fitted "
                            "on; use model.find() for new records.")
        return dict(self.records.loc[found[0]])

    def _gammas(self, id_a: str, id_b: str, a: dict[str, Any], b: dict[str, Any]) -> dict[str, int]:
        """The comparison level of each field for a pair: from the scored pairs when it was
        compared, else by Splink on the two records."""
        scored = self.scored
        hit = scored[((scored["id_a"] == id_a) & (scored["id_b"] == id_b)) |
                     ((scored["id_a"] == id_b) & (scored["id_b"] == id_a))]
        if len(hit):
            row = hit.iloc[0]
            return {c[len("gamma_"):]: int(row[c]) for c in scored.columns if c.startswith("gamma_")}
        from labcoat.tasks.match.find import score_two

        return score_two(self, a, b)

    def _clean_new(self, new_records: pd.DataFrame, id_column: str | None) -> pd.DataFrame:
        """New records in the fitted records' form (the same fields, cleaned the same way)."""
        if isinstance(new_records, dict):
            new_records = pd.DataFrame([new_records])
        if not isinstance(new_records, pd.DataFrame) or new_records.empty:
            raise DataError("Give the new records as a table (a DataFrame or a list of records) with at least one row.")
        fields = [r.column for r in self.roles]
        absent = [c for c in fields if c not in new_records.columns]
        if len(absent) == len(fields):
            raise DataError(f"The new records have none of the fields the model compares ({', '.join(fields)}).")
        id_column = id_column or self.info.get("id_column")
        if id_column and id_column in new_records.columns:
            ids = new_records[id_column].astype(str).to_numpy()
            repeated = pd.unique(ids[pd.Series(ids).duplicated().to_numpy()])
            if len(repeated):
                raise DataError(f"The new records' ids (column '{id_column}') repeat: "
                                f"{', '.join(map(repr, repeated[:5]))}; each new record needs its own id to be told "
                                "apart in the answer.")
        else:
            ids = np.array([f"new-{i}" for i in range(len(new_records))])
        out = {"unique_id": ids}
        for role in self.roles:
            values = (new_records[role.column].reset_index(drop=True) if role.column in new_records.columns
                      else pd.Series([None] * len(ids), dtype=object))
            out[role.column] = (clean_few(values, role.role) if len(values) <= FEW
                                else clean_values(values, role.role).tolist())
        return pd.DataFrame(out, dtype=object)  # as given: inferring pandas' string type costs ~3 ms

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the model to folder ``path``: ``labcoat.json`` (what it is and decided),
        ``splink_model.json`` (Splink's settings, loadable by Splink itself), ``model.joblib``
        and an ``MLmodel`` that makes it an MLflow pyfunc model (records in, candidates out)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"kind": KIND, "task": KIND, "format_version": FORMAT_VERSION, "labcoat_version": __version__,
                **self.info}
        (folder / "labcoat.json").write_text(json.dumps(meta, indent=2, default=str))
        (folder / "splink_model.json").write_text(json.dumps(self.settings, indent=2, default=str))
        self.leaderboard.to_csv(folder / "leaderboard.csv", index=False)
        joblib.dump(self, folder / "model.joblib")
        id_column = self.info.get("id_column")
        inputs = [(r.column, "string") for r in self.roles] + ([(str(id_column), "string")] if id_column else [])
        write_mlmodel(folder, "labcoat.tracking.match_pyfunc", inputs=inputs, params=[("k", "long", 5)])
        return folder

    @classmethod
    def load(cls, path: str | Path) -> MatchModel:
        """The model saved in folder ``path`` (a :class:`ModelFileError` saying what is wrong)."""
        return load_saved(path, cls, kind=KIND, format_version=FORMAT_VERSION, what="a match model")

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_cached")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"classifier": None, **state})  # models saved before classifiers had none


def _log2_odds(p: float) -> float:
    return math.log2(p / (1 - p))


def _level_weight(level: dict[str, Any]) -> float:
    """A level's weight: log2 of its m- over its u-probability (0 when either is unknown)."""
    m, u = level.get("m_probability"), level.get("u_probability")
    if not m or not u:
        return 0.0
    return math.log2(float(m) / float(u))


def _in_words(column: str, level: str, weight: float) -> str:
    """A field's evidence in words: which way it points and how strongly."""
    factor = 2 ** abs(weight)
    if abs(weight) < 0.5:
        return f"{column}: {level}; hardly evidence either way"
    direction = "for" if weight > 0 else "against"
    return f"{column}: {level}; evidence {direction} a match ({factor:,.0f} times {'more' if weight > 0 else 'less'} likely)"
