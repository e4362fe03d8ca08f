"""Anomaly detection (``task="anomaly"``): fit, scores, flags and reasons, thresholds, labels,
bad input, files and the CLI, on small generated card transactions."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import labcoat
from labcoat.datasets import make_transactions
from labcoat.errors import ConfigError, DataError, SchemaError
from labcoat.tasks.anomaly.evaluate import average_precision
from labcoat.tasks.anomaly.fit import fit_anomaly
from labcoat.tasks.anomaly.model import AnomalyModel
from labcoat.tasks.anomaly.weights import COMMITTEE

#: Fast detectors for the fits that test something other than the choice among all of them.
FAST = ["ecod", "copod", "hbos", "pca"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_transactions(2000, seed=0)


@pytest.fixture(scope="module")
def model(data: pd.DataFrame) -> AnomalyModel:
    """Fitted without labels, on every detector."""
    return fit_anomaly(data.drop(columns="is_fraud"), budget=30, quiet=True, seed=0)


@pytest.fixture(scope="module")
def labelled(data: pd.DataFrame) -> AnomalyModel:
    """The same rows with their labels (20 anomalies)."""
    return fit_anomaly(data, labels="is_fraud", budget=30, quiet=True, seed=0, time_column="ts")


def test_predict_scores_flags_and_reasons(model: AnomalyModel, data: pd.DataFrame) -> None:
    out = model.predict(data)
    assert out.columns.tolist() == ["anomaly_score", "is_anomaly", "reasons"]
    assert out.index.equals(data.index)
    assert out["anomaly_score"].between(0, 1).all()
    assert out["is_anomaly"].dtype == bool
    assert (out["reasons"] != "").equals(out["is_anomaly"])  # reasons for the flagged rows only
    assert out["is_anomaly"].mean() == pytest.approx(0.01, abs=0.002)  # the default share
    assert model.info["threshold"]["mode"] == "contamination" and "guess" in model.info["threshold"]["why"]
    # training rows score as in training, but for the neighbour detectors' training scores, which
    # leave the row itself out (as for a new row) where scoring it again counts it as its own neighbour
    np.testing.assert_allclose(out["anomaly_score"], model.training_scores, atol=0.01)
    # the planted fraud is found far more often than chance
    flagged = out["is_anomaly"].to_numpy()
    assert data["is_fraud"].to_numpy()[flagged].mean() > 10 * data["is_fraud"].mean()


def test_info_and_leaderboard(model: AnomalyModel) -> None:
    info = json.loads(json.dumps(model.info))  # JSON-able as it is
    assert info["selection"] == "unsupervised" and "agreement" in info["criterion"]
    weights = {d["name"]: d["weight"] for d in info["detectors"]}
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-3) and len(weights) == COMMITTEE
    board = model.leaderboard
    assert set(board["detector"]) == {"iforest", "ecod", "copod", "hbos", "pca", "knn", "lof", "ocsvm"}
    assert {"agreement", "stability", "criterion", "weight"} <= set(board.columns)
    kept = board[board["weight"] > 0]["criterion"]
    assert kept.min() >= board[board["weight"] == 0]["criterion"].max()  # the best criteria are kept
    assert set(info["training_score_quantiles"]) == {"0.5", "0.9", "0.99", "0.999"}
    assert model.columns == {"ts": "datetime", "card_id": "categorical", "amount": "numeric",
                             "merchant": "categorical", "category": "categorical", "country": "categorical",
                             "channel": "categorical"}  # the transaction id is left out as an identifier


def test_a_planted_row_is_flagged_with_its_reasons(model: AnomalyModel, data: pd.DataFrame) -> None:
    row = data.drop(columns="is_fraud").iloc[[5]].copy()
    row["amount"], row["country"] = 250_000.0, "ZZ"
    out = model.predict(row)
    assert bool(out["is_anomaly"].iloc[0])
    assert "amount = 250,000 is higher than every training row" in out["reasons"].iloc[0]
    assert "country = 'ZZ' was never seen in training" in out["reasons"].iloc[0]
    table = model.explain(row, top=2)
    assert table["column"].tolist() == ["amount", "country"] and table["rank"].tolist() == [1, 2]
    assert (table["row"] == row.index[0]).all() and table["surprise"].min() >= 2
    with pytest.raises(ConfigError, match="top"):
        model.explain(row, top=0)


def test_scores_do_not_depend_on_the_batch(model: AnomalyModel, data: pd.DataFrame) -> None:
    together = model.score(data.head(50))
    alone = np.array([model.score(data.iloc[[i]])[0] for i in (0, 17, 49)])
    np.testing.assert_allclose(alone, together[[0, 17, 49]])


def test_new_rows_are_checked(model: AnomalyModel, data: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="amount"):
        model.predict(data.drop(columns="amount"))
    wrong = data.head(3).astype({"amount": object})
    wrong.loc[wrong.index[0], "amount"] = "twelve"
    with pytest.raises(SchemaError, match="amount"):
        model.score(wrong)
    with pytest.raises(DataError, match="empty"):
        model.score(data.head(0))


@pytest.mark.parametrize(("frame", "settings", "error", "words"), [
    (pd.DataFrame({"id": [f"r{i}" for i in range(50)], "k": 1}), {}, DataError, "No usable column"),
    (pd.DataFrame({"a": [1.5, 2.5] * 25, "b": ["x", "y"] * 25}).assign(a=1.0, b="x"), {}, DataError, "No usable"),
    (pd.DataFrame({"a": np.arange(50) * 1.5, "y": ["yes", "no"] * 25}), {"labels": "y"}, DataError, "'yes'"),
    (pd.DataFrame({"a": np.arange(50) * 1.5}), {"contamination": 0.7}, ConfigError, "below 0.5"),
    (pd.DataFrame({"a": np.arange(50) * 1.5}), {"contamination": 0}, ConfigError, "above 0"),
    (pd.DataFrame({"a": np.arange(50) * 1.5}), {"alerts_per_day": 5}, ConfigError, "time_column"),
    (pd.DataFrame({"a": np.arange(50) * 1.5}), {"costs": "fp=1,fn=20"}, ConfigError, "labels"),
    (pd.DataFrame({"a": np.arange(50) * 1.5}), {"contamination": 0.1, "alerts_per_day": 3, "time_column": "a"},
     ConfigError, "one way"),
    (pd.DataFrame({"a": np.arange(50) * 1.5}), {"candidates": ["iforrest"]}, ConfigError, "iforest"),
    (pd.DataFrame({"a": np.arange(50) * 1.5}), {"labels": "is_fraud"}, DataError, "not in the data"),
    (pd.DataFrame({"a": np.arange(10) * 1.5}), {}, DataError, "too few"),
])
def test_bad_input_is_refused(frame: pd.DataFrame, settings: dict, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        fit_anomaly(frame, quiet=True, budget=5, **settings)


def test_constant_rows_are_refused() -> None:
    frame = pd.DataFrame({"a": [1.5] * 49 + [None], "b": [2.5] * 50})  # constant once the gap is filled...
    with pytest.raises(DataError, match="No usable|look the same"):
        fit_anomaly(frame.drop(columns="b"), quiet=True, budget=5)


def test_threshold_modes(data: pd.DataFrame) -> None:
    rows = data.drop(columns="is_fraud")
    shared = pd.Series(rows["ts"])
    days = (shared.max() - shared.min()) / pd.Timedelta(days=1)
    with pytest.raises(ConfigError, match="half"):
        fit_anomaly(rows, alerts_per_day=10_000, time_column="ts", quiet=True)
    by_share = fit_anomaly(rows, contamination=0.05, candidates=FAST, budget=10, quiet=True)
    assert by_share.info["training_alert_rate"] == pytest.approx(0.05, abs=0.003)
    budget = fit_anomaly(rows, alerts_per_day=3, time_column="ts", candidates=FAST, budget=10, quiet=True)
    assert budget.info["threshold"]["mode"] == "alerts_per_day"
    assert budget.info["training_alert_rate"] * len(rows) == pytest.approx(3 * days, abs=2)
    costly = fit_anomaly(data, labels="is_fraud", costs="fp=1,fn=200", candidates=FAST, budget=10, quiet=True)
    cheap = fit_anomaly(data, labels="is_fraud", costs="fp=1,fn=2", candidates=FAST, budget=10, quiet=True)
    assert costly.info["threshold"]["mode"] == "costs"
    assert costly.threshold < cheap.threshold  # missing an anomaly costing more flags more rows
    assert "expected_precision" in costly.info["threshold"]


def test_labels_choose_the_weights(model: AnomalyModel, labelled: AnomalyModel) -> None:
    assert labelled.info["selection"] == "labels"
    unsupervised = {d["name"]: d["weight"] for d in model.info["detectors"]}
    with_labels = {d["name"]: d["weight"] for d in labelled.info["detectors"]}
    assert with_labels != unsupervised
    assert labelled.info["contamination"] == pytest.approx(0.01)  # the labels' prevalence
    metrics = labelled.info["metrics"]
    for name in ("roc_auc", "pr_auc", "precision_at_threshold"):
        m = metrics[name]
        assert m["low"] <= m["value"] <= m["high"], name
    assert metrics["roc_auc"]["value"] > 0.7
    assert labelled.info["validation"].startswith("forward in time")
    assert {"roc_auc", "pr_auc", "roc_auc_low", "pr_auc_high"} <= set(labelled.leaderboard.columns)


def test_enough_labels_try_a_supervised_model() -> None:
    rows = make_transactions(1200, fraud_rate=0.06, seed=3)
    fitted = fit_anomaly(rows, labels="is_fraud", candidates=FAST, budget=20, quiet=True)
    tried = fitted.info["candidates_with_labels"]
    assert {"detectors", "lightgbm", "logistic", "detectors+lightgbm"} <= set(tried)
    chosen = fitted.info["chosen_with_labels"]
    assert tried[chosen] == max(tried.values()) and chosen in fitted.info["criterion"]
    assert (fitted.supervised is not None) == (chosen != "detectors")
    scores = fitted.score(rows)
    assert scores.shape == (len(rows),) and np.all((scores >= 0) & (scores <= 1))


def _faults(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """1,500 ordinary rows, 30 benign rare ones (far out in one column) and 30 anomalies of one
    kind (a tight group, unusual only in how two columns go together), labels 1/0."""
    rng = np.random.default_rng(seed)
    ordinary = rng.normal(size=(1500, 5))
    rare = rng.normal(size=(30, 5))
    rare[np.arange(30), rng.integers(0, 5, 30)] += rng.choice([-5.0, 5.0], 30)
    faults = rng.normal(size=(30, 5)) * 0.3
    faults[:, :2] += [1.8, -1.8]
    X = np.vstack([ordinary, rare, faults])
    return pd.DataFrame(X, columns=[f"sensor_{i}" for i in range(5)]), np.r_[np.zeros(1530), np.ones(30)].astype(int)


def test_a_few_labels_add_the_neighbours_score(tmp_path) -> None:
    """5 labelled anomalies and 5% of the normal rows: the detectors stay the unsupervised choice,
    the labels add the nearest-neighbour score, and the rows left unlabelled rank better."""
    frame, y = _faults()
    rng = np.random.default_rng(1)
    given = np.concatenate([rng.choice(np.flatnonzero(y == 1), 5, replace=False),
                            rng.choice(np.flatnonzero(y == 0), 76, replace=False)])
    labels = np.full(len(y), np.nan)
    labels[given] = y[given]
    fitted = fit_anomaly(frame.assign(fault=labels), labels="fault", candidates=FAST, budget=10, quiet=True)
    plain = fit_anomaly(frame, candidates=FAST, budget=10, quiet=True)
    assert fitted.info["selection"] == "few labels"
    assert fitted.info["supervised"] == {"model": "neighbours", "weight": 0.5}
    assert any("fewer than 10" in n for n in fitted.info["notices"])
    assert fitted.info["metrics"]["positives"] == 5
    assert {d["name"] for d in fitted.info["detectors"]} == {d["name"] for d in plain.info["detectors"]}
    held_out = np.setdiff1d(np.arange(len(y)), given)
    with_labels = average_precision(y[held_out], fitted.training_scores[held_out])
    without = average_precision(y[held_out], plain.training_scores[held_out])
    assert with_labels > 2 * without and with_labels > without + 0.05, (with_labels, without)
    again = fitted.score(frame.iloc[held_out[:50]])
    assert np.allclose(again, fitted.training_scores[held_out[:50]], atol=1e-9)  # as the saved scorer scores
    loaded = labcoat.load(fitted.save(tmp_path / "few"))
    np.testing.assert_array_equal(loaded.score(frame.iloc[held_out[:50]]), again)
    assert "nearest labelled anomaly" in loaded.summary()


def test_save_load_round_trip(model: AnomalyModel, data: pd.DataFrame, tmp_path) -> None:
    folder = model.save(tmp_path / "m")
    assert json.loads((folder / "labcoat.json").read_text())["kind"] == "anomaly"
    again = labcoat.load(folder)
    assert isinstance(again, AnomalyModel)
    np.testing.assert_array_equal(again.score(data), model.score(data))
    pd.testing.assert_frame_equal(again.predict(data.head(200)), model.predict(data.head(200)))
    np.testing.assert_array_equal(again.training_scores, model.training_scores)


def test_fit_through_labcoat_fit(data: pd.DataFrame) -> None:
    fitted = labcoat.fit(data, task="anomaly", labels="is_fraud", budget=10, families=FAST, track=False,
                         report=False, quiet=True)
    assert isinstance(fitted, AnomalyModel) and fitted.info["labels_column"] == "is_fraud"
    with pytest.raises(ConfigError, match="holdout"):
        labcoat.fit(data, task="anomaly", holdout=0.2, track=False, report=False, quiet=True)


def test_cli_fit_and_predict(data: pd.DataFrame, tmp_path) -> None:
    from typer.testing import CliRunner

    from labcoat.cli import app

    source = tmp_path / "tx.csv"
    data.to_csv(source, index=False)
    runner = CliRunner()
    fitted = runner.invoke(app, ["fit", str(source), "--task", "anomaly", "--labels-column", "is_fraud",
                                 "--alerts-per-day", "2", "--time-column", "ts", "--families", ",".join(FAST),
                                 "--exclude", "card_id,channel",
                                 "--budget", "10s", "--no-track", "--no-report", "--out", str(tmp_path / "m")])
    assert fitted.exit_code == 0, fitted.output
    assert "alerts_per_day" in fitted.output and "roc_auc" in fitted.output
    assert set(labcoat.load(tmp_path / "m").columns) == {"ts", "amount", "merchant", "category", "country"}
    predicted = runner.invoke(app, ["predict", str(tmp_path / "m"), str(source), "-o", str(tmp_path / "out.csv"),
                                    "--keep", "transaction_id"])
    assert predicted.exit_code == 0, predicted.output
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert out.columns.tolist() == ["transaction_id", "anomaly_score", "is_anomaly", "reasons"]
    assert len(out) == len(data) and (out["reasons"] != "").eq(out["is_anomaly"]).all()
    refused = runner.invoke(app, ["fit", str(source), "--task", "anomaly", "--contamination", "0.7", "--no-track",
                                  "--no-report", "--out", str(tmp_path / "m2")])
    assert isinstance(refused.exception, ConfigError) and "below 0.5" in str(refused.exception)  # exit 2 in main()
    misplaced = runner.invoke(app, ["fit", str(source), "--target", "is_fraud", "--contamination", "0.1",
                                    "--no-track", "--no-report", "--out", str(tmp_path / "m3")])
    assert misplaced.exit_code == 2 and "--contamination apply to --task anomaly only" in misplaced.output


@pytest.mark.slow
def test_hbos_is_pyods() -> None:
    from pyod.models.hbos import HBOS

    from labcoat.tasks.anomaly.detectors import VectorHBOS

    rng = np.random.default_rng(0)
    X, new = rng.normal(size=(400, 4)), rng.normal(size=(50, 4)) * 3
    theirs, ours = HBOS().fit(X), VectorHBOS().fit(X)
    np.testing.assert_allclose(ours.decision_scores_, theirs.decision_scores_)
    np.testing.assert_allclose(ours.decision_function(new), theirs.decision_function(new))


def test_compiled_isolation_forest_is_pyods_to_the_bit() -> None:
    from pyod.models.iforest import IForest

    from labcoat.tasks.anomaly.forest import SMALL_BATCH, CompiledIForest

    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=2_000), rng.integers(0, 3, 2_000), rng.exponential(size=2_000)])
    new = np.vstack([rng.normal(size=(SMALL_BATCH + 44, 3)) * 2, X[:100]])
    theirs, ours = IForest(random_state=7, n_jobs=1).fit(X), CompiledIForest(7).fit(X)
    for rows in (new[:1], new[:SMALL_BATCH], new):  # the arrays' path, then scikit-learn's
        np.testing.assert_array_equal(ours.decision_function(rows), theirs.decision_function(rows))
    np.testing.assert_array_equal(ours.decision_scores_, theirs.decision_scores_)


def test_without_pyod_the_fit_names_the_extra(monkeypatch, data: pd.DataFrame) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyod", None)  # `import pyod` now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'labcoat\[anomaly\]'"):
        fit_anomaly(data, quiet=True)
