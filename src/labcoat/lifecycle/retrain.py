"""``labcoat.retrain``: fit a challenger the way the champion was fitted, on a new window of data,
and promote it only when a paired test on recent labelled rows says the policy holds.

1. The champion is a registered version (``models:/NAME@champion``, ``models:/NAME/3``, or
   ``NAME`` for its champion); its fit settings (``Model.info.settings``: metric, task,
   families, split and time column, calibration, costs or threshold metric, budget or trials,
   seed) are the challenger's.
2. The recent holdout: the latest rows of the new data by the time column (``time_column=``,
   else the champion's own with ``split="time"``), else a random share, stratified by class;
   ``holdout`` (20%) of the rows, at least :data:`MIN_HOLDOUT_ROWS`. The challenger is fitted
   on the other rows and never sees these.
3. The challenger is registered as a new version with alias ``challenger``; both models predict
   the holdout, and :func:`labcoat.lifecycle.gate.gate` decides. On promotion ``champion`` moves
   through :func:`labcoat.tracking.registry.promote`, so ``labcoat models rollback`` undoes it.
4. The decision and its evidence are recorded (:mod:`labcoat.tracking.decision`) and returned.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError, DataError, LabcoatNotice, did_you_mean
from labcoat.lifecycle.gate import check_policy, gate, resolve_margin

if TYPE_CHECKING:
    from labcoat.data.io import DataSource
    from labcoat.data.schema import Schema
    from labcoat.model import Model
    from labcoat.model_info import ModelInfo
    from labcoat.tasks import Task

#: The recent holdout: this share of the new rows by default, and at least this many rows.
HOLDOUT_SHARE = 0.2
MIN_HOLDOUT_ROWS = 200


@dataclass
class RetrainDecision:
    """What ``retrain`` did and why: both versions, their scores on the same recent rows with
    95% intervals, the difference challenger − champion (positive = challenger better) with its
    interval and p-value, and whether the challenger was promoted to ``champion``."""

    name: str
    champion_version: str
    challenger_version: str
    metric: str
    policy: str
    margin: float
    champion_score: float
    champion_interval: tuple[float, float]
    challenger_score: float
    challenger_interval: tuple[float, float]
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    promoted: bool
    reason: str
    holdout: str
    holdout_rows: int
    train_rows: int
    challenger_run_id: str | None = None
    run_id: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def decision(self) -> str:
        return "promoted" if self.promoted else "kept"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "decision": self.decision}

    def summary(self) -> str:
        """The decision in a few lines, with the command that undoes a promotion."""
        def interval(low: float, high: float, sign: str = "") -> str:
            return f"[{low:{sign}.4f}, {high:{sign}.4f}]"

        p = "p < 0.001" if self.p_value < 0.001 else f"p = {self.p_value:.3f}"
        rows = self.holdout_rows
        lines = [
            (f"Retraining '{self.name}', scored by {self.metric} on the same {rows:,} held-out rows "
             f"({self.holdout}); the challenger was fitted on the other {self.train_rows:,}"),
            (f"  champion   version {self.champion_version:<4} {self.champion_score:.4f} "
             f"{interval(*self.champion_interval)}"),
            (f"  challenger version {self.challenger_version:<4} {self.challenger_score:.4f} "
             f"{interval(*self.challenger_interval)}"),
            (f"  difference (challenger − champion, + = challenger better): {self.difference:+.4f} "
             f"{interval(self.ci_low, self.ci_high, '+')}, {p} under {self.policy} (margin {self.margin:.4g})"),
        ]
        if self.promoted:
            lines += [(f"Promoted: version {self.challenger_version} is now models:/{self.name}@champion; "
                       f"{self.reason}."),
                      f"Undo with: labcoat models rollback {self.name}"]
        else:
            lines.append(f"Kept version {self.champion_version} as champion; {self.reason}. Version "
                         f"{self.challenger_version} stays registered as models:/{self.name}@challenger.")
        if self.run_id:
            lines.append(f"Recorded as run {self.run_id} (experiment labcoat-retrain)")
        return "\n".join(lines)


def retrain(model: str, data: DataSource, *, budget: float | str | None = None, trials: int | None = None,
            policy: str = "non-inferiority", margin: float | str | None = None,
            holdout: float = HOLDOUT_SHARE, time_column: str | None = None, tracking_uri: str | None = None,
            seed: int | None = None, n_jobs: int | None = None, report: bool = True, quiet: bool = False,
            source: str | None = None) -> RetrainDecision:
    """Fit a challenger like the registered champion on ``data``, test it against the champion
    on the same recent labelled rows, and promote it if ``policy`` holds.

    Parameters
    ----------
    model : ``models:/NAME@champion``, ``models:/NAME/VERSION`` or ``NAME`` (its champion).
    data : the new window with the target column (a frame or a file).
    budget, trials : the challenger's search; default: the champion's.
    policy : ``"non-inferiority"`` (promote when shown to be worse by at most ``margin``) or
        ``"superiority"`` (promote only when shown to be better, by more than ``margin`` if given).
    margin : in the metric's units, or a share of the champion's score (``"1%"``); default 1%
        of the champion's score for non-inferiority, 0 for superiority
        (see :mod:`labcoat.lifecycle.gate`).
    holdout : share of ``data`` kept as the recent holdout (at least 200 rows).
    time_column : the holdout is the latest rows by this column (default: the champion's time
        column when it was fitted with ``split="time"``; else a random share).
    seed : the challenger's seed, the holdout draw and the bootstrap (default: the champion's).
    report : let the challenger's ``fit`` write its explanations and reports.
    quiet : no progress display and no printed summary (``RetrainDecision.summary()``).

    Examples
    --------
    >>> import labcoat                                                            # doctest: +SKIP
    >>> decision = labcoat.retrain("churn", "last_month.csv", policy="superiority")  # doctest: +SKIP
    >>> decision.promoted, decision.difference, (decision.ci_low, decision.ci_high)  # doctest: +SKIP
    (True, 0.031, (0.012, 0.049))
    """
    decision = run_retrain(model, data, budget=budget, trials=trials, policy=policy, margin=margin,
                           holdout=holdout, time_column=time_column, tracking_uri=tracking_uri, seed=seed,
                           n_jobs=n_jobs, report=report, progress=not quiet, source=source)
    if not quiet:
        print(decision.summary())
    return decision


def run_retrain(model: str, data: DataSource, *, budget: float | str | None = None, trials: int | None = None,
                policy: str = "non-inferiority", margin: float | str | None = None,
                holdout: float = HOLDOUT_SHARE, time_column: str | None = None, tracking_uri: str | None = None,
                seed: int | None = None, n_jobs: int | None = None, report: bool = True, progress: bool = False,
                source: str | None = None) -> RetrainDecision:
    """:func:`retrain` without printing the summary (the CLI prints notices first); ``progress``
    shows the challenger's search."""
    from labcoat.api import load_described, row_model
    from labcoat.tasks.forecast.model import ForecastModel
    from labcoat.tasks.recommend.model import RecommendModel
    from labcoat.tracking.registry import promote

    check_policy(policy)
    resolve_margin(margin, policy, 1.0)  # a malformed margin stops here, before any training
    share = _check_share(holdout)
    reference = champion_reference(model)
    loaded, found = load_described(reference, tracking_uri=tracking_uri)  # the alias resolved once
    assert found is not None  # a models:/ reference is always described
    name, champion_version = found["name"], found["version"]
    _notice_if_not_champion(name, champion_version, tracking_uri)
    if isinstance(loaded, RecommendModel):
        from labcoat.data.io import read_table
        from labcoat.lifecycle.retrain_recommend import retrain_recommend
        from labcoat.tracking.decision import record_decision

        decision = retrain_recommend(loaded, data if isinstance(data, pd.DataFrame) else read_table(data), name=name,
                                     champion_version=champion_version, budget=budget, policy=policy,
                                     margin=margin, seed=seed, tracking_uri=tracking_uri, report=report,
                                     progress=progress, source=source or _source(data, 0))
        decision.run_id = record_decision(decision, tracking_uri)
        return decision
    if isinstance(loaded, ForecastModel):
        from labcoat.data.io import read_table
        from labcoat.lifecycle.retrain_forecast import retrain_forecast

        decision = retrain_forecast(loaded, data if isinstance(data, pd.DataFrame) else read_table(data), name=name,
                                    champion_version=champion_version, budget=budget, policy=policy, margin=margin,
                                    seed=seed, tracking_uri=tracking_uri, report=report, progress=progress,
                                    source=source or _source(data, 0))
        from labcoat.tracking.decision import record_decision

        decision.run_id = record_decision(decision, tracking_uri)
        return decision
    champion = row_model(loaded, reference)
    settings = fit_settings(champion)
    seed = int(settings["seed"] if seed is None else seed)
    target = champion.schema.target
    frame = _read_labelled(data, target)
    column = time_column or (settings["time_column"] if settings["split"] == "time" else None)
    train, recent, where = split_recent(frame, champion, share=share, seed=seed, time_column=column)
    y = _encoded_target(recent, champion)
    _check_classes(train, champion)
    champion_pred = _predictions(champion, recent)  # a schema mismatch stops here, before any training

    import labcoat

    arguments = _fit_arguments(settings, budget, trials)
    challenger = labcoat.fit(train, target, **arguments, seed=seed,
                             n_jobs=n_jobs, quiet=not progress, tracking_uri=tracking_uri, register=name, report=report,
                             source=source or _source(data, len(train)))
    assert challenger.info.registered is not None  # fit registers when given register=
    challenger_version = challenger.info.registered.rsplit("/", 1)[1]
    promote(name, challenger_version, alias="challenger", uri=tracking_uri)
    challenger_pred = _predictions(challenger, recent, classes=champion.schema.classes)

    from labcoat.evaluate.metrics import get_metric

    metric = get_metric(champion.metric, champion.task.name)
    result = gate(y, champion_pred, challenger_pred, metric, policy=policy, margin=margin,
                  stratify=champion.task.stratified, seed=seed)
    if result.promote:
        promote(name, challenger_version, alias="champion", uri=tracking_uri)
    evidence = result.evidence
    decision = RetrainDecision(
        name=name, champion_version=champion_version, challenger_version=challenger_version,
        metric=metric.name, policy=policy, margin=result.margin,
        champion_score=evidence.score_b, champion_interval=evidence.interval_b,
        challenger_score=evidence.score_a, challenger_interval=evidence.interval_a,
        difference=evidence.difference, ci_low=evidence.low, ci_high=evidence.high,
        p_value=result.p_value, promoted=result.promote, reason=result.reason(metric.name), holdout=where,
        holdout_rows=len(recent), train_rows=len(train), challenger_run_id=challenger.info.run_id,
        settings={**settings, "budget_seconds": arguments["budget"], "trials": arguments["trials"], "seed": seed})
    from labcoat.tracking.decision import record_decision

    decision.run_id = record_decision(decision, tracking_uri)
    return decision


