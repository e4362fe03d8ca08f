"""Leaks found by what they do: a planted noisy copy of the target is named with its figures; a
strong column that another duplicates is not; the time cap holds; an error costs the check only."""
from __future__ import annotations

import re
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from labcoat import guards_effect
from labcoat.datasets import make_churn
from labcoat.errors import LabcoatNotice
from labcoat.guards_effect import check_effect, probe_effects


def noisy_copy(y: pd.Series, agreement: float, seed: int = 0) -> np.ndarray:
    """``y``'s classes as words, another class on a random ``1 - agreement`` of the rows."""
    rng = np.random.default_rng(seed)
    codes, classes = pd.factorize(y)
    wrong = rng.random(len(y)) > agreement
    codes = np.where(wrong, (codes + rng.integers(1, len(classes), len(y))) % len(classes), codes)
    return np.array([f"closed: {classes[c]}" for c in codes])


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return make_churn(1500, seed=1).drop(columns="customer_id")


def test_a_column_agreeing_with_the_target_on_96_percent_of_rows_is_named_with_its_figures(churn):
    leaky = churn.assign(closing_note=noisy_copy(churn["churned"], 0.96))
    (finding,) = check_effect(leaky, "churned", "binary")
    assert (finding.check, finding.severity, finding.column) == ("suspected leakage", "medium", "closing_note")
    figures = re.fullmatch(r"alone it reaches ROC AUC (0\.\d\d); the model without it (0\.\d\d), with it "
                           r"(0\.\d\d); the other columns explain (\d+)% of its variation beyond the target "
                           r"\(a quick model on 1,500 rows, (\d+)% of whose importance is in this column\)\.",
                           finding.evidence)
    assert figures, finding.evidence
    alone, without, whole, explained, share = (float(v) for v in figures.groups())
    assert alone > 0.9 and without < 0.8 and whole > alone and explained < 10 and share > 50
    assert "drop it before training" in finding.fix
    # The value-by-value rule does not see it: this check is what names it.
    from labcoat.guards import check_data

    assert not [f for f in check_data(leaky, "churned", "binary") if f.column == "closing_note"]


def test_a_strong_column_that_another_duplicates_is_not_flagged():
    rng = np.random.default_rng(3)
    n = 1500
    x = rng.normal(size=n)
    frame = pd.DataFrame({"reading": x, "reading_again": x + rng.normal(0, 0.05, n),
                          "noise": rng.normal(size=n), "group": rng.choice(list("abc"), n),
                          "sick": np.where(x + rng.normal(0, 0.3, n) > 0, "yes", "no")})
    assert check_effect(frame, "sick", "binary") == []
    probe = probe_effects(frame, "sick", "binary", screen=False)
    assert probe is not None
    strongest = max(probe.columns, key=lambda e: e.alone or 0)
    assert strongest.column.startswith("reading") and strongest.alone is not None and strongest.alone > 0.85
    assert strongest.without is not None and probe.full - strongest.without < 0.02  # its twin stands in


def test_a_leak_is_found_on_a_table_the_other_columns_already_predict():
    # The model without the leak loses almost nothing (ROC AUC 0.99 either way), so no loss of skill
    # gives it away; that the other columns tell nothing about it beyond the target does.
    rng = np.random.default_rng(4)
    n = 1500
    x = rng.normal(size=(n, 4))
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(
        sick=np.where(x[:, 0] + x[:, 1] + rng.normal(0, 0.2, n) > 0, "yes", "no"))
    leaky = frame.assign(discharge_code=noisy_copy(frame["sick"], 0.92, seed=5))
    (finding,) = check_effect(leaky, "sick", "binary")
    assert (finding.check, finding.column) == ("suspected leakage", "discharge_code")
    alone, without, whole = (float(v) for v in re.findall(r"[01]\.\d\d", finding.evidence)[:3])
    assert without >= 0.98 and whole - without < 0.02 and alone > 0.85


def test_a_strong_input_the_others_relate_to_is_named_dominant_not_a_leak():
    # A diagnosis made mostly from one lab value that the other readings move with (hypothyroid's TSH).
    rng = np.random.default_rng(6)
    n = 1500
    tsh = rng.normal(size=n)
    t4 = -0.8 * tsh + 0.6 * rng.normal(size=n)
    frame = pd.DataFrame({"tsh": tsh, "t4": t4, "age": rng.normal(size=n),
                          "sick": np.where(tsh - 0.3 * t4 + rng.normal(0, 0.25, n) > 0.5, "yes", "no")})
    (finding,) = check_effect(frame, "sick", "binary")
    assert (finding.check, finding.severity, finding.column) == ("dominant column", "low", "tsh")
    explained = int(re.search(r"the other columns explain (\d+)%", finding.evidence)[1])
    assert explained >= 10
    assert "relates to the others as a measured input does" in finding.fix
    from labcoat.reports import effect_findings  # fit's reports pass it on

    (passed,) = effect_findings([str(finding)])
    assert (passed["severity"], passed["check"], passed["column"]) == ("low", "dominant column", "tsh")


@pytest.mark.parametrize("n_classes", [2, 3, 7])
def test_the_probes_skill_is_scikit_learns_roc_auc(n_classes):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(n_classes)
    y = rng.integers(0, n_classes, 400)
    prediction = rng.random((400, n_classes)) + 0.3 * np.eye(n_classes)[y]
    prediction[:, 0] = np.round(prediction[:, 0], 1)  # ties count half, as scikit-learn counts them
    expected = 2 * np.mean([roc_auc_score(y == c, prediction[:, c]) for c in range(n_classes)]) - 1
    assert guards_effect._skill(y, prediction, True) == pytest.approx(expected, abs=1e-12)


