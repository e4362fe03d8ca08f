"""HTML reports: the data profile and the model report.

The pages are checked as text (sections, no external resource) and in a real headless
Chromium: no JavaScript error, no network request, every Plotly figure drawn with data, and a
screenshot of each page saved in pytest's tmp_path.
"""
from __future__ import annotations

import copy
import dataclasses
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labcoat
from labcoat.datasets import make_churn
from labcoat.model_info import ModelInfo
from labcoat.reports import model_report, profile_report, write_reports
from labcoat.reports.explanation_tables import explanation_tables
from labcoat.reports.profile import association, profile_data

# One thread: on a busy 2-core machine, LightGBM with 2 threads took 30-120 s per trial here
# (OpenMP threads contending with other processes) against 1-3 s with one.
FAST = dict(families=["linear", "lightgbm"], track=False, quiet=True, seed=0, n_jobs=1)


def _fit(frame: pd.DataFrame, target: str, trials: int, **extra) -> "labcoat.Model":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return labcoat.fit(frame, target=target, trials=trials, **{**FAST, **extra})


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return make_churn(400)


@pytest.fixture(scope="module")
def churn_model(churn):
    return _fit(churn, "churned", 2)


@pytest.fixture(scope="module")
def regression_model(churn):
    return _fit(churn, "monthly_charges", 2)


@pytest.fixture(scope="module")
def pages(tmp_path_factory, churn, churn_model, regression_model) -> dict[str, Path]:
    """The pages the browser test opens: a profile, a classifier's report with every section
    filled (explanations from the real ``summarize``), a regressor's report scored on new rows."""
    from labcoat.evaluate.explain_summary import summarize

    full = copy.copy(churn_model)
    full.explanations = summarize(churn_model, churn, seconds=5)  # every part, even on a loaded machine
    full.info = dataclasses.replace(churn_model.info, test={"score": 0.74, "low": 0.69, "high": 0.79,
                                                            "rows": 100, "source": "outer holdout"})
    fresh = make_churn(300, seed=7)
    folder = tmp_path_factory.mktemp("pages")
    out = {"profile": profile_report(churn, "churned"), "classifier": model_report(full, data=fresh),
           "regressor": model_report(regression_model, data=fresh)}
    for name, html in out.items():
        (folder / f"{name}.html").write_text(html, encoding="utf-8")
    return {name: folder / f"{name}.html" for name in out}


def _external_references(html: str) -> list[str]:
    """Scripts, styles, images or frames loaded from anywhere but the page itself."""
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html, flags=re.IGNORECASE)
    return [t for t in tags if re.search(r"\b(?:src|href)\s*=", t, flags=re.IGNORECASE)]


