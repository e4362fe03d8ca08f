"""The contract every model family follows.

A :class:`Family` is stateless: it describes a kind of model (its preprocessing style,
Optuna search space, strong default configurations and rough cost) and builds and fits
estimators for given parameters. A family opts in to the tasks it serves (``tasks``) and
builds what the task asks for (``BuildContext.kind``). The search calls, for each trial and fold::

    params    = family.portfolio(kind)[i]            # or family.search_space(optuna_trial, kind)
    estimator = family.build(params, context)
    outcome   = family.fit(estimator, X, y, valid=(X_valid, y_valid), deadline=t)
    ...
    final     = family.build(family.refit_params(params, outcome_iterations), context)
    family.fit(final, X_all, y_all)

``fit`` must stop by itself once ``time.monotonic()`` passes ``deadline`` and report it in
:class:`FitOutcome`; families whose estimators train in rounds (boosters, forests) stop
between rounds and keep what they have.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np

from labcoat.features.build import Style

if TYPE_CHECKING:
    import optuna

Params = dict[str, Any]
#: What a task asks a family to build: scikit-learn's estimator types.
EstimatorType = Literal["classifier", "regressor"]
#: The supervised tasks on one table, which every family here serves.
TABULAR_TASKS = frozenset({"binary", "multiclass", "regression"})


@dataclass(frozen=True)
class BuildContext:
    """What a family needs to know to build an estimator besides its parameters."""

    #: Classifier (probabilities per class) or regressor (values).
    kind: EstimatorType
    n_classes: int
    seed: int
    n_jobs: int
    #: The first ``native_categoricals`` input columns are categorical (see features.build).
    native_categoricals: int = 0
    #: Rows the estimator will be fitted on (about: the training part of a fold, or all rows).
    n_rows: int = 0


@dataclass(frozen=True)
class FitOutcome:
    """How a fit went: rounds used (boosters; for the refit) and whether the deadline stopped it."""

    iterations: int | None = None
    stopped: bool = False


class Family(ABC):
    """A model family: search space, default portfolio, cost estimate and estimator factory."""

    #: Registry name, also shown on the leaderboard.
    name: ClassVar[str]
    #: Which preprocessing its estimators expect.
    style: ClassVar[Style]
    #: Rough seconds to fit one fold per million input cells (rows x columns) at default settings.
    seconds_per_million_cells: ClassVar[float] = 2.0
    #: How a fold's cost grows with the number of classes k above two: by k to this power.
    #: Measured on 2,400 rows x 16 columns, default settings, 2, 4 and 12 classes (fit times
    #: relative to two classes at 12: LightGBM 6.2x, CatBoost 22.6x, XGBoost 9.6x, histogram
    #: GB 4.7x, linear 2x, forests 1.1x, k-NN 1x); boosters grow trees per class a round.
    class_cost_exponent: ClassVar[float] = 0.0
    #: Seconds a fold takes whatever its size (library set-up, rounds before early stopping
    #: ends them); measured per family on 150-400 rows, 2 cores: the cells term alone made
    #: the search take the first trial's fixed cost for a per-cell one on small tables.
    seconds_per_fold: ClassVar[float] = 0.05
    #: The tasks (``labcoat.tasks`` names) the family opts in to; none by default.
    tasks: ClassVar[frozenset[str]] = frozenset()
    #: Whether fitted models are small enough to keep a fold's model per trial (not forests,
    #: whose size grows with the rows, nor k-NN, which stores them).
    compact: ClassVar[bool] = True
    #: How ``shap.TreeExplainer`` explains this family's models exactly (interventional,
    #: probability output; see ``labcoat.evaluate._shapley``): not at all (None), every model
    #: (``"always"``), or only models of one output (a binary probability or a value) without
    #: native categorical splits (``"single_output"``: softmax is not one of its output
    #: transforms, categorical splits are not supported).
    tree_shap: ClassVar[Literal["always", "single_output"] | None] = None
    #: Whether fitted trees compare float32 inputs with their thresholds (scikit-learn, XGBoost).
    float32_splits: ClassVar[bool] = False
    #: Left out of the default search above this many rows (a family asked for by name runs).
    max_rows: ClassVar[int | None] = None
    #: Families of one ``merge_kind`` (not None) have their estimators on one input merged
    #: by :meth:`merge` (any of theirs) to predict a few rows together.
    merge_kind: ClassVar[str | None] = None
    #: Whether the family's final model gains from being averaged with models fitted on each
    #: fold's training rows (``labcoat.train.fold_bag``): boosters and networks, whose models
    #: vary with the rows. Forests already average bootstrap samples (their fold models were
    #: worse on hypothyroid and gen_rare_classes), and the linear and k-NN models barely vary
    #: (within 0.004 ROC AUC on credit_g, 0.003 RMSE on abalone).
    bags_folds: ClassVar[bool] = False
    #: Left out of the default search: searched only when asked for by name (``families=``).
    opt_in: ClassVar[bool] = False
    #: Runs only on a text-first table (``schema.documents``): the text families.
    documents: ClassVar[bool] = False
    #: The optional extra (``labcoat[<extra>]``) holding the library the family needs, if any.
    extra: ClassVar[str | None] = None

    def missing_library(self) -> str | None:
        """Why the family cannot run here (its library is not installed, and how to install
        it), or None. Checked without importing the library."""
        return None

    @abstractmethod
    def search_space(self, trial: optuna.Trial, kind: EstimatorType) -> Params:
        """Suggest parameters on an Optuna trial. Names are prefixed by the registry."""

    @abstractmethod
    def portfolio(self, kind: EstimatorType) -> list[Params]:
        """Strong default configurations, best first; each lies inside the search space."""

    @abstractmethod
    def build(self, params: Params, context: BuildContext) -> Any:
        """An unfitted scikit-learn compatible estimator."""

    def fit(self, estimator: Any, X: Any, y: np.ndarray, *, valid: tuple[Any, np.ndarray] | None = None,
            deadline: float | None = None) -> FitOutcome:
        """Fit ``estimator``; use ``valid`` for early stopping where the family supports it."""
        estimator.fit(X, y)
        return FitOutcome()

    def refit_params(self, params: Params, iterations: int | None) -> Params:
        """Parameters for the final fit on all data, given the rounds early stopping chose."""
        return params

    def predict(self, estimator: Any, X: Any, kind: EstimatorType, *, n_classes: int | None = None,
                threads: int | None = None) -> np.ndarray:
        """Probabilities (classification) or values (regression), on ``threads`` threads.

        Few rows should be predicted on one thread: boosters' OpenMP pools keep spinning after
        a call and slow the next library's pool on a small machine (measured on 2 cores: three
        boosters on one row, 8 ms with their default pools, 0.8 ms on one thread each).
        """
        if threads is not None and getattr(estimator, "n_jobs", threads) != threads:
            estimator.set_params(n_jobs=threads)
        return predict_output(estimator, X, kind, n_classes)

    def merge(self, estimators: list[Any], weights: list[float], kind: EstimatorType,
              n_classes: int | None) -> "Merged | None":
        """One predictor of few rows for several fitted estimators of this family that take
        the same input, giving their weighted sum of :meth:`predict`'s outputs; None where the
        family has none (each estimator then predicts on its own)."""
        return None

    def cost(self, n_rows: int, n_columns: int, params: Params, n_classes: int = 2) -> float:
        """Rough seconds for one fold at these settings (the search calibrates it as it goes).

        Examples
        --------
        >>> from labcoat.models import FAMILIES
        >>> xgb = FAMILIES["xgboost"]
        >>> round(xgb.cost(100_000, 16, {}, n_classes=12) / xgb.cost(100_000, 16, {}), 1)
        9.2
        """
        per_class = n_classes ** self.class_cost_exponent if n_classes > 2 else 1.0
        return self.seconds_per_fold + self.seconds_per_million_cells * n_rows * max(n_columns, 1) / 1e6 * per_class


class Merged(Protocol):
    """What :meth:`Family.merge` gives: the weighted sum of its estimators' outputs for a few
    rows, or None for an input it leaves to the estimators (too many rows, values it refuses)."""

    def __call__(self, X: Any) -> np.ndarray | None: ...


#: Inputs up to this many rows take the families' fast single-row paths (flat tree walkers,
#: bare boosters), where per-call overheads of the libraries' wrappers dominate.
SMALL_INPUT = 64


def past(deadline: float | None) -> bool:
    """True once ``deadline`` (a ``time.monotonic()`` value) has passed."""
    return deadline is not None and time.monotonic() >= deadline


def predict_output(estimator: Any, X: Any, kind: EstimatorType, n_classes: int | None = None) -> np.ndarray:
    """Probabilities (classifiers, one column per encoded class) or values (regressors)."""
    if kind == "classifier":
        return align_classes(estimator, np.asarray(estimator.predict_proba(X), dtype=np.float64), n_classes)
    return np.asarray(estimator.predict(X), dtype=np.float64).ravel()


def align_classes(estimator: Any, proba: np.ndarray, n_classes: int | None) -> np.ndarray:
    """Spread ``proba``'s columns over all encoded classes when the estimator saw only some.

    A fold of a rare class's data may lack that class; its column is then zero.
    """
    seen = np.asarray(getattr(estimator, "classes_", np.arange(proba.shape[1])), dtype=np.int64)
    n_classes = n_classes or proba.shape[1]
    if proba.shape[1] == n_classes and np.array_equal(seen, np.arange(n_classes)):
        return proba
    full = np.zeros((proba.shape[0], n_classes))
    full[:, seen] = proba
    return full
