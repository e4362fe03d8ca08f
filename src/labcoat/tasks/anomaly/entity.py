"""Per-entity fraud features over each entity's past only: how many events a card had in the last
hour, day and week and how much they summed to, the time since its previous event, how far the
current amount is from the card's usual one, and whether this merchant or country is new for it.

The no-future rule: a row's features use only the events of its entity whose time is strictly
earlier than its own. Events at exactly the same timestamp (the row itself, a twin, a later row
of the same second) are not its past; later events never are. A window ``w`` covers the half-open
interval ``[t - w, t)``: an event exactly one hour before counts in the 1 h window.

Examples
--------
>>> import pandas as pd
>>> rows = pd.DataFrame({"card": ["a", "a", "a", "b"], "amount": [10.0, 20.0, 500.0, 7.0],
...                      "country": ["fr", "fr", "us", "fr"],
...                      "ts": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:30",
...                                            "2024-01-01 11:00", "2024-01-01 10:00"])})
>>> features = EntityFeatures("card", "ts", categorical=["country"]).fit_transform(rows)
>>> features[["card_events_1h", "card_amount_sum_1h", "card_amount_typical", "card_new_country"]].to_dict("list")
{'card_events_1h': [0, 1, 2, 0], 'card_amount_sum_1h': [0.0, 10.0, 30.0, 0.0], 'card_amount_typical': [nan, 10.0, 15.0, nan], 'card_new_country': [1, 0, 1, 1]}
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer

from labcoat.errors import ConfigError, DataError, LabcoatNotice, NotFittedError, SchemaError, did_you_mean, listed

#: The entity's typical value of a numeric column is the median of its last this many past events.
TYPICAL_EVENTS = 20
#: Default numeric and categorical columns: at most this many of each (the first ones).
MAX_DEFAULT_COLUMNS = 5
#: A default categorical column has at most this many distinct values (and fewer than half as
#: many as rows: a column almost unique per row is an identifier, not a merchant or a country).
MAX_CATEGORIES = 10_000
#: The spread under the robust z is at least this share of the typical value's magnitude, so that
#: a card that always pays 9.99 paying 500 gets a large but finite z.
MIN_RELATIVE_SPREAD = 0.1


@dataclass(frozen=True)
class FeatureInfo:
    """What one feature column measures: its ``kind`` (``events``, ``sum``, ``mean``,
    ``since_previous``, ``past_events``, ``typical``, ``ratio``, ``robust_z``, ``new``), the
    input ``column`` it is about (``None`` for counts) and its ``window`` (``None`` if none)."""

    kind: str
    column: str | None = None
    window: str | None = None


class EntityFeatures:
    """Features of each row from the past events of its entity (a card, an account, a user).

    Parameters
    ----------
    entity
        The column naming the entity (``card_id``).
    time
        The column of event times (datetimes, or text that parses as datetimes).
    numeric
        Numeric columns to sum, average and compare with the entity's typical value; default: the
        numeric columns other than ``entity`` and ``time`` (the first 5, with a notice if more).
    categorical
        Columns whose first appearance for the entity is flagged (new merchant, new country);
        default: the text and category columns with 2 to 10,000 distinct values, fewer than half
        as many as rows (the first 5, with a notice if more).
    windows
        Rolling windows, as pandas offsets (``"1h"``, ``"24h"``, ``"7d"``).

    Attributes
    ----------
    numeric_, categorical_ : list[str]
        The columns used.
    feature_names_ : list[str]
        The feature columns, in the order returned.
    longest_ : pandas.Timedelta
        The longest window.
    features_ : dict[str, FeatureInfo]
        What each feature column measures.

    Notes
    -----
    Features, with ``e`` the entity column's name and ``x`` a numeric column:
    ``e_events_<w>`` and ``e_x_sum_<w>``, ``e_x_mean_<w>`` over the window ``[t - w, t)``;
    ``e_seconds_since_previous``; ``e_past_events``; ``e_x_typical`` (median of the last 20 past
    values), ``e_x_ratio_to_typical`` (x / typical, when typical > 0) and ``e_x_robust_z``
    ((x - typical) / spread, the spread being the interquartile range of those 20 values / 1.349,
    at least a tenth of |typical|); ``e_new_<c>`` (1 when the entity has not had this value of the
    categorical column ``c`` before; 0 for a missing value). Features without any past are missing
    (``NaN``), counts and sums are 0. Rows with equal timestamps of one entity are sorted by their
    values, so the result does not depend on the input's order.

    ``transform`` scores rows after training from the state kept at ``fit_transform``: per entity,
    the events within the longest window of its last one, its last 20 events, its number of events
    and the categorical values it has had. A row earlier than its entity's last training event is
    refused (its past would hold training events later than itself). The state is not updated by
    ``transform``: the same rows give the same features every time; ``update`` adds rows that
    arrived since (equal, then, to fitting on all of them).
    """

    def __init__(self, entity: str, time: str, *, numeric: Sequence[str] | None = None,
                 categorical: Sequence[str] | None = None, windows: Sequence[str] = ("1h", "24h", "7d")) -> None:
        self.entity = entity
        self.time = time
        self.numeric = numeric
        self.categorical = categorical
        self.windows = windows

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Features of every row of ``frame`` from the earlier rows of its entity (same index and
        order as ``frame``, which is not changed); keeps the state that ``transform`` needs."""
        self._windows_ns = _parse_windows(self.windows)
        self.longest_ = pd.Timedelta(max(self._windows_ns.values()))
        _check_frame(frame, [self.entity, self.time], "fit_transform")
        self.numeric_ = self._numeric(frame)
        self.categorical_ = self._categorical(frame)
        self.feature_names_, self.features_ = self._names(frame)
        events = self._events(frame)
        ordered = _Ordered.of(events)
        out = _compute(events, self._windows_ns, ordered)
        self._keep_state(events, ordered)
        return self._frame(out, events, frame.index)

    def fit(self, frame: pd.DataFrame) -> EntityFeatures:
        """Keep the state of ``frame`` for :meth:`transform` (:meth:`fit_transform` without its result)."""
        self.fit_transform(frame)
        return self

    def transform(self, new_rows: pd.DataFrame, *, past: str = "training") -> pd.DataFrame:
        """Features of rows arriving after training (same index and order as ``new_rows``).

        ``past="training"``: from the state kept by ``fit_transform`` and the earlier rows of
        ``new_rows`` itself (equal to ``fit_transform`` on the training rows followed by
        ``new_rows``, for these rows); a row earlier than its entity's last training event is
        refused. ``past="batch"``: from the earlier rows of ``new_rows`` alone (a table that holds
        its own history, such as the training rows scored again). ``past="auto"``: ``"training"``
        when every row is late enough for it, else ``"batch"`` with a notice."""
        if not hasattr(self, "history_"):
            raise NotFittedError("EntityFeatures.transform was called before fit_transform; fit on the training rows first.")
        if past not in ("training", "batch", "auto"):
            raise ConfigError(f"past= is 'training', 'batch' or 'auto'; got {past!r}.")
        _check_frame(new_rows, [self.entity, self.time, *self.numeric_, *self.categorical_], "transform",
                     error=SchemaError)
        new = self._events(new_rows)
        early = self._early(new)
        if past == "batch" or (past == "auto" and early is not None):
            if early is not None and past == "auto":
                warnings.warn(f"{self._early_message(new, early)} The entity features of these "
                              f"{len(new_rows):,} rows come from their own earlier rows only.", LabcoatNotice, stacklevel=2)
            return self._frame(_compute(new, self._windows_ns, _Ordered.of(new)), new, new_rows.index)
        if early is not None:
            raise DataError(f"{self._early_message(new, early)} transform takes rows after training; score a "
                            "table holding its own history with past='batch', or refit on all the rows.")
        history = self._history_of(new.entity)
        together = _Events(entity=np.concatenate([history.entity, new.entity]),
                           time=np.concatenate([history.time, new.time]),
                           numeric={c: np.concatenate([history.numeric[c], new.numeric[c]]) for c in self.numeric_},
                           categorical={c: np.concatenate([history.categorical[c], new.categorical[c]])
                                        for c in self.categorical_})
        out = _compute(together, self._windows_ns, _Ordered.of(together))
        tail = slice(len(history.entity), None)
        result = {name: values[tail] for name, values in out.items()}
        known = self._codes(new.entity)
        result["past_events"] = result["past_events"] + np.where(known >= 0, self._older[np.maximum(known, 0)], 0)
        for column in self.categorical_:
            values = self._values[column].get_indexer(pd.Index(new.categorical[column], dtype=object))
            keys = known.astype(np.int64) * len(self._values[column]) + values
            seen_pairs = self._seen[column]
            at = np.minimum(np.searchsorted(seen_pairs, keys), max(len(seen_pairs) - 1, 0))
            seen = (known >= 0) & (values >= 0) & (len(seen_pairs) > 0) & (seen_pairs[at] == keys)
            result[f"new_{column}"] = np.where(seen, 0, result[f"new_{column}"])
        return self._frame(result, new, new_rows.index)

    def update(self, new_rows: pd.DataFrame) -> EntityFeatures:
        """Add rows that arrived after training to the state, so that later calls of
        :meth:`transform` count them among the entities' past (a service that sees each event, a
        nightly batch); a row earlier than its entity's last event so far is refused."""
        if not hasattr(self, "history_"):
            raise NotFittedError("EntityFeatures.update was called before fit_transform; fit on the training rows first.")
        _check_frame(new_rows, [self.entity, self.time, *self.numeric_, *self.categorical_], "update",
                     error=SchemaError)
        new = self._events(new_rows)
        early = self._early(new)
        if early is not None:
            raise DataError(f"{self._early_message(new, early)} update takes rows after the state's last events.")
        entities, older, values, seen = self.entities_, self._older, self._values, self._seen
        history = self.history_
        together = _Events(entity=np.concatenate([history.entity, new.entity]),
                           time=np.concatenate([history.time, new.time]),
                           numeric={c: np.concatenate([history.numeric[c], new.numeric[c]]) for c in self.numeric_},
                           categorical={c: np.concatenate([history.categorical[c], new.categorical[c]])
                                        for c in self.categorical_})
        self._keep_state(together, _Ordered.of(together))
        self._older[self._codes(entities.to_numpy())] += older  # the events the trimmed state no longer holds
        for column in self.categorical_:  # and the values they had
            pairs = [_decode(seen[column], entities, values[column]),
                     _decode(self._seen[column], self.entities_, self._values[column])]
            every = pd.Index(np.concatenate([p[1] for p in pairs]), dtype=object).unique()
            codes = np.concatenate([self._codes(p[0]) for p in pairs]).astype(np.int64)
            self._values[column] = every
            self._seen[column] = np.unique(codes * len(every) + every.get_indexer(np.concatenate([p[1] for p in pairs])))
        return self

    def describe(self, feature: str, value: float | None, usual: float | None = None) -> str:
        """A feature's value in words, with the ``usual`` value when given (a missing value: the
        entity had no earlier event, in the window or at all).

        Examples
        --------
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"card_id": ["a", "a"], "amount": [1.0, 2.0],
        ...                      "ts": pd.to_datetime(["2024-01-01", "2024-01-02"])})
        >>> f = EntityFeatures("card_id", "ts", windows=("1h", "7d"))
        >>> _ = f.fit_transform(rows)
        >>> f.describe("card_id_events_1h", 12, usual=0.3)
        '12 events in the last hour on this card, usual is 0.3'
        >>> f.describe("card_id_amount_ratio_to_typical", 4.2), f.describe("card_id_amount_mean_7d", None)
        ('amount 4.2 times the usual amount of this card', 'no earlier event in the last 7 days on this card')
        """
        if not hasattr(self, "features_"):
            raise NotFittedError("EntityFeatures.describe was called before fit_transform.")
        info = self.features_.get(feature)
        if info is None:
            raise ConfigError(f"'{feature}' is not an entity feature.{did_you_mean(feature, self.features_)}")
        on = f"this {re.sub(r'[ _]?id$', '', self.entity, flags=re.IGNORECASE).replace('_', ' ') or self.entity}"
        last = f"the last {_window_words(info.window)}" if info.window else ""
        if value is None or pd.isna(value):
            return f"no earlier event in {last} on {on}" if info.window else f"the first event on {on}"
        phrases = {
            "events": f"{_number(value)} event{'' if value == 1 else 's'} in {last} on {on}",
            "sum": f"{info.column} totalling {_number(value)} in {last} on {on}",
            "mean": f"{info.column} averaging {_number(value)} in {last} on {on}",
            "since_previous": f"{_duration(value)} since the previous event on {on}",
            "past_events": f"{_number(value)} earlier event{'' if value == 1 else 's'} on {on}",
            "typical": f"usual {info.column} of {_number(value)} on {on}",
            "ratio": f"{info.column} {_number(value)} times the usual {info.column} of {on}",
            "robust_z": f"{info.column} {_number(abs(value))} spreads {'above' if value > 0 else 'below'} the usual "
                        f"{info.column} of {on}",
            "new": f"{'a' if value else 'no'} first {info.column} for {on}",
        }
        words = phrases[info.kind]
        if usual is not None and info.kind != "new":
            words += f", usual is {_duration(usual) if info.kind == 'since_previous' else _number(usual)}"
        return words

    # -- the columns used and the names given -------------------------------------------------

    def _numeric(self, frame: pd.DataFrame) -> list[str]:
        if self.numeric is not None:
            chosen = list(self.numeric)
            _check_columns(frame, chosen, "numeric")
            for column in chosen:
                if not (pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])):
                    raise DataError(f"Numeric column '{column}' of the entity features holds {frame[column].dtype} "
                                    "values, not numbers; convert it or leave it out of numeric=.")
            return chosen
        found = [c for c in frame.columns if c not in (self.entity, self.time)
                 and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
        return _first_few(found, "numeric")

    def _categorical(self, frame: pd.DataFrame) -> list[str]:
        if self.categorical is not None:
            chosen = list(self.categorical)
            _check_columns(frame, chosen, "categorical")
            return chosen
        found = []
        for column in frame.columns:
            values = frame[column]
            if column in (self.entity, self.time) or pd.api.types.is_numeric_dtype(values) \
                    or pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
                continue
            distinct = values.nunique()
            if 2 <= distinct <= MAX_CATEGORIES and distinct < 0.5 * len(frame):
                found.append(column)
        return _first_few(found, "categorical")

    def _names(self, frame: pd.DataFrame) -> tuple[list[str], dict[str, FeatureInfo]]:
        infos: dict[str, FeatureInfo] = {}
        for window in self._windows_ns:
            infos[f"events_{window}"] = FeatureInfo("events", None, window)
            for column in self.numeric_:
                infos[f"{column}_sum_{window}"] = FeatureInfo("sum", column, window)
                infos[f"{column}_mean_{window}"] = FeatureInfo("mean", column, window)
        infos["seconds_since_previous"] = FeatureInfo("since_previous")
        infos["past_events"] = FeatureInfo("past_events")
        for column in self.numeric_:
            infos[f"{column}_typical"] = FeatureInfo("typical", column)
            infos[f"{column}_ratio_to_typical"] = FeatureInfo("ratio", column)
            infos[f"{column}_robust_z"] = FeatureInfo("robust_z", column)
        for column in self.categorical_:
            infos[f"new_{column}"] = FeatureInfo("new", column)
        self._short = list(infos)
        named = {f"{self.entity}_{short}": info for short, info in infos.items()}
        clash = [n for n in named if n in frame.columns]
        if clash:
            raise DataError(f"The entity features would be named like existing columns ({listed(clash)}); "
                            "rename those columns.")
        return list(named), named

    # -- events, state, result ----------------------------------------------------------------

    def _events(self, frame: pd.DataFrame) -> _Events:
        entity = frame[self.entity]
        if entity.isna().any():
            raise DataError(f"Entity column '{self.entity}' is missing on {int(entity.isna().sum())} rows (first: row "
                            f"{entity.index[entity.isna()][0]!r}); fill or drop them: their past is unknown.")
        return _Events(entity=_keys(entity),
                       time=event_times(frame[self.time], self.time),
                       numeric={c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in self.numeric_},
                       categorical={c: _keys(frame[c]) for c in self.categorical_})

    def _keep_state(self, events: _Events, ordered: _Ordered) -> None:
        """Keep, per entity, its events within the longest window of its last one and its last
        events (the typical values' window, with every event tied at its end)."""
        time = events.time[ordered.order]
        last = time[ordered.entity_end - 1]
        tied_at_last = ordered.entity_end - ordered.tie_start[ordered.entity_end - 1]
        from_end = ordered.entity_end - 1 - np.arange(len(time))
        keep = (time >= last - max(self._windows_ns.values())) | (from_end < TYPICAL_EVENTS + tied_at_last)
        kept = ordered.order[keep]  # sorted by entity: a batch takes only its entities' rows
        self.history_ = events.take(kept)
        # per training entity (in the order of its codes, which sorts the kept rows): its kept rows,
        # its older events' count, its last time; per categorical column, its (entity, value) pairs
        self.entities_ = pd.Index(events.entity[ordered.order[ordered.new_entity]], dtype=object)
        kept_entity = ordered.codes[kept]
        self._start = np.flatnonzero(np.r_[True, kept_entity[1:] != kept_entity[:-1]])
        self._end = np.r_[self._start[1:], len(kept)]
        totals = np.diff(np.r_[np.flatnonzero(ordered.new_entity), len(time)])
        self._older = totals - (self._end - self._start)
        self._last = last[ordered.new_entity]
        self._values, self._seen = {}, {}
        for column in self.categorical_:
            values, uniques = pd.factorize(events.categorical[column])
            present = values >= 0
            self._values[column] = pd.Index(uniques, dtype=object)
            self._seen[column] = np.unique(ordered.codes[present].astype(np.int64) * len(uniques) + values[present])

    def _codes(self, entities: np.ndarray) -> np.ndarray:
        """The training entities' positions of ``entities`` (-1 for one never seen)."""
        return np.asarray(self.entities_.get_indexer(pd.Index(entities, dtype=object)))

    def _history_of(self, entities: np.ndarray) -> _Events:
        """The kept training events of these entities."""
        known = np.unique(self._codes(entities))
        known = known[known >= 0]
        lengths = self._end[known] - self._start[known]
        rows = np.repeat(self._start[known] - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(lengths.sum())
        return self.history_.take(rows.astype(np.int64))

    def _early(self, new: _Events) -> int | None:
        """The first row earlier than its entity's last training event, if any."""
        known = self._codes(new.entity)
        last = np.where(known >= 0, self._last[np.maximum(known, 0)], np.iinfo(np.int64).min)
        early = np.flatnonzero(new.time < last)
        return int(early[0]) if len(early) else None

    def _early_message(self, new: _Events, row: int) -> str:
        last = self._last[self._codes(new.entity[row:row + 1])[0]]
        return (f"Row {row} of the new rows ({self.time} {pd.Timestamp(new.time[row])}) is earlier than the last "
                f"training event of its {self.entity} {new.entity[row]!r} ({pd.Timestamp(last)}); its past would "
                "hold later events.")

    def _frame(self, out: dict[str, np.ndarray], events: _Events, index: pd.Index) -> pd.DataFrame:
        columns = {}
        for short, name in zip(self._short, self.feature_names_, strict=True):
            if short.startswith("new_"):
                column = short[4:]
                values = np.where(pd.isna(events.categorical[column]), 0, out[short])
                columns[name] = values.astype(np.int8)
            else:
                columns[name] = out[short]
        return pd.DataFrame(columns, index=index)


@dataclass
class _Events:
    """The columns of the events, as numpy arrays: the entity, times in nanoseconds, numbers
    (float64, NaN for missing), categories (objects, ``None`` for missing)."""

    entity: np.ndarray
    time: np.ndarray
    numeric: dict[str, np.ndarray]
    categorical: dict[str, np.ndarray]

    def take(self, rows: np.ndarray) -> _Events:
        return _Events(self.entity[rows], self.time[rows], {c: v[rows] for c, v in self.numeric.items()},
                       {c: v[rows] for c, v in self.categorical.items()})


class _Bounds(BaseIndexer):
    """Given window bounds ``[start, end)`` per row, for pandas' rolling aggregations."""

    def __init__(self, start: np.ndarray, end: np.ndarray) -> None:
        super().__init__()
        self.bounds = (start.astype(np.int64), end.astype(np.int64))

    def get_window_bounds(self, num_values: int = 0, min_periods: int | None = None, center: bool | None = None,
                          closed: str | None = None, step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self.bounds


@dataclass
class _Ordered:
    """The events sorted by entity, time and values (``order``), with each sorted row's entity's
    first and one-past-last positions and the first position of its (entity, time) tie."""

    codes: np.ndarray
    order: np.ndarray
    new_entity: np.ndarray
    entity_start: np.ndarray
    entity_end: np.ndarray
    tie_start: np.ndarray

    @classmethod
    def of(cls, events: _Events) -> _Ordered:
        n = len(events.entity)
        codes = pd.factorize(events.entity)[0]
        keys = [events.numeric[c] for c in reversed(list(events.numeric))]
        order = np.lexsort([*keys, events.time, codes])  # ties sorted by their values: any input order gives the same
        entity, time = codes[order], events.time[order]
        position = np.arange(n)
        new_entity = np.r_[True, entity[1:] != entity[:-1]]
        entity_start = np.maximum.accumulate(np.where(new_entity, position, 0))
        starts = np.flatnonzero(new_entity)
        entity_end = np.repeat(np.r_[starts[1:], n], np.diff(np.r_[starts, n]))
        tie_start = np.maximum.accumulate(np.where(new_entity | np.r_[True, time[1:] != time[:-1]], position, 0))
        return cls(codes, order, new_entity, entity_start, entity_end, tie_start)


def _compute(events: _Events, windows: dict[str, int], ordered: _Ordered) -> dict[str, np.ndarray]:
    """Every feature, in the events' order, from the strictly earlier events of each entity."""
    n = len(events.entity)
    order, entity_start, tie_start = ordered.order, ordered.entity_start, ordered.tie_start
    entity, time = ordered.codes[order], events.time[order]
    past = tie_start - entity_start
    out: dict[str, np.ndarray] = {}
    previous = time[np.maximum(tie_start - 1, 0)]
    since = np.where(past > 0, (time - previous) / 1e9, np.nan)
    typical = _Bounds(np.maximum(entity_start, tie_start - TYPICAL_EVENTS), tie_start)
    for name, width in windows.items():
        start = _window_start(entity, time, width)
        out[f"events_{name}"] = tie_start - start
        bounds = _Bounds(start, tie_start)
        for column, values in events.numeric.items():
            series = pd.Series(values[order])
            out[f"{column}_sum_{name}"] = series.rolling(bounds, min_periods=0).sum().to_numpy()
            out[f"{column}_mean_{name}"] = series.rolling(bounds, min_periods=1).mean().to_numpy()
    out["seconds_since_previous"] = since
    out["past_events"] = past
    for column, values in events.numeric.items():
        series = pd.Series(values[order])
        rolling = series.rolling(typical, min_periods=1)
        median = rolling.median().to_numpy()
        spread = (rolling.quantile(0.75).to_numpy() - rolling.quantile(0.25).to_numpy()) / 1.349
        spread = np.maximum(spread, MIN_RELATIVE_SPREAD * np.abs(median))
        x = values[order]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{column}_typical"] = median
            out[f"{column}_ratio_to_typical"] = np.where(median > 0, x / median, np.nan)
            out[f"{column}_robust_z"] = np.where(spread > 0, (x - median) / spread,
                                                 np.where(x == median, 0.0, np.nan))
    for column, values in events.categorical.items():
        out[f"new_{column}"] = _first_seen(ordered.codes, events.time, values)[order]
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    return {name: values[inverse] for name, values in out.items()}


def _window_start(entity: np.ndarray, time: np.ndarray, width: int) -> np.ndarray:
    """For events sorted by entity and time, the position of each one's first event of the same
    entity at or after ``time - width``: a binary search on one integer key (entity, time) when
    it fits in 63 bits (times on a common grid), else a merge of the window starts into the events."""
    if len(time) == 0:
        return np.zeros(0, dtype=np.int64)
    base = int(time.min()) - width
    grid = int(np.gcd.reduce(time - base)) or 1
    span = (int(time.max()) - base) // grid + 1
    if (int(entity.max()) + 1) * span < 2**62:
        events = entity.astype(np.int64) * span + (time - base) // grid
        queries = entity.astype(np.int64) * span - ((base - (time - width)) // grid)  # ceil((t - w - base) / grid)
        return np.searchsorted(events, queries, side="left").astype(np.int64)
    return _merged_window_start(entity, time, width)


def _merged_window_start(entity: np.ndarray, time: np.ndarray, width: int) -> np.ndarray:
    """:func:`_window_start` for any times, by sorting the window starts among the events."""
    n = len(entity)
    is_event = np.r_[np.zeros(n, dtype=np.int8), np.ones(n, dtype=np.int8)]
    merged = np.lexsort([is_event, np.r_[time - width, time], np.r_[entity, entity]])
    events_before = np.cumsum(is_event[merged]) - is_event[merged]
    start = np.empty(n, dtype=np.int64)
    is_query = merged < n
    start[merged[is_query]] = events_before[is_query]
    return start


def _first_seen(codes: np.ndarray, time: np.ndarray, values: np.ndarray) -> np.ndarray:
    """1 where the entity has no earlier event with this value (missing values: 1 too, masked later)."""
    value_codes = pd.factorize(values)[0]
    pair = codes.astype(np.int64) * (int(value_codes.max(initial=0)) + 2) + value_codes + 1
    order = np.lexsort([time, pair])
    sorted_pair = pair[order]
    first = np.maximum.accumulate(np.where(np.r_[True, sorted_pair[1:] != sorted_pair[:-1]], np.arange(len(pair)), 0))
    earliest = np.empty_like(time)
    earliest[order] = time[order][first]
    return (time == earliest).astype(np.int8)


def _decode(keys: np.ndarray, entities: pd.Index, values: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """The (entity, value) pairs that integer ``keys`` (entity position x values + value position) stand for."""
    size = max(len(values), 1)
    return entities.to_numpy()[keys // size], values.to_numpy()[keys % size]


def _keys(column: pd.Series) -> np.ndarray:
    """An entity or category column as text keys, ``None`` for missing values: 123, 123.0 and
    '123' are one card whichever way the rows came (a frame, a CSV file, a JSON request), as the
    schema's categories are (``3.0 -> '3'``, ``2.5 -> '2.5'``)."""
    missing = column.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        numbers = column.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(numbers) & (np.mod(np.nan_to_num(numbers), 1) == 0)
        keys = np.where(whole, np.nan_to_num(numbers).astype(np.int64).astype(str), numbers.astype(str)).astype(object)
    elif pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        keys = column.astype(str).to_numpy(dtype=object)
    else:  # mixed: numbers among the text
        keys = np.array([_key(v) for v in column.to_numpy(dtype=object)], dtype=object)
    keys[missing] = None
    return np.asarray(keys, dtype=object)


def _key(value: object) -> str:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
            and float(value).is_integer():
        return str(int(value))
    return str(value)


def _parse_windows(windows: Sequence[str]) -> dict[str, int]:
    if isinstance(windows, str) or not len(windows):
        raise ConfigError(f"windows= takes a list of durations such as ('1h', '24h', '7d'); got {windows!r}.")
    parsed = {}
    for window in windows:
        try:
            width = pd.Timedelta(re.sub(r"(?<=\d)d$", "D", str(window).strip()))  # pandas 3 deprecates 'd
        except (ValueError, TypeError):
            raise ConfigError(f"Window {window!r} of the entity features is not a duration; use one like '1h', "
                              "'24h', '7d' or '30min'.") from None
        if width <= pd.Timedelta(0):
            raise ConfigError(f"Window {window!r} of the entity features must be longer than zero.")
        parsed[str(window)] = int(width.value)
    return parsed


def event_times(values: pd.Series, column: str) -> np.ndarray:
    """The time column as int64 nanoseconds (UTC for time-zone aware ones), checked."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"Time column '{column}' holds numbers ({values.dtype}), not datetimes; convert it, e.g. "
                        f"pd.to_datetime(frame['{column}'], unit='s') for seconds since 1970.")
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        bad = parsed.isna() & values.notna()
        if bad.any():
            raise DataError(f"Time column '{column}' has {int(bad.sum())} values that are not datetimes "
                            f"(first: {values[bad].iloc[0]!r} at row {values.index[bad][0]!r}).")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    if parsed.isna().any():
        raise DataError(f"Time column '{column}' is missing on {int(parsed.isna().sum())} rows (first: row "
                        f"{parsed.index[parsed.isna()][0]!r}); an event without a time has no past.")
    return parsed.astype("datetime64[ns]").to_numpy().view(np.int64)


def _check_frame(frame: pd.DataFrame, columns: list[str], method: str, *, error: type[DataError] = DataError) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"EntityFeatures.{method} takes a pandas DataFrame; got {type(frame).__name__}.")
    if frame.columns.duplicated().any():
        raise DataError(f"Columns {listed(frame.columns[frame.columns.duplicated()].unique())} appear more than once.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        hint = did_you_mean(str(missing[0]), frame.columns)
        raise error(f"Column {listed(missing)} is not in the data given to EntityFeatures.{method}.{hint}")
    if frame.empty and method == "fit_transform":
        raise DataError("EntityFeatures.fit_transform was given no rows.")


def _check_columns(frame: pd.DataFrame, columns: list[str], role: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"The {role} column {listed(missing)} of the entity features is not in the data."
                        f"{did_you_mean(str(missing[0]), frame.columns)}")


def _first_few(found: list[str], role: str) -> list[str]:
    if len(found) > MAX_DEFAULT_COLUMNS:
        warnings.warn(f"The entity features use the first {MAX_DEFAULT_COLUMNS} {role} columns "
                      f"({listed(found[:MAX_DEFAULT_COLUMNS])}) of {len(found)}; name them with {role}= to choose.",
                      LabcoatNotice, stacklevel=4)
    return found[:MAX_DEFAULT_COLUMNS]


def _number(value: float) -> str:
    return f"{value:.3g}" if float(value) != int(value) or abs(value) >= 1e6 else f"{int(value)}"


def _window_words(window: str) -> str:
    """``"1h"`` -> ``"hour"``, ``"24h"`` -> ``"24 hours"``, ``"7d"`` -> ``"7 days"`` (others as given)."""
    units = {"h": "hour", "hour": "hour", "hours": "hour", "d": "day", "day": "day", "days": "day", "w": "week",
             "min": "minute", "minutes": "minute", "s": "second"}
    match = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]+)\s*", window)
    if not match or match.group(2).lower() not in units:
        return window
    count, unit = int(match.group(1)), units[match.group(2).lower()]
    return unit if count == 1 else f"{count} {unit}s"


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} seconds"
