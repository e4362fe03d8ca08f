"""Multiclass classification: a choice among three or more classes."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from labcoat.tasks.base import Task
from labcoat.tasks.classification import MAX_CLASSES_FOR_INTEGER_TARGET, ClassificationTask


class MulticlassTask(ClassificationTask):
    """Three or more classes (text, or whole numbers with at most
    ``MAX_CLASSES_FOR_INTEGER_TARGET`` values); ``task="multiclass"`` on two classes is binary.

    Examples
    --------
    >>> MulticlassTask().detect(pd.Series([1, 2, 3, 1])), MulticlassTask().detect(pd.Series([0.5, 1.5, 2.5]))
    (True, False)
    """

    name = "multiclass"
    description = "a choice among several classes"
    default_metric_name = "log_loss"
    summary_is_label = True
    summary_words = "the predicted class"

    def detect(self, y: pd.Series) -> bool:
        if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
            return True
        values = y.astype("float64").to_numpy()
        return bool(np.all(np.mod(values, 1) == 0) and y.nunique() <= MAX_CLASSES_FOR_INTEGER_TARGET)

    def refine(self, classes: list[Any] | None) -> Task:
        from labcoat.tasks import get_task

        return get_task("binary") if classes is not None and len(classes) == 2 else self

    def prediction_summary(self, blend: np.ndarray, classes: Sequence[Any] | None) -> np.ndarray:
        """The most probable class (compared as categories)."""
        return np.asarray(list(classes or ()), dtype=object)[blend.argmax(axis=1)]
