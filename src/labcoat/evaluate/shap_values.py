"""SHAP values of the raw columns: per-row contributions that add up to the model's output,
interventional, measured against a background sample (the model's stored training rows, or
rows of the data); exact ``shap.TreeExplainer`` values for the tree members it handles, a
permutation-sampling estimate for the others (computed in ``labcoat.evaluate._shapley``)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError, LabcoatNotice
from labcoat.evaluate._explain_common import _check_positive, _output_label, _prepare, _sample
from labcoat.evaluate._shapley import TREE_FAMILIES, shapley_values

if TYPE_CHECKING:
    from labcoat.model import Model


@dataclass
class ShapValues:
    """Per-row contributions of each raw column; ``values.sum(axis=1) + base == output``.

    Attributes
    ----------
    values : one row per explained row (the frame's index), one column per feature.
    base : the average output over the background rows (per row: for multiclass it is the
        base of the class explained for that row).
    output : the model's output on the row: what ``values`` and ``base`` add up to.
    explained : what the output is, per row: ``"P(churned=yes)"``, or the target's name.
    methods : how each ensemble member was explained: ``"tree"`` (exact TreeExplainer values)
        or ``"sampling"`` (permutation-sampling estimate), keyed ``"family#trial"``.
    background : how many background rows the contributions are measured against.
    """

    values: pd.DataFrame
    base: pd.Series
    output: pd.Series
    explained: pd.Series
    methods: dict[str, str]
    background: int

    @property
    def method(self) -> str:
        """``"tree"``, ``"sampling"`` or ``"tree+sampling"``: the methods used, in a word."""
        used = sorted(set(self.methods.values()), reverse=True)
        return "+".join(used)


def shap_values(model: Model, frame: pd.DataFrame, *, max_rows: int = 500,
                background: int | pd.DataFrame = 100, class_: Any = None, seed: int = 0) -> ShapValues:
    """SHAP values of the raw columns for up to ``max_rows`` rows of ``frame``.

    The contributions are interventional SHAP values measured against ``background`` rows
    (a frame, or how many rows to sample: from the model's stored training sample when it has
    one, else from ``frame``); ``base`` is the average output over them. Tree members
    (LightGBM, XGBoost, random forest, extra trees; see :data:`TREE_FAMILIES`) get exact values
    from ``shap.TreeExplainer`` in their encoded space, summed back to each raw column; the
    other members a permutation-sampling estimate (exact in expectation; its sum is exact).
    The ensemble's values are the weight-sum of its members'. ``class_`` picks the class
    explained for a multiclass model (default: each row's predicted class).

    Examples
    --------
    >>> import labcoat
    >>> from labcoat.datasets import make_churn
    >>> df = make_churn(300)
    >>> model = labcoat.fit(df, target="churned", trials=2, families=["lightgbm"], quiet=True, track=False, n_jobs=1)
    >>> sv = shap_values(model, df.head(3), background=df)
    >>> bool(np.allclose(sv.values.sum(axis=1) + sv.base, sv.output))
    True
    >>> sv.explained.iloc[0]
    'P(churned=yes)'
    """
    _check_positive(max_rows=max_rows)
    return _shap_values(model, frame, max_rows, background, seed, class_, TREE_FAMILIES)


def _shap_values(model: Model, frame: pd.DataFrame, max_rows: int, background: int | pd.DataFrame, seed: int,
                 class_: Any, trees: frozenset[str]) -> ShapValues:
    rows = _prepare(model, _sample(frame, max_rows, seed))
    back = _background(model, frame, background, seed)
    phi, base, output, methods = shapley_values(model, rows, back, seed, trees)
    return _select_class(model, rows.index, phi, base, output, methods, len(back), class_)


def _select_class(model: Model, index: pd.Index, phi: np.ndarray, base: np.ndarray, output: np.ndarray,
                  methods: dict[str, str], background: int, class_: Any) -> ShapValues:
    names = [c.name for c in model.schema.features]
    n = len(index)
    if class_ is not None and model.schema.classes is not None:
        pick = np.full(n, _class_position(model, class_))
    else:
        pick = model.task.explained_columns(output)
    rows = np.arange(n)
    return ShapValues(
        values=pd.DataFrame(phi[rows, :, pick], index=index, columns=names),
        base=pd.Series(base[pick], index=index, name="base"),
        output=pd.Series(output[rows, pick], index=index, name="output"),
        explained=pd.Series([_output_label(model, k) for k in pick], index=index, name="explained",
                            dtype=object),
        methods=methods, background=background)


def _class_position(model: Model, class_: Any) -> int:
    classes = list(model.schema.classes or ())
    for k, c in enumerate(classes):
        if c == class_ or str(c) == str(class_):
            return k
    raise ConfigError(f"class_={class_!r} is not a class of the model; classes are "
                      f"{', '.join(map(repr, classes))}.")


def _background(model: Model, frame: pd.DataFrame, background: int | pd.DataFrame, seed: int) -> pd.DataFrame:
    """Prepared background rows: given, the model's stored training sample, or from ``frame``."""
    if isinstance(background, pd.DataFrame):
        return _prepare(model, background).reset_index(drop=True)
    if isinstance(background, bool) or not isinstance(background, (int, np.integer)) or background < 1:
        raise ConfigError(f"background must be a DataFrame or a number of rows >= 1; got {background!r}.")
    stored = (getattr(model, "explanations", None) or {}).get("background")
    if stored and stored.get("data"):
        source = pd.DataFrame(stored["data"], columns=stored["columns"])
    else:
        source = frame
        if len(frame) < min(int(background), 20):
            example = getattr(model, "example", None)
            if example is not None and len(example):  # a few training rows kept with the model
                source = pd.concat([frame[example.columns], example], ignore_index=True)
            warnings.warn(f"Only {len(source)} row(s) to measure contributions against: the model has no "
                          "stored training sample. Pass background=<training rows> for a reference "
                          "that means more.", LabcoatNotice, stacklevel=3)
    return _prepare(model, _sample(source, int(background), seed + 1)).reset_index(drop=True)
