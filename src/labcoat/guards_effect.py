"""Leaks found by what they do: a column that, alone, scores close to the whole model and that
the other columns tell nothing about beyond what the target tells.

The value-by-value rule of :mod:`labcoat.guards` finds a column that *is* the target in other
words. A field filled in after the outcome, with some noise (it agrees with the target on 97%
of rows, or correlates with it at r = 0.97), escapes that rule but gives the model most of its
score. This check finds it by its effect, with a probe that is cheap and bounded in time:

1. a sample of at most :data:`PROBE_ROWS` rows (as balanced between classes as the rows
   allow), :data:`PROBE_FOLDS` folds, LightGBM (:data:`ROUNDS` rounds, one thread; with more
   than three classes, fewer rounds of larger steps, as a tree is grown per class);
2. the whole model, scored out of fold, and the permutation importance on the validation folds
   of the :data:`GAIN_SHORTLIST` columns of highest split gain;
3. the candidates: the :data:`CANDIDATES` most important columns and the :data:`CANDIDATES`
   strongest alone by a binned one-column score (:func:`one_column_skills`; on a table the
   other columns already predict, a leak adds little importance but is still strong alone);
4. for each candidate, the model of that column alone; for those strong alone, how much of the
   column's variation left by the target the other columns explain
   (:meth:`_Models.explained_by_others`), and the model without it.

Scores are put on one scale of *skill*, 0 for chance and 1 for perfect: ``2·AUC − 1`` for
classes (ROC AUC, macro one-vs-rest with more than two classes), R² for numbers. The rule
(:func:`suspected`): a column is suspected when **alone it reaches a skill of 0.7 and 80% of
the whole model's, and the other columns explain less than 10% of what the target leaves of
it** (:data:`ALONE_SKILL`, :data:`ALONE_SHARE`, :data:`EXPLAINED_BAR`); in the metrics' units,
alone ROC AUC ≥ 0.85 or R² ≥ 0.7. The second half is what tells a copy of the outcome from a
strong input: a field derived from the outcome, with noise of its own, carries nothing about the
other columns once the target is known, while a measured input does (its fellow inputs jointly
determine the target, so knowing the target ties them together; a duplicate of it explains it
outright). It needs no loss of skill without the column, so it also finds a leak on a table the
other columns already predict. A strong column the others do explain, without which the model
loses :data:`LOST_SKILL` of skill, is named at low severity as a *dominant column*
(:func:`dominant`: a diagnosis made from one lab value). ``benchmarks/leak_simulation.py``
measures the rule on planted leaks and clean tables (``benchmarks/RESULTS.md``).

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
from dataclasses import dataclass, field, replace
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
#: Candidates taken by importance, and as many by their one-column score.
CANDIDATES = 3
#: Skill (0 chance, 1 perfect) a column must reach alone to be suspected ...
ALONE_SKILL = 0.7
#: ... and the share of the whole model's skill it must reach alone ...
ALONE_SHARE = 0.8
#: ... and at most this share of its variation given the target may the other columns explain.
EXPLAINED_BAR = 0.1
#: Skill the model loses without a strong column the others explain for it to be named dominant.
LOST_SKILL = 0.05
#: Quantile bins of a number in the one-column score.
BINS = 20
#: Values of a categorical column told apart when the other columns predict it (the rest pooled).
LEVELS = 6
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
    its model alone and of the model without it, and the share of its variation given the target
    that the other columns explain (``None`` when not measured)."""

    column: str
    importance: float
    alone: float | None = None
    without: float | None = None
    explained: float | None = None


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


def strong_alone(effect: ColumnEffect, full: float) -> bool:
    """Alone the column reaches :data:`ALONE_SKILL` and :data:`ALONE_SHARE` of the whole
    model's skill ``full``."""
    return effect.alone is not None and effect.alone >= ALONE_SKILL and effect.alone >= ALONE_SHARE * full


def suspected(effect: ColumnEffect, full: float) -> bool:
    """The rule: strong alone (:func:`strong_alone`), and the other columns explain less than
    :data:`EXPLAINED_BAR` of its variation given the target."""
    return strong_alone(effect, full) and effect.explained is not None and effect.explained < EXPLAINED_BAR


def dominant(effect: ColumnEffect, full: float) -> bool:
    """Strong alone, explained by the other columns (not suspected), and the model without it
    loses :data:`LOST_SKILL`: the model rests on one genuine-looking column."""
    return (strong_alone(effect, full) and effect.explained is not None and not suspected(effect, full)
            and effect.without is not None and full - effect.without >= LOST_SKILL)


