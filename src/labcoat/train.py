"""``labcoat.fit``: from a table and a target column to a fitted, ensembled :class:`Model`."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.data.infer import drop_missing_target
from labcoat.data.holdout import as_times, check_split, outer_rows, time_span
from labcoat.data.split import time_resampling
from labcoat.errors import BudgetError, ConfigError, DataError, LabcoatNotice
from labcoat.artifact import library_versions
from labcoat.evaluate.metrics import get_metric
from labcoat.guards import check_data, check_overlap
from labcoat.model import Member, Model
from labcoat.models import FAMILIES, get_family
from labcoat.search import Clock, Study, StudyResult, StudyState, Trial, TrialData, get_executor, parse_budget
from labcoat.search.cores import idle_cores
from labcoat.tasks import get_task, infer_schema
from labcoat.tracking.interrupt import closing_run_on_error
from labcoat.tracking.lineage import describe_source

#: With a holdout plan, the best this many trials get a bootstrap interval.
HOLDOUT_INTERVALS = 5
#: Training rows kept with the model as its input example.
EXAMPLE_ROWS = 5
#: Budget used when neither a budget nor a trial count is given.
DEFAULT_BUDGET = 60.0
#: Share of the budget the explanations of the final model may take (at most 10 s).
EXPLAIN_SHARE = 0.03
#: Expected fold-to-full-data growth of a refit (5-fold CV trains on 80% of the rows).
_REFIT_GROWTH = 1.3


def fit(data: Any, target: str, *, budget: float | str | None = None, trials: int | None = None,
        metric: str | None = None, task: str | None = None, seed: int = 0,
        families: Sequence[str] | None = None, n_jobs: int | None = None, executor: Any = None,
        ray_address: str | None = None, quiet: bool = False, callbacks: Sequence[Callable[[StudyState], None]] = (),
        track: bool = True, tracking_uri: str | None = None, experiment: str = "labcoat",
        register: str | None = None, source: str | None = None, strict: bool = False,
        test: Any = None, holdout: float | str | None = "auto", split: str = "random",
        time_column: str | None = None, report: bool = True, report_dir: str | Path | None = None,
        **options: Any) -> Model:
    """Find, tune and ensemble the best model for ``target`` within a time budget.

    Parameters
    ----------
    data : a DataFrame (pandas or polars) or a path to a CSV, TSV, Parquet, JSON-lines or Excel file.
    target : the column to predict.
    budget : wall-clock seconds, or a string such as ``"30s"``, ``"5m"``, ``"1h"``; ``fit``
        returns within about 10% of it, final refit included. Default 60 s when ``trials``
        is not given either.
    trials : stop after this many configurations. Without a budget the result depends only on
        the data and ``seed``: a rerun gives the same leaderboard and bit-identical predictions.
    metric : what to optimise (default ROC AUC, log loss or RMSE by task); see ``labcoat.evaluate.METRICS``.
    task : a registered task (``labcoat.tasks.task_names()``: ``"binary"``, ``"multiclass"``,
        ``"regression"``), inferred from the target by default.
    seed : seed for resampling, search and models.
    families : restrict the search to these model families (default: all).
    n_jobs : how many cores to use. Default: one trial at a time, each model on as many threads as
        cores are idle when the study starts (see ``labcoat.search.cores``); ``1``: one thread;
        ``k > 1``: ``k`` trials at once in worker processes (see ``labcoat.search.processes``).
        With the Ray executor: at most ``k`` trials at once on the cluster.
    executor : where trials run: ``"local"`` (default) or ``"ray"``: Ray tasks on the cluster at
        ``ray_address``, or on a Ray instance started on this machine for the study (needs
        ``labcoat[ray]``; see ``labcoat.search.ray_executor``); or an ``Executor``.
    ray_address : the Ray cluster's address (``HOST:PORT``, as ``ray start --head`` prints it);
        an unreachable address fails here, before any work.
    quiet : no progress display.
    track : record the study in MLflow: a parent run with the lineage, settings, scores and the
        model, and a child run per trial (see ``labcoat.tracking``). ``Model.info["run_id"]``
        names the run.
    tracking_uri : the MLflow store (default ``MLFLOW_TRACKING_URI``, else ``.labcoat/`` in the
        working directory). An unreachable server fails here, before any training.
    experiment : MLflow experiment name.
    register : also register the model under this name (``models:/NAME/VERSION``).
    source : how the data was obtained, for the lineage (default: the path, or "in-memory").
    strict : stop with a :class:`DataError` when a guard finds a high-severity problem (such as
        a column that gives the target away) instead of reporting it as a notice.
    test : rows the search never sees (a frame or a file with the target column): the model is
        scored on them, with a 95% bootstrap interval, in ``Model.info["test"]``.
    holdout : share of the rows to keep out of the search and score the model on, like ``test``;
        ``"auto"`` keeps 10% (at most 10,000 rows) when there are 50,000 rows or more and no
        ``test``; ``0`` keeps none. Small data is corrected for selection instead (always
        reported, ``Model.info["selection"]``; see ``labcoat.evaluate.selection``).
    split : ``"random"`` folds (stratified by class), or ``"time"``: validate forward in time
        by ``time_column`` (see ``labcoat.data.split``); the holdout is then the latest rows.
    time_column : the datetime column ordering the rows for ``split="time"`` (default: the only
        datetime column).
    **options : the task's own options (``Task.options``, typed; one that does not apply to the
        task is refused). Classification:

    calibrate : post-hoc calibration of a classifier's probabilities: ``"auto"`` chooses among
        none, ``"sigmoid"`` and ``"isotonic"`` by cross-fitting on the ensemble's out-of-fold
        predictions (``Model.info["calibration"]``; see ``labcoat.evaluate.calibration``).
    costs : binary targets: tune the decision threshold to minimise these costs, e.g.
        ``"fp=1,fn=5"`` or ``{"fp": 1, "fn": 5}`` (``Model.info["threshold"]``).
    threshold_metric : binary targets: tune the decision threshold to maximise this metric
        (``f1``, ``balanced_accuracy``, ``accuracy``, ``mcc``). Default: no tuning (the most
        probable class), unless ``costs`` are given.

    Examples
    --------
    >>> import labcoat
    >>> from labcoat.datasets import make_churn
    >>> model = labcoat.fit(make_churn(400), target="churned", trials=3, quiet=True)
    >>> model.leaderboard[["family", "score"]].shape[0]
    3
    """
    clock = Clock(parse_budget(budget) if budget is not None or trials is not None else DEFAULT_BUDGET)
    trials = _check_trials(trials)
    runner = get_executor(executor, n_jobs=n_jobs, address=ray_address)
    runner.check()
    if families is not None:
        families = [get_family(name).name for name in families]
    if register and not track:
        raise ConfigError("register= needs tracking: the registry holds recorded runs' models. "
                          "Drop --no-track (track=False) or register later with `labcoat models register`.")
    recorder = None
    if track:
        from labcoat.tracking.recorder import StudyRecorder

        recorder = StudyRecorder(tracking_uri, experiment=experiment,
                                 run_name=f"{target} {Path(data).stem if isinstance(data, (str, Path)) else ''}".strip())
    frame = _read(data)
    frame = drop_missing_target(frame, target)
    schema = infer_schema(frame, target, task, metric=metric)
    learner = get_task(schema.task)
    task_options = learner.options(**options)
    time_column = check_split(split, time_column, schema)
    outer, outer_source = outer_rows(frame, target, test=test, holdout=holdout, seed=seed,
                                      time_column=time_column, stratify=learner.stratified)
    if outer is not None and outer_source.startswith("holdout"):
        frame = frame.drop(index=outer.index)
    found = check_data(frame, target, learner, schema=schema)
    if outer is not None:
        found += check_overlap(frame, outer, target)
    serious = [str(f) for f in found if f.severity == "high"]
    if strict and serious:
        raise DataError("Stopped before training (strict): " + " ".join(serious))
    findings = [str(f) for f in found]
    # An identifier finding says what the schema's exclusion notice says, and more.
    said = {f.column for f in found if f.check == "identifier"}
    for notice in [*(n for n in schema.notices if not any(f"'{c}' is excluded" in n for c in said)), *findings]:
        warnings.warn(notice, LabcoatNotice, stacklevel=2)
    chosen_metric = learner.check_metric(metric) if metric else learner.default_metric(found)
    y = learner.encode_target(frame[target], schema.classes)
    X = schema.prepare(frame, warn=False)
    resampling = (time_resampling(as_times(frame[time_column]).to_numpy(), column=time_column)
                  if time_column else learner.resampling(y, seed=seed))
    data_ = TrialData(X=X, y=y, schema=schema, task=learner, metric=chosen_metric, resampling=resampling, seed=seed,
                      n_jobs=runner.threads(idle_cores))
    if recorder is not None:
        from labcoat.tracking.lineage import lineage_tags

        settings = {"target": target, "task": schema.task, "metric": chosen_metric.name,
                    "budget_seconds": clock.budget, "trials": trials, "seed": seed,
                    "families": families or list(FAMILIES), "n_jobs": data_.n_jobs,
                    "resampling": resampling.description, "outer_rows": 0 if outer is None else len(outer)}
        recorder.start(settings, {**lineage_tags(frame, schema, source or describe_source(data)),
                                  "labcoat.task": schema.task, "labcoat.metric": chosen_metric.name})
    progress = None if quiet else _progress(clock, trials)
    study = Study(data=data_, clock=clock, trials=trials, families=families,
                  executor=runner, reserve=lambda done: _refit_reserve(done, clock, resampling.is_holdout),
                  callbacks=[*callbacks, *([progress.update] if progress else []),
                             *([recorder.on_trial] if recorder else [])])
    try:
        with closing_run_on_error(recorder):
            result = study.run()
            if not result.completed:
                raise BudgetError(_no_trial_message(result, clock, len(frame)))
            selection = _selection_estimate(result, data_, clock)
            oof = ensemble_oof(result, data_)
            members, preprocessors, dropped = _refit(result, data_, clock)
            decisions = learner.post_fit(oof, task_options, seed=seed)
    finally:
        if progress:
            progress.close()
    best = study.best(result.trials)
    assert best is not None  # a completed study has a scored trial
    info = {
        "metric": chosen_metric.name,
        "greater_is_better": chosen_metric.greater_is_better,
        "resampling": result.resampling,
        "ensemble_score": result.ensemble_score,
        "best_single_score": best.score,
        "n_trials": len(result.trials),
        "budget_seconds": clock.budget,
        "seed": seed,
        "search_seconds": round(result.search_seconds, 3),
        "fit_seconds": round(clock.elapsed, 3),
        "n_rows": len(frame),
        "n_jobs": data_.n_jobs,
        "executor": runner.describe(),
        "fold_rows": list(_fold_sizes(data_)),
        "refit_dropped": dropped,
        "selection": selection.to_dict(),
        "calibration": decisions.report.get("calibration"),
        "threshold": decisions.report.get("threshold"),
        "findings": findings,
        "versions": library_versions(),
        # The settings as resolved, so that `labcoat retrain` can fit a challenger the same way.
        "settings": {"target": target, "task": schema.task, "metric": chosen_metric.name,
                     "budget_seconds": clock.budget, "trials": trials, "seed": seed,
                     "families": families, "split": split, "time_column": time_column,
                     "holdout": holdout, **task_options.to_dict()},
    }
    spread = _ensemble_fold_scores(result, data_)
    info["ensemble_score_std"] = float(np.std(spread, ddof=1)) if len(spread) > 1 else None
    info["ensemble_fold_scores"] = spread
    info["folds_key"] = _folds_key(frame, resampling, seed)
    model = Model(schema=schema, members=members, preprocessors=preprocessors,
                  leaderboard=leaderboard(result, data_, members), info=info,
                  example=frame[[c.name for c in schema.features]].head(EXAMPLE_ROWS).reset_index(drop=True),
                  oof=oof, calibrator=decisions.calibrator, threshold=decisions.threshold)
    if outer is not None:
        model.info["test"] = score_rows(model, outer, source=outer_source, seed=seed)
    after = AfterFit(frame=frame, source=source or describe_source(data), clock=clock, seed=seed,
                     recorder=recorder, report=report, report_dir=report_dir, register=register,
                     tracking_uri=tracking_uri)
    for step in POST_FIT_STEPS:
        step(model, after)
    return model


# ---------------------------------------------------------------------- after the fit
@dataclass
class AfterFit:
    """What the steps after the fit share: the training rows, the settings that concern them,
    and the study's run."""

    frame: pd.DataFrame
    source: str
    clock: Clock
    seed: int
    recorder: Any
    report: bool
    report_dir: str | Path | None
    register: str | None
    tracking_uri: str | None


