"""Leaks found by what they do: a column that, alone, scores close to the whole model and
without which the model loses much of its skill.

The value-by-value rule of :mod:`labcoat.guards` finds a column that *is* the target in other
words. A field filled in after the outcome, with some noise (it agrees with the target on 97%
of rows, or correlates with it at r = 0.97), escapes that rule but gives the model most of its
score. This check finds it by its effect, with a probe that is cheap and bounded in time:

1. a sample of at most :data:`PROBE_ROWS` rows (as balanced between classes as the rows
   allow), :data:`PROBE_FOLDS` folds, LightGBM (:data:`ROUNDS` rounds, one thread);
2. the whole model, scored out of fold, and the permutation importance on the validation folds
   of the :data:`GAIN_SHORTLIST` columns of highest split gain;
3. for the :data:`CANDIDATES` most important columns: the model of that column alone, and the
   model without it, scored on the same folds.

Scores are put on one scale of *skill*, 0 for chance and 1 for perfect: ``2·AUC − 1`` for
classes (ROC AUC, macro one-vs-rest with more than two classes), R² for numbers. The rule
(:func:`suspected`): a column is suspected when **alone it reaches a skill of 0.7 and 80% of
the whole model's, and the model without it loses 0.05** (:data:`ALONE_SKILL`,
:data:`ALONE_SHARE`, :data:`LOST_SKILL`); in the metrics' units, alone ROC AUC ≥ 0.85 or
R² ≥ 0.7. A strong column that others duplicate costs nothing when it is left out, and a
genuine dominant predictor rarely reaches that much skill alone; a column whose target it
nearly is (a diagnosis made from one lab value) is flagged too, which is why the finding is of
medium severity and says what to do either way. ``benchmarks/leak_simulation.py`` measures the
rule on planted leaks and clean tables (``benchmarks/RESULTS.md``).

The probe never fails a fit: an error costs the check (a notice), the time cap
(``seconds``) costs the columns not yet probed.

Examples
--------
>>> from labcoat.datasets import make_churn
>>> frame = make_churn(1500, seed=1)
>>> agree = np.random.default_rng(0).random(len(frame)) < 0.96
>>> frame["closing_note"] = np.where(agree == (frame["churned"] == "yes"), "left", "stayed")
>>> [(f.check, f.column) for f in check_effect(frame, "churned", "binary")]
[('suspected leakage', 'closing_note')]
"""
from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.data.columns import Role
from labcoat.errors import LabcoatNotice
from labcoat.guards import Finding
from labcoat.tasks import Task, get_task, infer_schema

if TYPE_CHECKING:
    from labcoat.data.schema import Schema

logger = logging.getLogger(__name__)

#: Rows the probe samples (at most).
PROBE_ROWS = 3000
#: Folds of the probe's cross-validation.
PROBE_FOLDS = 3
#: Columns, the most important first, whose model alone and model without are fitted.
CANDIDATES = 3
#: Skill (0 chance, 1 perfect) a column must reach alone to be suspected ...
ALONE_SKILL = 0.7
#: ... and the share of the whole model's skill it must reach alone ...
ALONE_SHARE = 0.8
#: ... and the skill the model must lose without it.
LOST_SKILL = 0.05
#: Fewer rows (or fewer rows of the rarest class kept) than this: no probe.
MIN_ROWS = 60
#: Columns of highest split gain whose permutation importance is measured.
GAIN_SHORTLIST = 10
#: Boosting rounds of the probe's models.
ROUNDS = 100
#: Seconds the check may take by default.
SECONDS = 5.0


class _OutOfTime(Exception):
    """The probe's time cap passed."""


@dataclass(frozen=True)
class ColumnEffect:
    """One probed column: its share of the whole model's permutation importance, the skill of
    its model alone and of the model without it (``None`` when not fitted)."""

    column: str
    importance: float
    alone: float | None = None
    without: float | None = None


@dataclass
class Probe:
    """What :func:`probe_effects` measured: the whole model's skill (``full``, and per fold),
    the probed columns, the time taken, and whether the time cap cut the probe short."""

    metric: str
    rows: int
    full: float
    full_folds: list[float]
    columns: list[ColumnEffect] = field(default_factory=list)
    seconds: float = 0.0
    complete: bool = True


