"""The fitted artifact: preprocessing and ensemble members, the Schema, the leaderboard.

A :class:`Model` predicts from raw frames (or files): it checks and converts the input with
the training :class:`~labcoat.data.schema.Schema`, transforms it once per preprocessing
style, and averages the members' predictions with the ensemble weights.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd

from labcoat import artifact
from labcoat.data.columns import Role
from labcoat.data.schema import Schema
from labcoat.data.small_frame import SmallFrame
from labcoat.features.build import transform
from labcoat.errors import LabcoatNotice, SchemaError
from labcoat.model_info import ModelInfo
from labcoat.models import FAMILIES, SMALL_INPUT, EstimatorType, Merged
from labcoat.tasks import Task, get_task
from labcoat.tasks.classification import class_array

if TYPE_CHECKING:
    from labcoat.data.io import DataSource
    from labcoat.evaluate.calibration import Calibrator
    from labcoat.monitoring.reference import Reference

#: What ``predict`` and its kin take: a frame (pandas or polars), a file's path, a dict of
#: columns or a list of records.
Rows: TypeAlias = "DataSource | dict[str, Any] | list[dict[str, Any]]"


@dataclass
class Member:
    """One fitted ensemble member."""

    family: str
    trial: int
    weight: float
    style: str
    estimator: Any
    params: dict[str, Any]
    #: Key of this member's fitted preprocessing in ``Model.preprocessors``.
    preprocessor: str = ""
    #: Which rows the member was fitted on.
    rows: str = "all rows"
    #: Models of the same parameters fitted on each fold's training rows (through the same
    #: preprocessing); the member predicts the mean of ``estimator``'s output and theirs.
    bag: list[Any] = field(default_factory=list)

    @property
    def estimators(self) -> list[Any]:
        """``estimator`` and the models of ``bag``."""
        return [self.estimator, *self.bag]

    def output(self, X: Any, kind: EstimatorType, *, n_classes: int | None = None,
               threads: int | None = None) -> np.ndarray:
        """The member's unweighted prediction for encoded rows ``X``: probabilities or values,
        its fold models' averaged in (see :attr:`bag`)."""
        family = FAMILIES[self.family]
        outputs = [family.predict(e, X, kind, n_classes=n_classes, threads=threads) for e in self.estimators]
        return outputs[0] if len(outputs) == 1 else np.mean(outputs, axis=0)