def _profile_step(model: Model, after: AfterFit) -> None:
    """The reference profile for drift monitoring, and where the data came from."""
    model.reference = _reference(model, after.frame)
    model.info["source"] = after.source
    model.info["time_span"] = time_span(after.frame, model.schema)
    if after.recorder is not None:
        model.info["run_id"] = after.recorder.run_id


def _report_and_record_step(model: Model, after: AfterFit) -> None:
    """Explanations and reports (written when tracked or asked for), then the run finished
    with the model and the reports."""
    recorder = after.recorder
    with tempfile.TemporaryDirectory(prefix="labcoat-reports-") as scratch, closing_run_on_error(recorder):
        write = after.report_dir is not None or recorder is not None
        reports = _explain_and_report(model, after.frame, after.clock, after.seed,
                                      Path(after.report_dir or scratch), write=write) if after.report else []
        if after.report_dir is not None:
            model.info["reports"] = [str(p) for p in reports]
        if recorder is not None:
            recorder.finish(model, reports)
    if recorder is not None:
        model.info["tracking_seconds"] = round(recorder.seconds, 3)


def _register_step(model: Model, after: AfterFit) -> None:
    """The tracked model registered under ``register``."""
    if after.recorder is None or not after.register:
        return
    from labcoat.tracking.registry import register as register_model

    version = register_model(after.recorder.run_id, after.register, after.tracking_uri)
    model.info["registered"] = f"models:/{after.register}/{version}"


