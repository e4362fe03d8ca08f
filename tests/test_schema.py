import warnings

import numpy as np
import pandas as pd
import pytest

from labcoat.data.columns import Role
from labcoat.data.infer import drop_missing_target, infer_column
from labcoat.data.schema import Schema
from labcoat.errors import ConfigError, LabcoatNotice, SchemaError, TargetError
from labcoat.tasks import infer_schema


def test_roles_of_a_mixed_frame(frame):
    schema = infer_schema(frame, "churn")
    roles = {c.name: c.role for c in schema.columns}
    assert roles == {
        "customer_id": Role.IDENTIFIER, "age": Role.NUMERIC, "income": Role.NUMERIC,
        "plan": Role.CATEGORICAL, "autopay": Role.BOOLEAN, "signup": Role.DATETIME,
        "note": Role.TEXT, "constant": Role.CONSTANT,
    }
    assert schema.task == "binary" and schema.classes == ["no", "yes"]
    assert any("customer_id" in n for n in schema.notices)
    assert any("constant" in n for n in schema.notices)


def test_low_cardinality_integers_are_categorical():
    column = infer_column(pd.Series([1, 2, 3, 2, 1] * 10, name="stars"))
    assert column.role is Role.CATEGORICAL and column.categories == ["1", "2", "3"]


def test_consecutive_unique_integers_are_identifiers():
    assert infer_column(pd.Series(range(100), name="row")).role is Role.IDENTIFIER
    # unique floats are measurements, not identifiers
    assert infer_column(pd.Series(np.linspace(0, 1, 100), name="x")).role is Role.NUMERIC


@pytest.mark.parametrize("values, task", [
    ([0, 1] * 10, "binary"),
    (["a", "b", "c"] * 10, "multiclass"),
    ([1, 2, 3, 4] * 10, "multiclass"),
    (list(np.linspace(0, 10, 30)), "regression"),
    (list(range(30)), "regression"),
])
def test_task_inferred_from_target(values, task):
    df = pd.DataFrame({"x": np.arange(len(values)) % 7, "y": values})
    assert infer_schema(df, "y").task is task


def test_task_override_and_bad_task():
    df = pd.DataFrame({"x": np.arange(30) % 7, "y": [1, 2, 3] * 10})
    assert infer_schema(df, "y", task="regression").task == "regression"
    with pytest.raises(ConfigError, match="Unknown task 'clustering'"):
        infer_schema(df, "y", task="clustering")


def test_missing_target_suggests_closest_name(frame):
    with pytest.raises(TargetError, match="Did you mean 'churn'"):
        infer_schema(frame, "chrun")


def test_single_class_target_is_refused(frame):
    frame["churn"] = "no"
    with pytest.raises(TargetError, match="single class"):
        infer_schema(frame, "churn")


def test_rows_without_target_are_dropped_with_a_notice(frame):
    frame.loc[:9, "churn"] = None
    with pytest.warns(LabcoatNotice, match="Dropped 10 of 300 rows"):
        kept = drop_missing_target(frame, "churn")
    assert len(kept) == 290 and len(frame) == 300  # the user's frame is untouched


def test_all_missing_target_is_refused(frame):
    frame["churn"] = None
    with pytest.raises(TargetError, match="all 300 values are missing"):
        drop_missing_target(frame, "churn")


def test_duplicate_column_names_are_named():
    df = pd.DataFrame([[1, 2, 3]] * 5, columns=["a", "a", "y"])
    with pytest.raises(SchemaError, match="'a' \\(2 times\\)"):
        infer_schema(df, "y")


def test_only_constant_features_is_refused():
    df = pd.DataFrame({"k": [1] * 20, "y": [0, 1] * 10})
    with pytest.raises(SchemaError, match="No usable feature columns"):
        infer_schema(df, "y")


def test_prepare_checks_and_converts_new_data(frame):
    schema = infer_schema(frame, "churn")
    new = frame.drop(columns=["churn"]).head(5).copy()
    new["extra"] = 1
    new["age"] = new["age"].astype(str)  # numbers as strings convert safely
    with pytest.warns(LabcoatNotice, match="extra"):
        prepared = schema.prepare(new)
    assert list(prepared.columns) == schema.names()
    assert prepared["age"].dtype == np.float64
    assert pd.api.types.is_datetime64_any_dtype(prepared["signup"])
    assert set(prepared["autopay"].dropna()) <= {0.0, 1.0}


def test_prepare_names_missing_columns_and_bad_values(frame):
    schema = infer_schema(frame, "churn")
    with pytest.raises(SchemaError, match="'age', 'plan'"):
        schema.prepare(frame.drop(columns=["age", "plan"]))
    bad = frame.head(3).copy()
    bad["income"] = bad["income"].astype(object)
    bad.loc[bad.index[1], "income"] = "lots"
    with pytest.raises(SchemaError, match="Column 'income' should hold numbers.*'lots'"):
        schema.prepare(bad)


def test_schema_round_trips_through_json(frame):
    schema = infer_schema(frame, "churn")
    import json

    again = Schema.from_dict(json.loads(schema.to_json()))
    assert again == schema
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pd.testing.assert_frame_equal(again.prepare(frame), schema.prepare(frame))


def test_small_frames_take_a_fast_path_with_identical_results(frame):
    from labcoat.data import coerce as coerce_module
    from labcoat.data import small_frame as small_frame_module

    schema = infer_schema(frame, "churn")
    rows = frame.drop(columns="churn").head(40).copy()
    rows["age"] = rows["age"].astype(object)
    rows.loc[rows.index[0], "age"] = " 42 "
    rows.loc[rows.index[1], "note"] = None
    fast = schema.prepare(rows)
    general = pd.DataFrame({c.name: coerce_module._coerce(rows[c.name], c) for c in schema.features},
                           index=rows.index)
    pd.testing.assert_frame_equal(fast, general)
    assert small_frame_module._prepare_small(rows, schema.features) is not None


def test_datetime_features_do_not_depend_on_the_time_unit_of_the_input():
    """pandas gives datetimes in s, ms, us or ns depending on the source (a CSV read by pandas,
    DuckDB, Parquet); the features must be the same."""
    from labcoat.features.transformers import DatetimeParts

    days = pd.to_datetime(pd.Series(["2019-12-25", "2021-03-20", "2023-07-01"]))
    fitted = DatetimeParts().fit(pd.DataFrame({"d": days.astype("datetime64[us]")}))
    outputs = [fitted.transform(pd.DataFrame({"d": days.astype(f"datetime64[{unit}]")}))
               for unit in ("s", "ms", "us", "ns")]
    for out in outputs[1:]:
        np.testing.assert_array_equal(out, outputs[0])
    ancient = fitted.transform(pd.DataFrame({"d": pd.to_datetime(pd.Series(["0809-05-28"])).astype("datetime64[s]")}))
    assert ancient[0, 0] == 809  # years outside nanoseconds' 1677-2262 still work


@pytest.mark.parametrize("task", [None, "regression"])
def test_infinite_target_values_are_refused_naming_the_column_and_rows(frame, task):
    frame["spend"] = np.linspace(0.0, 100.0, len(frame))
    frame.loc[[3, 7], "spend"] = [np.inf, -np.inf]
    with pytest.raises(TargetError, match=r"Column 'spend' holds 2 infinite value\(s\) \(rows 3, 7\)"):
        infer_schema(frame.drop(columns="churn"), "spend", task)
