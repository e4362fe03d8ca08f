"""Per-entity fraud features (tasks/anomaly/entity.py): the no-future rule (a planted future
leak, shuffled rows, a naive loop over the strictly earlier rows), window edges, first-seen flags,
transform on a later batch against fit_transform on everything, bad inputs."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from labcoat.errors import ConfigError, DataError, LabcoatNotice, NotFittedError, SchemaError
from labcoat.tasks.anomaly.entity import TYPICAL_EVENTS, EntityFeatures, _merged_window_start, _window_start

WINDOWS = ("1h", "24h", "7d")


def transactions(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Cards with times on whole minutes over ten days (so some events share a timestamp), a few
    missing amounts and countries."""
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.integers(0, 10 * 24 * 60, n))
    frame = pd.DataFrame({
        "card": rng.choice(["a", "b", "c", "d"], n, p=[0.5, 0.3, 0.15, 0.05]),
        "ts": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.choice(minutes, n) // 30 * 30, unit="min"),
        "amount": rng.lognormal(3, 1, n).round(0),
        "country": rng.choice(["fr", "de", "us", "gb", "es", "it"], n),
        "merchant": rng.choice([f"m{i}" for i in range(15)], n),
    })
    frame.loc[rng.random(n) < 0.05, "amount"] = np.nan
    frame.loc[rng.random(n) < 0.05, "country"] = None
    return frame.sample(frac=1.0, random_state=seed).set_index(pd.Index(rng.permutation(n) * 3 + 7))


def naive(frame: pd.DataFrame) -> pd.DataFrame:
    """The features of each row from the rows of its card strictly before it, one row at a time."""
    rows = []
    for _, row in frame.iterrows():
        past = frame[(frame.card == row.card) & (frame.ts < row.ts)].sort_values(["ts", "amount"])
        out: dict[str, float] = {}
        for window in WINDOWS:
            inside = past[past.ts >= row.ts - pd.Timedelta(window.replace("d", "D"))]
            out[f"card_events_{window}"] = len(inside)
            out[f"card_amount_sum_{window}"] = inside.amount.sum()
            out[f"card_amount_mean_{window}"] = inside.amount.mean()
        out["card_seconds_since_previous"] = (row.ts - past.ts.max()).total_seconds() if len(past) else np.nan
        out["card_past_events"] = len(past)
        recent = past.amount.iloc[-TYPICAL_EVENTS:].dropna().to_numpy()
        typical = np.median(recent) if len(recent) else np.nan
        spread = (np.percentile(recent, 75) - np.percentile(recent, 25)) / 1.349 if len(recent) else np.nan
        spread = max(spread, 0.1 * abs(typical)) if len(recent) else np.nan
        out["card_amount_typical"] = typical
        out["card_amount_ratio_to_typical"] = row.amount / typical if typical > 0 else np.nan
        out["card_amount_robust_z"] = (row.amount - typical) / spread if spread > 0 else np.nan
        for column in ("country", "merchant"):
            out[f"card_new_{column}"] = int(pd.notna(row[column]) and row[column] not in set(past[column]))
        rows.append(out)
    return pd.DataFrame(rows, index=frame.index)


