"""The :class:`Task` contract: everything that differs between kinds of problem.

A task is a stateless singleton, registered by name (:mod:`labcoat.tasks`). Code outside
``tasks/`` asks the task instead of branching on its name. ``fit`` calls a task in this order:

1. :meth:`Task.check_target` and :meth:`Task.classes`: when ``task=`` names it or
   :func:`labcoat.tasks.resolve_task` detects it with :meth:`Task.detect` (tasks are tried in
   registration order);
2. :meth:`Task.options` turns the task's keyword arguments of ``fit`` into its typed options;
3. :meth:`Task.encode_target` gives the target as the search sees it;
4. :meth:`Task.default_metric` (after the guards, whose findings it may use) unless a metric
   is given, checked by :meth:`Task.check_metric`;
5. :meth:`Task.resampling` plans the folds; :attr:`Task.guards` says which data checks apply;
6. :meth:`Task.eligible` picks the families that opted in (``Family.tasks``); every trial's
   out-of-fold predictions are :meth:`Task.prediction_width` wide, kept as
   :meth:`Task.unstack` gives them; :meth:`Task.select_ensemble` blends them;
7. :meth:`Task.post_fit` (after the refit) fits what acts on the blended output, such as the
   calibration and decision threshold of a classifier;
8. at prediction time :meth:`Task.decide` turns the blended output into answers,
   :meth:`Task.output_frame` into the table every door returns (Python, CLI, REST, pyfunc),
   described ahead of time by :meth:`Task.output_columns`; :meth:`Task.prediction_summary`
   reduces it to one number or label per row for prediction drift, on the training side and
   the monitoring side alike.

Examples
--------
>>> from labcoat.tasks import get_task
>>> task = get_task("regression")
>>> task.name, task.default_metric([]).name
('regression', 'rmse')
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

from labcoat.data.split import Resampling, choose_resampling
from labcoat.errors import ConfigError
from labcoat.evaluate.metrics import METRICS, Metric, get_metric
from labcoat.evaluate.ensemble import select_ensemble

if TYPE_CHECKING:
    from labcoat.evaluate.calibration import Calibrator
    from labcoat.guards import Finding

#: What a family builds for a task: scikit-learn's estimator types.
EstimatorType = Literal["classifier", "regressor"]


@dataclass(frozen=True)
class TaskOptions:
    """Options of ``fit`` that belong to one task (none for the base). Subclasses add typed
    fields; :meth:`Task.options` fills them from keyword arguments and refuses unknown ones."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PostFit:
    """What :meth:`Task.post_fit` adds to a fitted model: a transformation of the blended
    output (``calibrator.apply(blend)``), a decision threshold, and what was decided and why
    (``report``, kept in the model's info under its key)."""

    calibrator: Calibrator | None = None
    threshold: float | None = None
    report: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class Task(ABC):
    """One kind of problem. Subclass, set the class attributes, implement the abstract
    methods, and :func:`labcoat.tasks.register_task` an instance (see ARCHITECTURE.md,
    "Adding a task")."""

    #: Registry key, the ``task=`` value and the ``--task`` choice.
    name: ClassVar[str]
    #: The question the task answers, in words for reports ("a number").
    description: ClassVar[str]
    #: What the families build (classifier or regressor).
    estimator_type: ClassVar[EstimatorType]
    #: The metric optimised by default (the metrics that apply say so in ``Metric.tasks``).
    default_metric_name: ClassVar[str]
    #: Resampling and bootstrap intervals are stratified by the encoded target.
    stratified: ClassVar[bool] = False
    #: The data checks (``labcoat.guards``) that apply.
    guards: ClassVar[frozenset[str]] = frozenset()
    #: Which diagnostics the model report shows (a kind the report knows: ``"classification"``
    #: curves and tables, ``"regression"`` residuals).
    diagnostics: ClassVar[str]
    #: The typed options (:meth:`options`).
    options_type: ClassVar[type[TaskOptions]] = TaskOptions

    # ------------------------------------------------------------------ 1. the target
    def detect(self, y: pd.Series) -> bool:
        """Whether a target like ``y`` (missing values removed) is this task's, when the user
        did not say. Tasks that are never guessed from a target keep the default, False."""
        return False

    def check_target(self, y: pd.Series, target: str) -> None:
        """Raise a :class:`~labcoat.errors.LabcoatError` naming ``target`` when this task cannot
        learn it (wrong type, a single class...)."""

    def classes(self, y: pd.Series) -> list[Any] | None:
        """The target's classes in encoding order, or None when the target is not a class."""
        return None

    def target_words(self, classes: Sequence[Any] | None) -> str:
        """The target in words for reports ("a number", "two classes: no, yes")."""
        return self.description

    def refine(self, classes: list[Any] | None) -> "Task":
        """The task to use once the classes are known (multiclass with two classes is binary)."""
        return self

    @abstractmethod
    def encode_target(self, y: pd.Series, classes: Sequence[Any] | None) -> np.ndarray:
        """The target as metrics and families see it (class indices, or float values)."""

    @abstractmethod
    def encode_labels(self, values: pd.Series, classes: Sequence[Any] | None) -> tuple[np.ndarray, np.ndarray]:
        """Labels from outside the training data (monitoring, retraining, explanations) encoded
        as :meth:`encode_target` does, read leniently (``3``, ``3.0`` and ``"3"`` alike), and
        the mask of the usable ones (missing, unknown or unreadable labels are not)."""

    # ------------------------------------------------------------------ 2. options
    def options(self, **given: Any) -> TaskOptions:
        """This task's typed options from ``fit``'s keyword arguments (``None`` = default).

        Examples
        --------
        >>> from labcoat.tasks import get_task
        >>> get_task("regression").options(costs="fp=1,fn=5")
        Traceback (most recent call last):
        ...
        labcoat.errors.ConfigError: costs= does not apply to a regression task ...
        """
        known = {f.name for f in dataclasses.fields(self.options_type)}
        for key, value in given.items():
            if value is not None and key not in known:
                raise ConfigError(f"{key}= does not apply to a {self.name} task "
                                  f"({self._option_help()}).")
        return self.validate_options(self.options_type(**{k: v for k, v in given.items()
                                                          if k in known and v is not None}))

    def validate_options(self, options: TaskOptions) -> TaskOptions:
        """Check and normalise the options (override to parse strings such as costs)."""
        return options

    @property
    def option_names(self) -> list[str]:
        """The names of this task's options."""
        return [f.name for f in dataclasses.fields(self.options_type)]

    def _option_help(self) -> str:
        names = self.option_names
        return f"its options are {', '.join(names)}" if names else "it takes no options"

    # ------------------------------------------------------------------ 3. metrics
    def check_metric(self, name: str) -> Metric:
        """The metric called ``name``, refused when it does not apply to this task."""
        return get_metric(name, self.name)

    @property
    def metric_names(self) -> list[str]:
        """The metrics that apply to this task."""
        return [name for name, metric in METRICS.items() if self.name in metric.tasks]

    def default_metric(self, findings: Iterable["Finding"]) -> Metric:
        """The metric optimised when none is given; ``findings`` of the guards may change it
        (a binary target with a rare class is scored by PR AUC)."""
        return METRICS[self.default_metric_name]

    # ------------------------------------------------------------------ 4. resampling
    def resampling(self, y: np.ndarray, *, seed: int) -> Resampling:
        """Folds for the search, chosen by data size (``labcoat.data.split``)."""
        return choose_resampling(y, stratify=self.stratified, seed=seed)

    # ------------------------------------------------------------------ 5. search
    def eligible(self, families: Iterable[Any]) -> list[Any]:
        """The families that opted in to this task (``Family.tasks``), in the given order."""
        return [f for f in families if self.name in f.tasks]

    @abstractmethod
    def prediction_width(self, n_classes: int) -> int:
        """Columns of the predictions a family returns (``Family.predict``)."""

    def unstack(self, predictions: np.ndarray) -> np.ndarray:
        """Out-of-fold predictions as metrics take them (a matrix by default)."""
        return predictions

    def select_ensemble(self, predictions: list[np.ndarray], y: np.ndarray, metric: Metric, *,
                        rounds: int = 25) -> np.ndarray:
        """Ensemble weights over the candidates' out-of-fold ``predictions`` (Caruana's
        greedy selection with replacement, on the metric)."""
        return select_ensemble(predictions, y, metric, rounds=rounds)

    # ------------------------------------------------------------------ 6. after the fit
    def post_fit(self, oof: dict[str, np.ndarray] | None, options: TaskOptions, *,
                 seed: int) -> PostFit:
        """Steps fitted on the ensemble's out-of-fold output (none by default)."""
        return PostFit()

    # ------------------------------------------------------------------ 7. the output
    @abstractmethod
    def decide(self, blend: np.ndarray, classes: Sequence[Any] | None,
               threshold: float | None) -> np.ndarray:
        """The answers (``Model.predict``) from the blended output."""

    @abstractmethod
    def output_columns(self, target: str, classes: Sequence[Any] | None) -> list[tuple[str, str]]:
        """The prediction table's columns and their types (``"string"``, ``"double"``): what
        ``predict_frame``, the pyfunc signature and the REST schemas promise."""

    @abstractmethod
    def output_frame(self, target: str, blend: np.ndarray, classes: Sequence[Any] | None,
                     threshold: float | None) -> pd.DataFrame:
        """The prediction table (``Model.predict_frame``) from the blended output."""

    def output_blend(self, table: pd.DataFrame, target: str, classes: Sequence[Any] | None) -> np.ndarray:
        """The blended output back from a prediction table (a logged answer): the inverse of
        :meth:`output_frame`. A missing column raises ``KeyError`` naming it."""
        numbers = [name for name, kind in self.output_columns(target, classes) if kind == "double"]
        missing = [name for name in numbers if name not in table.columns]
        if missing:
            raise KeyError(", ".join(missing))
        return self.unstack(table[numbers].to_numpy(dtype=np.float64))

    @abstractmethod
    def prediction_summary(self, blend: np.ndarray, classes: Sequence[Any] | None) -> np.ndarray:
        """One value per row for prediction drift, from the blended (calibrated) output."""

    #: Whether :meth:`prediction_summary` is a label (compared as categories) or a number,
    #: and what it is in words (monitoring reports).
    summary_is_label: ClassVar[bool] = False
    summary_words: ClassVar[str] = "the prediction"

    def probability_labels(self, classes: Sequence[Any] | None) -> list[str]:
        """The labels of the probability columns that follow the answer in the prediction
        table (none unless the task predicts probabilities)."""
        return []

    # ------------------------------------------------------------------ 8. explanations
    def output_label(self, target: str, classes: Sequence[Any] | None, column: int | None) -> str:
        """What output ``column`` of the blend is, in words (None: the one explained by default)."""
        return str(target)

    def explained_columns(self, blend: np.ndarray) -> np.ndarray:
        """Per row, the output column explanations explain by default."""
        return np.zeros(len(blend), dtype=np.int64)

    def output_curves(self, blend: np.ndarray, classes: Sequence[Any] | None) -> Any:
        """Rows of the blend (such as a partial-dependence curve) as reports show them: a list
        for one explained output, a mapping of lists for several."""
        return blend[:, 0].tolist()

    def __repr__(self) -> str:
        return f"<labcoat task {self.name}>"

    def __str__(self) -> str:
        return self.name
