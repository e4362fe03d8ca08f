"""Reference profile and drift detectors (labcoat.monitoring): simulation of false alarms and
detection, the computed-from-counts tests against scipy on exact samples, options, streaming,
persistence and errors.

``python tests/test_drift.py`` prints the simulation's rates per shift and reference size.
"""
from __future__ import annotations

import itertools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon as scipy_js

from labcoat.data.columns import Column, Role
from labcoat.data.schema import Schema
from labcoat.errors import ConfigError, DataError, SchemaError
from labcoat.monitoring import stattests as st
from labcoat.monitoring.drift import DriftOptions, detect_drift
from labcoat.monitoring.reference import Reference, build_reference, profile_column
from labcoat.tasks import infer_schema

# ---------------------------------------------------------------------- simulation
#: Reference sizes of the two regimes (p-value tests up to 1,000 rows, distances above).
SMALL_REF, LARGE_REF = 800, 20_000
CURRENT_ROWS = 5_000
REPEATS = 120
CAT_SHARES = {"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}


def population(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Rows from one fixed population: numbers of several shapes, categories, a boolean."""
    miss = rng.normal(50, 10, n)
    miss[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        "num": rng.normal(10, 2, n),
        "skew": rng.lognormal(0, 0.7, n),
        "uniform": rng.uniform(0, 100, n),
        "count": rng.poisson(8, n).astype(float),
        "cat": rng.choice(list(CAT_SHARES), n, p=list(CAT_SHARES.values())),
        "region": rng.choice([f"r{i}" for i in range(6)], n),
        "flag": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
        "miss": miss,
        "y": rng.integers(0, 2, n),
    })


def double_share(rng: np.random.Generator, values: pd.Series, category: str) -> pd.Series:
    """Redraw ``values`` so ``category``'s share doubles and the others shrink in proportion."""
    shares = dict(CAT_SHARES)
    old = shares[category]
    shares = {k: (2 * v if k == category else v * (1 - 2 * old) / (1 - old)) for k, v in shares.items()}
    return pd.Series(rng.choice(list(shares), len(values), p=list(shares.values())), index=values.index)


def shifted(rng: np.random.Generator, n: int, *, doubled: str = "c") -> pd.DataFrame:
    """Rows with one planted shift per column: ``num`` +0.5 sd, ``cat`` one share doubled,
    ``region`` a new category on 10% of rows, ``miss`` 20% of rows more missing."""
    frame = population(rng, n)
    frame["num"] += 0.5 * 2
    frame["cat"] = double_share(rng, frame["cat"], doubled)
    frame.loc[rng.random(n) < 0.10, "region"] = "new"
    frame.loc[rng.random(n) < 0.20, "miss"] = np.nan
    return frame


SCHEMA = infer_schema(population(np.random.default_rng(99), 5_000), "y")


def simulate(ref_rows: int, repeats: int = REPEATS, seed: int = 0, doubled: str = "c") -> dict[str, float]:
    """Rates over ``repeats`` fresh reference and current samples: dataset-level and per-column
    false alarms on samples of the same population, and detection of each planted shift."""
    rng = np.random.default_rng(seed)
    dataset_alarms = column_alarms = missing_alarms = tests = 0
    hits = {"mean shift 0.5 sd": 0, f"share of '{doubled}' doubled": 0, "new category at 10%": 0,
            "20% more missing": 0}
    for _ in range(repeats):
        ref = build_reference(population(rng, ref_rows), SCHEMA)
        null = detect_drift(ref, population(rng, CURRENT_ROWS))
        dataset_alarms += null.dataset_drift
        column_alarms += sum(c.drifted for c in null.columns)
        missing_alarms += sum(c.missing_rise for c in null.columns if c.name == "miss")
        tests += len(null.columns)
        drift = {c.name: c for c in detect_drift(ref, shifted(rng, CURRENT_ROWS, doubled=doubled)).columns}
        hits["mean shift 0.5 sd"] += drift["num"].drifted
        hits[f"share of '{doubled}' doubled"] += drift["cat"].drifted
        hits["new category at 10%"] += drift["region"].drifted and "new" in drift["region"].new_categories
        hits["20% more missing"] += drift["miss"].missing_rise
    return {"dataset false alarms": dataset_alarms / repeats, "column false alarms": column_alarms / tests,
            "missing-rise false alarms": missing_alarms / repeats, **{k: v / repeats for k, v in hits.items()}}


@pytest.mark.parametrize("ref_rows", [SMALL_REF, LARGE_REF])
def test_false_alarms_and_detection(ref_rows: int) -> None:
    rates = simulate(ref_rows)
    assert rates["dataset false alarms"] <= 0.05
    # Per column, p-value tests reject at most 5% of the time (fewer with ties: KS is then
    # conservative); 120 x 8 column tests: the standard error of a 5% rate is 0.7 point.
    assert rates["column false alarms"] <= 0.065
    # The missing rate of `miss` (5%) rises by >= 1 point and significantly: 120 tries, s.e. 2 points.
    assert rates["missing-rise false alarms"] <= 0.09
    for shift in ("mean shift 0.5 sd", "share of 'c' doubled", "new category at 10%", "20% more missing"):
        assert rates[shift] >= 0.95, (shift, rates)


def test_chisquare_holds_its_level_when_the_current_window_is_larger() -> None:
    """The homogeneity test rejects ~5% on one population whatever the sizes (a goodness-of-fit
    test against the reference's shares, as Evidently's, rejects far more here)."""
    rng = np.random.default_rng(3)
    shares = np.array([0.4, 0.3, 0.2, 0.1])
    p_values = [st.chisquare(rng.multinomial(300, shares).astype(float),
                             rng.multinomial(20_000, shares).astype(float))[1] for _ in range(2000)]
    assert 0.035 <= np.mean(np.array(p_values) < 0.05) <= 0.065
    gof = [stats.chisquare(c, r * c.sum() / r.sum())[1] for r, c in
           ((rng.multinomial(300, shares), rng.multinomial(20_000, shares)) for _ in range(500))]
    assert np.mean(np.array(gof) < 0.05) > 0.5


# ---------------------------------------------------------------------- exact tests vs scipy
def _one_column(values: np.ndarray, role: Role = Role.NUMERIC) -> Reference:
    return Reference(columns={"x": profile_column(pd.Series(values, name="x"), role)}, rows=len(values))


def _drift(ref: Reference, values: np.ndarray | list, method: str | None = None):
    options = DriftOptions(columns={"x": {"method": method}} if method else {})
    return detect_drift(ref, pd.DataFrame({"x": values}), options=options).columns[0]


@pytest.mark.parametrize("n_ref, n_cur, shift", [(50, 40, 0.0), (800, 5000, 0.1), (1000, 20_000, 0.03),
                                                  (300, 300, 0.4)])
def test_ks_is_exact_on_a_kept_reference(n_ref: int, n_cur: int, shift: float) -> None:
    rng = np.random.default_rng(n_ref)
    ref, cur = np.round(rng.normal(size=n_ref), 2), np.round(rng.normal(shift, 1, n_cur), 2)  # with ties
    result = _drift(_one_column(ref), cur)
    expected = stats.ks_2samp(ref, cur)
    assert result.method == "ks"
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_ks_on_a_sketch_is_close() -> None:
    rng = np.random.default_rng(1)
    ref, cur = rng.lognormal(0, 1, 50_000), rng.lognormal(0.05, 1, 5000)
    result = _drift(_one_column(ref), cur, "ks")
    exact = stats.ks_2samp(ref, cur).statistic
    assert exact - 0.012 <= result.statistic <= exact + 1e-12  # the sketch's D is a lower bound


@pytest.mark.parametrize("n_ref", [700, 50_000])
@pytest.mark.parametrize("shift, scale", [(0.0, 1.0), (0.2, 1.0), (0.0, 1.5), (1.0, 0.5)])
def test_wasserstein_matches_scipy(n_ref: int, shift: float, scale: float) -> None:
    rng = np.random.default_rng(int(n_ref + 10 * shift + scale))
    ref = rng.gamma(2.0, 1.0, n_ref)
    cur = shift + scale * rng.gamma(2.0, 1.0, 5000)
    result = _drift(_one_column(ref), cur, "wasserstein")
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert result.statistic == pytest.approx(expected, abs=0.002)


def test_chisquare_z_js_psi_match_their_definitions() -> None:
    rng = np.random.default_rng(2)
    ref = rng.choice(list("abcd"), 900, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(list("abcde"), 3000, p=[0.35, 0.3, 0.2, 0.1, 0.05])
    r = pd.Series(ref).value_counts().reindex(list("abcde"), fill_value=0).to_numpy(float)
    c = pd.Series(cur).value_counts().reindex(list("abcde"), fill_value=0).to_numpy(float)
    reference = _one_column(ref, Role.CATEGORICAL)
    chi = _drift(reference, cur)
    expected = stats.chi2_contingency(np.vstack([r, c]), correction=False)
    assert chi.method == "chisquare"
    assert (chi.statistic, chi.p_value) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-9)
    js = _drift(reference, cur, "jensenshannon")
    assert js.statistic == pytest.approx(scipy_js(r, c), rel=1e-9)
    p, q = r / r.sum(), c / c.sum()
    p[p == 0] = 1e-4
    assert js.psi == pytest.approx(np.sum((p - q) * np.log(p / q)), rel=1e-9)
    # z on two values: the pooled two-proportion test is the 2 x 2 chi-squared test.
    two_ref, two_cur = rng.choice(["no", "yes"], 500, p=[0.7, 0.3]), rng.choice(["no", "yes"], 800, p=[0.64, 0.36])
    z = _drift(_one_column(two_ref, Role.CATEGORICAL), two_cur)
    table = [[(two_ref == "no").sum(), (two_ref == "yes").sum()], [(two_cur == "no").sum(), (two_cur == "yes").sum()]]
    assert z.method == "z"
    assert z.p_value == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9)


def test_methods_follow_type_and_reference_size() -> None:
    rng = np.random.default_rng(4)
    small, large = population(rng, 900), population(rng, 3000)
    current = population(rng, 2000)
    methods = {size: {c.name: c.method for c in detect_drift(build_reference(frame, SCHEMA), current).columns}
               for size, frame in (("small", small), ("large", large))}
    assert methods["small"] == {"num": "ks", "skew": "ks", "uniform": "ks", "count": "ks", "cat": "chisquare",
                                "region": "chisquare", "flag": "z", "miss": "ks"}
    assert methods["large"] == {"num": "wasserstein", "skew": "wasserstein", "uniform": "wasserstein",
                                "count": "wasserstein", "cat": "jensenshannon", "region": "jensenshannon",
                                "flag": "jensenshannon", "miss": "wasserstein"}
    few = _drift(_one_column(rng.choice([1.0, 2.0, 3.0], 500)), rng.choice([1.0, 2.0, 3.0], 500))
    assert (few.method, few.kind) == ("chisquare", "numeric")


# ---------------------------------------------------------------------- report contents
def test_schema_violations_and_plot_data() -> None:
    rng = np.random.default_rng(5)
    ref = build_reference(population(rng, 5000), SCHEMA)
    current = population(rng, 4000)
    current.loc[:399, "num"] = 100.0  # 10% above the reference's maximum
    current.loc[:199, "cat"] = "zzz"
    report = detect_drift(ref, current)
    by = {c.name: c for c in report.columns}
    assert by["num"].out_of_range["above"] == pytest.approx(0.1)
    assert by["num"].out_of_range["below"] == 0.0
    assert by["cat"].new_categories == {"zzz": pytest.approx(0.05)}
    assert by["cat"].out_of_range is None
    plot = by["num"].plot
    assert len(plot["bins"]) == len(plot["reference"]) == len(plot["current"]) == len(plot["edges"]) + 1
    assert sum(plot["reference"]) == pytest.approx(1.0) and plot["current"][-1] == pytest.approx(0.1)
    assert by["cat"].plot["bins"] == ["a", "b", "c", "d", "zzz"]
    json.dumps(report.to_dict())  # JSON-able as is
    assert list(report.to_frame()["name"]) == list(by)


def test_prediction_drift() -> None:
    rng = np.random.default_rng(6)
    frame = population(rng, 3000)
    ref = build_reference(frame, SCHEMA, predictions=rng.beta(2, 5, 3000),
                          performance={"metric": "roc_auc", "estimate": 0.8, "low": 0.78, "high": 0.82})
    current = population(rng, 2000).assign(p=rng.beta(3, 4, 2000))
    report = detect_drift(ref, current, predictions="p")
    assert report.prediction is not None and report.prediction.name == "prediction"
    # Beta(2, 5) -> Beta(3, 4): mean 0.29 -> 0.43, PSI ~0.5 (default prediction test: PSI >= 0.2)
    assert report.prediction.drifted and report.prediction.method == "psi"
    assert all(c.name != "prediction" for c in report.columns)
    wasserstein = detect_drift(ref, current, predictions="p", options=DriftOptions(prediction={"method": "wasserstein"}))
    assert wasserstein.prediction.drifted and wasserstein.prediction.method == "wasserstein"
    same = detect_drift(ref, current.assign(p=rng.beta(2, 5, 2000)), predictions="p")
    assert not same.prediction.drifted


def test_streamed_chunks_give_the_same_report() -> None:
    rng = np.random.default_rng(7)
    for ref_rows in (SMALL_REF, LARGE_REF):
        ref = build_reference(population(rng, ref_rows), SCHEMA)
        current = shifted(rng, 7000)
        whole = detect_drift(ref, current).to_dict()
        bounds = [0, 1, 1500, 1501, 4000, 7000]
        chunks = (current.iloc[a:b] for a, b in itertools.pairwise(bounds))
        streamed = detect_drift(ref, chunks).to_dict()
        assert _close(streamed, whole)


def _close(a, b) -> bool:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        return all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert len(a) == len(b)
        return all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
        return True
    assert a == b
    return True


# ---------------------------------------------------------------------- persistence, size
def test_reference_round_trips_through_json() -> None:
    rng = np.random.default_rng(8)
    for rows in (SMALL_REF, LARGE_REF):
        ref = build_reference(population(rng, rows), SCHEMA, predictions=rng.random(rows),
                              performance={"metric": "rmse", "estimate": 1.0, "low": float("nan")})
        again = Reference.from_dict(json.loads(ref.to_json()))
        assert again.performance["low"] is None
        ref.performance["low"] = None
        assert again == ref
        current = shifted(rng, 3000).assign(p=rng.random(3000))
        assert detect_drift(again, current, predictions="p").to_dict() == detect_drift(
            ref, current, predictions="p").to_dict()


def test_reference_of_a_wide_table_is_small() -> None:
    rng = np.random.default_rng(9)
    n = 50_000
    frame = pd.DataFrame({**{f"n{j}": rng.normal(j, 1 + j, n) for j in range(50)},
                          **{f"c{j}": rng.choice([f"v{i}" for i in range(3 + j)], n) for j in range(50)},
                          "y": rng.integers(0, 2, n)})
    schema = Schema(target="y", task=SCHEMA.task, classes=[0, 1], columns=[
        Column(name, Role.NUMERIC if name.startswith("n") else Role.CATEGORICAL, "", 0.0, 0)
        for name in frame.columns if name != "y"])
    ref = build_reference(frame, schema, predictions=rng.random(n))
    assert len(ref.to_json()) <= 200_000


def test_model_saves_and_loads_its_reference(frame: pd.DataFrame, tmp_path) -> None:
    import labcoat
    from labcoat.model import Model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = labcoat.fit(frame, "churn", trials=2, track=False, report=False, quiet=True, n_jobs=1)
    ref = model.reference
    assert set(ref.columns) == {"age", "income", "plan", "autopay", "signup", "note"}
    assert set(ref.skipped) == {"customer_id", "constant"}
    assert ref.columns["signup"].transform == "epoch_seconds" and ref.columns["note"].transform == "length"
    assert ref.columns["autopay"].categories.keys() == {"true", "false"}
    assert ref.prediction.kind == "numeric" and ref.prediction.rows == len(model.oof["y"])
    assert 0 <= ref.prediction.minimum <= ref.prediction.maximum <= 1
    perf = ref.performance
    assert perf["metric"] == model.metric and perf["estimate"] == model.info.ensemble_score
    assert perf["low"] < perf["estimate"] < perf["high"] and perf["rows"] == len(model.oof["y"])
    loaded = Model.load(model.save_native(tmp_path / "m"))  # what Model.save writes into the MLflow folder
    assert loaded.reference == ref
    # The training rows against their own profile: nothing drifts, nothing is new.
    current = frame.assign(p=model.predict_proba(frame)[:, 1])
    report = detect_drift(loaded.reference, current, predictions="p")
    assert not any(c.drifted or c.missing_rise or c.new_categories for c in report.columns)
    # Models saved before the reference existed load with none.
    (tmp_path / "m" / "reference.json").unlink()
    assert Model.load(tmp_path / "m").reference is None


# ---------------------------------------------------------------------- errors
def test_clear_errors() -> None:
    rng = np.random.default_rng(10)
    ref = build_reference(population(rng, 500), SCHEMA)
    current = population(rng, 100)
    with pytest.raises(ConfigError, match=r"unknown column 'nmu'.*Did you mean 'num'.*'skew'"):
        detect_drift(ref, current, options=DriftOptions(columns={"nmu": {"method": "ks"}}))
    with pytest.raises(ConfigError, match=r"'kss'.*Did you mean 'ks'.*Valid methods for it: ks, wasserstein"):
        detect_drift(ref, current, options=DriftOptions(columns={"num": {"method": "kss"}}))
    with pytest.raises(ConfigError, match=r"'ks' for categorical column 'cat'.*chisquare, z, jensenshannon, psi"):
        detect_drift(ref, current, options=DriftOptions(columns={"cat": {"method": "ks"}}))
    with pytest.raises(ConfigError, match="threshold"):
        detect_drift(ref, current, options=DriftOptions(columns={"num": {"threshold": -1}}))
    with pytest.raises(ConfigError, match="share"):
        detect_drift(ref, current, options=DriftOptions(share=0))
    with pytest.raises(SchemaError, match="'region'"):
        detect_drift(ref, current.drop(columns=["region"]))
    with pytest.raises(DataError, match="no rows"):
        detect_drift(ref, current.iloc[:0])
    with pytest.raises(ConfigError, match="no prediction"):
        detect_drift(ref, current, predictions="num")


def test_overrides_set_method_and_threshold() -> None:
    rng = np.random.default_rng(11)
    ref = build_reference(population(rng, 3000), SCHEMA)
    current = population(rng, 3000)
    current["num"] += 0.3  # 0.15 sd: Wasserstein ~0.15
    default = {c.name: c for c in detect_drift(ref, current).columns}
    assert default["num"].drifted and default["num"].threshold == 0.1
    options = DriftOptions(columns={"num": {"threshold": 0.2}, "cat": {"method": "psi", "threshold": 0.5},
                                    "region": {"method": "chisquare"}}, share=0.1)
    report = detect_drift(ref, current, options=options)
    by = {c.name: c for c in report.columns}
    assert not by["num"].drifted and by["num"].threshold == 0.2
    assert (by["cat"].method, by["cat"].threshold, by["cat"].statistic) == ("psi", 0.5, by["cat"].psi)
    assert by["region"].method == "chisquare" and by["region"].p_value is not None
    assert report.share_threshold == 0.1


if __name__ == "__main__":
    for rows in (SMALL_REF, LARGE_REF):
        for doubled in ("c", "d"):
            rates = simulate(rows, repeats=200, seed=1, doubled=doubled)
            print(f"reference {rows} rows, current {CURRENT_ROWS}: " + ", ".join(f"{k} {v:.1%}" for k, v in rates.items()))
