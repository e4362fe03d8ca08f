"""Forecasting (task="forecast"): input checks, frequencies, the backtest's honesty, the
conformal intervals' coverage, the model's files and the CLI."""
from __future__ import annotations

import subprocess
import sys
import time
import warnings

import numpy as np
import pandas as pd
import pytest

import labcoat
from labcoat.datasets import make_retail
from labcoat.errors import ConfigError, DataError, LabcoatNotice, TargetError
from labcoat.tasks.forecast.backtest import plan_windows, run_trial
from labcoat.tasks.forecast.candidates import Candidate, GlobalLightGBM
from labcoat.tasks.forecast.data import TARGET, TIME, prepare
from labcoat.tasks.forecast.fit import fit_forecast
from labcoat.tasks.forecast.metrics import owa, score
from labcoat.tasks.forecast.model import ForecastModel
from labcoat.tasks.forecast.periods import infer_frequency

BASELINES = ["naive", "seasonal_naive", "window_average"]


@pytest.fixture(scope="module")
def retail() -> pd.DataFrame:
    return make_retail(n_stores=2, n_items=3, days=150, seed=3)


def _fit(frame: pd.DataFrame, **kwargs) -> ForecastModel:
    settings = {"time_column": "date", "series": ["store", "item"], "horizon": 7, "budget": 60,
                "candidates": BASELINES, "quiet": True, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        return fit_forecast(frame, "sales", **settings)


# ------------------------------------------------------------------------------ input
@pytest.mark.parametrize("freq, expected", [("h", "h"), ("D", "D"), ("B", "B"), ("W-SUN", "W-SUN"), ("W-WED", "W-WED"),
                                            ("MS", "MS"), ("ME", "ME"), ("QS-JAN", "QS"), ("YS-JAN", "YS"),
                                            ("15min", "15min")])
def test_frequency_is_inferred_even_with_gaps(freq, expected):
    times = pd.date_range("2021-01-04", periods=40, freq=freq)
    gappy = times.delete([5, 6, 17, 30])  # pandas' own inference gives up on these
    assert infer_frequency([gappy, times[:10]]) == expected
    assert infer_frequency([gappy]) == expected


def test_missing_timestamps_are_filled_and_counted():
    days = pd.date_range("2024-01-01", periods=30)
    rows = pd.DataFrame({"day": days.delete([3, 4, 10]), "sales": np.arange(27.0) + 10})
    with pytest.warns(LabcoatNotice, match="3 missing timestamps filled"):
        panel = prepare(rows, "sales", time_column="day", horizon=3)
    assert panel.filled == 3 and panel.lengths.tolist() == [30]
    filled = panel.frame.set_index(TIME)[TARGET]
    assert filled[pd.Timestamp("2024-01-04")] == pytest.approx(12.0 + 1 / 3)  # interpolated between 12 and 13


@pytest.mark.parametrize("change, error, words", [
    (lambda f: pd.concat([f, f.iloc[[0]]]), DataError, "share their series and time"),
    (lambda f: f.assign(date=f["date"].astype(str).where(f.index != 4, "not a date")), DataError, "'not a date'"),
    (lambda f: f.assign(sales=f["sales"].astype(object).where(f.index != 2, "n/a")), TargetError, "'n/a'"),
    (lambda f: f.drop(columns="store"), DataError, "'store' is not in the data"),
])
def test_bad_input_is_a_clear_error(retail, change, error, words):
    with pytest.raises(error, match=words):
        prepare(change(retail), "sales", time_column="date", series=["store", "item"], horizon=7, quiet=True)


@pytest.mark.parametrize("horizon", [0, -3, 2.5])
def test_horizon_below_one_is_refused(retail, horizon):
    with pytest.raises(ConfigError, match="horizon must be a whole number"):
        prepare(retail, "sales", time_column="date", series=["store", "item"], horizon=horizon, quiet=True)


def test_series_too_short_for_any_backtest_is_refused(retail):
    with pytest.raises(DataError, match="too short to forecast 200 steps"):
        _fit(retail, horizon=200)


def test_short_series_fall_back_to_a_baseline_with_a_notice(retail):
    short = pd.concat([retail, pd.DataFrame({"date": pd.date_range("2023-05-01", periods=6), "store": "store_9",
                                             "item": "item_01", "sales": [3.0, 4, 5, 4, 3, 4]})])
    with pytest.warns(LabcoatNotice, match="1 of 7 series have fewer than 11 values"):
        model = fit_forecast(short, "sales", time_column="date", series=["store", "item"], horizon=7,
                             budget=30, candidates=BASELINES, quiet=True)
    out = model.forecast()
    assert np.allclose(out[out["store"] == "store_9"]["forecast"], np.mean([3.0, 4, 5, 4, 3, 4]))  # a week, or all


# ------------------------------------------------------------------------------ metrics
def test_metrics_match_their_definitions():
    actual, forecast = np.array([[10.0, 20.0]]), np.array([[12.0, 15.0]])
    history = [np.array([1.0, 3.0, 2.0, 4.0])]  # in-sample naive MAE (season 1): (2 + 1 + 2) / 3
    assert score("mase", actual, forecast, history, season=1).value == pytest.approx(3.5 / (5 / 3))
    assert score("smape", actual, forecast, history, season=1).value == pytest.approx(
        np.mean([200 * 2 / 22, 200 * 5 / 35]))
    assert score("wape", actual, forecast, history, season=1).value == pytest.approx(7 / 30)
    assert score("rmsse", actual, forecast, history, season=1).value == pytest.approx(
        np.sqrt(np.mean([4, 25]) / np.mean([4, 1, 4])))
    assert owa(1.0, 10.0, 2.0, 20.0) == pytest.approx(0.5)


def test_every_score_has_an_interval_over_series(retail):
    model = _fit(retail)
    board = model.leaderboard.set_index("candidate")
    for name in ("ensemble", *BASELINES):
        row = board.loc[name]
        assert row["mase_low"] <= row["mase"] <= row["mase_high"]
        assert row["mase_low"] < row["mase_high"]
    honest = model.info["honest_estimate"]  # the latest window, as if unseen, quantiles included
    assert 0 < honest["wql_low"] <= honest["wql"] <= honest["wql_high"]


# ------------------------------------------------------------------------------ honesty
class Spy(Candidate):
    """Remembers the last timestamp of every history it is given; forecasts naively."""

    name = "spy"

    def __init__(self) -> None:
        self.seen: list[pd.Timestamp] = []

    def predict(self, panel, horizon, future=None):
        self.seen.append(panel.frame[TIME].max())
        return np.repeat(panel.y[panel.indptr[1:] - 1][:, None], horizon, axis=1)


def test_the_backtest_never_shows_a_forecaster_its_future(retail):
    panel = prepare(retail, "sales", time_column="date", series=["store", "item"], horizon=7, quiet=True)
    windows, _ = plan_windows(panel, 7, 3)
    spy = Spy()
    trial = run_trial(spy, windows, 7, deadline=float("inf"))
    assert trial.status == "ok" and len(spy.seen) == 3
    last = panel.frame[TIME].max()
    for window, seen in zip(windows, spy.seen):
        first_scored = last - pd.Timedelta(days=7 * window.number - 1)
        assert seen < first_scored
        assert seen == first_scored - pd.Timedelta(days=1)


def test_a_covariate_leaking_the_next_value_is_named(retail):
    leaky = retail.copy()
    leaky["tomorrow"] = leaky.groupby(["store", "item"])["sales"].shift(-1).fillna(0) * 1.01
    with pytest.warns(LabcoatNotice, match="'tomorrow' moves with the target one step ahead"):
        model = fit_forecast(leaky, "sales", time_column="date", series=["store", "item"], horizon=7,
                             known=["tomorrow"], budget=30, candidates=BASELINES, quiet=True)
    assert any("tomorrow" in f for f in model.info["findings"])
    clean = _fit(retail, known=["price", "promo"])
    assert clean.info["findings"] == []


@pytest.mark.parametrize("freq, periods, expected", [
    ("W-MON", 250, [1, 2, 3, 4, 5, 6, 7, 8, 51, 52, 53, 104]), ("D", 60, [1, 2, 3, 4, 5, 6, 7, 8, 14]),
    ("D", 12, [1, 2, 3, 4, 5])])
def test_the_global_models_read_the_last_values_and_the_seasons_neighbours(freq, periods, expected):
    """The last eight values, the main season's m - 1, m, m + 1 and 2m; none as long as half a series."""
    frame = pd.DataFrame({"day": pd.date_range("2020-01-06", periods=periods, freq=freq),
                          "y": np.arange(periods, dtype=float)})
    panel = prepare(frame, "y", time_column="day", horizon=2, quiet=True)
    assert GlobalLightGBM()._lags(panel) == expected


# ------------------------------------------------------------------------------ intervals
def test_80_percent_intervals_cover_about_80_percent_of_new_values():
    rng = np.random.default_rng(7)
    n, length, horizon = 150, 90, 8
    walks = np.cumsum(rng.normal(0, 1, (n, length + horizon)), axis=1) + 50
    days = pd.date_range("2024-01-01", periods=length + horizon)
    rows = pd.DataFrame({"id": np.repeat(np.arange(n), length), "day": np.tile(days[:length], n),
                         "y": walks[:, :length].ravel()})
    model = fit_forecast(rows, "y", time_column="day", series=["id"], horizon=horizon, budget=60,
                         candidates=["naive", "window_average"], quiet=True)
    out = model.forecast(quantiles=(0.1, 0.9))
    future = pd.DataFrame({"id": np.repeat(np.arange(n), horizon), "day": np.tile(days[length:], n),
                           "actual": walks[:, length:].ravel()})
    out = out.astype({"id": int}).merge(future, on=["id", "day"], validate="one_to_one")
    assert len(out) == n * horizon
    inside = (out["actual"] >= out["p10"]) & (out["actual"] <= out["p90"])
    # 1,200 values from 150 independent walks: the share's standard error is about 0.02-0.03
    assert 0.72 <= inside.mean() <= 0.88
    assert 0.6 <= model.info["coverage_80"]["share"] <= 0.95


def test_nonnegative_targets_get_nonnegative_forecasts_and_sorted_quantiles(retail):
    out = _fit(retail).forecast(quantiles=(0.05, 0.5, 0.95))
    assert (out[["forecast", "p5", "p50", "p95"]].to_numpy() >= 0).all()
    assert (out["p5"] <= out["p50"]).all() and (out["p50"] <= out["p95"]).all()


# ------------------------------------------------------------------------------ the model
def test_statistical_and_global_models_with_known_covariates(retail, tmp_path):
    # A budget the candidates do not need (they take seconds) but the first compilation of
    # AutoCES with an empty numba cache may (16 s here, more on a slower machine).
    model = _fit(retail, known=["price", "promo", "holiday"], budget=120,
                 candidates=["seasonal_naive", "auto_ets", "auto_theta", "auto_ces", "croston", "lightgbm"])
    board = model.leaderboard.set_index("candidate")
    assert {"auto_ets", "auto_theta", "croston", "lightgbm"} <= set(board.index)
    assert (board.loc[["auto_ets", "auto_ces", "lightgbm"], "status"] == "ok").all()
    # Every local model estimated on every series (AutoCES writes into the series it gets: it
    # fell back to naive on each read-only one pandas gave it)
    assert (board.loc[["auto_ets", "auto_theta", "auto_ces"], "fallbacks"] == 0).all()
    with pytest.raises(DataError, match="known in advance: give their values"):
        model.forecast()
    last = retail["date"].max()
    future = pd.DataFrame([{"store": s, "item": i, "date": last + pd.Timedelta(days=d), "price": 5.0, "promo": 0,
                            "holiday": 0} for s in retail["store"].unique() for i in retail["item"].unique()
                           for d in range(1, 8)])
    with pytest.raises(DataError, match="miss 1 of the 42 steps ahead"):
        model.forecast(future=future.iloc[1:])
    out = model.forecast(future=future)
    assert len(out) == 42 and out["date"].min() == last + pd.Timedelta(days=1)
    assert np.isfinite(out["forecast"]).all()
    path = model.save(tmp_path / "model")
    again = labcoat.load(path)
    assert isinstance(again, ForecastModel)
    pd.testing.assert_frame_equal(again.forecast(future=future), out)


def test_history_forecasts_from_newer_actuals_without_searching_again(retail):
    older = retail[retail["date"] < retail["date"].max() - pd.Timedelta(days=13)]
    model = _fit(older)
    chosen, weights, stored = [m.name for m in model.members], dict(model.weights), model.stored.copy()
    newer = retail[retail["date"] > older["date"].max()]
    out = model.forecast(history=newer)
    assert out["date"].min() == retail["date"].max() + pd.Timedelta(days=1)
    assert len(out) == 6 * 7
    # the search's choices are untouched, and the forecast differs from the one without the new rows
    assert [m.name for m in model.members] == chosen and model.weights.keys() == weights.keys()
    assert all(np.array_equal(model.weights[g], w) for g, w in weights.items())
    np.testing.assert_array_equal(model.stored, stored)
    assert not np.allclose(out["forecast"].to_numpy(), model.forecast()["forecast"].to_numpy())


def test_horizon_beyond_the_fitted_one_is_refused(retail):
    with pytest.raises(ConfigError, match="fitted for a horizon of 7"):
        _fit(retail).forecast(horizon=8)


def test_options_of_other_tasks_are_refused(retail):
    with pytest.raises(ConfigError, match="trials do not apply|trials does not apply"):
        labcoat.fit(retail, "sales", task="forecast", time_column="date", horizon=7, trials=3, track=False)
    with pytest.raises(ConfigError, match="costs"):
        labcoat.fit(retail, "sales", task="forecast", time_column="date", horizon=7, costs="fp=1,fn=2", track=False)


# ------------------------------------------------------------------------------ CLI
def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "labcoat", *args], cwd=cwd, capture_output=True, text=True)


