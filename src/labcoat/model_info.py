"""``Model.info``: what ``fit`` recorded about a model, as a typed record.

``fit`` fills the fields from ``metric`` to ``settings`` and, once the model is built, ``test``
(the held-out score); the post-fit steps add the data's source and time span, the tracked run,
the registered version and the report files. The
record is written to the model's ``labcoat.json`` (:meth:`ModelInfo.to_dict`) and read back
from it (:meth:`ModelInfo.from_dict`): a key this version does not know is kept in ``extra``
and written back, so loading and saving a model loses nothing.

>>> info = ModelInfo(metric="roc_auc", resampling="5-fold CV", ensemble_score=0.91)
>>> ModelInfo.from_dict(info.to_dict()) == info
True
>>> info.test is None
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class ModelInfo:
    """What ``fit`` recorded about a model (``Model.info``).

    The nested records (``selection``, ``calibration``, ``threshold``, ``test``, ``settings``)
    are plain dicts: their keys belong to the code that computes them (see each field).
    """

    #: The metric optimised (a name of ``labcoat.evaluate.METRICS``) and its direction.
    metric: str
    greater_is_better: bool = True
    #: The resampling plan in words ("5-fold CV (stratified)", "holdout of 20%", ...).
    resampling: str = ""
    #: The ensemble's out-of-fold score, its spread and its score on each fold.
    ensemble_score: float = float("nan")
    ensemble_score_std: float | None = None
    ensemble_fold_scores: list[float] = field(default_factory=list)
    #: The best single trial's score.
    best_single_score: float = float("nan")
    n_trials: int = 0
    #: The budget (None: a trial count only), the search's seconds and the seconds to the
    #: fitted model (before the steps after the fit: see ``total_seconds``).
    budget_seconds: float | None = None
    search_seconds: float = 0.0
    fit_seconds: float = 0.0
    seed: int = 0
    #: Training rows (after a holdout was taken out), threads per model, where trials ran.
    n_rows: int = 0
    n_jobs: int = 1
    executor: str = ""
    #: Mean training and validation rows per fold (for the corrected resampled t).
    fold_rows: list[float] = field(default_factory=list)
    #: Same for two fits on the same rows with the same folds: their fold scores pair up.
    folds_key: str | None = None
    #: Trials of the ensemble left out because their refit did not fit in the budget.
    refit_dropped: list[int] = field(default_factory=list)
    #: The selection-corrected estimate (``labcoat.evaluate.selection``).
    selection: dict[str, Any] = field(default_factory=dict)
    #: The task's post-fit decisions: calibration and decision threshold (``Task.post_fit``).
    calibration: dict[str, Any] | None = None
    threshold: dict[str, Any] | None = None
    #: What ``latency_limit`` did: one row's time before and after, members left out, the
    #: out-of-fold score before and after (``labcoat.train.latency_limit``); None without a limit.
    latency: dict[str, Any] | None = None
    #: What the guards found, in words (None: not recorded).
    findings: list[str] | None = None
    #: Versions of Python and the libraries the model depends on.
    versions: dict[str, str] = field(default_factory=dict)
    #: The settings as resolved, so that ``labcoat retrain`` fits a challenger the same way.
    settings: dict[str, Any] = field(default_factory=dict)
    #: The score on rows the search never saw: ``{"score", "low", "high", "rows", "source"}``.
    test: dict[str, Any] | None = None
    #: Where the training data came from; the first and last value of each datetime column.
    source: str | None = None
    time_span: dict[str, list[str]] = field(default_factory=dict)
    #: The MLflow run, the registered version (``models:/NAME/VERSION``), the tracking time.
    run_id: str | None = None
    registered: str | None = None
    tracking_seconds: float | None = None
    #: The report files written (with ``report_dir``).
    reports: list[str] = field(default_factory=list)
    #: What the steps after the fit left out to keep the budget (``"explanations"``, ``"reports"``).
    deferred: list[str] = field(default_factory=list)
    #: Seconds of the whole ``fit`` call, the steps after the fit included (set as it returns:
    #: the copy logged to the tracked run does not have it).
    total_seconds: float | None = None
    #: Keys of a saved model this version does not know, kept as they were.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record as the plain dict written to ``labcoat.json`` (``extra`` merged in)."""
        out = asdict(self)
        return {**out.pop("extra"), **out}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelInfo:
        """The record of a saved model's ``labcoat.json``; unknown keys go to ``extra``, and
        keys an older version did not write take their defaults."""
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{k: v for k, v in raw.items() if k in known},
                   extra={k: v for k, v in raw.items() if k not in known})
