"""Explanations: importance, SHAP values, partial dependence, per-row explanations, the CLI.

Data with known truth: the target follows ``signal`` strongly, ``weak`` a little, ``color``
by one category; ``noise``, ``day`` and ``note`` have no effect.
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import labcoat
from labcoat.errors import ConfigError, LabcoatNotice, TargetError
from labcoat.evaluate import explain as ex
from labcoat.evaluate._encoded import EncodedRows
from labcoat.evaluate.shap_values import _shap_values

WORDS = np.array([f"word{i}" for i in range(150)])


def planted(n: int, seed: int, task: str = "binary") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    signal, weak, noise = rng.normal(size=(3, n))
    color = rng.choice(["red", "green", "blue"], n)
    effect = 3.0 * signal + 0.5 * weak + 1.0 * (color == "red")
    frame = pd.DataFrame({
        "signal": signal, "weak": weak, "noise": noise, "color": color,
        "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
        "note": [" ".join(rng.choice(WORDS, 8)) for _ in range(n)],
    })
    frame.loc[rng.random(n) < 0.05, "weak"] = np.nan
    if task == "binary":
        frame["y"] = np.where(effect + rng.logistic(size=n) * 0.5 > 0, "yes", "no")
    elif task == "multiclass":
        frame["y"] = np.digitize(effect + rng.normal(0, 0.5, n), [-1.5, 1.5]).astype(str)
        frame["y"] = frame["y"].map({"0": "low", "1": "mid", "2": "high"})
    else:
        frame["y"] = 2.0 * signal + 0.5 * weak.clip(-3, 3) + rng.normal(0, 0.3, n)
        frame.loc[frame["weak"].isna(), "y"] = 2.0 * signal[frame["weak"].isna()]
    return frame


def fit(frame: pd.DataFrame, families: list[str], trials: int) -> labcoat.Model:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return labcoat.fit(frame, target="y", trials=trials, families=families, quiet=True, track=False,
                           n_jobs=1)


@pytest.fixture(scope="module")
def binary() -> tuple[labcoat.Model, pd.DataFrame]:
    frame = planted(400, 0)
    return fit(frame, ["lightgbm", "linear"], 2), frame


@pytest.fixture(scope="module")
def numeric_binary() -> tuple[labcoat.Model, pd.DataFrame]:
    frame = planted(300, 1)[["signal", "weak", "noise", "y"]].fillna(0.0)
    return fit(frame, ["xgboost"], 1), frame


@pytest.fixture(scope="module")
def multiclass() -> tuple[labcoat.Model, pd.DataFrame]:
    """An even blend of extra trees (TreeExplainer) and a linear model (sampling)."""
    from dataclasses import replace

    frame = planted(300, 2, "multiclass").drop(columns="note").dropna()
    trees, linear = fit(frame, ["extra_trees"], 1), fit(frame, ["linear"], 1)
    members = [replace(m, weight=0.5) for m in trees.members + linear.members]
    return labcoat.Model(schema=trees.schema, members=members,
                         preprocessors={**trees.preprocessors, **linear.preprocessors},
                         leaderboard=trees.leaderboard, info=trees.info), frame


@pytest.fixture(scope="module")
def regression() -> tuple[labcoat.Model, pd.DataFrame]:
    frame = planted(300, 3, "regression").drop(columns="note")
    return fit(frame, ["lightgbm", "linear"], 2), frame


def additive(sv: ex.ShapValues, tolerance: float) -> bool:
    return bool(np.abs(sv.values.sum(axis=1) + sv.base - sv.output).max() <= tolerance)


# ---------------------------------------------------------------------- the encoded rows
def test_rows_assembled_from_encoded_columns_predict_as_the_raw_rows(binary):
    model, frame = binary
    rows = frame.head(40)
    table = EncodedRows(model, model.schema.prepare(rows))
    assert any(sp.issparse(e) for e in table.encoded.values())  # the linear style, with TF-IDF
    assert all(o is not None for o in table.owners.values())
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(rows), size=(60, len(table.names)))
    mixed = pd.DataFrame({name: rows[name].to_numpy()[idx[:, k]] for k, name in enumerate(table.names)})
    expected = model.predict_proba(mixed)
    assert np.allclose(table.output(idx), expected, atol=1e-10)
    table.owners = dict.fromkeys(table.owners)  # an unknown layout: the raw rows are assembled
    assert np.allclose(table.output(idx), expected, atol=1e-10)


# ---------------------------------------------------------------------- permutation importance
def test_importance_ranks_the_planted_column_first_and_gives_noise_nothing(binary):
    model, _ = binary
    fresh = planted(600, 10)  # new rows: what the model learned, not what it memorised
    table = ex.permutation_importance(model, fresh, repeats=5, seed=0)
    assert table.columns.tolist() == ["feature", "importance", "std", "low", "high"]
    assert set(table["feature"]) == {c.name for c in model.schema.features}
    assert table["feature"].iloc[0] == "signal"
    by = table.set_index("feature")
    assert by.loc["signal", "importance"] > 0.2  # ROC AUC falls from ~0.95 towards 0.5
    for column in ("noise", "day", "note"):
        assert abs(by.loc[column, "importance"]) < 0.02
    assert (by["low"] <= by["importance"]).all() and (by["importance"] <= by["high"]).all()
    assert table.attrs["metric"] == model.metric and table.attrs["rows"] == 600


def test_importance_needs_the_target_column(binary):
    model, frame = binary
    with pytest.raises(TargetError, match="'y'"):
        ex.permutation_importance(model, frame.drop(columns="y"))


# ---------------------------------------------------------------------- SHAP values
def test_shap_sampling_adds_up_exactly_on_mixed_columns(binary):
    model, frame = binary
    sv = ex.shap_values(model, frame, max_rows=30, background=40)
    assert sv.values.shape == (30, len(model.schema.features))
    assert list(sv.values.columns) == [c.name for c in model.schema.features]
    assert additive(sv, 1e-9)
    assert np.allclose(sv.output, model.predict_proba(frame.loc[sv.values.index])[:, 1])
    assert set(sv.methods.values()) == {"sampling"}  # categorical splits, linear: no TreeExplainer
    assert (sv.explained == "P(y=yes)").all() and sv.background == 40
    # The planted column explains the most, the noise little.
    mean_abs = sv.values.abs().mean()
    assert mean_abs.idxmax() == "signal" and mean_abs["noise"] < mean_abs["signal"] / 5


def test_shap_tree_values_are_exact_and_agree_with_the_sampling_estimate(numeric_binary):
    model, frame = numeric_binary
    sv = ex.shap_values(model, frame, max_rows=40, background=40)
    assert set(sv.methods.values()) == {"tree"} and sv.method == "tree"
    assert additive(sv, 1e-5)
    sampled = _shap_values(model, frame, 40, 40, 0, None, frozenset())
    assert set(sampled.methods.values()) == {"sampling"} and additive(sampled, 1e-9)
    assert np.allclose(sampled.base, sv.base)
    assert np.corrcoef(sv.values.to_numpy().ravel(), sampled.values.to_numpy().ravel())[0, 1] > 0.95


def test_shap_multiclass_explains_the_predicted_class_or_the_one_asked(multiclass):
    model, frame = multiclass
    sv = ex.shap_values(model, frame, max_rows=20, background=20)
    assert sv.methods["linear#0"] == "sampling" and sv.methods["extra_trees#0"].startswith("tree")
    assert additive(sv, 1e-4)
    predicted = model.predict(frame.loc[sv.values.index])
    assert (sv.explained == [f"P(y={p})" for p in predicted]).all()
    high = ex.shap_values(model, frame, max_rows=20, background=20, class_="high")
    assert (high.explained == "P(y=high)").all() and additive(high, 1e-4)
    proba = model.predict_proba(frame.loc[high.values.index])[:, list(model.classes_).index("high")]
    assert np.allclose(high.output, proba)
    with pytest.raises(ConfigError, match="class_"):
        ex.shap_values(model, frame, max_rows=5, background=5, class_="nope")


def test_shap_regression_adds_up_to_the_predicted_value(regression):
    model, frame = regression
    sv = ex.shap_values(model, frame, max_rows=30, background=30)
    assert additive(sv, 1e-6 * max(1.0, float(sv.output.abs().max())))
    assert np.allclose(sv.output, model.predict(frame.loc[sv.values.index]))
    assert (sv.explained == "y").all()
    assert sv.values.abs().mean().idxmax() == "signal"
    numeric = frame[["signal", "weak", "noise", "y"]]
    trees = fit(numeric, ["lightgbm"], 1)  # no categorical splits: TreeExplainer's exact values
    sv = ex.shap_values(trees, numeric, max_rows=30, background=30)
    assert sv.methods == {"lightgbm#0": "tree"}
    assert additive(sv, 1e-4 * max(1.0, float(sv.output.abs().max())))
    assert np.allclose(sv.output, trees.predict(numeric.loc[sv.values.index]))


class Squash:
    """A stand-in calibrator: a nonlinear map of the blended probabilities."""

    def apply(self, proba: np.ndarray) -> np.ndarray:
        p = proba[:, 1] ** 2 / (proba[:, 1] ** 2 + proba[:, 0] ** 2)
        return np.column_stack([1 - p, p])


def test_a_calibrated_model_is_explained_as_a_whole(numeric_binary):
    model, frame = numeric_binary
    model.calibrator = Squash()
    try:
        background = frame.tail(25)
        sv = ex.shap_values(model, frame, max_rows=20, background=background)
        assert set(sv.methods.values()) == {"sampling"}
        assert additive(sv, 1e-9)
        assert np.allclose(sv.output, model.predict_proba(frame.loc[sv.values.index])[:, 1])
        assert np.allclose(sv.base, model.predict_proba(background)[:, 1].mean())
    finally:
        model.calibrator = None


# ---------------------------------------------------------------------- partial dependence
def test_partial_dependence_follows_a_planted_monotone_effect(regression):
    model, frame = regression
    result = ex.partial_dependence(model, frame, ["signal", "color", "day"], grid=10)
    curve = result["signal"]
    assert curve["kind"] == "numeric" and len(curve["values"]) == 10 and curve["explained"] == "y"
    assert np.all(np.diff(curve["values"]) > 0)
    steps = np.diff(curve["average"])
    assert curve["average"][-1] - curve["average"][0] > 4  # y = 2 * signal over ~3.3 sd
    assert (steps > -0.05).all()
    assert result["color"]["kind"] == "categorical"
    assert set(result["color"]["values"]) == {"red", "green", "blue"}
    assert result["day"]["kind"] == "datetime" and result["day"]["values"][0].startswith("2024-")
    json.dumps(result)


def test_partial_dependence_picks_the_top_features_and_refuses_text(binary):
    model, frame = binary
    result = ex.partial_dependence(model, frame, top=2, grid=5, max_rows=200)
    assert list(result)[0] == "signal" and len(result) == 2
    assert np.all(np.diff(result["signal"]["average"]) > -0.02)  # P(yes) grows with signal
    with pytest.raises(ConfigError, match="text"):
        ex.partial_dependence(model, frame, ["note"])
    with pytest.raises(ConfigError, match="Did you mean 'signal'"):
        ex.partial_dependence(model, frame, ["signl"])


def test_partial_dependence_per_class_for_multiclass(multiclass):
    model, frame = multiclass
    result = ex.partial_dependence(model, frame, ["signal"], grid=5, max_rows=100)
    average = result["signal"]["average"]
    assert set(average) == {"low", "mid", "high"}
    assert np.allclose(np.sum([average[c] for c in average], axis=0), 1.0)
    assert average["high"][-1] > average["high"][0] and average["low"][-1] < average["low"][0]


# ---------------------------------------------------------------------- per-row explanations
def test_explain_rows_in_a_table_and_in_words(binary):
    model, frame = binary
    explanation = model.explain(frame, row=[3, 0], top=2)
    assert explanation.rows["row"].tolist() == [3, 0]
    assert explanation.rows["prediction"].tolist() == model.predict(frame.iloc[[3, 0]]).tolist()
    lines = explanation.frame
    assert lines.columns.tolist() == ["row", "column", "value", "contribution"]
    for r in explanation.rows.itertuples():
        mine = lines[lines["row"] == r.row]
        assert len(mine) == 3 and mine["column"].iloc[-1] == ex.OTHER_COLUMNS
        assert abs(r.base + mine["contribution"].sum() - r.output) < 1e-9
        shown = mine.iloc[:2]
        assert (shown["value"].tolist() == [frame.iloc[r.row][c] for c in shown["column"]])
    text = str(explanation)
    assert text.startswith("Row 3: predicted ") and "P(y=yes)" in text
    assert ("raised P(y=yes) by" in text or "lowered P(y=yes) by" in text) and "other columns" in text
    json.dumps(explanation.to_dict())
    with pytest.raises(ConfigError, match="out of range"):
        model.explain(frame, row=len(frame))


@pytest.fixture(scope="module")
def summary(binary) -> dict:
    model, frame = binary
    return ex.summarize(model, frame, seconds=3.0)


def test_one_new_row_is_explained_against_the_stored_training_sample(binary, summary):
    model, frame = binary
    assert summary["errors"] == {}
    kept = getattr(model, "explanations", None)
    try:
        model.explanations = json.loads(json.dumps(summary))  # as saved with the model
        with warnings.catch_warnings():
            warnings.simplefilter("error", LabcoatNotice)
            one = model.explain(frame.iloc[[5]])
        assert abs(one.rows["base"].iloc[0] - summary["shap"]["base"]) < 0.1
        model.explanations = None
        with pytest.warns(LabcoatNotice, match="background"):
            model.explain(frame.iloc[[5]])
    finally:
        model.explanations = kept


# ---------------------------------------------------------------------- summary
def test_summary_is_compact_json_and_survives_odd_data(binary, summary):
    model, frame = binary
    assert set(summary) >= {"importance", "shap", "partial_dependence", "background", "errors", "seconds"}
    top = [r["feature"] for r in summary["importance"]["table"]]
    assert top[0] == "signal"
    assert list(summary["partial_dependence"]["features"]) == [f for f in top if f != "note"][:4]
    assert len(json.dumps(summary)) < 60_000
    no_target = ex.summarize(model, frame.drop(columns="y"), seconds=2.0)
    assert "importance" not in no_target and "'y'" in no_target["errors"]["importance"]
    assert no_target["shap"]["mean_abs"][0]["feature"] == "signal"
    assert list(no_target["partial_dependence"]["features"])[0] == "signal"
    broken = ex.summarize(model, frame.drop(columns=["y", "signal"]), seconds=0.5)
    assert {"shap", "partial_dependence", "importance"} <= set(broken["errors"])
    assert "signal" in broken["errors"]["shap"]
    assert ex.summarize(model, "not a frame")["errors"]
    json.dumps(broken)


# ---------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def files(binary, tmp_path_factory):
    model, frame = binary
    folder = tmp_path_factory.mktemp("explain")
    model.save_native(folder / "model")
    frame.head(120).to_csv(folder / "rows.csv", index=False)
    frame.head(120).drop(columns="y").to_csv(folder / "no_target.csv", index=False)
    return folder


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    from labcoat.cli import main

    monkeypatch.setattr(sys, "argv", ["labcoat", "explain", *args])
    code = 0
    try:
        main()
    except SystemExit as done:
        code = int(done.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_explains_rows_in_words_and_json(files, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, str(files / "model"), str(files / "rows.csv"), "--row", "2",
                       "--row", "7", "--top", "2")
    assert code == 0 and out.startswith("Row 2: predicted") and "\nRow 7: predicted" in out
    assert "P(y=yes)" in out
    code, out, _ = run(monkeypatch, capsys, str(files / "model"), str(files / "rows.csv"), "--row", "2",
                       "--json")
    assert code == 0 and json.loads(out)["rows"][0]["row"] == 2


def test_cli_ranks_columns_by_importance_or_shap(files, monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, str(files / "model"), str(files / "rows.csv"), "--top", "3")
    assert code == 0 and "Permutation importance" in out and "signal" in out
    code, out, _ = run(monkeypatch, capsys, str(files / "model"), str(files / "no_target.csv"), "--json")
    assert code == 0 and json.loads(out)["table"][0]["feature"] == "signal"


def test_cli_bad_input_exits_2_with_a_message(files, monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, str(files / "model"), str(files / "rows.csv"), "--row", "120")
    assert code == 2 and "Row 120 is out of range" in err and "Traceback" not in err + out
    code, out, err = run(monkeypatch, capsys, str(files / "model"), str(files / "no_target.csv"),
                         "--importance")
    assert code == 2 and "target column 'y'" in err and "Traceback" not in err + out
