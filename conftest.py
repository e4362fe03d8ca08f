"""Suite-wide fixtures, for the tests and the doctests in ``src/`` alike."""
from __future__ import annotations

import importlib.util
import os

import pytest

# Ray's usage statistics off in the test processes, as LocalCluster has them off on its nodes: the
# machines are offline, and Ray Data's usage collector queries Prometheus from background threads
# and logs each failure with its traceback. Python 3.11 formats a traceback with ast.parse (the ^^^
# carets), and ast.parse keeps its recursion count per interpreter, not per thread (CPython
# gh-106905): such a thread formatting while a test parsed source made ast.parse raise "SystemError:
# AST constructor recursion depth mismatch" (CI: test_family_names_appear_only_under_models).
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session", autouse=True)
def tracking_store(tmp_path_factory) -> str:
    """Every fit of the suite records into one throw-away SQLite store, never the checkout's
    ``.labcoat/``; subprocesses inherit it through the environment."""
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
