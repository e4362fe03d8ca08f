"""Explanations: which columns matter, how the prediction moves with them, and why one row got
its prediction.

Every result is over the RAW columns a user gave (``Model.schema.features``), whatever the
preprocessing made of them (one-hot columns, date parts, TF-IDF words):

- :func:`permutation_importance`: the drop of the model's own metric when a column is shuffled
  (scikit-learn's ``permutation_importance``).
- :func:`shap_values`: per-row contributions that add up to the model's output (SHAP values,
  interventional, against a background sample): exact ``shap.TreeExplainer`` values for the
  tree members it handles, a sampling estimate for the others.
- :func:`partial_dependence`: the average output as one column sweeps a grid of values.
- :func:`explain_row` (``Model.explain``, ``labcoat explain``): a row's prediction in words.
- :func:`summarize`: a compact, JSON-ready summary of the above for reports, within seconds.

What is explained (the "output") is the probability of the positive class for binary models
(``classes_[1]``), of one class for multiclass models (by default each row's predicted class)
and the predicted value for regression.

How it is computed
------------------
The rows of a frame are encoded once per preprocessing; any row mixing raw columns of several
rows (a column shuffled, a value from a background row, a grid value) is then assembled from
the encoded columns, which gives the model's exact output on it without preparing and
transforming it again (``labcoat.evaluate._encoded``). SHAP values are computed in
``labcoat.evaluate._shapley``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.columns import Role
from labcoat.errors import ConfigError, LabcoatNotice, SchemaError, TargetError, did_you_mean
from labcoat.evaluate._encoded import EncodedRows
from labcoat.evaluate._shapley import TREE_FAMILIES, shapley_values

#: ``Explanation.frame``'s ``column`` for the sum of the columns not shown.
OTHER_COLUMNS = "(other columns)"


# ============================================================================ public API
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


@dataclass
class Explanation:
    """Why rows got their predictions: the top contributions by column, with the rows' values.

    ``rows`` has one line per explained row (``row`` is its position in the data,
    ``prediction``, ``explained``, ``output``, ``base``); ``frame`` one line per row and column
    shown (``row``, ``column``, ``value``, ``contribution``), largest contributions first, the
    remaining columns summed into one line (``column`` :data:`OTHER_COLUMNS`, ``value`` how
    many), so that for each row ``base + sum(contribution) == output``. ``str(explanation)``
    says it in words.
    """

    rows: pd.DataFrame
    frame: pd.DataFrame
    methods: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: one entry per row with its contributions."""
        out = []
        r: Any  # itertuples rows: each column holds its own type (pandas-stubs types the fields as any scalar)
        c: Any
        for r in self.rows.itertuples(index=False):
            lines = self.frame[self.frame["row"] == r.row]
            out.append({"row": int(r.row), "prediction": _jsonable(r.prediction), "explained": r.explained,
                        "output": float(r.output), "base": float(r.base),
                        "contributions": [{"column": c.column, "value": _jsonable(c.value),
                                           "contribution": float(c.contribution)}
                                          for c in lines.itertuples(index=False)]})
        return {"rows": out, "methods": self.methods}

    def __str__(self) -> str:
        blocks = []
        r: Any  # itertuples rows: each column holds its own type (pandas-stubs types the fields as any scalar)
        c: Any
        for r in self.rows.itertuples(index=False):
            regression = not str(r.explained).startswith("P(")
            head = (f"Row {r.row}: predicted {r.explained} = {_num(r.output)}" if regression else
                    f"Row {r.row}: predicted {r.prediction!s}, {r.explained} = {r.output:.3f}")
            lines = [f"{head} (average {_num(r.base)} over the background rows)"]
            first = True
            for c in self.frame[self.frame["row"] == r.row].itertuples(index=False):
                verb = "raised" if c.contribution >= 0 else "lowered"
                what = r.explained if first else "it"
                subject = (f"the {c.value} other column{'s' * (c.value > 1)}" if c.column == OTHER_COLUMNS
                           else f"{c.column} = {_show(c.value)}")
                lines.append(f"  {subject} {verb} {what} by {_num(abs(c.contribution))}")
                first = False
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


