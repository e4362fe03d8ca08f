"""The service's request validation: the value-by-value path for few rows finds exactly what
the array path finds (problems, rows, values, order), on random requests full of bad values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import mixed_frame
from labcoat.serve import validation
from labcoat.serve.validation import RequestInvalid, Validator
from labcoat.tasks import infer_schema

#: Values a client may send in any column: good, bad, missing, odd types.
ODD = [None, float("nan"), "", "abc", "12.5", " 7 ", "nan", True, False, 0, 3, -1e9, 1e12, 2.5,
       "2021-03-04", "2021-03-04T10:00:00", "1500-01-01", "04/03/2021", "yes", "no", "pro", "basic",
       "never seen", {"a": 1}, [1, 2]]


def outcome(validator: Validator, frame: pd.DataFrame) -> tuple[str, list[dict]]:
    try:
        checked = validator.check(frame)
    except RequestInvalid as error:
        return "refused", [p.detail() for p in error.problems]
    assert list(checked.frame.columns) == validator.names
    return "answered", [w.detail() for w in checked.warnings]


@pytest.fixture(scope="module")
def validator() -> Validator:
    train = mixed_frame(400).drop(columns=["customer_id"])
    train["paid"] = np.where(np.arange(400) % 2 == 0, "yes", "no")  # a boolean column
    return Validator(infer_schema(train, "churn"))


def test_small_path_equals_array_path(validator: Validator, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    good = mixed_frame(50, seed=3).drop(columns=["customer_id", "churn"])
    good["paid"] = "yes"
    seen = set()
    for trial in range(300):
        rows = int(rng.integers(1, 6))
        frame = good.sample(rows, random_state=trial).reset_index(drop=True).astype(object)
        for _ in range(int(rng.integers(0, 4))):  # plant odd values
            column = frame.columns[int(rng.integers(0, len(frame.columns)))]
            frame.at[int(rng.integers(0, rows)), column] = ODD[int(rng.integers(0, len(ODD)))]
        if rng.random() < 0.2:
            frame["unknown"] = 1
        if trial % 10 == 0:  # flags of both sides in two columns, and two bad numbers in one
            frame.loc[0, ["income", "age"]] = [-5.0, 1e6]
            frame.loc[rows - 1, "age"] = "x" if trial % 20 == 0 else -1.0
        small = outcome(validator, frame)
        monkeypatch.setattr(validation, "SMALL", 0)
        general = outcome(validator, frame)
        monkeypatch.setattr(validation, "SMALL", 64)
        assert small == general, (trial, frame.to_dict("records"))
        seen.add(small[0])
    assert seen == {"refused", "answered"}


def test_small_path_flags(validator: Validator) -> None:
    row = mixed_frame(1, seed=5).drop(columns=["customer_id", "churn"]).astype(object)
    row["paid"] = "yes"
    row.loc[0, "age"] = 500.0
    row.loc[0, "plan"] = "platinum"
    kinds = {(w.column, w.kind) for w in validator.check(row).warnings}
    assert {("age", "out_of_range"), ("plan", "unseen_category")} <= kinds
    row.loc[0, "signup"] = "not a date"
    with pytest.raises(RequestInvalid, match="signup: expected a date"):
        validator.check(row)