def check_effect(frame: pd.DataFrame, target: str, task: str | Task, *, schema: Schema | None = None,
                 exclude: Iterable[str] = (), seed: int = 0, seconds: float = SECONDS) -> list[Finding]:
    """A "suspected leakage" finding for each column whose effect on a quick model gives it
    away, and a low "dominant column" one for a strong input the model rests on (see the module
    docstring), within about ``seconds``. Columns in ``exclude`` (those
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
    return [_finding(effect, probe) for effect in probe.columns
            if suspected(effect, probe.full) or dominant(effect, probe.full)]


def probe_effects(frame: pd.DataFrame, target: str, task: str | Task, *, schema: Schema | None = None,
                  exclude: Iterable[str] = (), seed: int = 0, seconds: float | None = SECONDS,
                  screen: bool = True) -> Probe | None:
    """Measure the whole model and each candidate column (see the module docstring); ``None``
    when the data is too small to probe. With ``screen``, how much the other columns explain of
    a column and the model without it are measured only for a column strong alone
    (:func:`strong_alone`; the simulation measures every candidate instead). The time cap
    ``seconds`` stops the probe between (and inside) fits; what was measured so far is returned
    with ``complete=False``, or ``None`` if the whole model was not done."""
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
    models = _Models(n_classes, seed, deadline)
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
        one_column = one_column_skills(X, y, folds, n_classes)
        important = [int(j) for j in np.argsort(-importance, kind="stable") if importance[j] > 0][:CANDIDATES]
        strongest = [int(j) for j in np.argsort(-one_column, kind="stable")[:CANDIDATES]]
        for j in sorted(set(important) | set(strongest), key=lambda k: -one_column[k]):
            cats = [0] if j in categorical else []
            alone = _skill(y, models.cross_predict(X[:, [j]], y, folds, cats)[0], classifier)
            share = max(float(importance[j]), 0.0) / total if total else 0.0
            effect = ColumnEffect(names[j], round(share, 4), round(alone, 4))
            if X.shape[1] > 1 and (not screen or strong_alone(effect, probe.full)):
                explained = models.explained_by_others(X, y, j, categorical, folds)
                keep = [k for k in range(X.shape[1]) if k != j]
                without = models.cross_predict(X[:, keep], y, folds, [int(k - (k > j)) for k in categorical if k != j])
                effect = replace(effect, explained=round(explained, 4),
                                 without=round(_skill(y, without[0], classifier), 4))
            probe.columns.append(effect)
    except _OutOfTime:
        probe.complete = False
    probe.seconds = round(time.perf_counter() - started, 3)
    return probe


def _finding(effect: ColumnEffect, probe: Probe) -> Finding:
    assert effect.alone is not None and effect.without is not None and effect.explained is not None
    shown = [_score(s, probe.metric) for s in (effect.alone, effect.without, probe.full)]
    figures = (f"alone it reaches {probe.metric} {shown[0]}; the model without it {shown[1]}, with it "
               f"{shown[2]}; the other columns explain {max(effect.explained, 0):.0%} of its variation "
               f"beyond the target (a quick model on {probe.rows:,} rows, {effect.importance:.0%} of whose "
               "importance is in this column).")
    if suspected(effect, probe.full):
        return Finding("suspected leakage", "medium", effect.column, figures,
                       "A column derived from the outcome, with noise of its own, looks like this. If it is "
                       "filled in after the outcome (or derived from it), drop it before training; if it is "
                       "known when predicting, it is a strong predictor and nothing needs doing.")
    return Finding("dominant column", "low", effect.column, figures,
                   "The model rests on this column, which relates to the others as a measured input does. "
                   "If it is known only after the outcome, drop it before training; otherwise nothing "
                   "needs doing.")


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
    """The probe's LightGBM models: one thread, few rounds, stopped at the deadline. They
    predict the target (``n_classes`` classes, 0 for numbers) unless told otherwise."""

    n_classes: int
    seed: int
    deadline: float | None

    @property
    def classifier(self) -> bool:
        return self.n_classes > 0

    def cross_predict(self, X: np.ndarray, y: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]],
                      categorical: Sequence[int], n_classes: int | None = None) -> tuple[np.ndarray, list[Any]]:
        """Out-of-fold predictions (class probabilities, or values) and the fold models; of ``y``
        with ``n_classes`` classes (0: numbers) when given, else of the target."""
        n_classes = self.n_classes if n_classes is None else n_classes
        oof = np.zeros((len(y), n_classes)) if n_classes else np.zeros(len(y))
        models = []
        for train, valid in folds:
            model = self._fit(X[train], y[train], categorical, n_classes)
            oof[valid] = self._predict(model, X[valid], n_classes)
            models.append(model)
        return oof, models

    def explained_by_others(self, X: np.ndarray, y: np.ndarray, j: int, categorical: Sequence[int],
                            folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
        """The share of column ``j``'s out-of-fold loss, predicted from the target alone, that
        the other columns take away when added (log loss over its :data:`LEVELS` most frequent
        values for a categorical column, squared error for a number). About 0, or below from
        the extra model's variance, when the column is the target plus noise of its own."""
        # The target as columns of numbers: one-hot for classes, as LightGBM's categorical splits
        # want 100 rows a value (min_data_per_group), which small folds do not have.
        given = np.eye(self.n_classes)[y] if self.classifier else y[:, None].astype(float)
        others = np.delete(X, j, axis=1)
        shifted = [int(given.shape[1] + k - (k > j)) for k in categorical if k != j]
        column = X[:, j]
        if j in categorical:
            codes = pd.Series(np.where(np.isnan(column), -1.0, column))
            kept = codes.isin(codes.value_counts().index[:LEVELS - 1])
            values = pd.factorize(codes.where(kept, -2.0))[0]
            n_values = int(values.max()) + 1
            if n_values < 2:
                return 1.0  # a constant (in the sample) is no copy of the target

            def loss(prediction: np.ndarray) -> float:
                return float(-np.log(np.clip(prediction[np.arange(len(values)), values], 1e-6, 1)).mean())
        else:
            values = np.where(np.isnan(column), np.nanmean(column), column)
            n_values = 0

            def loss(prediction: np.ndarray) -> float:
                return float(np.mean((values - prediction) ** 2))

        base = loss(self.cross_predict(given, values, folds, [], n_values)[0])
        more = loss(self.cross_predict(np.column_stack([given, others]), values, folds, shifted, n_values)[0])
        return (base - more) / base if base > 0 else 0.0

    def _fit(self, X: np.ndarray, y: np.ndarray, categorical: Sequence[int], n_classes: int) -> Any:
        import lightgbm as lgb

        self._check_time()
        cls = lgb.LGBMClassifier if n_classes else lgb.LGBMRegressor
        # A tree per class a round: with many classes, fewer rounds of larger steps keep a fit to
        # about the trees of three classes (12 classes took the whole time cap at 100 rounds).
        rounds = ROUNDS if n_classes <= 3 else max(20, round(3 * ROUNDS / n_classes))
        model = cls(n_estimators=rounds, learning_rate=0.05 * ROUNDS / rounds, num_leaves=15, min_child_samples=20,
                    subsample=0.8, subsample_freq=1, colsample_bytree=0.8, n_jobs=1, random_state=self.seed,
                    verbose=-1, deterministic=True, force_row_wise=True)

        def stop_at_deadline(env: Any) -> None:
            self._check_time()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y, categorical_feature=list(categorical) if categorical else "auto",
                      callbacks=[stop_at_deadline])
        return model

    def _predict(self, model: Any, X: np.ndarray, n_classes: int | None = None) -> np.ndarray:
        n_classes = self.n_classes if n_classes is None else n_classes
        if not n_classes:
            return np.asarray(model.predict(X), dtype=float)
        proba = np.zeros((len(X), n_classes))
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


