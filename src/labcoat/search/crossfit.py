"""Score a fitted model's configuration on given folds: each member, with its parameters and
ensemble weight, is trained on every fold's training rows and the blend scored on the rest.

This is how separately fitted models are compared on the same folds (:func:`compare_models`
with ``data``; without it, their stored fold scores are paired).

Examples
--------
>>> import labcoat
>>> from labcoat.datasets import make_churn
>>> frame = make_churn(300)
>>> model = labcoat.fit(frame, target="churned", trials=2, families=["lightgbm"], quiet=True, track=False)
>>> rows, folds = shared_folds(model, frame)
>>> len(cross_validate(model, rows, folds)) == len(folds.folds)
True
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.data.split import Resampling
from labcoat.errors import ConfigError
from labcoat.evaluate.compare import bootstrap_pairwise, pairwise
from labcoat.evaluate.metrics import get_metric
from labcoat.models import FAMILIES
from labcoat.search.trial import TrialData

if TYPE_CHECKING:
    from labcoat.data.io import DataSource
    from labcoat.model import Model


def shared_folds(model: Model, data: DataSource, *, seed: int = 0) -> tuple[pd.DataFrame, Resampling]:
    """The labelled rows of ``data`` and the folds every compared model is scored on (chosen
    as ``fit`` chooses them, from the first model's task)."""
    from labcoat.data.io import read_table
    from labcoat.data.infer import drop_missing_target
    from labcoat.errors import DataError

    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    target = model.schema.target
    if target not in frame.columns:
        raise DataError(f"The comparison data has no target column '{target}'; the models were "
                        "trained to predict it, so it is needed to score them.")
    frame = drop_missing_target(frame, target).reset_index(drop=True)
    return frame, model.task.resampling(model.task.encode_target(frame[target], model.schema.classes), seed=seed)


def cross_validate(model: Model, frame: pd.DataFrame, folds: Resampling) -> list[float]:
    """``model``'s configuration trained and scored on each fold of ``folds`` over ``frame``."""

    schema = model.schema
    data = TrialData(X=schema.prepare(frame, warn=False),
                     y=model.task.encode_target(frame[schema.target], schema.classes),
                     schema=schema, task=model.task, metric=get_metric(model.metric, model.task.name), resampling=folds,
                     seed=model.info.seed, n_jobs=model.info.n_jobs)
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


def compare_models(*models: Model, names: Sequence[str] | None = None, data: DataSource | None = None,
                   seed: int = 0) -> list[dict[str, Any]]:
    """Compare separately fitted models on the same folds, pairwise, Holm-adjusted.

    Without ``data``, the models must have been fitted on the same rows with the same folds
    (same data, split and seed); their ensembles' stored out-of-fold fold scores are paired.
    With ``data`` (a frame or file with the target), each model's configuration (members,
    parameters and weights) is trained and scored again on the same folds of ``data``
    (see :func:`cross_validate`).

    Examples
    --------
    >>> compare_models(model_a, model_b)[0]["verdict"]  # doctest: +SKIP
    'model 2 is better than model 1 by 0.011 roc_auc [0.003, 0.019], p = 0.01.'
    """
    if len(models) < 2:
        raise ConfigError("Give at least two models to compare.")
    names = list(names or [f"model {i + 1}" for i in range(len(models))])
    first = models[0]
    for name, m in zip(names[1:], models[1:]):
        if m.schema.target != first.schema.target or m.metric != first.metric:
            raise ConfigError(f"{names[0]} predicts '{first.schema.target}' scored by {first.metric}, {name} "
                              f"predicts '{m.schema.target}' scored by {m.metric}: only models of the same "
                              "target and metric can be compared.")
    if data is None:
        keys = {m.info.folds_key for m in models}
        if len(keys) != 1 or None in keys:
            raise ConfigError("These models were not fitted on the same rows and folds, so their stored "
                              "scores cannot be paired. Pass the data to evaluate them on the same folds "
                              "(data=..., or --data FILE).")
        scores: list[tuple[str, Sequence[float]]] = [(n, m.info.ensemble_fold_scores)
                                                     for n, m in zip(names, models)]
        fold_rows = first.info.fold_rows
        if all(len(s) == 1 for _, s in scores):
            return _holdout_comparison(models, names, seed)
    else:
        frame, folds = shared_folds(first, data, seed=seed)
        scores = [(n, cross_validate(m, frame, folds)) for n, m in zip(names, models)]
        fold_rows = [float(np.mean([len(t) for t, _ in folds.folds])), float(np.mean([len(v) for _, v in folds.folds]))]
    return pairwise(scores, fold_rows, first.metric, bool(first.info.greater_is_better))


def _holdout_comparison(models: Sequence[Model], names: Sequence[str], seed: int) -> list[dict[str, Any]]:
    """Models validated on the same single holdout (more than 100,000 rows; one fold score
    each): their out-of-fold predictions on its rows, paired by a bootstrap."""
    oofs = [m.oof for m in models if m.oof is not None]
    if len(oofs) < len(models) or any(not np.array_equal(oof["y"], oofs[0]["y"]) for oof in oofs):
        raise ConfigError("These models were validated on one holdout, and their predictions on its rows "
                          "are not all kept, so they cannot be paired. Fit them again with this labcoat.")
    first = models[0]
    metric = get_metric(first.metric, first.task.name)
    return bootstrap_pairwise(oofs[0]["y"], [(n, oof["pred"]) for n, oof in zip(names, oofs)], metric,
                              stratify=first.task.stratified, seed=seed)