def features(frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
    return EntityFeatures("card", "ts", numeric=["amount"], categorical=["country", "merchant"], **options)\
        .fit_transform(frame)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return transactions()


def test_each_row_equals_a_naive_loop_over_strictly_earlier_rows(frame: pd.DataFrame) -> None:
    assert frame.duplicated(["card", "ts"]).sum() > 10  # ties are exercised
    assert frame.card.value_counts().max() > TYPICAL_EVENTS  # the typical values' limit is too
    got = features(frame)
    expected = naive(frame)
    pd.testing.assert_frame_equal(got[expected.columns], expected, check_dtype=False, rtol=1e-9, atol=1e-9)


def test_a_planted_future_leak_changes_no_earlier_row(frame: pd.DataFrame) -> None:
    before = features(frame)
    last = frame.ts.max()
    leak = pd.DataFrame({"card": ["a", "a", "b"], "ts": [last + pd.Timedelta("1min"), last, frame.ts.min()],
                         "amount": [1e9, 1e9, 1e9], "country": ["zz", "zz", "zz"], "merchant": ["x", "x", "x"]},
                        index=[-1, -2, -3])
    after = features(pd.concat([frame, leak]))
    # The leak on card a is later than (or as late as) every row: no row's features may move.
    unchanged = ~((frame.card == "b") & (frame.ts > frame.ts.min()))
    pd.testing.assert_frame_equal(after.loc[frame.index[unchanged]], before[unchanged])
    # The leak on card b at its first time is the past of b's later rows: they do move (the check can fail).
    assert (after.loc[frame.index[~unchanged], "card_past_events"] > before.loc[~unchanged, "card_past_events"]).all()


def test_shuffled_rows_give_the_same_features_in_the_input_order(frame: pd.DataFrame) -> None:
    original = features(frame)
    shuffled = frame.sample(frac=1.0, random_state=5)
    again = features(shuffled)
    assert list(again.index) == list(shuffled.index)
    pd.testing.assert_frame_equal(again.loc[frame.index], original)


def test_input_is_not_modified(frame: pd.DataFrame) -> None:
    copy = frame.copy()
    features(frame)
    pd.testing.assert_frame_equal(frame, copy)


def test_window_edges_and_same_timestamp() -> None:
    times = pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-01 11:00", "2024-01-01 11:59:59.999",
                            "2024-01-01 12:00", "2024-01-01 12:00:00.000001"], format="ISO8601")
    rows = pd.DataFrame({"card": ["a"] * 6, "ts": times, "amount": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]})
    got = EntityFeatures("card", "ts", windows=("1h",), categorical=[]).fit_transform(rows)
    # at 11:00, 10:00 is exactly an hour before (counted) and the twin at 11:00 is not past;
    # at 12:00 both 11:00 events count, a microsecond later neither does.
    assert got["card_events_1h"].tolist() == [0, 1, 1, 2, 3, 2]
    assert got["card_amount_sum_1h"].tolist() == [0.0, 1.0, 1.0, 6.0, 14.0, 24.0]
    assert got["card_past_events"].tolist() == [0, 1, 1, 3, 4, 5]
    np.testing.assert_allclose(got["card_seconds_since_previous"], [np.nan, 3600, 3600, 3599.999, 0.001, 1e-6])


@pytest.mark.parametrize("scale", [1, 10**9, 10**16])
def test_both_ways_of_finding_window_starts_agree(scale: int) -> None:
    """The one-key binary search (times on a grid) and the merge (any times, the fallback)."""
    rng = np.random.default_rng(scale % 97)
    entity = np.sort(rng.integers(0, 30, 2_000))
    time = np.concatenate([np.sort(rng.integers(0, 500, (entity == e).sum())) for e in np.unique(entity)]) * scale + 7
    for width in (1, 3 * scale, 50 * scale + 1):
        np.testing.assert_array_equal(_window_start(entity, time, width), _merged_window_start(entity, time, width))


def test_first_seen_flags() -> None:
    rows = pd.DataFrame({"card": ["a", "a", "a", "b", "a", "a"],
                         "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04",
                                               "2024-01-05"]),
                         "country": ["fr", "us", "us", "fr", None, "fr"], "amount": [1.0] * 6})
    got = EntityFeatures("card", "ts", categorical=["country"]).fit_transform(rows)
    # twins at a new value are both new; a value new for card b though seen on card a is new; missing is not.
    assert got["card_new_country"].tolist() == [1, 1, 1, 1, 0, 0]


@pytest.mark.parametrize("cut_share", [0.5, 0.9])
def test_transform_of_a_later_batch_equals_fit_transform_on_everything(frame: pd.DataFrame, cut_share: float) -> None:
    cut = frame.ts.quantile(cut_share)
    train, later = frame[frame.ts < cut], frame[frame.ts >= cut]
    # a late row at exactly card a's last training time, and a card never seen in training
    extra = pd.DataFrame({"card": ["a", "z"], "ts": [train[train.card == "a"].ts.max(), cut],
                          "amount": [5.0, 3.0], "country": ["fr", "fr"], "merchant": ["m1", "m99"]}, index=[-1, -2])
    later = pd.concat([later, extra]).sample(frac=1.0, random_state=2)
    fitted = EntityFeatures("card", "ts", numeric=["amount"], categorical=["country", "merchant"], windows=("1h", "2d"))
    fitted.fit_transform(train)
    assert len(fitted.history_.entity) < len(train)  # the state was trimmed, and still suffices
    everything = features(pd.concat([train, later]), windows=("1h", "2d"))
    got = fitted.transform(later)
    assert list(got.index) == list(later.index)
    pd.testing.assert_frame_equal(got, everything.loc[later.index], rtol=1e-9, atol=1e-9)
    pd.testing.assert_frame_equal(fitted.transform(later), got)  # transform keeps no state