#: What ``fit`` does with the model after the search, in order; each step takes the model and
#: the :class:`AfterFit` context. A failing optional step costs its output, never the model.
POST_FIT_STEPS: tuple[Callable[[Model, AfterFit], None], ...] = (_profile_step, _report_and_record_step,
                                                                 _register_step)


def leaderboard(result: StudyResult, data: TrialData, members: list[Member]) -> pd.DataFrame:
    """One row per trial, best first; failed and stopped trials last. ``score_low`` and
    ``score_high`` bound a 95% interval (see ``labcoat.evaluate.intervals``); ``p_vs_best`` is
    the Holm-adjusted p-value of a paired test against the best trial (``evaluate.stats``)."""
    weights = {m.trial: m.weight for m in members}
    greater_is_better = data.metric.greater_is_better
    # A holdout's bootstrap re-scores every row 200 times: done for the best few trials only.
    ranked = sorted((t for t in result.trials if t.status == "ok"),
                    key=lambda t: -t.score if greater_is_better else t.score)
    bootstrapped = {t.number for t in ranked[:HOLDOUT_INTERVALS]}
    rows = []
    for t in result.trials:
        low, high = (trial_interval(t, data) if not data.resampling.is_holdout or t.number in bootstrapped
                     else (float("nan"), float("nan")))
        rows.append({**t.summary(), "score_low": low, "score_high": high,
                     "ensemble_weight": weights.get(t.number, 0.0)})
    board = pd.DataFrame(rows)
    if board.empty:
        return board
    first = ["trial", "family", "score", "score_std", "score_low", "score_high"]
    board = board[first + [c for c in board.columns if c not in first]]
    board["p_vs_best"] = board["trial"].map(_p_values_vs_best(ranked, data))
    ok = board["status"] == "ok"
    key = board["score"] if not greater_is_better else -board["score"]
    board = board.assign(_ok=~ok, _key=key).sort_values(["_ok", "_key", "trial"]).drop(columns=["_ok", "_key"])
    board.insert(0, "rank", range(1, len(board) + 1))
    board["params"] = board["params"].map(lambda p: ", ".join(f"{k}={_short(v)}" for k, v in p.items()))
    return board.reset_index(drop=True)