def test_cli_fits_tracks_and_forecasts(retail, tmp_path):
    retail.to_csv(tmp_path / "sales.csv", index=False)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = _cli("fit", "sales.csv", "--target", "sales", "--task", "forecast", "--time-column", "date",
                "--series", "store,item", "--horizon", "7", "--budget", "30", "--families", ",".join(BASELINES),
                "--out", "model", "--tracking-uri", store, "--register", "demand", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Backtest leaderboard" in done.stdout and "Registered as" in done.stdout
    out = _cli("forecast", "model", "-o", "next.csv", "--quantiles", "0.1,0.9", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    table = pd.read_csv(tmp_path / "next.csv")
    assert table.columns.tolist() == ["store", "item", "date", "forecast", "p10", "p90"] and len(table) == 42
    registered = _cli("forecast", "models:/demand/1", "--tracking-uri", store, cwd=tmp_path)
    assert registered.returncode == 0, registered.stderr
    assert pd.read_csv(__import__("io").StringIO(registered.stdout))["forecast"].tolist() == \
        pytest.approx(table["forecast"].tolist())
    info = _cli("info", "model", cwd=tmp_path)
    assert info.returncode == 0 and "MASE" in info.stdout
    assert (tmp_path / "model-reports" / "forecast_report.html").stat().st_size > 1_000_000  # plotly inlined
    report = _cli("report", "model", "-o", "again.html", cwd=tmp_path)
    assert report.returncode == 0 and (tmp_path / "again.html").is_file(), report.stderr


@pytest.mark.parametrize("args, words", [
    (["--horizon", "0"], "horizon must be a whole number"),
    (["--horizon", "7", "--trials", "3"], "--trials do not apply"),
    (["--horizon", "7", "--time-column", "nope"], "'nope' is not in the data"),
])
def test_cli_bad_forecast_settings_exit_2_without_a_traceback(retail, tmp_path, args, words):
    retail.to_csv(tmp_path / "sales.csv", index=False)
    base = ["fit", "sales.csv", "--target", "sales", "--task", "forecast", "--series", "store,item", "--no-track"]
    if "--time-column" not in args:
        base += ["--time-column", "date"]
    done = _cli(*base, *args, cwd=tmp_path)
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr


def test_predict_refuses_a_forecaster_naming_the_command_that_takes_it(retail, tmp_path):
    model = _fit(retail)
    model.save(tmp_path / "forecaster")
    done = _cli("predict", "forecaster", "x.csv", cwd=tmp_path)
    assert done.returncode == 2 and "labcoat forecast forecaster" in done.stderr


# ------------------------------------------------------------------------------ service
def test_served_forecast_equals_the_in_process_one_and_bad_requests_get_422(retail, tmp_path):
    from test_serve import Server, call

    model = _fit(retail, known=["promo"], candidates=["seasonal_naive", "lightgbm"])
    model.save(tmp_path / "model")
    last = retail["date"].max()
    future = [{"store": "store_2", "item": "item_03", "date": str((last + pd.Timedelta(days=d)).date()), "promo": d % 2}
              for d in range(1, 8)]
    expected = model.forecast(series=[{"store": "store_2", "item": "item_03"}], future=pd.DataFrame(future),
                              quantiles=(0.1, 0.9))
    server = Server(str(tmp_path / "model"), tmp_path)
    try:
        status, body = call(server.port, "/forecast", {"series": [{"store": "store_2", "item": "item_03"}],
                                                       "future": future, "quantiles": [0.1, 0.9]})
        assert status == 200, body
        got = pd.DataFrame(body["forecasts"])
        assert got.columns.tolist() == ["store", "item", "date", "forecast", "p10", "p90"]
        np.testing.assert_allclose(got[["forecast", "p10", "p90"]].to_numpy(),
                                   expected[["forecast", "p10", "p90"]].to_numpy(), rtol=1e-9)
        for request, words in [({"series": [{"store": "store_9", "item": "item_03"}], "future": future}, "store_9"),
                               ({"horizon": 30, "future": future}, "horizon of 7"),
                               ({"series": [{"store": "store_2", "item": "item_03"}]}, "promo"),
                               ({"colour": "red"}, "unknown field")]:
            status, body = call(server.port, "/forecast", request)
            assert status == 422 and words in body["detail"][0]["msg"], (request, body)
        assert call(server.port, "/schema")[1]["horizon"] == 7
    finally:
        server.stop()


def test_a_saved_forecaster_is_an_mlflow_pyfunc_model(retail, tmp_path):
    import mlflow.pyfunc

    model = _fit(retail)
    model.save(tmp_path / "model")
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    one = pd.DataFrame([{"store": "store_2", "item": "item_03"}])
    got = loaded.predict(one, params={"horizon": 3, "quantiles": [0.1, 0.9]})
    expected = model.forecast(series=one, horizon=3, quantiles=(0.1, 0.9))
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
    assert len(loaded.predict(pd.DataFrame())) == 6 * 7  # no series named: all, the fitted horizon
    assert isinstance(labcoat.load(tmp_path / "model"), ForecastModel)  # still labcoat's own folder


def test_two_workers_follow_the_champion_alias_of_a_forecaster(retail, tmp_path, monkeypatch):
    """Clients ask for forecasts while the champion moves 1 -> 2: every answer 200, from two
    worker processes, then only version 2's forecasts (a different model: different values)."""
    import threading

    from test_serve import Server, call

    from labcoat.serve.predlog import read_log
    from labcoat.tracking.registry import promote

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for candidates in (["naive"], ["seasonal_naive"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LabcoatNotice)
            labcoat.fit(retail, "sales", task="forecast", time_column="date", series=["store", "item"], horizon=7,
                        budget=30, families=candidates, quiet=True, tracking_uri=store, register="demand",
                        report=False)
    promote("demand", "1", uri=store)
    expected = {v: labcoat.load(f"models:/demand/{v}", tracking_uri=store).forecast()["forecast"].round(9).tolist()
                for v in ("1", "2")}
    assert expected["1"] != expected["2"]
    import mlflow.pyfunc

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)  # the registered version is an MLflow pyfunc model too
    served = mlflow.pyfunc.load_model("models:/demand/2").predict(pd.DataFrame())["forecast"].round(9).tolist()
    assert served == expected["2"]
    server = Server("models:/demand@champion", tmp_path, "--follow-alias", "--tracking-uri", store,
                    "--workers", "2", env={"LABCOAT_SERVE_FOLLOW_SECONDS": "0.3"})
    answers: list[tuple[int, str, list[float]]] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            status, body = call(server.port, "/forecast", {})
            answers.append((status, body["model"]["version"] if status == 200 else str(body),
                            [round(r["forecast"], 9) for r in body.get("forecasts", [])]))

    clients = [threading.Thread(target=ask) for _ in range(3)]
    try:
        for c in clients:
            c.start()
        time.sleep(1.0)
        promote("demand", "2", uri=store)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(v == "2" for _, v, _ in answers[-30:]):
            time.sleep(0.2)
        stop.set()
        for c in clients:
            c.join()
    finally:
        stop.set()
        server.stop()
    assert all(status == 200 for status, _, _ in answers), [a for a in answers if a[0] != 200][:3]
    versions = [v for _, v, _ in answers]
    assert "1" in versions and set(versions[-30:]) == {"2"}
    assert all(values == expected[v] for _, v, values in answers)  # each answer wholly one version's
    logged = [r for r in read_log(server.log) if r["endpoint"] == "/forecast"]
    assert len(logged) == len(answers) and {r["version"] for r in logged} == {"1", "2"}


# ------------------------------------------------------------------------------ monitoring
def test_monitor_compares_realised_error_with_the_backtest(retail, tmp_path):
    full = make_retail(n_stores=2, n_items=3, days=157, seed=3)
    cut = full["date"].max() - pd.Timedelta(days=7)
    _fit(full[full["date"] <= cut]).save(tmp_path / "model")
    actual = full[full["date"] > cut]
    actual.to_csv(tmp_path / "actual.csv", index=False)
    shifted = actual.assign(sales=actual["sales"] * 3 + 20)  # demand that left the model behind
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    same = _cli("monitor", "model", "--actuals", "actual.csv", "--json", cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    document = __import__("json").loads(same.stdout)
    assert document["series"] == 6 and document["values"] == 42 and not document["degraded"]
    worse = _cli("monitor", "model", "--actuals", "shifted.csv", cwd=tmp_path)
    assert worse.returncode == 1 and "Degraded" in worse.stdout, worse.stdout + worse.stderr
    full[full["date"] <= cut].to_csv(tmp_path / "old.csv", index=False)
    before = _cli("monitor", "model", "--actuals", "old.csv", cwd=tmp_path)
    assert before.returncode == 2 and "None of the actuals falls" in before.stderr


# ------------------------------------------------------------------------------ report
def test_the_forecast_report_renders_offline_in_chromium(retail, tmp_path, browser):
    from test_reports import open_offline

    from labcoat.reports.forecast_report import write_forecast_report

    path = write_forecast_report(_fit(retail), tmp_path)
    errors, requests, state, plots, page = open_offline(browser, path, tmp_path / "forecast.png")
    text = page.inner_text("body")
    page.close()
    assert errors == [] and state == "ready" and requests == [], errors
    assert len(plots) == 4  # the largest, best and worst series, and the error by step
    assert all(p["svg"] and p["drawn"] and p["width"] > 100 for p in plots), plots
    assert "MASE" in text and "80% intervals held" in text


def test_compare_pairs_forecasters_over_series(retail, tmp_path):
    model = _fit(retail, candidates=["naive", "seasonal_naive", "window_average"])
    results = labcoat.compare(model, "naive", "seasonal_naive", "ensemble")
    assert len(results) == 3 and all(r["holm_adjusted"] for r in results)
    first = results[0]
    expected = np.nanmean(model.candidate_errors["naive"] - model.candidate_errors["seasonal_naive"])
    assert first["difference"] == pytest.approx(expected)
    assert first["low"] < first["difference"] < first["high"]
    model.save(tmp_path / "model")
    done = _cli("compare", "model", "naive", "window_average", cwd=tmp_path)
    assert done.returncode == 0 and "MASE" in done.stdout, done.stderr
    with pytest.raises(ConfigError, match="No backtest of auto_ets"):
        labcoat.compare(model, "naive", "auto_ets")


# ------------------------------------------------------------------------------ retraining
def test_retrain_a_forecast_champion_behind_the_gate(tmp_path):
    full = make_retail(n_stores=2, n_items=3, days=190, seed=5)
    old = full[full["date"] <= full["date"].min() + pd.Timedelta(days=150)]
    old.to_csv(tmp_path / "old.csv", index=False)
    full.to_csv(tmp_path / "new.csv", index=False)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    fitted = _cli("fit", "old.csv", "--target", "sales", "--task", "forecast", "--time-column", "date",
                  "--series", "store,item", "--horizon", "7", "--budget", "30", "--families", ",".join(BASELINES),
                  "--tracking-uri", store, "--register", "demand", "--no-report", cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    assert _cli("models", "promote", "demand", "1", "--tracking-uri", store, cwd=tmp_path).returncode == 0
    # The gate is tested, not the challenger's quality: 10 s search its candidates as 30 s did.
    done = _cli("retrain", "demand", "--data", "new.csv", "--budget", "10", "--tracking-uri", store, "--json",
                "--no-report", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    decision = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    assert decision["metric"] == "mase" and decision["holdout_rows"] == 42 and decision["challenger_version"] == "2"
    challenger = labcoat.load("models:/demand/2", tracking_uri=store)  # fitted like the champion: its candidates
    assert decision["settings"]["candidates"] == BASELINES
    assert set(challenger.leaderboard["candidate"]) == {*BASELINES, "ensemble"}
    assert decision["ci_low"] <= decision["difference"] <= decision["ci_high"]
    assert decision["decision"] in ("promoted", "kept")


def test_holidays_become_a_known_covariate_computed_for_the_future(retail):
    model = _fit(retail, holidays="US", candidates=["seasonal_naive", "lightgbm"])
    assert model.info["known"] == ["holiday_US"]
    out = model.forecast()  # nothing to give: the calendar is known
    assert len(out) == 42 and np.isfinite(out["forecast"]).all()
    with pytest.raises(ConfigError, match="No holiday calendar for country 'XX'"):
        _fit(retail, holidays="XX")