def test_update_adds_later_rows_to_the_state(frame: pd.DataFrame) -> None:
    times = frame.ts.quantile([0.4, 0.7]).to_numpy()
    first, second, third = frame[frame.ts < times[0]], frame[(frame.ts >= times[0]) & (frame.ts < times[1])], \
        frame[frame.ts >= times[1]]
    options = dict(numeric=["amount"], categorical=["country", "merchant"], windows=("1h", "2d"))
    fitted = EntityFeatures("card", "ts", **options)  # type: ignore[arg-type]
    fitted.fit_transform(first)
    fitted.update(second)
    everything = features(frame, windows=("1h", "2d"))
    pd.testing.assert_frame_equal(fitted.transform(third), everything.loc[third.index], rtol=1e-9, atol=1e-9)
    with pytest.raises(DataError, match="update takes rows after"):
        fitted.update(first.head(3))
    # a value seen only long ago (trimmed from the kept events) is still not new after an update
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(40), unit="D")
    rows = pd.DataFrame({"card": "a", "ts": days, "amount": 1.0, "country": ["zz"] + ["fr"] * 39})
    fitted = EntityFeatures("card", "ts", categorical=["country"], windows=("1h",))
    fitted.fit_transform(rows.iloc[:30])  # "zz" is not among the kept events
    fitted.update(rows.iloc[30:])
    assert len(fitted.history_.entity) < len(rows)
    late = pd.DataFrame({"card": ["a", "a"], "ts": days[-1] + pd.to_timedelta([1, 2], unit="D"), "amount": 1.0,
                         "country": ["zz", "us"]})
    assert fitted.transform(late)["card_new_country"].tolist() == [0, 1]
    assert fitted.transform(late)["card_past_events"].tolist() == [40, 41]


def test_transform_refuses_rows_before_their_card_s_last_training_event(frame: pd.DataFrame) -> None:
    fitted = EntityFeatures("card", "ts")
    with pytest.raises(NotFittedError):
        fitted.transform(frame)
    fitted.fit_transform(frame)
    with pytest.raises(DataError, match="earlier than the last training event of its card 'a'"):
        fitted.transform(frame[frame.card == "a"].head(3))
    with pytest.raises(SchemaError, match="'amount'"):
        fitted.transform(frame.drop(columns="amount"))
    with pytest.raises(ConfigError, match="past="):
        fitted.transform(frame, past="all")


def test_a_table_with_its_own_history_is_scored_from_itself(frame: pd.DataFrame) -> None:
    on_training = EntityFeatures("card", "ts").fit_transform(frame)
    fitted = EntityFeatures("card", "ts").fit(frame)
    pd.testing.assert_frame_equal(fitted.transform(frame, past="batch"), on_training)
    with pytest.warns(LabcoatNotice, match="earlier than the last training event.*own earlier rows only"):
        pd.testing.assert_frame_equal(fitted.transform(frame, past="auto"), on_training)
    later = frame.assign(ts=frame.ts + pd.Timedelta("30D"))
    pd.testing.assert_frame_equal(fitted.transform(later, past="auto"), fitted.transform(later))


