"""The reference profile saved with every model: what the training data looked like, column by
column, what the model predicted on it, and how well it did, so that drift can be measured
later without the training data.

For each feature column of the schema (identifiers and constants are skipped):

* **numeric** (numbers; datetimes as seconds since 1970; text as its length in characters):
  row and missing counts, minimum, maximum, mean, standard deviation, distinct values, and a
  sketch from which every test is computed: all distinct values with their counts when the
  reference has at most 1,000 values or at most 101 distinct ones (``exact``), otherwise its
  quantiles at 1% steps with the counts and mean position of the values between them (see
  :mod:`labcoat.monitoring.sketch`);
* **categorical** (categories and booleans): counts of the 200 most frequent categories, the
  rest counted as ``other``, and the missing count.

``prediction`` is the distribution of the model's out-of-fold predictions, as the model gives
them (calibrated), one value per row as the task summarises them (``Task.prediction_summary``):
for a binary task the probability of the positive class, for regression the predicted value
(both numeric), for multiclass the predicted label (categorical). ``performance`` is the out-of-fold score with
its 95% interval (``Model.info``).

Examples
--------
>>> from labcoat.tasks import infer_schema
>>> df = pd.DataFrame({"x": np.arange(40.0) % 13 / 2, "c": list("ab") * 20, "y": [0, 1] * 20})
>>> ref = build_reference(df, infer_schema(df, "y"))
>>> ref.columns["x"].kind, ref.columns["c"].categories
('numeric', {'a': 20, 'b': 20})
>>> Reference.from_dict(ref.to_dict()) == ref
True
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.data.columns import Role
from labcoat.data.schema import Schema
from labcoat.monitoring.sketch import MAX_CATEGORIES, category_counts, numeric_sketch, numeric_values

if TYPE_CHECKING:
    from labcoat.model import Model

FORMAT_VERSION = 1
#: Name of the prediction's summary.
PREDICTION = "prediction"
_TRANSFORM = {Role.DATETIME: "epoch_seconds", Role.TEXT: "length"}


@dataclass
class ColumnReference:
    """One column of the reference: counts and the summary its drift tests need."""

    name: str
    kind: str  # "numeric" | "categorical"
    role: str
    rows: int
    missing: int
    #: How values are read: None (as numbers or categories), "epoch_seconds" or "length".
    transform: str | None = None
    # numeric
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    std: float | None = None
    n_unique: int | None = None
    exact: bool | None = None
    edges: list[float] | None = None
    point_counts: list[int] | None = None
    open_counts: list[int] | None = None
    open_centers: list[float] | None = None
    # categorical
    categories: dict[str, int] | None = None
    other: int = 0
    #: A boolean column's [false, true] labels.
    labels: list[Any] | None = None

    @property
    def present(self) -> int:
        """Rows with a value."""
        return self.rows - self.missing

    @property
    def missing_rate(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnReference:
        return cls(**data)


@dataclass
class Reference:
    """The reference profile of a model's training data (see the module docstring)."""

    columns: dict[str, ColumnReference]
    rows: int
    prediction: ColumnReference | None = None
    performance: dict[str, Any] | None = None
    #: Columns not profiled, with the reason.
    skipped: dict[str, str] = field(default_factory=dict)
    task: str | None = None
    target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``json.dumps`` works on it as is)."""
        return {"format_version": FORMAT_VERSION, "rows": self.rows, "task": self.task,
                "target": self.target, "columns": [c.to_dict() for c in self.columns.values()],
                "prediction": self.prediction.to_dict() if self.prediction else None,
                "performance": _jsonable(self.performance), "skipped": self.skipped}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reference:
        columns = [ColumnReference.from_dict(c) for c in data["columns"]]
        prediction = data.get("prediction")
        return cls(columns={c.name: c for c in columns}, rows=int(data["rows"]),
                   prediction=ColumnReference.from_dict(prediction) if prediction else None,
                   performance=data.get("performance"), skipped=dict(data.get("skipped", {})),
                   task=data.get("task"), target=data.get("target"))

    def to_json(self) -> str:
        """Compact JSON (no spaces: the sketches are lists of numbers)."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