class Model:
    """A fitted labcoat model: predicts, explains what it is, saves and loads.

    Obtain one from :func:`labcoat.fit` or :func:`labcoat.load`.

    Attributes
    ----------
    schema : the training Schema (column roles, task, classes).
    leaderboard : one row per trial: family, parameters, score mean and spread over folds, fit time.
    info : what fit recorded (:class:`labcoat.model_info.ModelInfo`): metric, resampling,
        estimates with their intervals, budget and timings, settings, library versions, the run.
    example : a few training rows of the feature columns (the input example of the saved model).
    oof : the ensemble's out-of-fold predictions on the rows the search validated,
        ``{"y": encoded target, "pred": probabilities or values}`` (for curves, calibration and
        the report), or None.
    calibrator : maps blended probabilities to calibrated ones (``info.calibration`` says
        why), or None; see ``labcoat.evaluate.calibration``.
    explanations : what drives the predictions, computed by ``fit`` on the training data
        (:func:`labcoat.evaluate.explain_summary.summarize`: importance, SHAP summary, partial
        dependence), or None.
    threshold : binary classifiers predict the positive class when its probability is at least
        this (``info.threshold``); None predicts the most probable class.
    reference : the training data's profile for drift monitoring
        (:class:`labcoat.monitoring.reference.Reference`), or None for models saved before it existed.
    """

    def __init__(self, *, schema: Schema, members: list[Member], preprocessors: dict[str, Any],
                 leaderboard: pd.DataFrame, info: ModelInfo,
                 example: pd.DataFrame | None = None, oof: dict[str, np.ndarray] | None = None,
                 calibrator: Calibrator | None = None, threshold: float | None = None,
                 explanations: dict[str, Any] | None = None, reference: Reference | None = None) -> None:
        self.explanations = explanations
        self.reference = reference
        self.example = example
        self.oof = oof
        self.calibrator = calibrator
        self.threshold = threshold
        self.schema = schema
        self.members = members
        self.preprocessors = preprocessors
        self.leaderboard = leaderboard
        self.info = info
        self._known: dict[str, frozenset[Any]] | None = None
        #: Members predicted together for a few rows (see _merge_members), made on first use.
        self._merged: list[tuple[str, Merged, list[Member]]] | None = None
        self._merged_for: list[tuple[object, ...]] = []

    # ------------------------------------------------------------------ properties
    @property
    def task(self) -> Task:
        """The task the model was fitted for (``labcoat.tasks``)."""
        return get_task(self.schema.task)

    @property
    def metric(self) -> str:
        return self.info.metric

    @property
    def classes_(self) -> np.ndarray:
        """Class labels, in the order of :meth:`predict_proba`'s columns."""
        if self.schema.classes is None:
            raise AttributeError(f"classes_ exists only for classification models; this one is {self.task}")
        return class_array(self.schema.classes)

    @property
    def ensemble(self) -> pd.DataFrame:
        """The ensemble members: family, trial number, weight, the rows fitted on and the number of
        fold models averaged in (``labcoat.train.fold_bag``)."""
        return pd.DataFrame([{"family": m.family, "trial": m.trial, "weight": round(m.weight, 4),
                              "fitted_on": m.rows, "fold_models": len(m.bag)} for m in self.members])

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, data: Rows) -> np.ndarray:
        """Class probabilities, one column per class in :attr:`classes_` (calibrated when
        :attr:`calibrator` is set).

        Examples
        --------
        >>> import labcoat
        >>> from labcoat.datasets import make_churn
        >>> df = make_churn(300)
        >>> model = labcoat.fit(df, target="churned", trials=2, families=["lightgbm"], quiet=True, track=False)
        >>> model.predict_proba(df.head(2)).shape
        (2, 2)
        """
        if self.schema.classes is None:
            raise AttributeError(f"predict_proba exists only for classification models; this one is "
                                 f"{self.task}: use predict")
        return self._blend(data)

    def predict(self, data: Rows) -> np.ndarray:
        """Predicted classes (classification) or values (regression), one per row of ``data``."""
        return self.task.decide(self._blend(data), self.schema.classes, self.threshold)

    def _blend(self, data: Rows) -> np.ndarray:
        # A few rows come as a SmallFrame of column arrays, which transform takes without pandas.
        frame = self.schema.prepare_columns(_as_frame(data))
        self._notice_unseen(frame)
        transformed = {style: transform(pre, frame) for style, pre in self.preprocessors.items()}
        # Thread pools cost more than they save on few rows (see Family.predict).
        threads = 1 if len(frame) < 1000 else self.info.n_jobs
        total = None
        kind = self.task.estimator_type
        n_classes = len(self.schema.classes or ())
        members = self.members
        if len(frame) <= SMALL_INPUT:  # members a family predicts together (Family.merge)
            total, members = self._merged_output(transformed)
        for m in members:
            out = m.weight * m.output(transformed[m.preprocessor or m.style], kind, n_classes=n_classes,
                                      threads=threads)
            total = out if total is None else total + out
        assert total is not None
        return total if self.calibrator is None else self.calibrator.apply(total)

    def _merged_output(self, transformed: dict[str, Any]) -> tuple[np.ndarray | None, list[Member]]:
        """The weighted sum of the members that merged predictors answer for (None if none),
        and the members left to predict one by one."""
        # Made again if the members changed (a Model pickled before has none).
        if getattr(self, "_merged", None) is None or self._merged_for != self._members_signature():
            self.warm_up()
        assert self._merged is not None
        total: np.ndarray | None = None
        left: set[int] = set()
        for key, merged, members in self._merged:
            out = merged(transformed[key])
            if out is None:
                left.update(id(m) for m in members)
            else:
                total = out if total is None else total + out
        merged_ids = {id(m) for _, _, members in self._merged for m in members} - left
        return total, [m for m in self.members if id(m) not in merged_ids]

    def warm_up(self) -> None:
        """Build the few-row predictors now rather than on the first prediction of a few rows:
        members a family predicts together (``Family.merge``: flat trees, stacked networks). A
        served model's first answer would otherwise wait for them (credit_g's 60 s ensemble,
        eight members with fold models: about a second).

        Examples
        --------
        >>> import labcoat
        >>> model = labcoat.load("model")  # doctest: +SKIP
        >>> model.warm_up()  # doctest: +SKIP
        """
        self._merged, self._merged_for = self._merge_members(), self._members_signature()

    def _members_signature(self) -> list[tuple[object, ...]]:
        return [(*map(id, m.estimators), m.weight, m.family, m.preprocessor or m.style) for m in self.members]

    def _merge_members(self) -> list[tuple[str, Merged, list[Member]]]:
        """Per merge kind and input, the members that :meth:`Family.merge` predicts together."""
        groups: dict[tuple[str, str], list[Member]] = {}
        for m in self.members:
            merge_kind = FAMILIES[m.family].merge_kind
            if merge_kind is not None:
                groups.setdefault((merge_kind, m.preprocessor or m.style), []).append(m)
        kind, n_classes = self.task.estimator_type, len(self.schema.classes or ()) or None
        plans = []
        for (_, key), members in groups.items():
            if sum(len(m.estimators) for m in members) < 2:
                continue
            merged = FAMILIES[members[0].family].merge([e for m in members for e in m.estimators],
                                                       [m.weight / len(m.estimators) for m in members
                                                        for _ in m.estimators], kind, n_classes)
            if merged is not None:
                plans.append((key, merged, members))
        return plans

    def raw_output(self, data: Rows) -> np.ndarray:
        """The blended (and calibrated) output the answers are made from, as metrics take it:
        probabilities per class for a classifier, values for a regressor."""
        return self._blend(data)

    def _notice_unseen(self, frame: pd.DataFrame | SmallFrame) -> None:
        if self._known is None:
            self._known = {c.name: frozenset(c.categories or ()) for c in self.schema.features
                           if c.role is Role.CATEGORICAL}
        for name, known in self._known.items():
            values = frame[name].tolist() if len(frame) <= 64 else pd.Series(frame[name]).dropna().unique().tolist()
            unseen = [v for v in values if v == v and v not in known]
            if unseen:
                warnings.warn(
                    f"Column '{name}' has value(s) not seen in training (e.g. {unseen[0]!r}); "
                    "they are treated as unknown.", LabcoatNotice, stacklevel=3)

    def predict_frame(self, data: Rows) -> pd.DataFrame:
        """Predictions as a table, the task's (``Task.output_frame``): ``<target>_predicted``,
        then ``proba_<class>`` per class for a classifier.

        This is what ``labcoat predict``, the MLflow pyfunc model and the REST service return.
        """
        return self.task.output_frame(self.schema.target, self._blend(_as_frame(data)), self.schema.classes,
                                      self.threshold)

    def compare(self, *candidates: str | int) -> list[dict[str, Any]]:
        """Paired tests between trials or families of this model's search, on shared folds
        (see :func:`labcoat.evaluate.compare.compare_trials`)."""
        from labcoat.evaluate.compare import compare_trials

        return compare_trials(self, *candidates)

    def explain(self, data: Any, *, row: int | list[int] | None = None, top: int = 5,
                background: Any = 100, words: int = 10) -> Any:
        """Why the model predicts what it does for ``row`` (positions in ``data``; default all
        rows): each row's top contributions by column, in a table (``.frame``) and in words
        (``str()``); a text-first model also lists each document's ``words`` n-grams that
        decided it (``.words``) and per class the n-grams that push hardest (``.ngrams``).
        See :func:`labcoat.evaluate.row_explanation.explain_row`."""
        from labcoat.evaluate.row_explanation import explain_row

        return explain_row(self, _as_frame(data), row, top=top, background=background, words=words)

    def report(self, path: str | Path = "report.html", *, data: DataSource | None = None) -> Path:
        """Write the model report (self-contained HTML; see :mod:`labcoat.reports`), also
        scored on ``data`` (rows with the target) when given, and return its path. Explanations
        that ``fit`` left out to keep its budget (``info.deferred``) are computed on ``data``."""
        from labcoat.evaluate.explain_summary import summarize
        from labcoat.reports import model_report

        rows = None if data is None else _as_frame(data)
        if rows is not None and self.explanations is None:  # deferred by fit to keep its budget
            self.explanations = summarize(self, rows, seconds=10.0)
        path = Path(path)
        path.write_text(model_report(self, data=rows), encoding="utf-8")
        return path

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the model to directory ``path`` as an MLflow pyfunc model and return the path.

        ``mlflow.pyfunc.load_model(path).predict(df)`` gives :meth:`predict_frame`'s table;
        labcoat's own files sit in ``artifacts/labcoat/``. An existing model at ``path`` is
        replaced; any other existing content is refused. The files are described in
        :mod:`labcoat.artifact`.
        """
        return artifact.save(self, Path(path))

    def save_native(self, path: Path) -> Path:
        """Write labcoat's own files (no MLflow wrapper) to directory ``path``."""
        return artifact.write_native(self, path)

    @classmethod
    def load(cls, path: str | Path) -> "Model":
        """Read a model written by :meth:`save` (or its ``artifacts/labcoat`` folder)."""
        files = artifact.read_native(path)
        payload = files.payload
        bags = payload.get("bags") or [[] for _ in files.members]  # none in models saved before
        members = [Member(estimator=est, bag=bag, **m) for m, est, bag in zip(files.members, payload["estimators"], bags)]
        return cls(schema=files.schema, members=members, preprocessors=payload["preprocessors"],
                   leaderboard=files.leaderboard, info=ModelInfo.from_dict(files.info), example=files.example,
                   oof=payload.get("oof"), calibrator=payload.get("calibrator"),
                   threshold=payload.get("threshold"), explanations=files.explanations,
                   reference=_read_reference(files.reference))

    def __getstate__(self) -> dict[str, Any]:
        # The merged predictors are rebuilt on first use rather than pickled (they repeat
        # the estimators' trees).
        return {**self.__dict__, "_merged": None}

    def __repr__(self) -> str:
        families = "+".join(f"{m.family}×{m.weight:.2f}" for m in self.members)
        return (f"<labcoat.Model {self.task.name} target='{self.schema.target}' "
                f"{self.metric}={self.info.ensemble_score:.4f} [{families}]>")


def _read_reference(saved: dict[str, Any] | None) -> Reference | None:
    """The saved reference profile (``reference.json``), or None when the model has none."""
    if saved is None:
        return None
    from labcoat.monitoring.reference import Reference

    return Reference.from_dict(saved)


def _as_frame(data: Rows) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        from labcoat.data.io import read_table

        return read_table(data)
    if isinstance(data, dict):
        return pd.DataFrame(data)
    if isinstance(data, list):
        return pd.DataFrame.from_records(data)
    if type(data).__module__.startswith("polars"):
        from labcoat.data.io import read_table

        return read_table(data)
    raise SchemaError(f"Cannot predict from a {type(data).__name__}; pass a DataFrame or a file path.")


