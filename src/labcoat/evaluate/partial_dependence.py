"""Partial dependence: the model's average output over sampled rows as one raw column sweeps a
grid of values (quantiles of a numeric or date column, the categories of a categorical or
boolean one), for given columns or the most important ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.data.columns import Role
from labcoat.errors import ConfigError, did_you_mean
from labcoat.evaluate._encoded import EncodedRows
from labcoat.evaluate._explain_common import (
    _check_positive, _jsonable, _output_label, _prepare, _sample)
from labcoat.evaluate.importance import permutation_importance
from labcoat.evaluate.shap_values import shap_values

if TYPE_CHECKING:
    from labcoat.data.columns import Column
    from labcoat.model import Model


def partial_dependence(model: Model, frame: pd.DataFrame, features: Sequence[str] | None = None, *,
                       top: int = 4, grid: int = 20, max_rows: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Average output over ``max_rows`` rows of ``frame`` as each feature sweeps a grid.

    ``features`` default to the ``top`` most important ones (by permutation importance when
    ``frame`` has the target, else by mean absolute SHAP value; text columns are skipped).
    Numeric and date columns sweep ``grid`` quantiles (5% to 95%), categorical and boolean
    columns their categories (the ``grid`` most frequent). Returns, by feature:
    ``{"kind", "values", "average", "explained"}``; ``average`` is a list aligned with
    ``values``, or for multiclass models a ``{class: list}`` mapping.

    Examples
    --------
    >>> import labcoat
    >>> from labcoat.datasets import make_churn
    >>> df = make_churn(300)
    >>> model = labcoat.fit(df, target="churned", trials=2, families=["lightgbm"], quiet=True, track=False, n_jobs=1)
    >>> pd_ = partial_dependence(model, df, ["tenure_months", "plan"], grid=5)
    >>> pd_["tenure_months"]["kind"], len(pd_["tenure_months"]["values"]), pd_["plan"]["kind"]
    ('numeric', 5, 'categorical')
    """
    _check_positive(top=top, grid=grid, max_rows=max_rows)
    rows = _prepare(model, _sample(frame, max_rows, seed))
    if features is None:
        features = _top_features(model, frame, top, seed)
    elif isinstance(features, str):
        features = [features]
    columns = {c.name: c for c in model.schema.features}
    for name in features:
        if name not in columns:
            raise ConfigError(f"Partial dependence: '{name}' is not a feature of the model."
                              f"{did_you_mean(name, columns)} Features are: {', '.join(columns)}.")
        if columns[name].role is Role.TEXT:
            raise ConfigError(f"Partial dependence: column '{name}' is text, which has no grid of values"
                              " to sweep. Pick a numeric, boolean, categorical or date column.")
    # scikit-learn's partial_dependence is not used: it needs a fitted scikit-learn estimator on
    # a numeric array (or a DataFrame whose grid it builds itself, which fails on object columns
    # with missing values and on dates), whereas the model takes raw mixed frames. The average
    # over a grid is simple to compute directly, and on encoded rows it costs one model call.
    return {name: _partial_dependence_one(model, rows, columns[name], grid) for name in features}


def _partial_dependence_one(model: Model, rows: pd.DataFrame, column: Column, grid: int) -> dict[str, Any]:
    values, shown, kind = _grid(rows[column.name], column, grid)
    if not len(values):
        return {"kind": kind, "values": [], "average": [], "explained": _output_label(model, None)}
    g, n = len(values), len(rows)
    sweep = rows.iloc[[0] * g].reset_index(drop=True)
    sweep[column.name] = pd.Series(values, dtype=rows[column.name].dtype)
    table = EncodedRows(model, pd.concat([rows.reset_index(drop=True), sweep], ignore_index=True))
    k = table.names.index(column.name)
    idx = np.repeat(np.arange(n)[None, :, None], g, axis=0).repeat(len(table.names), axis=2)
    idx[:, :, k] = n + np.arange(g)[:, None]
    average = table.output(idx.reshape(-1, len(table.names))).reshape(g, n, -1).mean(axis=1)
    curve = model.task.output_curves(average, model.schema.classes)
    return {"kind": kind, "values": shown, "average": curve, "explained": _output_label(model, None)}


def _grid(values: pd.Series, column: Column, grid: int) -> tuple[list[Any], list[Any], str]:
    """Grid values (prepared form), the same values for display, and the kind of grid."""
    role = column.role
    if role is Role.CATEGORICAL:
        seen = set(values.dropna().tolist())
        cats = ([c for c in (column.categories or []) if c in seen]
                or list(values.dropna().value_counts().index))
        cats = cats[:grid]
        return cats, [_jsonable(c) for c in cats], "categorical"
    if role is Role.BOOLEAN:
        labels = column.categories or [False, True]
        return [0.0, 1.0], [_jsonable(labels[0]), _jsonable(labels[-1])], "boolean"
    present = values.dropna()
    if not len(present):
        return [], [], "datetime" if role is Role.DATETIME else "numeric"
    if role is Role.DATETIME:
        ns = present.to_numpy().astype("datetime64[ns]").astype("int64")
        points = np.unique(np.quantile(ns, np.linspace(0.05, 0.95, grid)).astype("int64"))
        stamps = pd.to_datetime(points, unit="ns")
        if (present == present.dt.normalize()).all():  # dates without times: a grid of days
            stamps = stamps.round("D").unique()
        stamp_list = list(stamps)
        return stamp_list, [s.isoformat() for s in stamp_list], "datetime"
    numbers = present.to_numpy(dtype=np.float64)
    unique = np.unique(numbers)
    points = unique if len(unique) <= grid else np.unique(np.quantile(numbers, np.linspace(0.05, 0.95, grid)))
    return points.tolist(), [float(p) for p in points], "numeric"


def _top_features(model: Model, frame: pd.DataFrame, top: int, seed: int) -> list[str]:
    text = set(model.schema.names(Role.TEXT))
    if model.schema.target in frame.columns:
        order = permutation_importance(model, frame, repeats=3, max_rows=1000, seed=seed)["feature"].tolist()
    else:
        sv = shap_values(model, frame, max_rows=100, background=30, seed=seed)
        order = sv.values.abs().mean().sort_values(ascending=False, kind="stable").index.tolist()
    return [f for f in order if f not in text][:top]
