"""Regression: a number. The worked example of ARCHITECTURE.md's "Adding a task"."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from labcoat.errors import TargetError
from labcoat.tasks.base import Task


class RegressionTask(Task):
    """A numeric target, predicted as one value per row (``<target>_predicted``).

    Examples
    --------
    >>> task = RegressionTask()
    >>> task.encode_target(pd.Series(["1.5", "2"]), None).tolist()
    [1.5, 2.0]
    >>> task.output_frame("price", np.array([3.0]), None, None).to_dict("list")
    {'price_predicted': [3.0]}
    """

    name = "regression"
    description = "a number"
    estimator_type = "regressor"
    default_metric_name = "rmse"
    guards = frozenset({"leakage", "duplicates", "missing", "cardinality", "rows_per_feature",
                        "time_order", "identifiers"})
    diagnostics = "regression"
    summary_words = "the predicted value"

    def detect(self, y: pd.Series) -> bool:
        return bool(pd.api.types.is_numeric_dtype(y.dtype))

    def check_target(self, y: pd.Series, target: str) -> None:
        numeric = y if pd.api.types.is_numeric_dtype(y.dtype) else pd.to_numeric(y, errors="coerce")
        bad = y[numeric.isna() & y.notna()]
        if len(bad):
            raise TargetError(
                f"task='regression' needs a numeric target, but column '{target}' holds "
                f"values such as {bad.iloc[0]!r}. Use a classification task or clean the column.")
        infinite = y.index[np.isinf(numeric.to_numpy(dtype=np.float64, na_value=np.nan))]
        if len(infinite):
            rows = ", ".join(map(str, infinite[:5])) + (", ..." if len(infinite) > 5 else "")
            raise TargetError(
                f"Column '{target}' holds {len(infinite)} infinite value(s) (rows {rows}); no model learns "
                "from them. Drop those rows or replace the values with finite numbers.")

    def encode_target(self, y: pd.Series, classes: Sequence[Any] | None) -> np.ndarray:
        """The values as floats."""
        return pd.to_numeric(y, errors="raise").to_numpy(dtype=np.float64)

    def encode_labels(self, values: pd.Series, classes: Sequence[Any] | None) -> tuple[np.ndarray, np.ndarray]:
        """Numbers; NaN (unusable) where a label is missing or not a number."""
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        return numbers, ~np.isnan(numbers)

    def prediction_width(self, n_classes: int) -> int:
        return 1

    def unstack(self, predictions: np.ndarray) -> np.ndarray:
        """One value per row: metrics take a vector."""
        return predictions[:, 0]

    def decide(self, blend: np.ndarray, classes: Sequence[Any] | None,
               threshold: float | None) -> np.ndarray:
        return blend

    def output_columns(self, target: str, classes: Sequence[Any] | None) -> list[tuple[str, str]]:
        return [(f"{target}_predicted", "double")]

    def output_frame(self, target: str, blend: np.ndarray, classes: Sequence[Any] | None,
                     threshold: float | None) -> pd.DataFrame:
        return pd.DataFrame({f"{target}_predicted": blend}, copy=False)

    def prediction_summary(self, blend: np.ndarray, classes: Sequence[Any] | None) -> np.ndarray:
        return np.asarray(blend, dtype=np.float64)
