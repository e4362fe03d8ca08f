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


def test_clean_data_raises_nothing():
    assert checks(make_churn(3000), "churned", "binary") == {}


def test_planted_problems_are_each_found():
    clean = make_churn(2000)
    leaky = clean.assign(churn_reason=np.where(clean["churned"] == "yes", "moved away", "none"))
    assert checks(leaky, "churned", "binary") == {"leakage": ["churn_reason"]}
    doubled = pd.concat([clean, clean.head(300)], ignore_index=True)
    assert checks(doubled, "churned", "binary") == {"duplicates": [None]}
    sparse = clean.assign(fax=np.where(np.arange(len(clean)) < 40, "123", None))
    assert checks(sparse, "churned", "binary") == {"missing": ["fax"]}
    rare = clean.assign(churned=np.where(np.arange(len(clean)) < 8, "maybe", clean["churned"]))
    assert set(checks(rare, "churned", "multiclass")) == {"imbalance", "rare classes"}


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
    assert any("'alive'" in f for f in model.info["findings"])


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
