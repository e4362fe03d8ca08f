"""Score a fitted model's configuration on given folds: each member, with its parameters and
ensemble weight, is trained on every fold's training rows and the blend scored on the rest.

This is how separately fitted models are compared on the same folds
(:func:`labcoat.evaluate.compare.compare_models` with ``data``).

Examples
--------
>>> import labcoat
>>> from labcoat.datasets import make_churn
>>> frame = make_churn(300)
>>> model = labcoat.fit(frame, target="churned", trials=2, quiet=True, track=False)
>>> rows, folds = shared_folds(model, frame)
>>> len(cross_validate(model, rows, folds)) == len(folds.folds)
True
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.split import Resampling
from labcoat.evaluate.metrics import get_metric
from labcoat.models import FAMILIES


def shared_folds(model: Any, data: Any, *, seed: int = 0) -> tuple[pd.DataFrame, Resampling]:
    """The labelled rows of ``data`` and the folds every compared model is scored on (chosen
    as ``fit`` chooses them, from the first model's task)."""
    from labcoat.data.io import read_table
    from labcoat.data.schema import drop_missing_target
    from labcoat.errors import DataError

    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    target = model.schema.target
    if target not in frame.columns:
        raise DataError(f"The comparison data has no target column '{target}'; the models were "
                        "trained to predict it, so it is needed to score them.")
    frame = drop_missing_target(frame, target).reset_index(drop=True)
    return frame, model.task.resampling(model.task.encode_target(frame[target], model.schema.classes), seed=seed)


def cross_validate(model: Any, frame: pd.DataFrame, folds: Resampling) -> list[float]:
    """``model``'s configuration trained and scored on each fold of ``folds`` over ``frame``."""
    from labcoat.search.trial import TrialData

    schema = model.schema
    data = TrialData(X=schema.prepare(frame, warn=False),
                     y=model.task.encode_target(frame[schema.target], schema.classes),
                     schema=schema, task=model.task, metric=get_metric(model.metric, model.task.name), resampling=folds,
                     seed=int(model.info.get("seed", 0)), n_jobs=int(model.info.get("n_jobs") or 1))
    scores = []
    for index, (train, valid) in enumerate(folds.folds):
        blend = None
        for member in model.members:
            family = FAMILIES[member.family]
            _, Xt, Xv = data.fold(family.style, index)
            estimator = family.build(member.params, data.context(family.style))
            family.fit(estimator, Xt, data.y[train])
            out = member.weight * family.predict(estimator, Xv, data.task.estimator_type, n_classes=data.n_classes)
            blend = out if blend is None else blend + out
        scores.append(data.metric.score(data.y[valid], np.asarray(blend)))
    return scores
