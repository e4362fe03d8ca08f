"""Shared fixtures: small mixed-type frames that fit in seconds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
CHROMIUM = Path("/usr/bin/chromium")
#: The long simulations (marked ``slow``) run small by default and at their full size with
#: ``LABCOAT_FULL_SIMULATIONS=1`` (more repetitions: tighter checks, minutes more).
FULL_SIMULATIONS = os.environ.get("LABCOAT_FULL_SIMULATIONS", "") not in ("", "0")


def simulation_size(small: int, full: int) -> int:
    """Repetitions of a simulation: ``full`` with ``LABCOAT_FULL_SIMULATIONS=1``, else ``small``."""
    return full if FULL_SIMULATIONS else small


def mixed_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Numbers, categories, a boolean, dates as strings, text, missing values; binary target."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(float)
    plan = rng.choice(["basic", "plus", "pro"], n)
    income = rng.lognormal(10, 0.5, n)
    words = np.array(["great service", "too expensive", "slow network", "cancel soon", "happy"])
    note = words[rng.integers(0, len(words), n)]
    signal = 0.04 * (age - 50) + (plan == "pro") * 1.5 - (note == "cancel soon") * 2 + rng.normal(0, 1, n)
    frame = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "age": age,
        "income": income,
        "plan": plan,
        "autopay": rng.choice(["yes", "no"], n),
        "signup": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        "note": [f"{w} and more words here" for w in note],
        "constant": 1,
        "churn": np.where(signal > 0, "yes", "no"),
    })
    frame.loc[rng.random(n) < 0.1, "income"] = np.nan
    frame.loc[rng.random(n) < 0.05, "plan"] = None
    return frame


@pytest.fixture
def frame() -> pd.DataFrame:
    return mixed_frame()


@pytest.fixture
def regression_frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 300
    x = rng.normal(size=(n, 3))
    color = rng.choice(["red", "green", "blue"], n)
    y = 2 * x[:, 0] - x[:, 1] ** 2 + (color == "red") * 1.5 + rng.normal(0, 0.3, n)
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "color": color, "y": y})


def shared_dataset(name: str) -> pd.DataFrame:
    path = SHARED / "tabular" / f"{name}.csv"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian Chromium through Playwright (skipped without it)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (Debian package 'chromium'; `make test` installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the 'test' extra")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            viewport={"width": 1280, "height": 900})
        yield context
        context.close()