def test_a_clean_table_raises_nothing(churn, regression_frame):
    assert check_effect(churn, "churned", "binary") == []
    assert check_effect(regression_frame, "y", "regression") == []


def test_regression_a_noisy_copy_of_the_target_is_named():
    rng = np.random.default_rng(2)
    n = 1200
    x = rng.normal(size=(n, 4))
    y = 2 * x[:, 0] - x[:, 1] ** 2 + np.sin(3 * x[:, 2]) + rng.normal(0, 2.0, n)
    noise_sd = y.std() * np.sqrt(1 / 0.97**2 - 1)  # correlated with y at r = 0.97
    frame = pd.DataFrame(x, columns=list("abcd")).assign(final_price=y + rng.normal(0, noise_sd, n), price=y)
    (finding,) = check_effect(frame, "price", "regression")
    assert finding.column == "final_price"
    assert re.match(r"alone it reaches R² 0\.9\d; the model without it 0\.[3-7]\d, with it 0\.9\d", finding.evidence)


def test_multiclass_a_copy_of_the_class_is_named_with_the_macro_auc(regression_frame):
    frame = regression_frame.assign(level=pd.qcut(regression_frame["y"], 3, labels=["low", "mid", "high"]).astype(str))
    frame = pd.concat([frame] * 3, ignore_index=True).drop(columns="y")  # 900 rows
    frame["a"] += np.random.default_rng(0).normal(0, 0.5, len(frame))
    leaky = frame.assign(grade=noisy_copy(frame["level"], 0.95, seed=1))
    (finding,) = check_effect(leaky, "level", "multiclass")
    assert finding.column == "grade" and finding.evidence.startswith("alone it reaches macro ROC AUC 0.9")


def test_the_time_cap_holds_and_costs_only_the_check(churn):
    leaky = pd.concat([churn] * 2, ignore_index=True).assign(
        closing_note=noisy_copy(pd.concat([churn["churned"]] * 2, ignore_index=True), 0.96))
    started = time.perf_counter()
    probe = probe_effects(leaky, "churned", "binary", seconds=0.2)
    assert time.perf_counter() - started < 1.0
    assert probe is None or not probe.complete
    with warnings.catch_warnings():
        warnings.simplefilter("error", LabcoatNotice)  # running out of time is not an error
        check_effect(leaky, "churned", "binary", seconds=0.2)


def test_an_error_costs_the_check_with_a_notice_and_never_the_fit(churn, monkeypatch):
    import labcoat

    def broken(*args, **kwargs):
        raise RuntimeError("the probe broke")

    monkeypatch.setattr(guards_effect._Models, "cross_predict", broken)
    leaky = churn.assign(closing_note=noisy_copy(churn["churned"], 0.96))
    with pytest.warns(LabcoatNotice, match=r"leaks by their effect was skipped \(RuntimeError: the probe broke\)"):
        assert check_effect(leaky, "churned", "binary") == []
    with pytest.warns(LabcoatNotice, match="leaks by their effect was skipped"):
        model = labcoat.fit(leaky, "churned", trials=1, families=["linear"], quiet=True, track=False, report=False)
    assert model.predict(leaky.head(3)) is not None
    assert not any("suspected leakage" in f for f in model.info.findings or ())


def test_fit_reports_it_after_the_value_rule_and_the_report_shows_it(churn):
    import labcoat
    from labcoat.reports import model_report

    # A perfect copy (named by the value-by-value rule) would hide the noisy one if it stayed in the probe.
    leaky = churn.assign(closing_note=noisy_copy(churn["churned"], 0.95),
                         churn_reason=np.where(churn["churned"] == "yes", "moved away", "none"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = labcoat.fit(leaky, "churned", trials=1, families=["linear"], quiet=True, track=False,
                            report=False)
    notices = [str(w.message) for w in caught if issubclass(w.category, LabcoatNotice)]
    assert any(n.startswith("[medium] suspected leakage: column 'closing_note': alone it reaches ROC AUC")
               for n in notices), notices
    findings = model.info.findings or []
    assert any("leakage: column 'churn_reason'" in f for f in findings)
    assert not any("suspected leakage: column 'churn_reason'" in f for f in findings)
    report = model_report(model)
    assert "suspected leakage" in report and "closing_note" in report


@pytest.mark.slow
def test_the_cli_prints_it(churn, tmp_path):
    import subprocess
    import sys

    churn.assign(closing_note=noisy_copy(churn["churned"], 0.96)).to_csv(tmp_path / "leaky.csv", index=False)
    run = subprocess.run([sys.executable, "-m", "labcoat", "fit", "leaky.csv", "--target", "churned",
                          "--trials", "1", "--no-track"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "suspected leakage: column 'closing_note': alone it reaches ROC AUC" in " ".join(run.stderr.split())


def test_the_profile_and_the_report_summary_show_it(churn):
    import labcoat
    from labcoat.reports import model_report
    from labcoat.reports.profile import profile_report

    leaky = churn.assign(closing_note=noisy_copy(churn["churned"], 0.96))
    page = profile_report(leaky, "churned")
    assert "suspected leakage" in page and "closing_note" in page
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        model = labcoat.fit(leaky, "churned", trials=1, families=["linear"], quiet=True, track=False, report=False)
    assert "point(s) to look at, first: suspected leakage" in model_report(model)
    from labcoat.reports import effect_findings  # what fit's own reports pass on, not probing again

    (passed,) = effect_findings(model.info.findings or [])
    assert (passed["severity"], passed["check"], passed["column"]) == ("medium", "suspected leakage", "closing_note")
    assert passed["text"].startswith("alone it reaches ROC AUC")
