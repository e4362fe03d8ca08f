"""The entity features in the anomaly task (tasks/anomaly/entity_use.py): added before the
detectors at fit and at predict from the state saved with the model; a planted future leak
changes no earlier row's prediction end to end; reasons in words; bad settings."""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labcoat.datasets import make_transactions
from labcoat.errors import ConfigError, DataError, LabcoatNotice, SchemaError
from labcoat.tasks.anomaly.fit import fit_anomaly
from labcoat.tasks.anomaly.model import AnomalyModel

CUT = "2024-03-22"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_transactions(1500, seed=3).drop(columns="is_fraud")


@pytest.fixture(scope="module")
def model(data: pd.DataFrame) -> AnomalyModel:
    with pytest.warns(LabcoatNotice, match="give the entity features their history"):
        return fit_anomaly(data[data.ts < CUT], budget=5, quiet=True, candidates=["hbos", "copod"],
                           entity_column="card_id", time_column="ts", exclude=["transaction_id"])


def leak_after(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Planted leaks for the card of ``rows``' first row: a huge payment abroad after every row,
    and a twin of that first row (same card, same time) with a huge amount; and the rows that may
    not change (all but that card's rows later than its twin)."""
    first = rows.sort_values("ts").iloc[0]
    leak = pd.DataFrame({"transaction_id": ["L1", "L2"], "ts": [rows.ts.max() + pd.Timedelta("1h"), first.ts],
                         "card_id": [first.card_id] * 2, "amount": [1e7, 1e7], "merchant": ["M999"] * 2,
                         "category": ["travel"] * 2, "country": ["ZZ"] * 2, "channel": ["online"] * 2},
                        index=[10**6, 10**6 + 1])
    unchanged = ~((rows.card_id == first.card_id) & (rows.ts > first.ts))
    return leak, unchanged


@pytest.mark.parametrize("batch", ["later", "training again"])
def test_a_planted_future_leak_changes_no_earlier_prediction(model: AnomalyModel, data: pd.DataFrame,
                                                             batch: str) -> None:
    rows = data[data.ts >= CUT] if batch == "later" else data[data.ts < CUT]
    leak, unchanged = leak_after(rows)
    expected = nullcontext() if batch == "later" else pytest.warns(LabcoatNotice, match="own earlier rows only")
    with expected:
        before = model.predict(rows)
        after = model.predict(pd.concat([rows, leak]))
    pd.testing.assert_frame_equal(after.loc[rows.index[unchanged]], before[unchanged.to_numpy()])
    # the twin is the past of its card's later rows: their scores move (the check can fail)
    moved = ~unchanged.to_numpy()
    assert moved.sum() > 0
    assert not np.allclose(after.loc[rows.index[moved], "anomaly_score"], before.loc[moved, "anomaly_score"])


def test_shuffled_rows_give_the_same_predictions(model: AnomalyModel, data: pd.DataFrame) -> None:
    rows = data[data.ts >= CUT]
    shuffled = rows.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(model.predict(shuffled).loc[rows.index], model.predict(rows))


def test_saved_with_the_model_and_said_in_words(model: AnomalyModel, data: pd.DataFrame, tmp_path: Path) -> None:
    rows = data[data.ts >= CUT]
    assert model.info["entity_column"] == "card_id" and "card_id_events_1h" in model.info["entity_features"]
    assert "card_id" in model.columns and "card_id_events_1h" not in model.columns  # what a caller gives
    loaded = AnomalyModel.load(model.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(loaded.predict(rows), model.predict(rows))
    words = model.explain(rows, top=3)["words"]
    assert words.str.contains(r"in the last (?:hour|24 hours|7 days) on this card", regex=True).any()
    assert words.str.contains("usual is").any()
    with pytest.raises(SchemaError, match="'card_id'"):
        model.predict(rows.drop(columns="card_id"))


def test_requests_checked_as_the_service_checks_them(model: AnomalyModel, data: pd.DataFrame) -> None:
    """The service checks requests with ``model.schema`` (what a caller gives) and keeps only its
    columns: the entity and its time must be among them, the entity features not."""
    from labcoat.serve.validation import Validator

    rows = data[data.ts >= CUT].head(20)
    request = rows.assign(ts=rows.ts.astype(str), extra=1)  # as JSON brings them
    checked = Validator(model.schema).check(request)
    assert {"card_id", "ts", "amount"} <= set(checked.frame.columns)
    assert not any(c.startswith("card_id_") for c in checked.frame.columns)
    pd.testing.assert_frame_equal(model.predict(checked.frame), model.predict(rows))
    # rows carrying the entity features already keep them (the report explains training rows so)
    features = model.entity_features.transform(rows)
    pd.testing.assert_frame_equal(model.predict(pd.concat([rows, features], axis=1)), model.predict(rows))
    wrong = rows.assign(card_id_events_1h=99)  # a part of them: recomputed
    pd.testing.assert_frame_equal(model.predict(wrong), model.predict(rows))


def test_bad_settings(data: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="needs time_column="):
        fit_anomaly(data, entity_column="card_id", budget=2, quiet=True)
    with pytest.raises(DataError, match="entity_column 'card' is not in the data.*Did you mean 'card_id'"):
        fit_anomaly(data, entity_column="card", time_column="ts", budget=2, quiet=True)
    with pytest.raises(ConfigError, match="both 'ts'"):
        fit_anomaly(data, entity_column="ts", time_column="ts", budget=2, quiet=True)


def test_command_line(data: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from labcoat.cli import app

    monkeypatch.chdir(tmp_path)
    data[data.ts < CUT].to_csv("train.csv", index=False)
    data[data.ts >= CUT].to_csv("later.csv", index=False)
    runner = CliRunner()
    fitted = runner.invoke(app, ["fit", "train.csv", "--task", "anomaly", "--entity-column", "card_id", "--time-column",
                                 "ts", "--budget", "3s", "--no-track", "--no-report", "--out", "m", "-q"])
    assert fitted.exit_code == 0, fitted.output
    scored = runner.invoke(app, ["predict", "m", "later.csv", "-o", "scored.csv"])
    assert scored.exit_code == 0, scored.output
    assert len(pd.read_csv("scored.csv")) == (data.ts >= CUT).sum()
    refused = runner.invoke(app, ["fit", "train.csv", "--target", "amount", "--entity-column", "card_id", "--no-track"])
    assert refused.exit_code == 2 and "--entity-column apply to --task anomaly only" in refused.output
    no_time = runner.invoke(app, ["fit", "train.csv", "--task", "anomaly", "--entity-column", "card_id", "--no-track",
                                  "--no-report"])
    assert isinstance(no_time.exception, ConfigError) and "(--time-column)" in str(no_time.exception)
