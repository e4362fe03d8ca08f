"""Suite-wide fixtures, for the tests and the doctests in ``src/`` alike."""
from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(scope="session", autouse=True)
def tracking_store(tmp_path_factory) -> str:
    """Every fit of the suite records into one throw-away SQLite store, never the checkout's
    ``.labcoat/``; subprocesses inherit it through the environment."""
    import os

    uri = f"sqlite:///{tmp_path_factory.mktemp('tracking') / 'mlflow.db'}?timeout=60"
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    yield uri
    if previous is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = previous


# Modules built on an optional library that may be missing: not collected for their doctests then.
collect_ignore = [] if importlib.util.find_spec("lightgbm_ray") else ["src/labcoat/tasks/forecast/ray_global.py"]