def _p_values_vs_best(ranked: list[Trial], data: TrialData) -> dict[int, float]:
    """Holm-adjusted p-values of the corrected resampled paired t-test of each completed trial
    against the best one, on their common folds (none for a holdout)."""
    from labcoat.evaluate.stats import holm, paired_test

    if data.resampling.is_holdout or not ranked:
        return {}
    best = ranked[0]
    n_train, n_test = _fold_sizes(data)
    others = [t for t in ranked[1:] if len(t.fold_scores) == len(best.fold_scores)]
    if not others:
        return {}
    raw = [paired_test(t.fold_scores, best.fold_scores, n_train, n_test).p_value for t in others]
    return {t.number: p for t, p in zip(others, holm(raw))}


def _fold_sizes(data: TrialData) -> tuple[float, float]:
    """Mean training and validation rows per fold."""
    folds = data.resampling.folds
    return (float(np.mean([len(train) for train, _ in folds])),
            float(np.mean([len(valid) for _, valid in folds])))


def trial_interval(trial: Trial, data: TrialData) -> tuple[float, float]:
    """95% interval of a trial's score: corrected resampled t over folds, or for a holdout a
    stratified bootstrap of its validation predictions (when they were kept)."""
    from labcoat.evaluate.intervals import bootstrap_interval
    from labcoat.evaluate.stats import corrected_t_interval

    if not data.resampling.is_holdout:
        return corrected_t_interval(trial.fold_scores, *_fold_sizes(data))
    if trial.oof is None:
        return float("nan"), float("nan")
    valid = data.resampling.folds[0][1]
    return bootstrap_interval(data.y[valid], trial.oof[valid], data.metric,
                              stratify=data.task.stratified, seed=data.seed)


