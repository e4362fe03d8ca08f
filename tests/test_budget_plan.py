"""How fit divides its budget with the steps after the fit (``labcoat.train.budget``): what is
kept from the search, and what the steps leave out when their time is gone. Behaviour only:
the clocks here are set, not waited on."""

import subprocess
import sys
import time
import warnings

import pytest

import labcoat
from labcoat.errors import LabcoatNotice
from labcoat.search import Clock
from labcoat.search.trial import Trial
from labcoat.train.budget import AFTER_FIT_SHARE, AfterFitPlan, after_fit_plan, after_fit_reserve, refit_reserve
from labcoat.train.post_fit import AfterFit, _explain_and_report


def _finished_trial() -> Trial:
    return Trial(number=0, family="linear", params={}, origin="portfolio", status="ok")


def test_the_plan_names_each_step_and_skips_those_that_do_not_run():
    clock = Clock(60.0)
    full = after_fit_plan(clock, 10_000, 10, explain=True, write=True, tracked=True)
    assert full.explain > 0 and full.reports > 0 and full.tracking > 0
    assert full.total == pytest.approx(full.explain + full.reports + full.tracking)
    bare = after_fit_plan(clock, 10_000, 10, explain=False, write=False, tracked=False)
    assert bare.total == 0
    # Bigger data, longer reports.
    assert after_fit_plan(clock, 1_000_000, 10, explain=True, write=True, tracked=True).reports > full.reports


def test_the_reserve_is_capped_by_a_share_of_the_budget_but_keeps_the_tracked_run():
    plan = AfterFitPlan(explain=5.0, reports=5.0, tracking=0.8)
    assert after_fit_reserve(plan, Clock(10.0)) == pytest.approx(AFTER_FIT_SHARE * 10.0)
    assert after_fit_reserve(plan, Clock(600.0)) == pytest.approx(plan.total)
    assert after_fit_reserve(AfterFitPlan(tracking=0.8), Clock(1.0)) == pytest.approx(0.8)
    assert after_fit_reserve(plan, Clock(None)) == 0


def test_until_a_trial_finishes_only_the_tracked_run_is_kept_from_the_search():
    clock = Clock(20.0)
    before = refit_reserve([], clock, holdout=True, after_fit=4.0, before_first=0.8)
    after = refit_reserve([_finished_trial()], clock, holdout=True, after_fit=4.0, before_first=0.8)
    assert after - before == pytest.approx(4.0 - 0.8)


@pytest.fixture(scope="module")
def model_and_frame():
    from conftest import mixed_frame

    frame = mixed_frame(300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        model = labcoat.fit(frame, "churn", trials=1, families=["linear"], quiet=True, track=False, report=False)
    return model, frame


def _after(frame, clock: Clock) -> AfterFit:
    plan = after_fit_plan(clock, len(frame), frame.shape[1], explain=True, write=True, tracked=False)
    return AfterFit(frame=frame, source="test", clock=clock, seed=0, recorder=None, report=True,
                    report_dir=None, register=None, tracking_uri=None, plan=plan)


def test_with_time_left_the_explanations_and_reports_are_made(model_and_frame, tmp_path):
    model, frame = model_and_frame
    model.explanations, model.info.deferred = None, []
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabcoatNotice)
        paths = _explain_and_report(model, _after(frame, Clock(600.0)), tmp_path, write=True)
    assert {p.name for p in paths} == {"profile.html", "report.html"}
    assert model.explanations is not None and model.info.deferred == []


def test_past_the_budget_they_are_deferred_with_a_notice_naming_them(model_and_frame, tmp_path):
    model, frame = model_and_frame
    model.explanations, model.info.deferred = None, []
    spent = Clock(10.0, start=time.monotonic() - 9.9)  # 0.1 s left
    with pytest.warns(LabcoatNotice, match=r"budget of 10 s, fit left out the explanations and the reports"):
        paths = _explain_and_report(model, _after(frame, spent), tmp_path, write=True)
    assert paths == [] and model.explanations is None
    assert model.info.deferred == ["explanations", "reports"]


def test_deferred_explanations_are_made_by_the_report_command(model_and_frame, tmp_path):
    model, frame = model_and_frame
    model.explanations = None
    path = model.save(tmp_path / "model")
    frame.to_csv(tmp_path / "train.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "labcoat", "report", str(path), "--data", "train.csv",
                           "-o", "r.html"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert labcoat.load(path).explanations is None  # the saved model is left as it was
    assert "<h3>Importance</h3>" in (tmp_path / "r.html").read_text()
    done = subprocess.run([sys.executable, "-m", "labcoat", "report", str(path), "-o", "bare.html"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0 and "carries no explanations" in (tmp_path / "bare.html").read_text()
