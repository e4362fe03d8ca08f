"""The explanation summary kept with a model and drawn in its report: permutation importance,
mean absolute SHAP values, partial dependence and a background sample, JSON-ready, each part
sized to the model's measured speed so that the whole takes about a given time."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.data.columns import Role
from labcoat.errors import SchemaError
from labcoat.evaluate._encoded import EncodedRows
from labcoat.evaluate._explain_common import _jsonable, _output_label, _prepare, _sample
from labcoat.evaluate.importance import permutation_importance
from labcoat.evaluate.partial_dependence import partial_dependence
from labcoat.evaluate.shap_values import _shap_values

if TYPE_CHECKING:
    from labcoat.model import Model


def summarize(model: Model, frame: pd.DataFrame, *, seed: int = 0, seconds: float = 3.0,
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
    >>> model = labcoat.fit(df, target="churned", trials=2, families=["lightgbm"], quiet=True, track=False, n_jobs=1)
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


def _summarize_parts(model: Model, frame: pd.DataFrame, out: dict[str, Any], seed: int, seconds: float,
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


def _call_cost(model: Model, rows: pd.DataFrame, seconds: float) -> tuple[float, float]:
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


def _records(table: pd.DataFrame) -> list[dict[Hashable, Any]]:
    return [{k: _jsonable(v) for k, v in row.items()} for row in table.to_dict("records")]


def _table_records(frame: pd.DataFrame) -> dict[str, Any]:
    return {"columns": [str(c) for c in frame.columns],
            "data": [[_jsonable(v) for v in row] for row in frame.itertuples(index=False)]}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