def champion_reference(model: str | Path) -> str:
    """The ``models:/`` reference of ``model``: as given, or ``models:/NAME@champion`` for a bare
    name. A folder or a run's model is refused: there is no registered champion to replace.

    Examples
    --------
    >>> champion_reference("churn"), champion_reference("models:/churn/3")
    ('models:/churn@champion', 'models:/churn/3')
    """
    text = str(model)
    if text.startswith("models:/"):
        return text
    how = ("Register it first (`labcoat fit ... --register NAME`, or `labcoat models register RUN "
           "--name NAME` and `labcoat models promote NAME VERSION`), then retrain NAME.")
    if text.startswith("runs:/") or Path(text).exists():
        raise ConfigError(f"'{text}' is not a registered model: retraining replaces a registry champion, "
                          f"and a folder or a run has none to promote over. {how}")
    if "/" in text or "\\" in text:
        raise ConfigError(f"No model folder '{text}' and not a registered model name. Give NAME, "
                          f"models:/NAME@champion or models:/NAME/VERSION. {how}")
    return f"models:/{text}@champion"


class _Fitted(Protocol):
    """What :func:`fit_settings` reads of a model (a Model; tests pass a stand-in for an old one)."""

    @property
    def schema(self) -> Schema: ...
    @property
    def task(self) -> Task: ...
    @property
    def metric(self) -> str: ...
    @property
    def info(self) -> ModelInfo: ...


