"""The text families: linear models over the documents' n-gram TF-IDF (the ``"text"`` style).

They run only on a text-first table (``schema.documents``: a text column that carries the signal,
found by ``labcoat.train.documents`` or named by ``text_column=``), and are searched, ensembled,
saved and served like every other family.

``text_linear``  logistic regression (classes) or ridge (numbers).
``text_svm``     a linear SVM, its scores turned into probabilities by Platt scaling fitted on
                 3 inner folds (scikit-learn's ``CalibratedClassifierCV``).
``nbsvm``        NB-SVM (Wang & Manning 2012, "Baselines and bigrams"): each feature scaled by
                 its log-count ratio between the classes (one against the rest), then logistic
                 regression.

:func:`log_odds_weights` gives each fitted model's weight per input feature and class, in
log-odds units, which the explanations read (``labcoat.evaluate.text_explanation``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin

from labcoat.models._base import TABULAR_TASKS, BuildContext, EstimatorType, Family, Params

if TYPE_CHECKING:
    import optuna

CLASSIFICATION = frozenset({"binary", "multiclass"})


class _TextFamily(Family):
    style = "text"
    documents = True
    # The documents' length, not their one raw column, sets the cost: the search calibrates it.
    seconds_per_million_cells = 1000.0
    seconds_per_fold = 0.2
    class_cost_exponent = 0.5


class TextLinearFamily(_TextFamily):
    name = "text_linear"
    tasks = TABULAR_TASKS

    def search_space(self, trial: optuna.Trial, kind: EstimatorType) -> Params:
        if kind == "regressor":
            return {"alpha": trial.suggest_float("text_linear.alpha", 0.01, 100.0, log=True)}
        return {"C": trial.suggest_float("text_linear.C", 0.1, 300.0, log=True)}

    def portfolio(self, kind: EstimatorType) -> list[Params]:
        return [{"alpha": 1.0}] if kind == "regressor" else [{"C": 30.0}]

    def build(self, params: Params, context: BuildContext) -> Any:
        from sklearn.linear_model import LogisticRegression, Ridge

        if context.kind == "regressor":
            return Ridge(alpha=params["alpha"], random_state=context.seed)
        return LogisticRegression(C=params["C"], solver=_solver(context.n_classes), max_iter=3000,
                                  random_state=context.seed)


def _solver(n_classes: int) -> str:
    """liblinear for two classes: 0.7-0.9 s against lbfgs's 2.6-5.6 s on 1,600 movie reviews'
    word n-grams (115,538 features), the same accuracy; it fits one class against the rest only."""
    return "liblinear" if n_classes <= 2 else "lbfgs"


class TextSVMFamily(_TextFamily):
    name = "text_svm"
    tasks = CLASSIFICATION

    def search_space(self, trial: optuna.Trial, kind: EstimatorType) -> Params:
        return {"C": trial.suggest_float("text_svm.C", 0.01, 30.0, log=True)}

    def portfolio(self, kind: EstimatorType) -> list[Params]:
        return [{"C": 0.5}]

    def build(self, params: Params, context: BuildContext) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        return CalibratedClassifierCV(LinearSVC(C=params["C"], max_iter=5000, random_state=context.seed),
                                      method="sigmoid", cv=3, ensemble=False)


class NBSVMFamily(_TextFamily):
    name = "nbsvm"
    tasks = CLASSIFICATION

    def search_space(self, trial: optuna.Trial, kind: EstimatorType) -> Params:
        return {"C": trial.suggest_float("nbsvm.C", 0.1, 300.0, log=True),
                "alpha": trial.suggest_float("nbsvm.alpha", 0.1, 3.0, log=True)}

    def portfolio(self, kind: EstimatorType) -> list[Params]:
        return [{"C": 10.0, "alpha": 1.0}]

    def build(self, params: Params, context: BuildContext) -> Any:
        return NBSVMClassifier(C=params["C"], alpha=params["alpha"], seed=context.seed)


class NBSVMClassifier(ClassifierMixin, BaseEstimator):
    """NB-SVM: features scaled by their Naive Bayes log-count ratio, then logistic regression,
    one class against the rest (one model for two classes).

    The ratio of feature j for class c is ``log((p_j / |p|) / (q_j / |q|))`` with ``p`` the
    feature's sums over the rows of class c plus ``alpha``, ``q`` over the other rows; features
    with negative values (scaled numbers of other columns) keep a ratio of 1.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1, 0], [2, 0], [0, 1], [0, 3]], dtype=float)
    >>> model = NBSVMClassifier(C=10.0).fit(X, np.array([0, 0, 1, 1]))
    >>> model.predict(X).tolist()
    [0, 0, 1, 1]
    """

    def __init__(self, *, C: float = 10.0, alpha: float = 1.0, seed: int = 0) -> None:
        self.C = C
        self.alpha = alpha
        self.seed = seed

    def fit(self, X: Any, y: np.ndarray) -> "NBSVMClassifier":
        from sklearn.linear_model import LogisticRegression

        X = sp.csr_matrix(X, dtype=np.float64)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        positive = X.min(axis=0).toarray().ravel() >= 0
        targets = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        self.ratios_, self.models_ = [], []
        for c in targets:
            mask = y == c
            p = self.alpha + np.asarray(X[mask].sum(axis=0)).ravel()
            q = self.alpha + np.asarray(X[~mask].sum(axis=0)).ravel()
            ratio = np.ones(X.shape[1])
            ratio[positive] = np.log((p[positive] / p[positive].sum()) / (q[positive] / q[positive].sum()))
            model = LogisticRegression(C=self.C, solver="liblinear", max_iter=3000, random_state=self.seed)
            model.fit(X @ sp.diags(ratio), mask.astype(int))
            self.ratios_.append(ratio)
            self.models_.append(model)
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        X = sp.csr_matrix(X, dtype=np.float64)
        scores = np.column_stack([m.decision_function(X @ sp.diags(r)) for m, r in zip(self.models_, self.ratios_)])
        return scores.ravel() if len(self.classes_) == 2 else scores

    def predict_proba(self, X: Any) -> np.ndarray:
        from scipy.special import expit

        p = expit(self.decision_function(X))
        if len(self.classes_) == 2:
            return np.column_stack([1 - p, p])
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def coefficients(self) -> np.ndarray:
        """Weights on the unscaled features, one row per model: the model's weights times the ratios."""
        return np.vstack([m.coef_.ravel() * r for m, r in zip(self.models_, self.ratios_)])


def log_odds_weights(estimator: Any) -> np.ndarray | None:
    """A fitted text model's weight on each input feature, one row per class in log-odds (one
    row, for the positive class, with two classes; the value for a regressor), so that a
    document's contribution of feature j is ``weight[j] * x[j]``; None for other estimators.

    For the calibrated SVM the weights are the SVM's times Platt's slope (its log-odds are
    ``-(a * score + b)``).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression, Ridge

    if isinstance(estimator, (LogisticRegression, Ridge)):
        return np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    if isinstance(estimator, NBSVMClassifier):
        return estimator.coefficients()
    if isinstance(estimator, CalibratedClassifierCV) and len(estimator.calibrated_classifiers_) == 1:
        calibrated = estimator.calibrated_classifiers_[0]
        coef = np.atleast_2d(np.asarray(calibrated.estimator.coef_, dtype=np.float64))
        slopes = np.array([-c.a_ for c in calibrated.calibrators])
        return coef * slopes[:, None]
    return None
