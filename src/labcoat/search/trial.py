"""One configuration scored by resampling: the :class:`Trial` record and the code that fills it."""

from __future__ import annotations

import json
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from labcoat.data.schema import Schema
from labcoat.data.split import Resampling
from labcoat.evaluate.metrics import Metric
from labcoat.features.build import Style, build_preprocessor, native_categorical_count
from labcoat.models import BuildContext, Family, Params

if TYPE_CHECKING:
    from labcoat.tasks import Task

Status = Literal["ok", "failed", "stopped"]
#: Why a stopped trial can rank below completed ones with lower scores (shown under leaderboards).
STOPPED_NOTE = ("Stopped trials (cut short by the budget) rank after completed ones whatever their "
                "score: it covers only the folds they finished, and they are not in the ensemble.")


@dataclass
class Trial:
    """The record of one configuration: scores per fold, out-of-fold predictions, timing, status."""

    number: int
    family: str
    params: Params
    origin: Literal["portfolio", "optuna"]
    status: Status = "ok"
    fold_scores: list[float] = field(default_factory=list)
    #: Out-of-fold predictions (probabilities or values), averaged over repeats; NaN where a row
    #: was never validated (holdout). ``None`` unless the trial completed every fold.
    oof: np.ndarray | None = None
    iterations: list[int] = field(default_factory=list)
    duration: float = 0.0
    #: Seconds from the start of the study to the end of this trial (set by the Study).
    finished: float = float("nan")
    error: str | None = None
    #: True when the deadline cut a booster's or forest's rounds short in some fold (the fold's
    #: model is still complete and scored).
    truncated: bool = False
    #: The last fold's fitted model and that fold's index: the final model when refitting on
    #: all rows does not fit in the budget. Kept for compact families only, and only while the
    #: trial is among the study's best (see Study); ``None`` otherwise.
    fold_model: Any = None
    fold_index: int = 0
    #: Seconds spent fitting and applying preprocessing (none when its folds were cached by an
    #: earlier trial of the same style).
    preprocess_seconds: float = 0.0
    #: Seconds the first fold's estimator took to build: the family's library loads then, once
    #: per process (importing PyTorch: 2.6 s, against 0.1 s for an MLP's fold on penguins).
    setup_seconds: float = 0.0

    @property
    def score(self) -> float:
        return float(np.mean(self.fold_scores)) if self.fold_scores else float("nan")

    @property
    def score_std(self) -> float:
        return float(np.std(self.fold_scores, ddof=1)) if len(self.fold_scores) > 1 else float("nan")

    @property
    def fold_seconds(self) -> float:
        """Average seconds per fold, the unit cost estimates are calibrated in."""
        return self.duration / max(len(self.fold_scores), 1)

    @property
    def model_fold_seconds(self) -> float:
        """Average seconds per fold spent on the model alone, the unit the families' cost
        estimates are calibrated in: later trials of the style find its preprocessing cached
        (on 1,280 movie reviews a fold's word n-grams took 2.4-4.2 s, its logistic regression
        0.7-0.9 s: with them in the ratio, the other text families looked too slow to try)."""
        return (max(self.duration - self.preprocess_seconds - self.setup_seconds, 0.0)
                / max(len(self.fold_scores), 1))

    def summary(self) -> dict[str, Any]:
        return {"trial": self.number, "family": self.family, "score": self.score,
                "score_std": self.score_std, "fit_time": round(self.duration, 3),
                "status": self.status, "truncated": self.truncated, "origin": self.origin,
                "params": dict(self.params), "error": self.error,
                "fold_scores": json.dumps([round(v, 6) for v in self.fold_scores]),
                "started": round(self.finished - self.duration, 3), "finished": round(self.finished, 3)}


class PreprocessCache:
    """Fitted preprocessing outputs per (style, fold), shared by trials; bounded in bytes.

    Fitting the same ColumnTransformer on the same fold for every trial would repeat work
    that depends only on the data, so the transformed matrices are kept (least recently used
    evicted first).
    """

    def __init__(self, max_bytes: int = 400 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, int], tuple[Any, Any, Any]] = OrderedDict()
        self._bytes: dict[tuple[str, int], int] = {}

    def get(self, key: tuple[str, int]) -> tuple[Any, Any, Any] | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: tuple[str, int], item: tuple[Any, Any, Any]) -> None:
        size = sum(_nbytes(x) for x in item[1:])
        if size > self.max_bytes:
            return
        self._items[key] = item
        self._bytes[key] = size
        while sum(self._bytes.values()) > self.max_bytes:
            old, _ = self._items.popitem(last=False)
            del self._bytes[old]


def _nbytes(x: Any) -> int:
    if x is None:
        return 0
    if hasattr(x, "data") and hasattr(x, "indptr"):  # scipy sparse
        return int(x.data.nbytes + x.indices.nbytes + x.indptr.nbytes)
    return int(getattr(x, "nbytes", 0)) * (4 if getattr(x, "dtype", None) == object else 1)