def fit_settings(model: _Fitted) -> dict[str, Any]:
    """The settings ``model`` was fitted with (``info.settings``); for models fitted before
    they were recorded, what ``info`` still tells (metric, task, seed, budget, calibration,
    threshold, time column), with a notice that families and the holdout are the defaults."""
    info = model.info
    if info.settings:
        return dict(info.settings)
    warnings.warn("This model was fitted before labcoat recorded its settings: the challenger uses its "
                  "metric, task, seed, budget, calibration and threshold, with every family.",
                  LabcoatNotice, stacklevel=3)
    threshold = info.threshold or {}
    forward = re.search(r"forward in time by '(.+)'", str(info.resampling))
    objective = threshold.get("objective")
    return {"target": model.schema.target, "task": model.task.name, "metric": model.metric,
            "budget_seconds": info.budget_seconds, "trials": None, "seed": info.seed,
            "families": None, "split": "time" if forward else "random",
            "time_column": forward.group(1) if forward else None, "holdout": "auto",
            "calibrate": (info.calibration or {}).get("requested", "auto"),
            "costs": threshold.get("costs") if objective == "cost" else None,
            "threshold_metric": objective if objective not in (None, "cost") else None}


def split_recent(frame: pd.DataFrame, model: Model, *, share: float = HOLDOUT_SHARE, seed: int = 0,
                 time_column: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The rows to train the challenger on, the recent holdout, and the holdout in words.

    The holdout is ``share`` of the rows, at least :data:`MIN_HOLDOUT_ROWS`, and at most half:
    the latest by ``time_column``, else drawn at random (stratified by class)."""
    from labcoat.data.holdout import as_times, outer_rows

    size = max(MIN_HOLDOUT_ROWS, round(share * len(frame)))
    if 2 * size > len(frame):
        raise DataError(f"The new data has {len(frame):,} labelled rows; retraining keeps {size:,} of them "
                        f"as the recent holdout and needs at least as many to train on: give at least "
                        f"{2 * size:,} labelled rows.")
    if time_column is not None:
        if time_column not in frame.columns:
            raise DataError(f"The time column '{time_column}' is not in the new data."
                            + did_you_mean(time_column, frame.columns))
        if as_times(frame[time_column]).notna().sum() < 2 * size:
            raise DataError(f"Column '{time_column}' has too few readable dates to take the latest {size:,} "
                            "rows as the holdout; fix it or give --time-column.")
    frame = frame.reset_index(drop=True)
    recent, _ = outer_rows(frame, model.schema.target, test=None, holdout=size / len(frame),
                           seed=seed, time_column=time_column, stratify=model.task.stratified)
    assert recent is not None
    where = (f"the latest by '{time_column}'" if time_column
             else f"a random {len(recent) / len(frame):.0%}, seed {seed}")
    return frame.drop(index=recent.index), recent, where


def _fit_arguments(settings: dict[str, Any], budget: float | str | None, trials: int | None) -> dict[str, Any]:
    """``fit``'s settings for the challenger: the champion's, with the search's size as given."""
    if budget is None and trials is None:
        budget, trials = settings.get("budget_seconds"), settings.get("trials")
    from labcoat.tasks import get_task

    keys = ("metric", "task", "families", "split", "time_column", "holdout", "text_column", "embeddings",
            "latency_limit")
    options = {k: settings[k] for k in get_task(settings["task"]).option_names if settings.get(k) is not None}
    return {"budget": budget, "trials": trials, **{k: settings.get(k) for k in keys},
            "split": settings.get("split") or "random", "holdout": settings.get("holdout", "auto"), **options}


def _read_labelled(data: DataSource, target: str) -> pd.DataFrame:
    from labcoat.data.io import read_table
    from labcoat.data.infer import drop_missing_target

    frame = read_table(data)
    if target not in frame.columns:
        raise DataError(f"The new data has no target column '{target}': retraining needs labelled rows."
                        + did_you_mean(target, frame.columns))
    return drop_missing_target(frame, target)


def _encoded_target(frame: pd.DataFrame, model: Model) -> np.ndarray:
    y = model.task.encode_target(frame[model.schema.target], model.schema.classes)
    if model.schema.classes is not None and (y < 0).any():
        unseen = sorted(set(frame[model.schema.target][y < 0].astype(str)))
        raise DataError(f"The recent rows have class(es) {', '.join(unseen[:5])} the champion never saw "
                        f"(it knows {', '.join(map(str, model.schema.classes))}); the two models cannot be "
                        "scored on the same classes. Fit a new model instead.")
    return y


def _check_classes(train: pd.DataFrame, model: Model) -> None:
    """The challenger must learn the champion's classes, or the two cannot be scored alike."""
    if model.schema.classes is None:
        return
    known = {str(c) for c in model.schema.classes}
    seen = {str(c) for c in train[model.schema.target].unique()}
    if seen != known:
        missing, extra = sorted(known - seen), sorted(seen - known)
        what = "; ".join(part for part in (f"no row of class {', '.join(missing)}" if missing else "",
                                           f"new class {', '.join(extra)}" if extra else "") if part)
        raise DataError(f"The new training rows have {what} (the champion knows "
                        f"{', '.join(sorted(known))}); a challenger fitted on them could not be compared "
                        "with the champion class by class. Use a window with every class, or fit a new model.")


def _predictions(model: Model, frame: pd.DataFrame, classes: list[Any] | None = None) -> np.ndarray:
    """Probabilities (columns in the order of ``classes``, default the model's) or values."""
    if model.schema.classes is None:
        return np.asarray(model.raw_output(frame), dtype=np.float64)
    proba = model.raw_output(frame)
    if classes is None or list(model.schema.classes) == list(classes):
        return proba
    mine = [str(c) for c in model.schema.classes]
    if sorted(mine) != sorted(str(c) for c in classes):
        raise DataError(f"The challenger learned the classes {', '.join(mine)} but the champion "
                        f"{', '.join(map(str, classes))}; they cannot be compared on the same rows.")
    return proba[:, [mine.index(str(c)) for c in classes]]


def _check_share(share: float) -> float:
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 0.5:
        raise ConfigError(f"The holdout share must be in (0, 0.5]; got {share!r}.")
    return float(share)


def _notice_if_not_champion(name: str, version: str, uri: str | None) -> None:
    from labcoat.tracking import store

    try:
        current = str(store.client(uri).get_model_version_by_alias(name, "champion").version)
    except Exception:  # no champion yet
        current = None
    if current != version:
        warnings.warn(f"Version {version} of '{name}' is not the champion ({f'version {current}' if current else 'none'}); "
                      "the challenger is tested against it and, if it passes, becomes the champion.",
                      LabcoatNotice, stacklevel=3)


def _source(data: Any, rows: int) -> str:
    from labcoat.tracking.lineage import describe_source

    return f"{describe_source(data)} ({rows:,} rows before the recent holdout)"