def one_column_skills(X: np.ndarray, y: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]],
                      n_classes: int) -> np.ndarray:
    """Each column's skill alone, cheaply: its values (numbers in :data:`BINS` quantile bins,
    missing as a value of its own) predict the target's out-of-fold class shares (smoothed) or
    mean. Used to choose candidates; the skill reported is a model's.

    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 600)
    >>> X = np.column_stack([rng.normal(size=600), y + rng.normal(0, 0.8, 600)])
    >>> folds = _folds(y, True, 0)
    >>> [round(float(s), 1) for s in one_column_skills(X, y, folds, 3)]
    [0.0, 0.6]
    """
    skills = np.zeros(X.shape[1])
    cuts = np.linspace(0, 1, BINS + 1)[1:-1]
    for j in range(X.shape[1]):
        column = X[:, j]
        present = ~np.isnan(column)
        edges: np.ndarray = np.unique(np.quantile(column[present], cuts)) if present.any() else np.zeros(0)
        size = len(edges) + 2  # the bins, and missing values
        codes = np.where(present, np.searchsorted(edges, np.where(present, column, 0), side="right"), size - 1)
        prediction = np.zeros((len(y), n_classes)) if n_classes else np.zeros(len(y))
        for train, valid in folds:
            if n_classes:
                counts = np.zeros((size, n_classes))
                np.add.at(counts, (codes[train], y[train]), 1.0)
                prior = np.bincount(y[train], minlength=n_classes) / len(train)
                prediction[valid] = ((counts + prior) / (counts.sum(axis=1, keepdims=True) + 1))[codes[valid]]
            else:
                sums = np.bincount(codes[train], weights=y[train], minlength=size)
                seen = np.bincount(codes[train], minlength=size)
                prediction[valid] = ((sums + y[train].mean()) / (seen + 1))[codes[valid]]
        skills[j] = _skill(y, prediction, bool(n_classes))
    return skills


def _skill(y: np.ndarray, prediction: np.ndarray, classifier: bool) -> float:
    """0 for chance, 1 for perfect: 2·AUC − 1 (macro one-vs-rest over the classes present),
    or R² (at least 0)."""
    if classifier:
        from scipy.stats import rankdata

        # ROC AUC as the Mann-Whitney statistic (ties averaged, as roc_auc_score counts them), one
        # ranking for all classes: scikit-learn's call per class was most of the probe's scoring time.
        ranks = rankdata(prediction, axis=0)
        aucs = []
        for c in np.unique(y):
            positive = y == c
            n1 = int(positive.sum())
            if 0 < n1 < len(y):
                aucs.append((ranks[positive, c].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1)))
        return max(0.0, 2 * float(np.mean(aucs)) - 1) if aucs else 0.0
    residual = float(np.sum((y - prediction) ** 2))
    spread = float(np.sum((y - y.mean()) ** 2))
    return max(0.0, 1 - residual / spread) if spread > 0 else 0.0