def suspected(effect: ColumnEffect, full: float) -> bool:
    """The rule: alone the column reaches :data:`ALONE_SKILL` and :data:`ALONE_SHARE` of the
    whole model's skill ``full``, and the model without it loses :data:`LOST_SKILL`."""
    if effect.alone is None or effect.without is None:
        return False
    return (effect.alone >= ALONE_SKILL and effect.alone >= ALONE_SHARE * full
            and full - effect.without >= LOST_SKILL)


def check_effect(frame: pd.DataFrame, target: str, task: str | Task, *, schema: Schema | None = None,
                 exclude: Iterable[str] = (), seed: int = 0, seconds: float = SECONDS) -> list[Finding]:
    """A "suspected leakage" finding for each column whose effect on a quick model gives it
    away (see the module docstring), within about ``seconds``. Columns in ``exclude`` (those
    another check already names) are left out of the probe. Never raises: an error is reported
    as a :class:`~labcoat.errors.LabcoatNotice` and no finding."""
    try:
        task = get_task(task)
        probe = probe_effects(frame, target, task, schema=schema, exclude=exclude, seed=seed, seconds=seconds)
    except Exception as error:  # noqa: BLE001 - a failing probe costs the check, never the fit
        warnings.warn(f"The check for leaks by their effect was skipped ({type(error).__name__}: {error}).",
                      LabcoatNotice, stacklevel=2)
        return []
    if probe is None:
        return []
    logger.debug("leak probe: %d rows, %s %.3f, %s, %.1f s%s", probe.rows, probe.metric, probe.full,
                 probe.columns, probe.seconds, "" if probe.complete else " (time cap)")
    return [_finding(effect, probe) for effect in probe.columns if suspected(effect, probe.full)]


def probe_effects(frame: pd.DataFrame, target: str, task: str | Task, *, schema: Schema | None = None,
                  exclude: Iterable[str] = (), seed: int = 0, seconds: float | None = SECONDS,
                  screen: bool = True) -> Probe | None:
    """Measure the whole model and the :data:`CANDIDATES` most important columns' models alone
    and without them (see the module docstring); ``None`` when the data is too small to probe.
    With ``screen``, the model without a column is fitted only if the column alone passes the
    first two tests of :func:`suspected` (the simulation measures every candidate instead).
    The time cap ``seconds`` stops the probe between (and inside) fits; what was measured so
    far is returned with ``complete=False``, or ``None`` if the whole model was not done."""
    started = time.perf_counter()
    deadline = None if seconds is None else started + seconds
    task = get_task(task)
    classifier = task.estimator_type == "classifier"
    data = _sample(frame, target, task, schema, set(exclude), seed)
    if data is None:
        return None
    X, y, names, categorical = data
    folds = _folds(y, classifier, seed)
    n_classes = int(y.max()) + 1 if classifier else 0
    models = _Models(classifier, n_classes, seed, deadline)
    try:
        oof, fitted = models.cross_predict(X, y, folds, categorical)
    except _OutOfTime:
        return None
    metric = ("ROC AUC" if n_classes <= 2 else "macro ROC AUC") if classifier else "R²"
    probe = Probe(metric=metric, rows=len(y), full=_skill(y, oof, classifier),
                  full_folds=[_skill(y[valid], oof[valid], classifier) for _, valid in folds])
    try:
        importance = models.permutation_importance(X, y, folds, fitted)
        total = float(importance.clip(min=0).sum())
        order = [j for j in np.argsort(-importance, kind="stable") if importance[j] > 0][:CANDIDATES]
        for j in order:
            alone = _skill(y, models.cross_predict(X[:, [j]], y, folds, [0] if j in categorical else [])[0],
                           classifier)
            without = None
            if X.shape[1] > 1 and (not screen or (alone >= ALONE_SKILL and alone >= ALONE_SHARE * probe.full)):
                keep = [k for k in range(X.shape[1]) if k != j]
                cats = [int(k - (k > j)) for k in categorical if k != j]
                without = _skill(y, models.cross_predict(X[:, keep], y, folds, cats)[0], classifier)
            probe.columns.append(ColumnEffect(names[j], round(float(importance[j]) / total, 4), round(alone, 4),
                                              None if without is None else round(without, 4)))
    except _OutOfTime:
        probe.complete = False
    probe.seconds = round(time.perf_counter() - started, 3)
    return probe


