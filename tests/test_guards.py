"""Each guard catches its planted problem and stays silent on clean data."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from labcoat.datasets import make_churn
from labcoat.guards import check_data
from conftest import shared_dataset


def checks(frame: pd.DataFrame, target: str, task: str) -> dict[str, list[str | None]]:
    found: dict[str, list[str | None]] = {}
    for finding in check_data(frame, target, task):
        found.setdefault(finding.check, []).append(finding.column)
    return found


def test_clean_data_raises_nothing_but_its_identifier():
    assert checks(make_churn(3000), "churned", "binary") == {"identifier": ["customer_id"]}
    assert checks(make_churn(3000).drop(columns="customer_id"), "churned", "binary") == {}


def test_the_identifier_finding_says_why_once():
    (finding,) = check_data(make_churn(3000), "churned", "binary")
    text = str(finding)
    assert text.count("identifier") == 2, text  # the check's name and the sentence, no echo
    assert "it looks like an identifier (a different value on every row)," in text


def test_planted_problems_are_each_found():
    clean = make_churn(2000).drop(columns="customer_id")
    leaky = clean.assign(churn_reason=np.where(clean["churned"] == "yes", "moved away", "none"))
    assert checks(leaky, "churned", "binary") == {"leakage": ["churn_reason"]}
    doubled = pd.concat([clean, clean.head(300)], ignore_index=True)
    assert checks(doubled, "churned", "binary") == {"duplicates": [None]}
    sparse = clean.assign(fax=np.where(np.arange(len(clean)) < 40, "123", None))
    assert checks(sparse, "churned", "binary") == {"missing": ["fax"]}
    rare = clean.assign(churned=np.where(np.arange(len(clean)) < 8, "maybe", clean["churned"]))
    assert set(checks(rare, "churned", "multiclass")) == {"imbalance", "rare classes"}
    ids = clean.assign(account=[f"A{i:05d}" for i in range(len(clean))])
    assert checks(ids, "churned", "binary") == {"identifier": ["account"]}
    rng = np.random.default_rng(0)
    street = clean.assign(street=[f"street {i}" for i in rng.integers(0, 600, len(clean))])
    assert checks(street, "churned", "binary") == {"high cardinality": ["street"]}
    wide = pd.concat([clean.head(150).drop(columns="city"), pd.DataFrame(rng.normal(size=(150, 20)), columns=[f"g{i}" for i in range(20)])],
                     axis=1)
    assert checks(wide, "churned", "binary") == {"rows per feature": [None]}


def test_time_order_is_found_when_rows_follow_time_and_the_target_drifts():
    rng = np.random.default_rng(1)
    n = 1500
    day = pd.date_range("2023-01-01", periods=n, freq="6h")
    drift = np.linspace(-1.5, 1.5, n)
    x = rng.normal(size=n)
    log = pd.DataFrame({"when": day.strftime("%Y-%m-%d %H:%M"), "x": x,
                        "fraud": np.where(rng.random(n) < 1 / (1 + np.exp(-(x + drift))), "yes", "no")})
    assert checks(log, "fraud", "binary") == {"time order": ["when"]}
    # The same rows shuffled: a date that is merely informative does not trigger it ...
    assert checks(log.sample(frac=1, random_state=0), "fraud", "binary") == {}
    # ... and rows in time order without drift do not either.
    steady = log.assign(fraud=np.where(rng.random(n) < 1 / (1 + np.exp(-x)), "yes", "no"))
    assert checks(steady, "fraud", "binary") == {}
    amount = log.assign(fraud=x + drift).rename(columns={"fraud": "amount"})
    assert checks(amount, "amount", "regression") == {"time order": ["when"]}


def test_rows_shared_by_train_and_test_are_found():
    from labcoat.guards import check_overlap

    frame = make_churn(500)
    assert check_overlap(frame.head(400), frame.tail(100), "churned") == []
    found = check_overlap(frame.head(400), frame.iloc[350:450], "churned")
    assert [f.check for f in found] == ["train/test overlap"] and "50 test rows (50.0%)" in found[0].evidence


def test_regression_copy_of_the_target_is_leakage():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=500), "price": rng.normal(size=500)})
    assert checks(frame, "price", "regression") == {}
    assert checks(frame.assign(price_cents=frame["price"] * 100), "price", "regression") == {
        "leakage": ["price_cents"]}


def test_titanic_alive_is_caught_and_reported_by_fit():
    import labcoat

    titanic = shared_dataset("titanic")
    assert checks(titanic, "survived", "binary")["leakage"] == ["alive"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = labcoat.fit(titanic, target="survived", trials=1, families=["linear"], quiet=True,
                            track=False)
    assert any("leakage: column 'alive'" in str(w.message) for w in caught)
    assert any("'alive'" in f for f in model.info.findings or ())


def test_strict_stops_before_training_and_the_cli_says_why(tmp_path):
    import subprocess
    import sys

    import pytest

    import labcoat
    from labcoat.errors import DataError

    clean = make_churn(400)
    leaky = clean.assign(churn_reason=np.where(clean["churned"] == "yes", "moved away", "none"))
    with pytest.raises(DataError, match="strict.*'churn_reason'"):
        labcoat.fit(leaky, target="churned", strict=True, trials=1, quiet=True, track=False)
    leaky.to_csv(tmp_path / "leaky.csv", index=False)
    run = subprocess.run([sys.executable, "-m", "labcoat", "fit", "leaky.csv", "--target", "churned",
                          "--strict", "--no-track"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 2 and "churn_reason" in run.stderr and "Traceback" not in run.stderr