def build_reference(frame: pd.DataFrame, schema: Schema, *,
                    predictions: pd.Series | np.ndarray | None = None,
                    performance: dict[str, Any] | None = None,
                    summary_is_label: bool = False) -> Reference:
    """Profile ``frame``'s feature columns (raw, as given to ``fit`` or ``predict``) by
    ``schema``'s roles; ``predictions`` in the form the module docstring gives (the task's
    ``prediction_summary``: labels when ``summary_is_label``, else numbers), one per row of
    ``frame`` or of any other rows (out-of-fold ones); ``performance`` as :func:`model_performance`.

    Examples
    --------
    >>> from labcoat.tasks import infer_schema
    >>> df = pd.DataFrame({"x": [1.5, 2.5, None, 4.0] * 10, "y": [0, 1] * 20})
    >>> ref = build_reference(df, infer_schema(df, "y"), predictions=np.linspace(0, 1, 40))
    >>> ref.columns["x"].missing, ref.prediction.kind
    (10, 'numeric')
    """
    columns, skipped = {}, {}
    for column in schema.columns:
        if column.role in (Role.IDENTIFIER, Role.CONSTANT):
            skipped[column.name] = f"{column.role.value}: {column.reason}"
            continue
        if column.name in frame.columns:
            columns[column.name] = profile_column(frame[column.name], column.role,
                                                  labels=column.categories if column.role is Role.BOOLEAN else None)
        else:
            skipped[column.name] = "not in the reference data"
    prediction = None
    if predictions is not None:
        role = Role.CATEGORICAL if summary_is_label else Role.NUMERIC
        prediction = profile_column(pd.Series(np.asarray(predictions), name=PREDICTION), role)
    return Reference(columns=columns, rows=len(frame), prediction=prediction, performance=performance,
                     skipped=skipped, task=schema.task, target=schema.target)


def profile_column(s: pd.Series, role: Role, *, labels: list[Any] | None = None) -> ColumnReference:
    """The reference summary of one column read by ``role``.

    Examples
    --------
    >>> profile_column(pd.Series(["a", "b", "a"], name="c"), Role.CATEGORICAL).categories
    {'a': 2, 'b': 1}
    """
    name = str(s.name)
    if role in (Role.CATEGORICAL, Role.BOOLEAN):
        counts, missing = category_counts(s, labels)
        kept = counts.iloc[:MAX_CATEGORIES]
        return ColumnReference(name=name, kind="categorical", role=role.value, rows=len(s), missing=missing,
                               categories={str(k): int(v) for k, v in kept.items()},
                               other=int(counts.iloc[MAX_CATEGORIES:].sum()),
                               labels=[_plain(v) for v in labels] if labels else None)
    transform = _TRANSFORM.get(role)
    sketch = numeric_sketch(numeric_values(s, transform))
    return ColumnReference(name=name, kind="numeric", role=role.value, rows=len(s), transform=transform,
                           **sketch)


# ---------------------------------------------------------------------- from a fitted model
def model_reference(model: Model, frame: pd.DataFrame) -> Reference:
    """The reference of a fitted ``model`` trained on ``frame``: its columns, the out-of-fold
    predictions (``model.oof``) and :func:`model_performance`."""
    return build_reference(frame, model.schema, predictions=oof_predictions(model),
                           performance=model_performance(model), summary_is_label=model.task.summary_is_label)


def oof_predictions(model: Model) -> np.ndarray | None:
    """The out-of-fold predictions in the reference's form (module docstring), or None."""
    if model.oof is None:
        return None
    pred = np.asarray(model.oof["pred"])
    if model.calibrator is not None:
        pred = model.calibrator.apply(pred)
    return model.task.prediction_summary(pred, model.schema.classes)


def model_performance(model: Model) -> dict[str, Any]:
    """The out-of-fold score of ``model``'s ensemble with its 95% interval (corrected resampled
    t over folds; a bootstrap of the out-of-fold rows for one holdout), plus the
    selection-corrected estimate and the test score when ``model.info`` has them.

    Keys: ``metric``, ``greater_is_better``, ``estimate``, ``low``, ``high``, ``interval``,
    ``rows`` (validated rows), ``corrected`` and ``test`` (each ``{estimate, low, high}``)."""
    from labcoat.evaluate.intervals import bootstrap_interval
    from labcoat.evaluate.metrics import get_metric
    from labcoat.evaluate.stats import corrected_t_interval

    info = model.info
    scores = [s for s in info.ensemble_fold_scores or [] if not math.isnan(s)]
    rows = len(model.oof["y"]) if model.oof is not None else None
    low = high = float("nan")
    method = None
    if len(scores) > 1 and info.fold_rows:
        low, high = corrected_t_interval(scores, *info.fold_rows)
        method = "corrected resampled t over folds"
    elif model.oof is not None:
        metric = get_metric(model.metric, model.task.name)
        low, high = bootstrap_interval(model.oof["y"], model.oof["pred"], metric,
                                       stratify=model.task.stratified, seed=int(info.seed))
        method = "bootstrap over the validation rows"
    out: dict[str, Any] = {"metric": model.metric, "greater_is_better": bool(info.greater_is_better),
                           "estimate": info.ensemble_score, "low": low, "high": high,
                           "interval": method, "rows": rows}
    selection = info.selection
    if selection:
        out["corrected"] = {"estimate": selection.get("corrected_score"), "low": selection.get("low"),
                            "high": selection.get("high")}
    test = info.test
    if test:
        out["test"] = {"estimate": test.get("score"), "low": test.get("low"), "high": test.get("high"),
                       "rows": test.get("rows"), "source": test.get("source")}
    return _jsonable(out)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _jsonable(value: Any) -> Any:
    """NaN becomes None and numpy scalars Python ones, recursively."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    value = _plain(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