def permutation_importance(model: Any, frame: pd.DataFrame, *, repeats: int = 5, max_rows: int = 2000,
                           seed: int = 0) -> pd.DataFrame:
    """How much the model's metric worsens when each raw column is shuffled.

    ``frame`` must hold the target column. Up to ``max_rows`` rows are used. ``importance`` is
    the mean drop over ``repeats`` shuffles, in the metric's units (for a loss such as RMSE:
    its increase), ``std`` its spread, ``low``/``high`` a 95% t interval for the mean: it
    reflects the randomness of the shuffles on these rows, not the sampling of the rows.
    Scored on the training data, it says what the model uses, not what generalises.

    Examples
    --------
    >>> import labcoat
    >>> from labcoat.datasets import make_churn
    >>> df = make_churn(300)
    >>> model = labcoat.fit(df, target="churned", trials=2, quiet=True, track=False, n_jobs=1)
    >>> table = permutation_importance(model, df, repeats=2)
    >>> table.columns.tolist()
    ['feature', 'importance', 'std', 'low', 'high']
    >>> len(table) == len(model.schema.features)
    True
    """
    from scipy import stats
    from sklearn.inspection import permutation_importance as sklearn_permutation_importance

    from labcoat.evaluate.metrics import get_metric

    _check_positive(repeats=repeats, max_rows=max_rows)
    rows, y = _rows_with_target(model, frame, max_rows, seed)
    metric = get_metric(model.metric, model.task.name)
    table = EncodedRows(model, rows)
    sign = 1.0 if metric.greater_is_better else -1.0

    def score(estimator: _RowPicker, X: pd.DataFrame, y_true: np.ndarray) -> float:
        out = estimator.table.output(X.to_numpy())
        return sign * metric.score(y_true, model.task.unstack(out))

    # scikit-learn shuffles the columns of the DataFrame it is given. Handing it, per raw
    # column, the position of the row each value comes from (not the values) makes its
    # shuffles the same shuffles of the raw columns, while the model encodes the rows once
    # (a shuffled raw frame would be prepared and transformed again for every column and repeat:
    # 3.2 s instead of 0.5 to 1.0 s for 2,000 rows of 19 columns, 5 repeats).
    positions = pd.DataFrame(np.repeat(np.arange(len(rows))[:, None], len(table.names), axis=1),
                             columns=table.names)
    result = sklearn_permutation_importance(_RowPicker(table), positions, y, scoring=score,
                                            n_repeats=repeats, random_state=seed)
    mean, std = result.importances_mean, result.importances_std
    half = (stats.t.ppf(0.975, repeats - 1) * std * math.sqrt(repeats / (repeats - 1)) / math.sqrt(repeats)
            if repeats > 1 else np.full(len(mean), np.nan))
    out = pd.DataFrame({"feature": table.names, "importance": mean, "std": std,
                        "low": mean - half, "high": mean + half})
    out = out.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
    out.attrs.update(metric=metric.name, baseline=sign * float(score(_RowPicker(table), positions, y)),
                     rows=len(rows), repeats=repeats)
    return out