def score_rows(model: Model, frame: pd.DataFrame, *, source: str, seed: int = 0) -> dict[str, Any]:
    """``model``'s score on labelled rows it was not trained on, with a 95% stratified bootstrap
    interval: ``{"score", "low", "high", "rows", "source"}``."""
    from labcoat.evaluate.intervals import bootstrap_interval

    metric = get_metric(model.metric, model.task.name)
    y = model.task.encode_target(frame[model.schema.target], model.schema.classes)
    predictions = model._blend(frame)
    score = metric.score(y, predictions)
    low, high = bootstrap_interval(y, predictions, metric, stratify=model.task.stratified, seed=seed)
    return {"score": score, "low": low, "high": high, "rows": len(frame), "source": source}


def ensemble_oof(result: StudyResult, data: TrialData) -> dict[str, np.ndarray] | None:
    """The ensemble's out-of-fold predictions on the rows the search validated:
    ``{"y": encoded target, "pred": probabilities or values}`` (``Model.oof``)."""
    blend = _ensemble_blend(result)
    if blend is None:
        return None
    rows = ~np.isnan(blend.reshape(len(blend), -1)).any(axis=1)
    return {"y": data.y[rows], "pred": blend[rows]}


# ---------------------------------------------------------------------- internals
def _explain_and_report(model: Model, frame: pd.DataFrame, clock: Clock, seed: int, folder: Path, *,
                        write: bool) -> list[Path]:
    """Set ``model.explanations`` (importance, SHAP summary, partial dependence on the training
    rows, in a few seconds) and, if ``write``, write the data profile and the model report into
    ``folder``. A failure here costs the reports, never the model: it is reported as a notice."""
    from labcoat.evaluate.explain import summarize
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


def _folds_key(frame: pd.DataFrame, resampling: Any, seed: int) -> str:
    """Same for two fits on the same rows with the same folds: their fold scores pair up."""
    import hashlib

    from labcoat.tracking.lineage import fingerprint

    return hashlib.sha256(f"{fingerprint(frame)} {resampling.description} {seed}".encode()).hexdigest()[:16]


def _ensemble_blend(result: StudyResult) -> np.ndarray | None:
    parts = [(t.oof, w) for t, w in result.ensemble if t.oof is not None]
    if len(parts) != len(result.ensemble) or not parts:
        return None
    return np.asarray(sum(w * oof for oof, w in parts))


def _selection_estimate(result: StudyResult, data: TrialData, clock: Clock) -> Any:
    from labcoat.evaluate.selection import selection_corrected
    from labcoat.search.study import ensemble_candidates

    candidates = ensemble_candidates(result.completed, data.metric)
    return selection_corrected(data.y, [t.oof for t in candidates if t.oof is not None], data.metric,
                               seed=data.seed, seconds=_selection_seconds(clock),
                               stratify=data.task.stratified)


def _selection_seconds(clock: Clock) -> float | None:
    """Time for the selection-corrected estimate: 3% of the budget, at most 10 s."""
    return None if clock.budget is None else min(0.03 * clock.budget, 10.0)


