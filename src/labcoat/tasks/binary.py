"""Binary classification: a yes/no question, with an optional cost- or metric-tuned threshold."""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError, LabcoatNotice
from labcoat.evaluate.metrics import Metric, get_metric
from labcoat.evaluate.thresholds import parse_costs, threshold_metric_name, tune_threshold
from labcoat.tasks.base import PostFit, TaskOptions
from labcoat.tasks.classification import ClassificationOptions, ClassificationTask, _validated
from labcoat.errors import listed as _list

if TYPE_CHECKING:
    from labcoat.guards import Finding


@dataclass(frozen=True)
class BinaryOptions(ClassificationOptions):
    """Besides ``calibrate``: tune the decision threshold to minimise ``costs`` (``"fp=1,fn=5"``
    or a mapping of tp/fp/tn/fn) or to maximise ``threshold_metric`` (f1, balanced_accuracy,
    accuracy, mcc). Without either the model answers the most probable class."""

    costs: str | Mapping[str, float] | None = None
    threshold_metric: str | None = None


class BinaryTask(ClassificationTask):
    """Two classes; the second in sorted order is the positive one (``proba_<class>``).

    Examples
    --------
    >>> task = BinaryTask()
    >>> task.detect(pd.Series(["no", "yes", "no"])), task.options(costs="fp=1,fn=5").costs["fn"]
    (True, 5.0)
    """

    name = "binary"
    description = "a yes/no (two-class) question"
    default_metric_name = "roc_auc"
    options_type = BinaryOptions
    summary_words = "the probability of the positive class"

    def detect(self, y: pd.Series) -> bool:
        return bool(y.nunique() <= 2)

    def check_target(self, y: pd.Series, target: str) -> None:
        super().check_target(y, target)
        classes = self.classes(y)
        if len(classes) > 2:
            raise ConfigError(f"task='binary' but target '{target}' has {len(classes)} classes "
                              f"({_list(classes)}). Use task='multiclass'.")

    def validate_options(self, options: TaskOptions) -> TaskOptions:
        checked = super().validate_options(options)
        assert isinstance(checked, BinaryOptions)
        if checked.costs is not None and checked.threshold_metric is not None:
            raise ConfigError("Give --costs or --threshold-metric, not both: the threshold minimises the cost "
                              "or maximises the metric.")
        return replace(checked,
                       costs=parse_costs(checked.costs) if checked.costs is not None else None,
                       threshold_metric=(threshold_metric_name(checked.threshold_metric)
                                         if checked.threshold_metric is not None else None))

    def default_metric(self, findings: Iterable["Finding"]) -> Metric:
        """ROC AUC, or PR AUC for a target with a rare class: ROC AUC rewards ranking the many
        negatives and hides poor precision on the few positives."""
        if any(f.check == "imbalance" for f in findings):
            warnings.warn("Optimising PR AUC instead of ROC AUC, since one class is rare (see the "
                          "imbalance finding); pass --metric roc_auc to keep ROC AUC.", LabcoatNotice,
                          stacklevel=3)
            return get_metric("pr_auc", self.name)
        return super().default_metric(findings)

    def post_fit(self, oof: dict[str, np.ndarray] | None, options: TaskOptions, *, seed: int) -> PostFit:
        """Calibration, then the threshold tuned on the calibrated out-of-fold probabilities
        (``info.threshold``), when costs or a threshold metric are given."""
        assert isinstance(options, BinaryOptions)
        calibrated = super().post_fit(oof, options, seed=seed)
        if oof is None or (options.costs is None and options.threshold_metric is None):
            return calibrated
        y, pred = _validated(oof)
        if calibrated.calibrator is not None:
            pred = calibrated.calibrator.apply(pred)
        tuned = tune_threshold(y, pred, metric=options.threshold_metric, costs=options.costs, seed=seed)
        return replace(calibrated, threshold=tuned.threshold,
                       report={**calibrated.report, "threshold": tuned.to_dict()})

    def output_label(self, target: str, classes: Sequence[Any] | None, column: int | None) -> str:
        return super().output_label(target, classes, 1 if column is None else column)

    def explained_columns(self, blend: np.ndarray) -> np.ndarray:
        """The positive class, for every row."""
        return np.ones(len(blend), dtype=np.int64)

    def output_curves(self, blend: np.ndarray, classes: Sequence[Any] | None) -> Any:
        return blend[:, 1].tolist()

    def prediction_summary(self, blend: np.ndarray, classes: Sequence[Any] | None) -> np.ndarray:
        """The positive class's probability."""
        return blend[:, 1]