def _finding(effect: ColumnEffect, probe: Probe) -> Finding:
    assert effect.alone is not None and effect.without is not None
    shown = [_score(s, probe.metric) for s in (effect.alone, effect.without, probe.full)]
    return Finding(
        "suspected leakage", "medium", effect.column,
        f"alone it reaches {probe.metric} {shown[0]}; the model without it {shown[1]}, with it "
        f"{shown[2]} (a quick model on {probe.rows:,} rows, {effect.importance:.0%} of whose "
        "importance is in this column).",
        "If it is filled in after the outcome (or derived from it), drop it before training; if it "
        "is known when predicting, it is a strong predictor and nothing needs doing.")


def _score(skill: float, metric: str) -> str:
    """Skill back in the metric's units: ROC AUC = (1 + skill) / 2, R² = skill."""
    return f"{(1 + skill) / 2:.2f}" if metric.endswith("ROC AUC") else f"{skill:.2f}"


# ---------------------------------------------------------------------- data
def _sample(frame: pd.DataFrame, target: str, task: Task, schema: Schema | None, exclude: set[str],
            seed: int) -> tuple[np.ndarray, np.ndarray, list[str], list[int]] | None:
    """The probe's rows as a float matrix (categories and texts as codes of their 254 most
    frequent values), the encoded target, the column names and the positions of the coded
    columns."""
    frame = frame.iloc[_rows(frame[target], task.estimator_type == "classifier", seed)]
    if schema is None:
        schema = infer_schema(frame, target, task)
    y = task.encode_target(frame[target], schema.classes)
    if task.estimator_type == "classifier":
        # Classes too rare to appear in every fold are left out; the rest are renumbered.
        counts = np.bincount(y[y >= 0]) if (y >= 0).any() else np.zeros(0, dtype=int)
        kept = np.flatnonzero(counts >= max(PROBE_FOLDS, 5))
        rows = np.isin(y, kept)
        frame, y = frame[rows], np.searchsorted(kept, y[rows])
        if len(kept) < 2:
            return None
    else:
        rows = np.isfinite(y)
        frame, y = frame[rows], y[rows].astype(float)
    if len(y) < MIN_ROWS:
        return None
    prepared = schema.prepare(frame, warn=False)
    columns: list[np.ndarray] = []
    names: list[str] = []
    categorical: list[int] = []
    for column in schema.features:
        if column.name in exclude:
            continue
        values = prepared[column.name]
        if column.role in (Role.CATEGORICAL, Role.TEXT):  # text: its frequent values as categories
            codes = pd.Series(pd.factorize(values, use_na_sentinel=True)[0], dtype=float)
            frequent = codes.value_counts().index[:254]  # LightGBM's limit; the rest as missing
            categorical.append(len(columns))
            columns.append(codes.where(codes.isin(frequent) & (codes >= 0)).to_numpy())
        elif column.role is Role.DATETIME:
            stamps = pd.to_datetime(values, errors="coerce")
            columns.append(np.where(stamps.isna(), np.nan, stamps.to_numpy(dtype="datetime64[s]").astype(float)))
        else:
            columns.append(values.to_numpy(dtype=float))
        names.append(column.name)
    if not columns:
        return None
    return np.column_stack(columns), np.asarray(y), names, categorical