@dataclass
class TrialData:
    """Everything a trial needs besides its configuration; built once per study."""

    X: pd.DataFrame
    y: np.ndarray
    schema: Schema
    #: The task (``labcoat.tasks``) that encoded ``y``; trials ask it for the predictions' shape.
    task: "Task"
    metric: Metric
    resampling: Resampling
    seed: int
    n_jobs: int
    cache: PreprocessCache = field(default_factory=PreprocessCache)

    @property
    def n_classes(self) -> int:
        return len(self.schema.classes or ())

    def context(self, style: Style) -> BuildContext:
        return BuildContext(kind=self.task.estimator_type, n_classes=self.n_classes, seed=self.seed,
                            n_jobs=self.n_jobs, n_rows=len(self.y),
                            native_categoricals=native_categorical_count(self.schema, style))

    def fold(self, style: Style, index: int) -> tuple[Any, Any, Any]:
        """(fitted preprocessor, transformed train rows, transformed validation rows) of a fold.

        ``index == -1`` means all rows (the final refit); its validation part is ``None``.
        """
        key = (style, index)
        item = self.cache.get(key)
        if item is None:
            pre = build_preprocessor(self.schema, style)
            if index == -1:
                item = (pre, pre.fit_transform(self.X, self.y), None)
            else:
                train, valid = self.resampling.folds[index]
                Xt = pre.fit_transform(self.X.iloc[train], self.y[train])
                item = (pre, Xt, pre.transform(self.X.iloc[valid]))
            self.cache.put(key, item)
        return item

    def transformed_columns(self, style: Style) -> int:
        return int(self.fold(style, 0)[1].shape[1])


def evaluate_trial(family: Family, params: Params, data: TrialData, *, number: int,
                   origin: Literal["portfolio", "optuna"], deadline: float | None = None,
                   folds: int | None = None) -> Trial:
    """Score ``params`` of ``family`` on every fold of ``data.resampling`` (on its first
    ``folds`` when given: one repeat's folds validate every row once).

    The time to ``deadline`` is shared between the folds left: each fold's fit is given an
    equal share of it (what a fold leaves unused goes to the next), and models that train in
    rounds stop at their share and keep the rounds done (``truncated``). Every fold is then
    scored and the trial has out-of-fold predictions for the ensemble, where a fold given all
    the time left would use it and leave the others undone: a 60 s search on 12 classes
    stopped the MLP, its best family there, after one fold (0.58 log loss; the best finished
    trial 0.82). A trial is ``"stopped"`` (no out-of-fold predictions) when the deadline has
    passed with folds left, or when a fold that ran uncut projects (the library's loading
    left out) that the remaining ones cannot finish by the deadline. An exception in a fold
    marks it ``"failed"`` with the error, never stopping the study.
    """
    trial = Trial(number=number, family=family.name, params=dict(params), origin=origin)
    started = time.monotonic()
    n = len(data.y)
    width = data.task.prediction_width(data.n_classes)
    total = np.zeros((n, width))
    counts = np.zeros(n)
    try:
        context = data.context(family.style)
        planned = data.resampling.folds[:folds]
        for index, (train, valid) in enumerate(planned):
            before = time.monotonic()
            _, Xt, Xv = data.fold(family.style, index)
            trial.preprocess_seconds += time.monotonic() - before
            before = time.monotonic()
            estimator = family.build(params, context)
            if index == 0:
                trial.setup_seconds = time.monotonic() - before
            now = time.monotonic()
            share = None if deadline is None else now + (deadline - now) / (len(planned) - index)
            outcome = family.fit(estimator, Xt, data.y[train], valid=(Xv, data.y[valid]),
                                 deadline=share)
            predictions = family.predict(estimator, Xv, data.task.estimator_type, n_classes=data.n_classes)
            trial.fold_scores.append(data.metric.score(data.y[valid], predictions))
            if outcome.iterations is not None:
                trial.iterations.append(outcome.iterations)
            total[valid] += predictions.reshape(len(valid), width)
            counts[valid] += 1
            trial.truncated |= outcome.stopped
            if family.compact:
                trial.fold_model, trial.fold_index = estimator, index
            done = index + 1
            spent = time.monotonic() - started - trial.setup_seconds
            projected = started + trial.setup_seconds + spent / done * len(planned)
            if done < len(planned) and deadline is not None and (
                    time.monotonic() >= deadline or (not outcome.stopped and projected > deadline)):
                trial.status = "stopped"
                break
    except Exception as error:  # one configuration's failure must not stop the study
        trial.status = "failed"
        trial.error = f"{type(error).__name__}: {error}"
        trial.error_traceback = traceback.format_exc()  # type: ignore[attr-defined]
    trial.duration = time.monotonic() - started
    if trial.status == "ok":
        with np.errstate(invalid="ignore", divide="ignore"):
            oof = total / counts[:, None]
        trial.oof = data.task.unstack(oof)
    return trial
