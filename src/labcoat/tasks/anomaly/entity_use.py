"""How the anomaly task uses the per-entity features (:mod:`~labcoat.tasks.anomaly.entity`):
fitted on the training rows and added to them before the detectors (:func:`add_at_fit`), added
again to the rows scored later from the state saved with the model (:func:`add_at_predict`), and
said in words in the reasons (:class:`EntityProfile`: "12 events in the last hour on this card,
usual is 0.3").

Examples
--------
>>> from labcoat.datasets import make_transactions
>>> data = make_transactions(400, seed=0)
>>> features, rows, not_inputs, notes = add_at_fit(data, "card_id", "ts", leave_out=["is_fraud", "transaction_id"])
>>> features.numeric_, features.categorical_, not_inputs
(['amount'], ['merchant', 'category', 'country', 'channel'], ['card_id', 'card_id_past_events'])
>>> rows.shape[1] - data.shape[1] == len(features.feature_names_), len(rows) < len(data)
(True, True)
>>> notes[0][:75]
'The 110 rows before 2024-03-08 07:27 (the first 7 days of the data) give th'
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.columns import Role
from labcoat.data.schema import Schema
from labcoat.errors import ConfigError, DataError, LabcoatNotice, did_you_mean, listed
from labcoat.tasks.anomaly.entity import EntityFeatures, event_times
from labcoat.tasks.anomaly.features import anomaly_schema
from labcoat.tasks.anomaly.reasons import ColumnProfile


def add_at_fit(frame: pd.DataFrame, entity: str, time: str | None, *, leave_out: Iterable[str] = ()
               ) -> tuple[EntityFeatures, pd.DataFrame, list[str], list[str]]:
    """The entity features fitted on ``frame`` (on its columns but ``leave_out``: the labels, the
    columns excluded); the rows the detectors learn from, with the features added (a new frame:
    ``frame`` is not changed); the columns that are no detector input; the notices.

    The rows of the first longest window (at most the earlier half of the rows) give their
    history to the later ones but are left out: the start of the data cuts their look-back short
    (every entity looks new there), so that the detectors would learn the start of the data as
    normal and flag it. The entity itself and its number of past events are no detector input:
    one is an identifier, the other grows with the age of the data rather than the entity's
    behaviour (later rows would all look unusual)."""
    if time is None:
        raise ConfigError(f"entity_column={entity!r} needs time_column= (--time-column): the entity features count "
                          "each entity's earlier events, so they need the events' times.")
    if entity == time:
        raise ConfigError(f"entity_column and time_column are both {entity!r}; the entity (a card, an account) and "
                          "the time of each event are two columns.")
    if entity not in frame.columns:
        raise DataError(f"The entity_column '{entity}' is not in the data.{did_you_mean(entity, frame.columns)} "
                        f"Columns are: {listed(frame.columns)}.")
    left_out = [c for c in dict.fromkeys(leave_out) if c in frame.columns and c not in (entity, time)]
    features = EntityFeatures(entity, time)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LabcoatNotice)
        added = features.fit_transform(frame.drop(columns=left_out))
    notes = [str(w.message) for w in caught]
    for w in caught:
        warnings.warn(w.message, LabcoatNotice, stacklevel=3)
    times = pd.Series(event_times(frame[time], time))
    cut = min(times.min() + features.longest_.value, int(times.quantile(0.5, interpolation="lower")))
    late = (times >= cut).to_numpy()
    if not late.all():
        days = pd.Timedelta(cut - times.min()) / pd.Timedelta("1D")
        notes.append(f"The {int((~late).sum()):,} rows before {pd.Timestamp(cut):%Y-%m-%d %H:%M} (the first {days:.3g} "
                     "days of the data) give the entity features their history but the detectors do not learn from "
                     "them: the start of the data cuts their look-back short.")
        warnings.warn(notes[-1], LabcoatNotice, stacklevel=3)
    not_inputs = [entity, f"{entity}_past_events"]
    return features, pd.concat([frame, added], axis=1)[late], not_inputs, notes


def as_numbers(schema: Schema, features: EntityFeatures) -> Schema:
    """``schema`` with the entity features that count or measure (every one but the first-seen
    flags) as numbers, where the inference took a few whole values (0 to 9 events in the last
    hour) for categories: 12 events is more than 9, not another category."""
    for i, column in enumerate(schema.columns):
        info = features.features_.get(column.name)
        if info is not None and info.kind != "new" and column.role is Role.CATEGORICAL:
            schema.columns[i] = replace(column, role=Role.NUMERIC, categories=None,
                                        reason=f"an entity feature ({info.kind}), counted as a number")
    return schema


def add_at_predict(features: EntityFeatures, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the entity features added from the state saved at fit: rows later than
    their entity's training events from it and from the earlier rows of ``frame``; a table holding
    its own history (the training rows scored again) from its own earlier rows, with a notice.
    Rows that carry every entity feature already (the training rows as the fit computed them, for
    the report) keep them; a part of them is recomputed."""
    present = [name for name in features.feature_names_ if name in frame.columns]
    if len(present) == len(features.feature_names_):
        return frame
    return pd.concat([frame.drop(columns=present), features.transform(frame, past="auto")], axis=1)


def input_schema(frame: pd.DataFrame, features: EntityFeatures, *, exclude: Iterable[str], labels: str | None
                 ) -> Schema:
    """The schema of what a caller gives (the service checks requests with it): ``frame``'s
    columns as given, without the entity features, with the entity column as a category."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)  # said once already, by the detectors' schema
        schema = anomaly_schema(frame, exclude=exclude, labels=labels)
    for i, column in enumerate(schema.columns):
        if column.name == features.entity and column.role is not Role.CATEGORICAL:
            keys = pd.unique(frame[column.name].dropna().astype(str)).tolist()
            schema.columns[i] = replace(column, role=Role.CATEGORICAL, categories=keys, minimum=None, maximum=None,
                                        reason="the entity column (the entity features' key)")
    return schema


@dataclass
class EntityProfile(ColumnProfile):
    """A :class:`ColumnProfile` that says the entity features in words, with the usual value
    (the training rows' mean for counts and amounts, their median for the time since the
    previous event)."""

    entity_features: Any = None
    usual: dict[str, float] | None = None

    @classmethod
    def of(cls, profile: ColumnProfile, features: EntityFeatures, prepared: pd.DataFrame) -> EntityProfile:
        usual = {}
        for name, info in features.features_.items():
            if name in prepared.columns and info.kind in ("events", "sum", "mean", "past_events", "since_previous"):
                values = pd.to_numeric(prepared[name], errors="coerce")
                usual[name] = float(values.median() if info.kind == "since_previous" else values.mean())
        return cls(**{f.name: getattr(profile, f.name) for f in fields(profile)}, entity_features=features,
                   usual=usual)

    def words(self, name: str, value: Any, surprise: float) -> str:
        features = self.entity_features
        if features is None or name not in features.features_:
            return super().words(name, value, surprise)
        usual = (self.usual or {}).get(name)
        if isinstance(value, str):  # a first-seen flag is a category: '0' / '1'
            value = float(value)
        return str(features.describe(name, value, usual=None if usual is None or np.isnan(usual) else usual))