def _ensemble_fold_scores(result: StudyResult, data: TrialData) -> list[float]:
    """The ensemble's score on each fold's validation rows, from its out-of-fold predictions."""
    blend = _ensemble_blend(result)
    if blend is None:
        return []
    scores = []
    for _, valid in data.resampling.folds:
        rows = valid[~np.isnan(blend[valid].reshape(len(valid), -1)).any(axis=1)]
        if len(rows):
            scores.append(data.metric.score(data.y[rows], blend[rows]))
    return scores


def _read(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    from labcoat.data.io import read_table

    return read_table(data)


def _check_trials(trials: int | None) -> int | None:
    if trials is None:
        return None
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ConfigError(f"trials must be a positive whole number; got {trials!r}.")
    return int(trials)


def _refit_seconds(trial: Trial) -> float:
    return trial.fold_seconds * _REFIT_GROWTH


def _refit_reserve(done: list[Trial], clock: Clock, holdout: bool) -> float:
    """Seconds to keep for ensemble selection and the final refit of the likely members.

    With a holdout plan the fold models serve as final models when time runs short, so only
    ensemble selection is reserved and members are refit on all rows if time is left.
    """
    if clock.budget is None:
        return 0.0
    overhead = (0.02 + EXPLAIN_SHARE) * clock.budget + 0.3 + (_selection_seconds(clock) or 0.0)
    if holdout:
        return overhead
    # The members are not known until the end; the slowest few completed trials bound them.
    likely = sorted((_refit_seconds(t) for t in done if t.status == "ok"), reverse=True)[:3]
    return sum(likely) + overhead


def _refit(result: StudyResult, data: TrialData, clock: Clock) -> tuple[list[Member], dict[str, Any], list[int]]:
    """Fit every ensemble member on all rows, heaviest weight first, within the budget.

    A member whose refit no longer fits in the time left keeps its last fold's model (fitted on
    that fold's training rows, with that fold's preprocessing) or, without one, is dropped,
    except the heaviest member, which is then refit regardless.
    """
    members: list[Member] = []
    dropped: list[int] = []
    preprocessors: dict[str, Any] = {}
    for trial, weight in sorted(result.ensemble, key=lambda tw: (-tw[1], tw[0].number)):
        family = FAMILIES[trial.family]
        fits = clock.budget is None or _refit_seconds(trial) <= clock.remaining
        if not fits and trial.fold_model is not None:
            key = f"{family.style}@fold{trial.fold_index}"
            pre, Xfold, _ = data.fold(family.style, trial.fold_index)
            preprocessors[key] = pre
            members.append(Member(family=family.name, trial=trial.number, weight=weight,
                                  style=family.style, estimator=trial.fold_model, params=trial.params,
                                  preprocessor=key, rows=f"{Xfold.shape[0]:,} rows of fold {trial.fold_index + 1}"))
            continue
        if not fits and members:
            dropped.append(trial.number)
            continue
        iterations = int(np.mean(trial.iterations)) if trial.iterations else None
        params = family.refit_params(trial.params, iterations)
        pre, Xall, _ = data.fold(family.style, -1)
        preprocessors[family.style] = pre
        estimator = family.build(params, data.context(family.style))
        family.fit(estimator, Xall, data.y)
        members.append(Member(family=family.name, trial=trial.number, weight=weight,
                              style=family.style, estimator=estimator, params=params,
                              preprocessor=family.style))
    total = sum(m.weight for m in members)
    for m in members:
        m.weight /= total
    return members, preprocessors, dropped


def _no_trial_message(result: StudyResult, clock: Clock, n_rows: int) -> str:
    failed = [t for t in result.trials if t.status == "failed"]
    if failed and len(failed) == len(result.trials):
        errors = "; ".join(sorted({f"{t.family}: {t.error}" for t in failed})[:3])
        return f"Every trial failed ({len(failed)}), so there is no model. Errors: {errors}"
    budget = f"{clock.budget:g} s" if clock.budget else "the budget"
    return (f"A budget of {budget} is too small to train even one model on {n_rows:,} rows "
            f"({len(result.trials)} trial(s) started, none finished). Give a larger budget, "
            "e.g. --budget 1m, or a trial count (--trials 5).")


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _progress(clock: Clock, trials: int | None) -> Any:
    from labcoat._progress import StudyProgress

    return StudyProgress(clock=clock, trials=trials)