def shap_values(model: Any, frame: pd.DataFrame, *, max_rows: int = 500,
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
    >>> model = labcoat.fit(df, target="churned", trials=2, quiet=True, track=False, n_jobs=1)
    >>> sv = shap_values(model, df.head(3), background=df)
    >>> bool(np.allclose(sv.values.sum(axis=1) + sv.base, sv.output))
    True
    >>> sv.explained.iloc[0]
    'P(churned=yes)'
    """
    _check_positive(max_rows=max_rows)
    return _shap_values(model, frame, max_rows, background, seed, class_, TREE_FAMILIES)


def _shap_values(model: Any, frame: pd.DataFrame, max_rows: int, background: int | pd.DataFrame, seed: int,
                 class_: Any, trees: frozenset[str]) -> ShapValues:
    rows = _prepare(model, _sample(frame, max_rows, seed))
    back = _background(model, frame, background, seed)
    phi, base, output, methods = shapley_values(model, rows, back, seed, trees)
    return _select_class(model, rows.index, phi, base, output, methods, len(back), class_)


def partial_dependence(model: Any, frame: pd.DataFrame, features: Sequence[str] | None = None, *,
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
    >>> model = labcoat.fit(df, target="churned", trials=2, quiet=True, track=False, n_jobs=1)
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


def explain_row(model: Any, frame: pd.DataFrame, row: int | Sequence[int] | None = None, *, top: int = 5,
                background: int | pd.DataFrame = 100, class_: Any = None, seed: int = 0) -> Explanation:
    """Why the model predicts what it does for ``row`` (positions in ``frame``; default all rows).

    For each row: the prediction, the output explained (see :func:`shap_values`), the base
    (average output over the background) and the ``top`` largest contributions by column with
    the row's values; the other columns' contributions are summed in one line.

    Examples
    --------
    >>> import labcoat
    >>> from labcoat.datasets import make_churn
    >>> df = make_churn(300)
    >>> model = labcoat.fit(df, target="churned", trials=2, quiet=True, track=False, n_jobs=1)
    >>> explanation = explain_row(model, df, row=7, top=3)
    >>> explanation.rows[["row", "prediction", "explained"]].values.tolist()
    [[7, 'no', 'P(churned=yes)']]
    >>> print(explanation)  # doctest: +ELLIPSIS
    Row 7: predicted no, P(churned=yes) = 0... (average 0... over the background rows)
      ... = ... P(churned=yes) by 0...
    ...
    """
    _check_positive(top=top)
    positions = _row_positions(frame, row)
    picked = frame.iloc[positions]
    rows = _prepare(model, picked)
    back = _background(model, frame, background, seed)
    phi, base, output, methods = shapley_values(model, rows, back, seed)
    sv = _select_class(model, rows.index, phi, base, output, methods, len(back), class_)
    # The model's own labels: a binary model may cut at a tuned threshold, not at argmax.
    predictions = model.task.decide(model.task.unstack(output), model.schema.classes, model.threshold)
    head, lines = [], []
    features = [c.name for c in model.schema.features]
    for k, position in enumerate(positions):
        contributions = sv.values.iloc[k].to_numpy()
        order = np.argsort(-np.abs(contributions), kind="stable")
        shown = order[:top]
        for j in shown:
            lines.append({"row": position, "column": features[j], "value": _raw_value(picked, k, features[j]),
                          "contribution": float(contributions[j])})
        rest = order[top:]
        if len(rest):
            lines.append({"row": position, "column": OTHER_COLUMNS, "value": len(rest),
                          "contribution": float(contributions[rest].sum())})
        head.append({"row": position, "prediction": _jsonable(predictions[k]),
                     "explained": sv.explained.iloc[k], "output": float(sv.output.iloc[k]),
                     "base": float(sv.base.iloc[k])})
    table = pd.DataFrame({key: pd.Series([line[key] for line in lines],
                                         dtype=object if key == "value" else None)
                          for key in ("row", "column", "value", "contribution")})
    return Explanation(rows=pd.DataFrame(head), frame=table, methods=sv.methods)


def summarize(model: Any, frame: pd.DataFrame, *, seed: int = 0, seconds: float = 3.0,
              top: int = 4) -> dict[str, Any]:
    """A compact, JSON-ready summary for reports: importance, mean |SHAP|, partial dependence.

    Rows are sampled so that the whole takes about ``seconds`` (measured on the model's own
    speed first). Never raises on odd data: a part that fails is left out and its error is
    reported under ``"errors"``. The layout::

        {"version": 1, "seconds": 2.1, "output": "P(churned=yes)", "metric": "roc_auc",
         "importance": {"rows": 2000, "repeats": 5, "baseline": 0.85,
                        "table": [{"feature", "importance", "std", "low", "high"}, ...]},
         "shap": {"rows": 200, "background": 50, "base": 0.27, "methods": {"lightgbm#3": "sampling"},
                  "mean_abs": [{"feature", "mean_abs"}, ...]},
         "partial_dependence": {"rows": 500, "features": {name: {"kind", "values", "average",
                                                                  "explained"}}},
         "background": {"columns": [...], "data": [[...], ...]},
         "errors": {"shap": "..."}}

    ``background`` keeps up to 100 training rows (raw feature values) so that a saved model
    can explain single new rows against its training data.

    Examples
    --------
    >>> import json, labcoat
    >>> from labcoat.datasets import make_churn
    >>> df = make_churn(300)
    >>> model = labcoat.fit(df, target="churned", trials=2, quiet=True, track=False, n_jobs=1)
    >>> summary = summarize(model, df, seconds=10)
    >>> summary["errors"], len(summary["partial_dependence"]["features"]), len(json.dumps(summary)) < 50_000
    ({}, 4, True)
    """
    started = time.perf_counter()
    out: dict[str, Any] = {"version": 1, "metric": model.metric, "errors": {}}
    try:
        out["output"] = _output_label(model, None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _summarize_parts(model, frame, out, seed, max(seconds, 0.1), top)
    except Exception as error:  # noqa: BLE001  (a summary never stops training)
        out["errors"]["summary"] = _describe(error)
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


# ============================================================================ summary
def _summarize_parts(model: Any, frame: pd.DataFrame, out: dict[str, Any], seed: int, seconds: float,
                     top: int) -> None:
    """Fill ``out`` part by part within ``seconds``.

    The model's cost per call and per row is measured first; then each part takes a share of
    the time left (importance 35%, SHAP 60% of what is then left, partial dependence the rest)
    and samples as many rows as fit in it, rounded down to :data:`_LADDER` so that reruns
    mostly pick the same sizes (the samples themselves are fixed by ``seed``). A part that
    cannot fit even its smallest sample (a slow model: forests and k-NN on many rows cost
    ~0.25 ms a row and ~0.25 s a call) is skipped, and ``errors`` says so.
    """
    if not isinstance(frame, pd.DataFrame) or not len(frame):
        raise SchemaError("summarize needs a non-empty DataFrame.")
    deadline = time.perf_counter() + seconds
    d = len(model.schema.features)
    try:
        per_call, per_row = _call_cost(model, _prepare(model, _sample(frame, 1000, seed)), 0.1 * seconds)
    except Exception:  # noqa: BLE001  (each part below then reports what is wrong)
        per_call, per_row = 0.01, 2e-5

    def left(share: float) -> float:
        return max(deadline - time.perf_counter(), 0.0) * share

    def cost(calls: float, rows: float) -> float:
        return calls * per_call + rows * per_row

    def too_slow(needed: float, share: float) -> str | None:
        if needed <= left(share):
            return None
        return (f"skipped: even its smallest sample needs ~{needed:.1f} s with this model "
                f"({per_call * 1e3:.0f} ms a call, {per_row * 1e3:.2f} ms a row); "
                f"{left(1.0):.1f} s were left of the {seconds:.1f} s")

    importance = None
    try:
        repeats = 5
        calls = d * repeats + 2
        skip = too_slow(cost(calls, calls * 100), 0.35)
        if model.schema.target not in frame.columns:
            out["errors"]["importance"] = (f"the data has no target column '{model.schema.target}' "
                                           "to score the model with")
        elif skip:
            out["errors"]["importance"] = skip
        else:
            rows = _ladder((left(0.35) - calls * per_call) / (calls * per_row), 100, 5000)
            importance = permutation_importance(model, frame, repeats=repeats, max_rows=rows, seed=seed)
            attrs = importance.attrs
            out["importance"] = {"rows": attrs["rows"], "repeats": repeats, "metric": attrs["metric"],
                                 "baseline": attrs["baseline"], "table": _records(importance)}
    except Exception as error:  # noqa: BLE001
        out["errors"]["importance"] = _describe(error)
    shap_order = None
    try:
        steps = max(d - 1, 1)
        share = 1.0 if importance is None and model.schema.target in frame.columns else 0.6
        smallest = cost(3, 20 * 10 * steps)
        skip = too_slow(smallest, share)
        if skip:
            out["errors"]["shap"] = skip
        else:
            evaluations = max(left(share) - 3 * per_call, 0.0) / per_row
            background = max([b for b in (10, 20, 30, 50) if b <= math.sqrt(evaluations / steps) / 3],
                             default=10)
            rows = _ladder(evaluations / (background * steps), 20, 500)
            # Every member by sampling: importing shap alone takes ~1.5 s, and TreeExplainer on a
            # forest ~1 ms per (row, background row) pair, several times the sampling estimate.
            sv = _shap_values(model, frame, rows, background, seed, None, frozenset())
            mean_abs = sv.values.abs().mean().sort_values(ascending=False, kind="stable")
            shap_order = mean_abs.index.tolist()
            out["shap"] = {"rows": len(sv.values), "background": sv.background, "base": float(sv.base.mean()),
                           "methods": sv.methods,
                           "mean_abs": [{"feature": k, "mean_abs": float(v)} for k, v in mean_abs.items()]}
    except Exception as error:  # noqa: BLE001
        out["errors"]["shap"] = _describe(error)
    try:
        order = (importance["feature"].tolist() if importance is not None else shap_order) or []
        text = set(model.schema.names(Role.TEXT))
        chosen = [f for f in order if f not in text][:top]
        grid = 20
        per_feature = cost(1, 50 * grid)
        affordable = int(left(0.9) // per_feature) if per_feature > 0 else len(chosen)
        if not chosen:
            out["errors"]["partial_dependence"] = "no ranking of the features to choose them by"
        elif affordable < 1:
            out["errors"]["partial_dependence"] = too_slow(per_feature, 0.9) or "skipped"
        else:
            chosen = chosen[:affordable]
            rows = _ladder((left(0.9) / len(chosen) - per_call) / (grid * per_row), 50, 1000)
            out["partial_dependence"] = {
                "rows": min(rows, len(frame)),
                "features": partial_dependence(model, frame, chosen, grid=grid, max_rows=rows, seed=seed)}
    except Exception as error:  # noqa: BLE001
        out["errors"]["partial_dependence"] = _describe(error)
    try:
        out["background"] = _table_records(_sample(frame, 100, seed)[[c.name for c in model.schema.features]])
    except Exception as error:  # noqa: BLE001
        out["errors"]["background"] = _describe(error)


#: Sample sizes :func:`summarize` rounds down to.
_LADDER = (20, 50, 100, 200, 300, 500, 1000, 2000, 3000, 5000)


def _ladder(value: float, low: int, high: int) -> int:
    """The largest ladder step <= ``value`` within ``[low, high]``."""
    steps = [s for s in _LADDER if low <= s <= high]
    fitting = [s for s in steps if s <= value]
    return fitting[-1] if fitting else steps[0]


def _call_cost(model: Any, rows: pd.DataFrame, seconds: float) -> tuple[float, float]:
    """Seconds per model call and per evaluated row, measured on encoded rows in about
    ``seconds``: 100 rows twice (the first call also builds caches) and one larger batch, or
    100 rows once for a slow model. Batches stay above the single-row fast paths (<= 64 rows),
    which cost less per call."""
    table = EncodedRows(model, rows)
    idx = np.repeat(np.arange(len(rows))[:, None], len(table.names), axis=1)
    idx = np.tile(idx, (5000 // len(idx) + 1, 1))

    def timed(batch: np.ndarray) -> float:
        started = time.perf_counter()
        table.output(batch)
        return time.perf_counter() - started

    small = idx[:100]
    t_small = timed(small)
    if 6 * t_small > seconds:  # a slow model: do not spend the time measuring it better
        return 0.8 * t_small, 0.2 * t_small / len(small)
    n = int(np.clip(seconds / 2 / max(t_small / len(small), 1e-7), 500, 5000))
    t_large = timed(idx[:n])
    t_small = min(t_small, timed(small))
    per_row = max((t_large - t_small) / (n - len(small)), 0.2 * t_large / n, 1e-7)
    return max(t_small - per_row * len(small), 0.2 * t_small, 1e-5), per_row


# ============================================================================ importance
class _RowPicker:
    """The estimator scikit-learn's permutation_importance scores: it holds the encoded rows;
    its input says which row each column's value comes from (see permutation_importance)."""

    def __init__(self, table: EncodedRows) -> None:
        self.table = table

    def fit(self, X: Any, y: Any = None) -> "_RowPicker":
        return self


# ============================================================================ SHAP
def _select_class(model: Any, index: pd.Index, phi: np.ndarray, base: np.ndarray, output: np.ndarray,
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


def _class_position(model: Any, class_: Any) -> int:
    classes = list(model.schema.classes or ())
    for k, c in enumerate(classes):
        if c == class_ or str(c) == str(class_):
            return k
    raise ConfigError(f"class_={class_!r} is not a class of the model; classes are "
                      f"{', '.join(map(repr, classes))}.")


def _output_label(model: Any, k: int | None) -> str:
    """What the explained output is: ``"P(target=class)"`` or the target's name."""
    return model.task.output_label(model.schema.target, model.schema.classes, k)


# ============================================================================ partial dependence
def _partial_dependence_one(model: Any, rows: pd.DataFrame, column: Any, grid: int) -> dict[str, Any]:
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


def _grid(values: pd.Series, column: Any, grid: int) -> tuple[list[Any], list[Any], str]:
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


def _top_features(model: Any, frame: pd.DataFrame, top: int, seed: int) -> list[str]:
    text = set(model.schema.names(Role.TEXT))
    if model.schema.target in frame.columns:
        order = permutation_importance(model, frame, repeats=3, max_rows=1000, seed=seed)["feature"].tolist()
    else:
        sv = shap_values(model, frame, max_rows=100, background=30, seed=seed)
        order = sv.values.abs().mean().sort_values(ascending=False, kind="stable").index.tolist()
    return [f for f in order if f not in text][:top]


# ============================================================================ helpers
def _prepare(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"Expected a pandas DataFrame to explain, got {type(frame).__name__}.")
    if not len(frame):
        raise SchemaError("The data to explain has no rows.")
    return model.schema.prepare(frame, warn=False)


def _sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """At most ``n`` rows of ``frame``, drawn without replacement, in their original order."""
    if len(frame) <= n:
        return frame
    picked = np.sort(np.random.default_rng(seed).choice(len(frame), n, replace=False))
    return frame.iloc[picked]


def _background(model: Any, frame: pd.DataFrame, background: int | pd.DataFrame, seed: int) -> pd.DataFrame:
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


def _rows_with_target(model: Any, frame: pd.DataFrame, max_rows: int,
                      seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Prepared rows (reset index) and their encoded target, rows without a usable target dropped."""
    target = model.schema.target
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"Expected a pandas DataFrame, got {type(frame).__name__}.")
    if target not in frame.columns:
        raise TargetError(f"Permutation importance scores the model on the data, so it needs the target "
                          f"column '{target}', which is not in it.{did_you_mean(target, frame.columns)} "
                          "Add the column, or use SHAP values, which need no target.")
    y, usable = model.task.encode_labels(frame[target], model.schema.classes)
    if not usable.any():
        raise TargetError(f"No row of the data has a usable value in target column '{target}' "
                          f"(missing, or not one of the model's classes).")
    if not usable.all():
        warnings.warn(f"Permutation importance skips {int((~usable).sum())} row(s) whose target "
                      f"'{target}' is missing or not a class of the model.", LabcoatNotice, stacklevel=3)
    kept = frame[usable]
    y = y[usable]
    if len(kept) > max_rows:
        picked = np.sort(np.random.default_rng(seed).choice(len(kept), max_rows, replace=False))
        kept, y = kept.iloc[picked], y[picked]
    return _prepare(model, kept).reset_index(drop=True), y


def _row_positions(frame: pd.DataFrame, row: int | Sequence[int] | None) -> list[int]:
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"Expected a pandas DataFrame to explain, got {type(frame).__name__}.")
    n = len(frame)
    if row is None:
        return list(range(n))
    wanted = [row] if isinstance(row, (int, np.integer)) else list(row)
    for r in wanted:
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= r < n:
            raise ConfigError(f"Row {r!r} is out of range: the data has {n} row(s), numbered 0 to {n - 1}.")
    return [int(r) for r in wanted]


def _raw_value(frame: pd.DataFrame, k: int, name: str) -> Any:
    value = frame[name].iloc[k]
    missing = value is None or value is pd.NaT or (isinstance(value, float) and value != value)
    return None if missing else value


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a whole number >= 1; got {value!r}.")


def _records(table: pd.DataFrame) -> list[dict[Hashable, Any]]:
    return [{k: _jsonable(v) for k, v in row.items()} for row in table.to_dict("records")]


def _table_records(frame: pd.DataFrame) -> dict[str, Any]:
    return {"columns": [str(c) for c in frame.columns],
            "data": [[_jsonable(v) for v in row] for row in frame.itertuples(index=False)]}


def _jsonable(value: Any) -> Any:
    """Plain Python for JSON: numbers, strings, booleans, ``None`` for missing, ISO dates."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if value != value or math.isinf(value) else float(value)
    if isinstance(value, (int, str)):
        return value
    return str(value)


def _num(value: float) -> str:
    value = float(value)
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _show(value: Any) -> str:
    if value is None:
        return "(missing)"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat(sep=" ")
    return str(value)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


__all__ = ["Explanation", "ShapValues", "explain_row", "partial_dependence", "permutation_importance",
           "shap_values", "summarize"]