def test_ids_as_numbers_or_text_are_one_entity() -> None:
    """A CSV gives card 7 as a number, a JSON request may give it as '7' or 7.0."""
    rows = pd.DataFrame({"card": [7, 7, 8], "merchant": [101, 102, 101], "amount": [1.0, 2.0, 3.0],
                         "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"])})
    fitted = EntityFeatures("card", "ts", categorical=["merchant"])
    fitted.fit_transform(rows)
    later = pd.DataFrame({"card": ["7", 7.0, "9"], "merchant": ["101", 103.0, "101"], "amount": [1.0, 1.0, 1.0],
                          "ts": ["2024-01-03", "2024-01-04", "2024-01-04"]})
    got = fitted.transform(later)
    assert got["card_past_events"].tolist() == [2, 3, 0]
    assert got["card_new_merchant"].tolist() == [0, 1, 1]


def test_features_in_words(frame: pd.DataFrame) -> None:
    fitted = EntityFeatures("card_id", "ts", windows=("1h", "24h", "7d"))
    fitted.fit_transform(frame.rename(columns={"card": "card_id"}))
    assert fitted.describe("card_id_events_24h", 12, usual=0.25) == "12 events in the last 24 hours on this card, usual is 0.25"
    assert fitted.describe("card_id_seconds_since_previous", 90.0, usual=7200.0) == \
        "1.5 minutes since the previous event on this card, usual is 2 hours"
    assert fitted.describe("card_id_new_country", 1) == "a first country for this card"
    with pytest.raises(ConfigError, match="Did you mean 'card_id_events_1h'"):
        fitted.describe("card_id_events_1hr", 1)


def test_default_columns_and_their_notice() -> None:
    rng = np.random.default_rng(1)
    n = 200
    rows = pd.DataFrame({"card": rng.choice(list("abc"), n), "ts": pd.date_range("2024-01-01", periods=n, freq="h"),
                         "country": rng.choice(["fr", "de"], n), "note": [f"n{i}" for i in range(n)],
                         "flag": rng.random(n) < 0.5, **{f"x{i}": rng.random(n) for i in range(7)}})
    with pytest.warns(LabcoatNotice, match="first 5 numeric columns"):
        fitted = EntityFeatures("card", "ts")
        fitted.fit_transform(rows)
    assert fitted.numeric_ == ["x0", "x1", "x2", "x3", "x4"]
    assert fitted.categorical_ == ["country"]  # 'note' is unique per row, 'flag' is boolean


def test_bad_inputs(frame: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="'crad'.*Did you mean 'card'"):
        EntityFeatures("crad", "ts").fit_transform(frame)
    with pytest.raises(DataError, match="'tss'"):
        EntityFeatures("card", "tss").fit_transform(frame)
    with pytest.raises(DataError, match="Time column 'ts' has 1 values that are not datetimes.*'soon'"):
        bad = frame.ts.astype(str).where(frame.index != frame.index[3], "soon")
        EntityFeatures("card", "ts").fit_transform(frame.assign(ts=bad))
    with pytest.raises(DataError, match="Time column 'ts' holds numbers"):
        EntityFeatures("card", "ts").fit_transform(frame.assign(ts=np.arange(len(frame))))
    with pytest.raises(DataError, match="Time column 'ts' is missing on 1 rows"):
        EntityFeatures("card", "ts").fit_transform(frame.assign(ts=frame.ts.where(frame.index != frame.index[0])))
    with pytest.raises(DataError, match="Entity column 'card' is missing on 2 rows"):
        EntityFeatures("card", "ts").fit_transform(frame.assign(card=frame.card.where(~frame.index.isin(frame.index[:2]))))
    with pytest.raises(DataError, match="Numeric column 'country'"):
        EntityFeatures("card", "ts", numeric=["country"]).fit_transform(frame)
    with pytest.raises(DataError, match="categorical column 'contry'"):
        EntityFeatures("card", "ts", categorical=["contry"]).fit_transform(frame)
    with pytest.raises(ConfigError, match="Window 'soon'"):
        EntityFeatures("card", "ts", windows=("1h", "soon")).fit_transform(frame)
    with pytest.raises(ConfigError, match="windows="):
        EntityFeatures("card", "ts", windows="1h").fit_transform(frame)
    with pytest.raises(DataError, match="'card_past_events'"):
        EntityFeatures("card", "ts").fit_transform(frame.assign(card_past_events=1))
    with pytest.raises(DataError, match="no rows"):
        EntityFeatures("card", "ts").fit_transform(frame.iloc[:0])
