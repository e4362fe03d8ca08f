"""Why rows got their predictions (``Model.explain``, ``labcoat explain``): each row's
prediction, the output explained, its base over the background rows and the largest SHAP
contributions by column with the row's values, the other columns summed in one line, as a
table, as JSON and in words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError, SchemaError
from labcoat.evaluate._explain_common import _check_positive, _jsonable, _prepare
from labcoat.evaluate._shapley import shapley_values
from labcoat.evaluate.shap_values import _background, _select_class
from labcoat.evaluate.text_explanation import class_ngrams, document_words, has_text_explanations

if TYPE_CHECKING:
    from labcoat.model import Model


#: ``Explanation.frame``'s ``column`` for the sum of the columns not shown.
OTHER_COLUMNS = "(other columns)"


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
    #: A text-first model's words (``labcoat.evaluate.text_explanation``): per row the n-grams that
    #: decided it (``row``, ``ngram``, ``contribution`` in log-odds of the explained class), else None.
    words: pd.DataFrame | None = None
    #: Per class the n-grams that push hardest towards it (``class``, ``ngram``, ``weight``), or None.
    ngrams: pd.DataFrame | None = None

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
            if self.words is not None:
                said = self.words[self.words["row"] == r.row]
                out[-1]["words"] = [{"ngram": w, "contribution": float(c)}
                                    for w, c in zip(said["ngram"], said["contribution"])]
        extra = {} if self.ngrams is None else {"ngrams": self.ngrams.to_dict("records")}
        return {"rows": out, "methods": self.methods, **extra}

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
            if self.words is not None:
                said = self.words[self.words["row"] == r.row]
                if len(said):
                    unit = "in the target's units" if regression else "log-odds"
                    lines.append(f"  words that decided it ({unit}): " + ", ".join(
                        f"'{w}' {c:+.2f}" for w, c in zip(said["ngram"], said["contribution"])))
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


def explain_row(model: Model, frame: pd.DataFrame, row: int | Sequence[int] | None = None, *, top: int = 5,
                background: int | pd.DataFrame = 100, class_: Any = None, seed: int = 0,
                words: int = 10) -> Explanation:
    """Why the model predicts what it does for ``row`` (positions in ``frame``; default all rows).

    For each row: the prediction, the output explained (see :func:`shap_values`), the base
    (average output over the background) and the ``top`` largest contributions by column with
    the row's values; the other columns' contributions are summed in one line. A text-first
    model also gives each row's ``words`` n-grams that moved it most, and per class the n-grams
    that push hardest (``Explanation.words``, ``.ngrams``; see
    :mod:`labcoat.evaluate.text_explanation`).

    Examples
    --------
    >>> import labcoat
    >>> from labcoat.datasets import make_churn
    >>> df = make_churn(300)
    >>> model = labcoat.fit(df, target="churned", trials=2, families=["lightgbm"], quiet=True, track=False, n_jobs=1)
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
    explanation = Explanation(rows=pd.DataFrame(head), frame=table, methods=sv.methods)
    if has_text_explanations(model):
        _check_positive(words=words)
        stacked = np.asarray(model.task.unstack(output)).reshape(len(positions), -1)
        explained = [int(np.argmax(p)) if stacked.shape[1] > 2 else 0 for p in stacked]
        said = document_words(model, rows, explained, top=words)
        said["row"] = [positions[i] for i in said["row"]]
        explanation.words, explanation.ngrams = said, class_ngrams(model, top=words)
    return explanation


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
