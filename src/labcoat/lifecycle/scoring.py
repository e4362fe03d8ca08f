"""The model's outputs on the current window, chunk by chunk: the ``prediction`` column whose
drift is tested (the task's ``prediction_summary``, as in the reference) and the labelled rows
kept for the performance check.

Examples
--------
>>> sink = Labelled()                                                  # doctest: +SKIP
>>> for rows, prediction in scored(model, window.chunks, sink): ...    # doctest: +SKIP
>>> sink.y, sink.predictions                                           # doctest: +SKIP
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from labcoat.lifecycle.current import Chunk
from labcoat.monitoring.labels import encode

if TYPE_CHECKING:
    from labcoat.model import Model


@dataclass
class Labelled:
    """What the chunks left behind: encoded labels with the model's outputs on those rows,
    and the count of rows seen."""

    rows: int = 0
    _y: list[np.ndarray] = field(default_factory=list)
    _outputs: list[np.ndarray] = field(default_factory=list)

    def add(self, y: np.ndarray, outputs: np.ndarray) -> None:
        self._y.append(y)
        self._outputs.append(outputs)

    @property
    def y(self) -> np.ndarray:
        return np.concatenate(self._y) if self._y else np.empty(0)

    @property
    def predictions(self) -> np.ndarray:
        return np.concatenate(self._outputs) if self._outputs else np.empty(0)


def outputs(model: Model, rows: pd.DataFrame) -> np.ndarray:
    """The model's blended output for ``rows`` (``Model.raw_output``: probabilities per class or
    values); the notices on unseen values are left out (the drift report lists them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.raw_output(rows)


def prediction_column(model: Model, out: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """The one number or label per row whose distribution is compared with the reference's."""
    return pd.Series(model.task.prediction_summary(out, model.schema.classes), index=index, name="prediction")


def scored(model: Model, chunks: Iterable[Chunk], sink: Labelled) -> Iterator[tuple[pd.DataFrame, pd.Series]]:
    """Each chunk's rows with its prediction column; labelled rows go to ``sink``."""
    for chunk in chunks:
        out = chunk.outputs if chunk.outputs is not None else outputs(model, chunk.rows)
        sink.rows += len(chunk.rows)
        if chunk.labels is not None:
            known = chunk.labels.notna().to_numpy()
            if known.any():
                sink.add(encode(chunk.labels[known], model.schema.classes, task=model.task),
                         out[known])
        yield chunk.rows, prediction_column(model, out, chunk.rows.index)