def _rows(y: pd.Series, classifier: bool, seed: int) -> np.ndarray:
    """Positions of at most :data:`PROBE_ROWS` rows with a target, drawn at random; for
    classes, as balanced as the rows allow: every class gets the same quota, and the rows a
    small class does not use go to the others. ROC AUC does not depend on the classes' shares,
    and a rare class is scored more precisely on more of its rows."""
    rng = np.random.default_rng(seed)
    known = np.flatnonzero(y.notna().to_numpy())
    if len(known) <= PROBE_ROWS:
        return known
    if not classifier:
        return np.sort(rng.choice(known, PROBE_ROWS, replace=False))
    codes = pd.factorize(y.iloc[known])[0]
    groups = sorted((known[codes == c] for c in np.unique(codes)), key=len)
    left, chosen = PROBE_ROWS, []
    for i, group in enumerate(groups):
        take = min(len(group), left // (len(groups) - i))
        chosen.append(rng.choice(group, take, replace=False))
        left -= take
    return np.sort(np.concatenate(chosen))


def _folds(y: np.ndarray, classifier: bool, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (StratifiedKFold(PROBE_FOLDS, shuffle=True, random_state=seed) if classifier
                else KFold(PROBE_FOLDS, shuffle=True, random_state=seed))
    return list(splitter.split(np.zeros(len(y)), y))


# ---------------------------------------------------------------------- models and scores
@dataclass
class _Models:
    """The probe's LightGBM models: one thread, few rounds, stopped at the deadline."""

    classifier: bool
    n_classes: int
    seed: int
    deadline: float | None

    def cross_predict(self, X: np.ndarray, y: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]],
                      categorical: Sequence[int]) -> tuple[np.ndarray, list[Any]]:
        """Out-of-fold predictions (class probabilities, or values) and the fold models."""
        oof = np.zeros((len(y), self.n_classes)) if self.classifier else np.zeros(len(y))
        models = []
        for train, valid in folds:
            model = self._fit(X[train], y[train], categorical)
            oof[valid] = self._predict(model, X[valid])
            models.append(model)
        return oof, models

    def _fit(self, X: np.ndarray, y: np.ndarray, categorical: Sequence[int]) -> Any:
        import lightgbm as lgb

        self._check_time()
        cls = lgb.LGBMClassifier if self.classifier else lgb.LGBMRegressor
        model = cls(n_estimators=ROUNDS, learning_rate=0.05, num_leaves=15, min_child_samples=20,
                    subsample=0.8, subsample_freq=1, colsample_bytree=0.8, n_jobs=1, random_state=self.seed,
                    verbose=-1, deterministic=True, force_row_wise=True)

        def stop_at_deadline(env: Any) -> None:
            self._check_time()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y, categorical_feature=list(categorical) if categorical else "auto",
                      callbacks=[stop_at_deadline])
        return model

    def _predict(self, model: Any, X: np.ndarray) -> np.ndarray:
        if not self.classifier:
            return np.asarray(model.predict(X), dtype=float)
        proba = np.zeros((len(X), self.n_classes))
        proba[:, model.classes_] = model.predict_proba(X)
        return proba

    def permutation_importance(self, X: np.ndarray, y: np.ndarray,
                               folds: Sequence[tuple[np.ndarray, np.ndarray]], models: Sequence[Any]) -> np.ndarray:
        """Skill lost on the validation folds when a column is shuffled, averaged over folds;
        only the :data:`GAIN_SHORTLIST` columns of highest split gain are shuffled (0 for the rest)."""
        gain = np.sum([m.booster_.feature_importance(importance_type="gain") for m in models], axis=0)
        shortlist = [j for j in np.argsort(-gain, kind="stable")[:GAIN_SHORTLIST] if gain[j] > 0]
        rng = np.random.default_rng(self.seed)
        lost = np.zeros(X.shape[1])
        for (_, valid), model in zip(folds, models):
            base = _skill(y[valid], self._predict(model, X[valid]), self.classifier)
            for j in shortlist:
                self._check_time()
                shuffled = X[valid].copy()
                shuffled[:, j] = rng.permutation(shuffled[:, j])
                lost[j] += base - _skill(y[valid], self._predict(model, shuffled), self.classifier)
        return lost / len(folds)

    def _check_time(self) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _OutOfTime


def _skill(y: np.ndarray, prediction: np.ndarray, classifier: bool) -> float:
    """0 for chance, 1 for perfect: 2·AUC − 1 (macro one-vs-rest over the classes present),
    or R² (at least 0)."""
    if classifier:
        from sklearn.metrics import roc_auc_score

        aucs = [roc_auc_score(y == c, prediction[:, c]) for c in np.unique(y)
                if 0 < (y == c).sum() < len(y)]
        return max(0.0, 2 * float(np.mean(aucs)) - 1) if aucs else 0.0
    residual = float(np.sum((y - prediction) ** 2))
    spread = float(np.sum((y - y.mean()) ** 2))
    return max(0.0, 1 - residual / spread) if spread > 0 else 0.0
