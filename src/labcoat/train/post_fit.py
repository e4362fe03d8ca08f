"""The steps after the fit, in order (:data:`POST_FIT_STEPS`): the reference profile and lineage,
explanations, reports and the tracked run, registration."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from labcoat.data.holdout import time_span
from labcoat.errors import LabcoatNotice
from labcoat.model import Model
from labcoat.search import Clock
from labcoat.tracking.interrupt import closing_run_on_error
from labcoat.train.budget import EXPLAIN_SHARE

if TYPE_CHECKING:
    from labcoat.tracking.recorder import StudyRecorder


@dataclass
class AfterFit:
    """What the steps after the fit share: the training rows, the settings that concern them,
    and the study's run."""

    frame: pd.DataFrame
    source: str
    clock: Clock
    seed: int
    recorder: StudyRecorder | None
    report: bool
    report_dir: str | Path | None
    register: str | None
    tracking_uri: str | None


def _profile_step(model: Model, after: AfterFit) -> None:
    """The reference profile for drift monitoring, and where the data came from."""
    model.reference = _reference(model, after.frame)
    model.info.source = after.source
    model.info.time_span = time_span(after.frame, model.schema)
    if after.recorder is not None:
        model.info.run_id = after.recorder.run_id


def _report_and_record_step(model: Model, after: AfterFit) -> None:
    """Explanations and reports (written when tracked or asked for), then the run finished
    with the model and the reports."""
    recorder = after.recorder
    with tempfile.TemporaryDirectory(prefix="labcoat-reports-") as scratch, closing_run_on_error(recorder):
        write = after.report_dir is not None or recorder is not None
        reports = _explain_and_report(model, after.frame, after.clock, after.seed,
                                      Path(after.report_dir or scratch), write=write) if after.report else []
        if after.report_dir is not None:
            model.info.reports = [str(p) for p in reports]
        if recorder is not None:
            recorder.finish(model, reports)
    if recorder is not None:
        model.info.tracking_seconds = round(recorder.seconds, 3)


def _register_step(model: Model, after: AfterFit) -> None:
    """The tracked model registered under ``register``."""
    if after.recorder is None or after.recorder.run_id is None or not after.register:
        return
    from labcoat.tracking.registry import register as register_model

    version = register_model(after.recorder.run_id, after.register, after.tracking_uri)
    model.info.registered = f"models:/{after.register}/{version}"


#: What ``fit`` does with the model after the search, in order; each step takes the model and
#: the :class:`AfterFit` context. A failing optional step costs its output, never the model.
POST_FIT_STEPS: tuple[Callable[[Model, AfterFit], None], ...] = (_profile_step, _report_and_record_step,
                                                                 _register_step)


def _explain_and_report(model: Model, frame: pd.DataFrame, clock: Clock, seed: int, folder: Path, *,
                        write: bool) -> list[Path]:
    """Set ``model.explanations`` (importance, SHAP summary, partial dependence on the training
    rows, in a few seconds) and, if ``write``, write the data profile and the model report into
    ``folder``. A failure here costs the reports, never the model: it is reported as a notice."""
    from labcoat.evaluate.explain_summary import summarize
    from labcoat.reports import write_reports

    seconds = 3.0 if clock.budget is None else max(1.0, min(EXPLAIN_SHARE * clock.budget, 10.0))
    try:
        model.explanations = summarize(model, frame, seed=seed, seconds=seconds)
        return write_reports(model, frame, folder) if write else []
    except Exception as error:  # noqa: BLE001 - see the docstring
        warnings.warn(f"The reports could not be written ({type(error).__name__}: {error}); the model "
                      "is complete. `labcoat report MODEL` tries again.", LabcoatNotice, stacklevel=3)
        return []


def _reference(model: Model, frame: pd.DataFrame) -> Any:
    """The training data's profile for drift monitoring (``Model.reference``; see
    ``labcoat.monitoring.reference``). A failure costs the profile, never the model: a notice."""
    from labcoat.monitoring.reference import model_reference

    try:
        return model_reference(model, frame)
    except Exception as error:  # noqa: BLE001 - see the docstring
        warnings.warn(f"The reference profile for drift monitoring could not be built ({type(error).__name__}: "
                      f"{error}); the model is complete, without it.", LabcoatNotice, stacklevel=3)
        return None