def _sections(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


# ---------------------------------------------------------------------- profile
def test_profile_has_every_section_and_nothing_external(pages):
    html = pages["profile"].read_text()
    assert _sections(html) == ["summary", "columns", "target", "distributions", "associations",
                               "correlations", "findings"]
    assert _external_references(html) == []
    assert html.count("* plotly.js v") == 1 and html.count("labcoatFigures.push(") >= 12
    assert "400 rows and 13 columns" in html
    assert "customer_id" in html and "identifier" in html


def test_profile_without_target_says_what_is_missing(churn):
    html = profile_report(churn.drop(columns="churned"), title="No target")
    assert "Not available: no target was given" in html
    assert "Not available: the checks need a target" in html
    assert "<title>No target</title>" in html


def test_profile_numbers(churn):
    frame = churn.assign(leak=churn["churned"].map({"yes": "Y", "no": "N"}),
                         noise=np.random.default_rng(0).normal(size=len(churn)))
    frame.loc[:19, "total_charges"] = np.nan
    p = profile_data(frame, "churned")
    by_name = {c["name"]: c for c in p["columns"]}
    assert by_name["customer_id"]["role"] == "identifier" and not by_name["customer_id"]["used"]
    assert by_name["churned"]["role"] == "target" and p["task"] == "binary"
    assert by_name["total_charges"]["missing"] >= 20 / 400
    assoc = {a["column"]: a["value"] for a in p["associations"]}
    assert assoc["leak"] > 0.95 and assoc["noise"] < 0.15
    assert p["associations"][0]["column"] == "leak"
    assert any(f["check"] == "leakage" and f["column"] == "leak" for f in p["findings"])
    assert set(p["correlations"].columns) >= {"tenure_months", "monthly_charges", "total_charges"}


def test_association_measures():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    assert association(x, 3 * x + 1, False, False) == (pytest.approx(1.0), "rank correlation")
    assert association(x, rng.normal(size=2000), False, False)[0] < 0.1
    groups = rng.integers(0, 3, 2000)
    assert association(groups.astype(float) + rng.normal(0, 0.01, 2000), groups, False, True)[0] > 0.99
    # Bias-corrected Cramér's V: many independent categories do not look associated.
    assert association(rng.integers(0, 50, 2000), rng.integers(0, 2, 2000), True, True)[0] < 0.1


def test_profile_of_100k_rows_by_50_columns_is_fast():
    base = make_churn(100_000)
    wide = pd.concat([base.drop(columns="churned").add_suffix(f"_{i}") for i in range(4)]
                     + [base[["churned"]]], axis=1)
    wide = wide.iloc[:, :50]
    wide["churned"] = base["churned"]
    started = time.perf_counter()
    html = profile_report(wide, "churned")
    seconds = time.perf_counter() - started
    assert seconds < 20, f"profile of {wide.shape} took {seconds:.1f} s"
    assert "random sample of 20,000" in html
    assert len(html) < 8_000_000


# ---------------------------------------------------------------------- model report
def test_model_report_sections(pages, churn_model):
    html = pages["classifier"].read_text()
    assert _sections(html) == ["summary", "performance", "diagnostics", "drivers", "leaderboard", "history",
                               "ensemble", "findings", "data", "card", "details"]
    assert _external_references(html) == []
    for text in ("Corrected for selection", "On held-out test rows", "On the data given", "ROC curve",
                 "Precision-recall", "Confusion matrix", "Calibration", "Importance", "SHAP summary",
                 "Partial dependence", "Intended use", "Limits", "not seen in training"):
        assert text in html, text
    assert "Not available" not in html  # every section of this model has its data
    assert html.count("* plotly.js v") == 1


def test_regression_report_has_residual_plots(pages):
    html = pages["regressor"].read_text()
    for text in ("Predicted against actual", "Errors against prediction", "Distribution of errors", "RMSE"):
        assert text in html, text
    assert "ROC curve" not in html


def test_model_report_without_optional_parts_says_not_available(churn_model):
    bare = copy.copy(churn_model)
    bare.oof, bare.explanations = None, None
    bare.info = ModelInfo(metric=churn_model.info.metric)
    bare.leaderboard = pd.DataFrame()
    html = model_report(bare)
    for text in ("Not available: this model does not carry its out-of-fold predictions",
                 "Not available: this model carries no explanations",
                 "Not available: the model carries no leaderboard", "Not available: no completed trial",
                 "Not available: this model does not record the data checks"):
        assert text in html, text


def test_model_report_data_must_hold_the_target(churn_model, churn):
    from labcoat.errors import TargetError

    with pytest.raises(TargetError, match="no target column 'churned'"):
        model_report(churn_model, data=churn.drop(columns="churned"))


def test_explanation_layouts_map_to_one_shape():
    summarize_layout = {
        "output": "P(y=1)", "errors": {"shap": "boom"},
        "importance": {"table": [{"feature": "a", "importance": 0.2, "std": 0.01},
                                 {"feature": "b", "importance": 0.5, "std": 0.02}]},
        "partial_dependence": {"features": {"a": {"kind": "numeric", "values": [0, 1, 2],
                                                  "average": {"x": [0.1, 0.2, 0.3], "y": [0.9, 0.8, 0.7]}}}}}
    e = explanation_tables(summarize_layout)
    assert [r["feature"] for r in e["importance"]] == ["b", "a"] and e["shap"] == []
    assert e["pdp"][0]["series"] == ["x", "y"] and e["errors"] == {"shap": "boom"}
    plain = explanation_tables({"mean_abs_shap": {"a": 0.3, "b": 0.1},
                                "pdp": {"a": {"grid": ["u", "v"], "values": [1.0, 2.0]}}})
    assert plain["shap"][0] == {"feature": "a", "value": 0.3, "std": None}
    assert plain["pdp"][0]["grid"] == ["u", "v"]
    assert explanation_tables(None) is None and explanation_tables({"nothing": 1}) is None


def test_write_reports(tmp_path, churn_model, churn):
    paths = write_reports(churn_model, churn, tmp_path / "reports")
    assert [p.name for p in paths] == ["profile.html", "report.html"]
    assert all(p.stat().st_size > 1_000_000 for p in paths)


# ---------------------------------------------------------------------- CLI
def _labcoat(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the console entry point in process (as ``labcoat ARGS``): exit code, stdout, stderr."""
    from labcoat.cli import main

    monkeypatch.setattr(sys, "argv", ["labcoat", *args])
    code = 0
    try:
        main()
    except SystemExit as done:
        code = done.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_profile_and_report(tmp_path, monkeypatch, capsys, churn, churn_model):
    churn.to_csv(tmp_path / "churn.csv", index=False)
    churn_model.save(tmp_path / "model")
    monkeypatch.chdir(tmp_path)
    code, out, err = _labcoat(monkeypatch, capsys, "profile", "churn.csv", "--target", "churned")
    assert code == 0, err
    assert (tmp_path / "profile.html").stat().st_size > 1_000_000 and "Wrote profile.html" in out
    code, out, err = _labcoat(monkeypatch, capsys, "report", "model", "--data", "churn.csv", "-o", "r.html")
    assert code == 0, err
    assert "On the data given" in (tmp_path / "r.html").read_text()
    for args, message in ((("profile", "nope.csv"), "does not exist"),
                          (("profile", "churn.csv", "-t", "churn"), "Did you mean"),
                          (("report", "nomodel"), "No model at"),
                          (("report", "model", "-o", "missing/dir/r.html"), "Cannot write the report")):
        code, out, err = _labcoat(monkeypatch, capsys, *args)
        assert code == 2 and message in err, (args, err)
        assert "Traceback" not in err


def test_cli_entry_point(tmp_path, churn):
    """The installed way in: ``python -m labcoat profile`` in a fresh process."""
    churn.head(100).to_csv(tmp_path / "small.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "labcoat", "profile", "small.csv", "-o", "p.html"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Not available: no target was given" in (tmp_path / "p.html").read_text()


# ---------------------------------------------------------------------- in a real browser
PLOTS_JS = """() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => {
  const box = d.getBoundingClientRect();
  const traces = Array.from(d.querySelectorAll('.cartesianlayer g.trace, .cartesianlayer g.hm'));
  const drawn = traces.filter(t => t.querySelector('image') ||
      Array.from(t.querySelectorAll('path')).some(p => (p.getAttribute('d') || '').length > 10));
  return {id: d.id, svg: d.querySelectorAll('.main-svg').length, traces: traces.length,
          drawn: drawn.length, width: box.width, height: box.height};
})"""


def open_offline(browser, path: Path, screenshot: Path) -> tuple[list[str], list[str], str, list[dict], object]:
    """Open a report file with every non-file request refused: page/console errors, refused
    requests, the plots' state, the plots (``PLOTS_JS``) and the open page (close it after use)."""
    errors: list[str] = []
    requests: list[str] = []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            requests.append(r.request.url)
            r.abort()

    page = browser.new_page()
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_function("document.documentElement.dataset.plots !== undefined", timeout=60_000)
    state = page.evaluate("document.documentElement.dataset.plots")
    plots = page.evaluate(PLOTS_JS)
    page.screenshot(path=str(screenshot), full_page=True)
    return errors, requests, state, plots, page


@pytest.mark.parametrize("name", ["profile", "classifier", "regressor"])
def test_report_renders_in_chromium(browser, pages, name, tmp_path):
    shot = tmp_path / f"{name}.png"
    errors, requests, state, plots, page = open_offline(browser, pages[name], shot)
    page.close()
    assert errors == [] and state == "ready", errors
    assert requests == [], f"the page tried to load {requests}"
    assert len(plots) >= {"profile": 12, "classifier": 12, "regressor": 6}[name]
    assert len({p["id"] for p in plots}) == len(plots)
    empty = [p for p in plots if not (p["svg"] and p["traces"] and p["drawn"] and p["width"] > 100
                                      and p["height"] > 100)]
    assert empty == [], f"figures drawn without data: {empty}"
    assert shot.stat().st_size > 100_000
    if os.environ.get("LABCOAT_KEEP_SCREENSHOTS"):
        target = Path(os.environ["LABCOAT_KEEP_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shot.replace(target / shot.name)


def test_the_leaderboard_says_why_stopped_trials_rank_last(churn_model):
    from labcoat.search.trial import STOPPED_NOTE

    assert STOPPED_NOTE not in model_report(churn_model)
    stopped = copy.copy(churn_model)
    stopped.leaderboard = churn_model.leaderboard.assign(
        status=["ok"] * (len(churn_model.leaderboard) - 1) + ["stopped"])
    assert STOPPED_NOTE in model_report(stopped)
