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
from labcoat.train.budget import MIN_EXPLAIN_SECONDS, AfterFitPlan

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
    #: Seconds planned for the explanations, reports and tracked run (``train.budget``).
    plan: AfterFitPlan = AfterFitPlan()


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
    with tempfile.TemporaryDirectory(prefix="labcoat-reports-") as scratch:
        write = after.report_dir is not None or recorder is not None
        reports = _explain_and_report(model, after, Path(after.report_dir or scratch), write=write) \
            if after.report else []
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


def _explain_and_report(model: Model, after: AfterFit, folder: Path, *, write: bool) -> list[Path]:
    """Set ``model.explanations`` (importance, SHAP summary, partial dependence on the training
    rows, in a few seconds) and, if ``write``, write the data profile and the model report into
    ``folder``, within what the budget has left after keeping ``after.plan.tracking`` for the
    tracked run: the explanations get less time or none, the reports are written only if their
    planned time is left; what is left out is named in ``model.info.deferred`` and a notice. A
    failure here costs the reports, never the model: it is reported as a notice."""
    from labcoat.evaluate.explain_summary import summarize
    from labcoat.reports import write_reports

    plan, clock = after.plan, after.clock

    def left() -> float:
        return clock.remaining - plan.tracking

    deferred: list[str] = []
    paths: list[Path] = []
    try:
        seconds = min(plan.explain, left() - (plan.reports if write else 0.0))
        if seconds >= MIN_EXPLAIN_SECONDS:
            model.explanations = summarize(model, after.frame, seed=after.seed, seconds=seconds)
        else:
            deferred.append("explanations")
        if write and left() >= plan.reports:
            paths = write_reports(model, after.frame, folder)
        elif write:
            deferred.append("reports")
    except Exception as error:  # noqa: BLE001 - see the docstring
        warnings.warn(f"The reports could not be written ({type(error).__name__}: {error}); the model "
                      "is complete. `labcoat report MODEL` tries again.", LabcoatNotice, stacklevel=3)
    if deferred:
        model.info.deferred = deferred
        warnings.warn(_deferred_notice(deferred, plan, clock), LabcoatNotice, stacklevel=3)
    return paths


def _deferred_notice(deferred: list[str], plan: AfterFitPlan, clock: Clock) -> str:
    need = (plan.explain if "explanations" in deferred else 0.0) + (plan.reports if "reports" in deferred else 0.0)
    return (f"To keep the budget of {clock.budget:g} s, fit left out the {' and the '.join(deferred)} "
            f"(about {need:.1f} s; the search and the refit used {clock.elapsed:.1f} s). The model is "
            "complete: `labcoat report MODEL --data TRAINING_DATA` writes the report with its "
            "explanations, or give a larger budget.")


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
