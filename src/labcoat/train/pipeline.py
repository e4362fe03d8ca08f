"""``fit``: resolve the settings and the task, run Schema → guards → features → Study on an
Executor → ensemble → refit → ``Task.post_fit`` → Model, and hand the model to the post-fit steps."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd

from labcoat.artifact import library_versions
from labcoat.data.io import as_table
from labcoat.data.holdout import as_times, check_split, outer_rows
from labcoat.data.infer import drop_missing_target
from labcoat.data.split import time_resampling
from labcoat.errors import BudgetError, ConfigError, DataError, LabcoatNotice
from labcoat.evaluate.metrics import get_metric
from labcoat.guards import check_data, check_overlap
from labcoat.guards_effect import check_effect
from labcoat.model import Model
from labcoat.model_info import ModelInfo
from labcoat.models import default_families, get_family
from labcoat.search import Clock, Study, StudyResult, StudyState, TrialData, get_executor, parse_budget
from labcoat.search.cores import idle_cores
from labcoat.tasks import get_task, infer_schema, pipeline_task
from labcoat.train.own_pipeline import fit_own_pipeline
from labcoat.tracking.interrupt import closing_run_on_error
from labcoat.tracking.lineage import describe_source
from labcoat.train.documents import choose_documents, first_repeat
from labcoat.train.budget import (after_fit_plan, after_fit_reserve, leak_check_seconds, refit_reserve,
                                  selection_seconds)
from labcoat.train.ensemble_outputs import ensemble_fold_scores, ensemble_oof
from labcoat.train.leaderboard import fold_sizes, leaderboard
from labcoat.train.post_fit import POST_FIT_STEPS, AfterFit
from labcoat.train.latency_limit import changed as latency_changed
from labcoat.train.latency_limit import describe as describe_latency
from labcoat.train.latency_limit import keep_within, parse_latency
from labcoat.train.fold_bag import add_fold_models, bag_reserve, bags
from labcoat.train.refit import refit

if TYPE_CHECKING:
    from labcoat.data.io import DataSource
    from labcoat.tasks.forecast.model import ForecastModel
    from labcoat.tasks.anomaly.model import AnomalyModel
    from labcoat.tasks.match.model import MatchModel
    from labcoat.tasks.recommend.model import RecommendModel
    from labcoat.tasks.segment.model import SegmentModel
    from labcoat.tasks.extract.model import ExtractModel
    from labcoat.data.split import Resampling

#: Training rows kept with the model as its input example.
EXAMPLE_ROWS = 5

#: Budget used when neither a budget nor a trial count is given.
DEFAULT_BUDGET = 60.0


@overload
def fit(data: DataSource, target: str | None = None, *, task: Literal["forecast"],
        **settings: Any) -> ForecastModel: ...


@overload
def fit(data: DataSource, target: str | None = None, *, task: Literal["recommend"],
        **settings: Any) -> RecommendModel: ...


@overload
def fit(data: DataSource, target: str | None = None, *, task: Literal["match"],
        **settings: Any) -> MatchModel: ...


@overload
def fit(data: DataSource, target: str | None = None, *, task: Literal["anomaly"],
        **settings: Any) -> AnomalyModel: ...


@overload
def fit(data: DataSource, target: str | None = None, *, task: Literal["segment"],
        **settings: Any) -> SegmentModel: ...


@overload
def fit(data: DataSource, target: str | None = None, *, task: Literal["extract"],
        **settings: Any) -> ExtractModel: ...


@overload
def fit(data: DataSource, target: str | None = None, **settings: Any) -> Model: ...


def fit(data: DataSource, target: str | None = None, *, budget: float | str | None = None, trials: int | None = None,
        metric: str | None = None, task: str | None = None, seed: int = 0,
        families: Sequence[str] | None = None, n_jobs: int | None = None, executor: Any = None,
        ray_address: str | None = None, quiet: bool = False, callbacks: Sequence[Callable[[StudyState], None]] = (),
        track: bool = True, tracking_uri: str | None = None, experiment: str = "labcoat",
        register: str | None = None, source: str | None = None, strict: bool = False,
        test: Any = None, holdout: float | str | None = "auto", split: str = "random",
        time_column: str | None = None, report: bool = True, report_dir: str | Path | None = None,
        text_column: str | None = None, embeddings: str | Path | None = None,
        latency_limit: float | str | None = None,
        **options: Any) -> Model | ForecastModel | RecommendModel | MatchModel | AnomalyModel | SegmentModel | ExtractModel:
    """Find, tune and ensemble the best model for ``target`` within a time budget.

    Parameters
    ----------
    data : a DataFrame (pandas or polars) or a path to a CSV, TSV, Parquet, JSON-lines or Excel file.
    target : the column to predict (recommendations have none: they take ``user=`` and ``item=``;
        segmentation has none: ``task="segment"`` finds groups of similar rows, ``k=`` fixes their
        number, see :func:`labcoat.tasks.segment.fit.fit_segment`).
    budget : wall-clock seconds, or a string such as ``"30s"``, ``"5m"``, ``"1h"``; ``fit``
        returns within about 10% of it, final refit included. Default 60 s when ``trials``
        is not given either.
    trials : stop after this many configurations. Without a budget the result depends only on
        the data and ``seed``: a rerun gives the same leaderboard and bit-identical predictions.
    metric : what to optimise (default ROC AUC, log loss or RMSE by task); see ``labcoat.evaluate.METRICS``.
    task : a registered task (``labcoat.tasks.task_names()``: ``"binary"``, ``"multiclass"``,
        ``"regression"``), inferred from the target by default.
    seed : seed for resampling, search and models.
    families : search these model families (``labcoat.models.FAMILIES``). Default: all whose
        library is installed (``mlp`` needs ``labcoat[torch]``).
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
        model, and a child run per trial (see ``labcoat.tracking``). ``Model.info.run_id``
        names the run.
    tracking_uri : the MLflow store (default ``MLFLOW_TRACKING_URI``, else ``.labcoat/`` in the
        working directory). An unreachable server fails here, before any training.
    experiment : MLflow experiment name.
    register : also register the model under this name (``models:/NAME/VERSION``).
    source : how the data was obtained, for the lineage (default: the path, or "in-memory").
    strict : stop with a :class:`DataError` when a guard finds a high-severity problem (such as
        a column that gives the target away) instead of reporting it as a notice.
    test : rows the search never sees (a frame or a file with the target column): the model is
        scored on them, with a 95% bootstrap interval, in ``Model.info.test``.
    holdout : share of the rows to keep out of the search and score the model on, like ``test``;
        ``"auto"`` keeps 10% (at most 10,000 rows) when there are 50,000 rows or more and no
        ``test``; ``0`` keeps none. Small data is corrected for selection instead (always
        reported, ``Model.info.selection``; see ``labcoat.evaluate.selection``).
    split : ``"random"`` folds (stratified by class), or ``"time"``: validate forward in time
        by ``time_column`` (see ``labcoat.data.split``); the holdout is then the latest rows.
    time_column : the datetime column ordering the rows for ``split="time"`` (default: the only
        datetime column).
    text_column : the column of documents that carries the signal: the search adds the text
        families (``labcoat.models.text``). Default: the text column whose words alone predict
        the target, if one does (see ``labcoat.train.documents``).
    embeddings : a local model2vec or sentence-transformers model folder: the documents'
        embeddings feed the tabular families too (``labcoat[text]``; nothing is downloaded).
    latency_limit : the most time one row's prediction may take on this machine, in seconds or
        as ``"1ms"``, ``"500us"``: members are left out of the ensemble, least score lost first,
        until it predicts within it (``Model.info.latency``; see ``labcoat.train.latency_limit``).
        Default: no limit.
    **options : the task's own options (``Task.options``, typed; one that does not apply to the
        task is refused). Classification:

    calibrate : post-hoc calibration of a classifier's probabilities: ``"auto"`` chooses among
        none, ``"sigmoid"`` and ``"isotonic"`` by cross-fitting on the ensemble's out-of-fold
        predictions (``Model.info.calibration``; see ``labcoat.evaluate.calibration``).
    costs : binary targets: tune the decision threshold to minimise these costs, e.g.
        ``"fp=1,fn=5"`` or ``{"fp": 1, "fn": 5}`` (``Model.info.threshold``).
    threshold_metric : binary targets: tune the decision threshold to maximise this metric
        (``f1``, ``balanced_accuracy``, ``accuracy``, ``mcc``). Default: no tuning (the most
        probable class), unless ``costs`` are given.

    Examples
    --------
    >>> import labcoat
    >>> from labcoat.datasets import make_churn
    >>> model = labcoat.fit(make_churn(400), target="churned", trials=3, families=["lightgbm", "linear"], quiet=True)
    >>> model.leaderboard[["family", "score"]].shape[0]
    3
    """
    own = pipeline_task(task)
    if target is None and (own is None or own.needs_target):
        raise ConfigError("Give the column to predict: labcoat.fit(data, target=...).")
    if own is not None:
        return fit_own_pipeline(
            own, data, target, track=track, tracking_uri=tracking_uri, experiment=experiment, register=register,
            source=source, families=families, options=options, budget=budget, seed=seed, quiet=quiet,
            time_column=time_column, metric=metric, report=report, report_dir=report_dir, n_jobs=n_jobs,
            executor=executor, ray_address=ray_address,
            unused={"trials": trials, "callbacks": callbacks, "strict": strict, "test": test, "holdout": holdout,
                    "split": split, "text_column": text_column, "embeddings": embeddings,
                    "latency_limit": latency_limit})
    assert target is not None  # checked above
    clock = Clock(parse_budget(budget) if budget is not None or trials is not None else DEFAULT_BUDGET)
    trials = _check_trials(trials)
    limit = parse_latency(latency_limit)
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
    frame = as_table(data)
    frame = drop_missing_target(frame, target)
    schema = infer_schema(frame, target, task, metric=metric)
    learner = get_task(schema.task)
    task_options = learner.options(**options)
    time_column = check_split(split, time_column, schema)
    outer, outer_source = outer_rows(frame, target, test=test, holdout=holdout, seed=seed,
                                      time_column=time_column, stratify=learner.stratified)
    if outer is not None and outer_source.startswith("holdout"):
        frame = frame.drop(index=outer.index)
    schema.documents = choose_documents(frame, schema, learner, text_column=text_column,
                                        embeddings=None if embeddings is None else str(embeddings), seed=seed)
    if families is not None and schema.documents is None:
        needing = [name for name in families if get_family(name).documents]
        if needing:
            raise ConfigError(f"Famil{'y' if len(needing) == 1 else 'ies'} {', '.join(needing)} read a column of "
                              "documents, and no text column carries the signal here: name one with "
                              "text_column= (--text-column).")
    if families is not None and not learner.eligible(get_family(name) for name in families):
        raise ConfigError(f"No family of {', '.join(families)} does {learner.name}: add one that does, or leave "
                          "families= (--families) out to search them all.")
    found = check_data(frame, target, learner, schema=schema)
    if "leakage" in learner.guards:  # and by their effect, leaving out the columns already named
        named = {f.column for f in found if f.check == "leakage" and f.column}
        found += check_effect(frame, target, learner, schema=schema, exclude=named, seed=seed,
                              seconds=leak_check_seconds(clock))
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
    if schema.documents is not None:
        resampling = first_repeat(resampling)
    data_ = TrialData(X=X, y=y, schema=schema, task=learner, metric=chosen_metric, resampling=resampling, seed=seed,
                      n_jobs=runner.threads(idle_cores))
    if recorder is not None:
        from labcoat.tracking.lineage import lineage_tags

        settings = {"target": target, "task": schema.task, "metric": chosen_metric.name,
                    "budget_seconds": clock.budget, "trials": trials, "seed": seed,
                    "families": families or default_families(), "n_jobs": data_.n_jobs,
                    "resampling": resampling.description, "outer_rows": 0 if outer is None else len(outer)}
        recorder.start(settings, {**lineage_tags(frame, schema, source or describe_source(data)),
                                  "labcoat.task": schema.task, "labcoat.metric": chosen_metric.name})
    plan = after_fit_plan(clock, len(frame), len(schema.features), explain=report,
                          write=report and (report_dir is not None or recorder is not None),
                          tracked=recorder is not None, registered=bool(register))
    keep = after_fit_reserve(plan, clock)
    progress = None if quiet else _progress(clock, trials)
    bagging = bags(data_)  # the members get fold models (train.fold_bag)
    study = Study(data=data_, clock=clock, trials=trials, families=families, executor=runner,
                  callbacks=[*callbacks, *([progress.update] if progress else []),
                             *([recorder.on_trial] if recorder else [])])
    planned = set(study.planned_families())
    study.reserve = lambda done: (refit_reserve(done, clock, resampling.is_holdout, keep, plan.tracking)
                                  + (bag_reserve(done, clock, resampling.folds_per_repeat, planned)
                                     if bagging else 0.0))
    # From the search to the finished run: an interrupt or error anywhere closes the run
    # (KILLED, FAILED) instead of leaving it RUNNING.
    with closing_run_on_error(recorder):
        try:
            result = study.run()
            if not result.completed:
                raise BudgetError(_no_trial_message(result, clock, len(frame)))
            selection = _selection_estimate(result, data_, clock)
            members, preprocessors, dropped = refit(result, data_, clock, keep=keep)
            add_fold_models(members, {t.number: t for t in result.trials}, data_, clock, keep=keep)
            latency = None
            if limit is not None:
                members, preprocessors, latency = keep_within(
                    limit, members, preprocessors, result, data_,
                    frame[[c.name for c in schema.features]].head(EXAMPLE_ROWS), clock, keep=keep)
                if latency_changed(latency):
                    warnings.warn(describe_latency(latency, chosen_metric.name), LabcoatNotice, stacklevel=2)
            oof = ensemble_oof(result, data_)
            decisions = learner.post_fit(oof, task_options, seed=seed)
        finally:
            if progress:
                progress.close()
        best = study.best(result.trials)
        assert best is not None  # a completed study has a scored trial
        spread = ensemble_fold_scores(result, data_)
        info = ModelInfo(
            metric=chosen_metric.name,
            greater_is_better=chosen_metric.greater_is_better,
            resampling=result.resampling,
            ensemble_score=result.ensemble_score,
            best_single_score=best.score,
            n_trials=len(result.trials),
            budget_seconds=clock.budget,
            seed=seed,
            search_seconds=round(result.search_seconds, 3),
            fit_seconds=round(clock.elapsed, 3),
            n_rows=len(frame),
            n_jobs=data_.n_jobs,
            executor=runner.describe(),
            fold_rows=list(fold_sizes(data_)),
            refit_dropped=dropped,
            selection=selection.to_dict(),
            calibration=decisions.report.get("calibration"),
            threshold=decisions.report.get("threshold"),
            latency=latency,
            findings=findings,
            versions=library_versions(),
            settings={"target": target, "task": schema.task, "metric": chosen_metric.name,
                      "budget_seconds": clock.budget, "trials": trials, "seed": seed,
                      "families": families, "split": split, "time_column": time_column,
                      "holdout": holdout, "text_column": text_column,
                      "embeddings": None if embeddings is None else str(embeddings), "latency_limit": limit,
                      **task_options.to_dict()},
            ensemble_score_std=float(np.std(spread, ddof=1)) if len(spread) > 1 else None,
            ensemble_fold_scores=spread,
            folds_key=_folds_key(frame, resampling, seed),
        )
        model = Model(schema=schema, members=members, preprocessors=preprocessors,
                      leaderboard=leaderboard(result, data_, members), info=info,
                      example=frame[[c.name for c in schema.features]].head(EXAMPLE_ROWS).reset_index(drop=True),
                      oof=oof, calibrator=decisions.calibrator, threshold=decisions.threshold)
        if outer is not None:
            model.info.test = score_rows(model, outer, source=outer_source, seed=seed)
        after = AfterFit(frame=frame, source=source or describe_source(data), clock=clock, seed=seed,
                         recorder=recorder, report=report, report_dir=report_dir, register=register,
                         tracking_uri=tracking_uri, plan=plan)
        for step in POST_FIT_STEPS:
            step(model, after)
    model.info.total_seconds = round(clock.elapsed, 3)
    return model


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


def _folds_key(frame: pd.DataFrame, resampling: Resampling, seed: int) -> str:
    """Same for two fits on the same rows with the same folds: their fold scores pair up."""
    import hashlib

    from labcoat.tracking.lineage import fingerprint

    return hashlib.sha256(f"{fingerprint(frame)} {resampling.description} {seed}".encode()).hexdigest()[:16]


def _selection_estimate(result: StudyResult, data: TrialData, clock: Clock) -> Any:
    from labcoat.evaluate.selection import selection_corrected
    from labcoat.search.study import ensemble_candidates

    candidates = ensemble_candidates(result.completed, data.metric)
    return selection_corrected(data.y, [t.oof for t in candidates if t.oof is not None], data.metric,
                               seed=data.seed, seconds=selection_seconds(clock),
                               stratify=data.task.stratified)


def _check_trials(trials: int | None) -> int | None:
    if trials is None:
        return None
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ConfigError(f"trials must be a positive whole number; got {trials!r}.")
    return int(trials)


def _no_trial_message(result: StudyResult, clock: Clock, n_rows: int) -> str:
    failed = [t for t in result.trials if t.status == "failed"]
    if failed and len(failed) == len(result.trials):
        errors = "; ".join(sorted({f"{t.family}: {t.error}" for t in failed})[:3])
        return f"Every trial failed ({len(failed)}), so there is no model. Errors: {errors}"
    budget = f"{clock.budget:g} s" if clock.budget else "the budget"
    return (f"A budget of {budget} is too small to train even one model on {n_rows:,} rows "
            f"({len(result.trials)} trial(s) started, none finished). Give a larger budget, "
            "e.g. --budget 1m, or a trial count (--trials 5).")


def _progress(clock: Clock, trials: int | None) -> Any:
    from labcoat._progress import StudyProgress

    return StudyProgress(clock=clock, trials=trials)
