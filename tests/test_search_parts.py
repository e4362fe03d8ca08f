import numpy as np
import pytest

from labcoat.data.split import choose_resampling
from labcoat.errors import ConfigError
from labcoat.evaluate.metrics import get_metric
from labcoat.models import FAMILIES
from labcoat.search.budget import parse_budget
from labcoat.evaluate.ensemble import select_ensemble
from labcoat.search.study import plan_portfolio
from labcoat.tasks import infer_schema


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("90", 90), (2.5, 2.5)])
def test_budget_strings(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["soon", "5 parsecs", "-3", 0])
def test_bad_budgets_are_explained(text):
    with pytest.raises(ConfigError, match="Budget"):
        parse_budget(text)


def test_resampling_by_size():
    small = choose_resampling(np.array([0, 1] * 200), stratify=True)
    assert len(small.folds) == 15 and "stratified" in small.description
    medium = choose_resampling(np.arange(10_000, dtype=float), stratify=False)
    assert len(medium.folds) == 5 and medium.validated_rows().all()
    large = choose_resampling(np.array([0, 1] * 60_000), stratify=True)
    assert large.is_holdout and len(large.folds[0][1]) == 24_000
    for train, valid in small.folds:
        assert not set(train) & set(valid)


def test_ensemble_selection_finds_the_complementary_pair():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    noise = rng.normal(size=500)
    a, b, bad = y + noise, y - noise, y + 3 * rng.normal(size=500)
    weights = select_ensemble([bad, a, b], y, get_metric("rmse", "regression"))
    assert weights[0] == 0 and weights[1] == pytest.approx(0.5, abs=0.1) and weights.sum() == pytest.approx(1)


def test_ensemble_selection_ignores_holdout_gaps():
    y = np.array([0.0, 1.0, 2.0, 3.0])
    a = np.array([np.nan, 1.0, 2.0, 3.0])
    b = np.array([np.nan, 5.0, 5.0, 5.0])
    assert select_ensemble([b, a], y, get_metric("rmse", "regression"), rounds=4).tolist() == [0, 1]


def test_portfolio_starts_with_each_familys_best_default():
    plan = plan_portfolio(list(FAMILIES.values()), "classifier")
    first = [f.name for f, _ in plan[: len(FAMILIES)]]
    assert first == list(FAMILIES)
    assert len(plan) > len(FAMILIES)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_portfolio_entry_lies_in_the_search_space(name):
    import optuna

    family = FAMILIES[name]
    for task in ("classifier", "regressor"):
        for params in family.portfolio(task):
            fixed = optuna.trial.FixedTrial({f"{name}.{k}": v for k, v in params.items()})
            assert family.search_space(fixed, task) == params


@pytest.mark.parametrize("kind", ["RandomForestClassifier", "ExtraTreesRegressor"])
def test_flat_forest_predicts_like_the_forest(kind):
    import sklearn.ensemble as ensemble

    from labcoat.models._forest import FlatForest

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + rng.normal(size=300) > 0).astype(int)
    forest = getattr(ensemble, kind)(n_estimators=20, random_state=0, min_samples_leaf=3).fit(X, y)
    rows = X[:40]
    expected = forest.predict_proba(rows) if hasattr(forest, "classes_") else forest.predict(rows)[:, None]
    assert np.allclose(FlatForest(forest).predict(rows), expected)


@pytest.mark.parametrize("style", ["linear", "tree", "catboost", "neural"])
def test_fast_transform_equals_the_column_transformer(style):
    import pandas as pd
    import scipy.sparse as sp

    from conftest import mixed_frame
    from labcoat.features.build import build_preprocessor, transform

    for frame in (mixed_frame(120), mixed_frame(120)[["age", "income", "churn"]]):
        schema = infer_schema(frame, "churn")
        prepared = schema.prepare(frame)
        pre = build_preprocessor(schema, style).fit(prepared, (frame["churn"] == "yes").astype(int))
        for rows in (prepared.head(1), prepared):
            fast, slow = transform(pre, rows), pre.transform(rows)
            assert type(fast) is type(slow) and isinstance(fast, (np.ndarray, sp.csr_matrix))
            fast = fast.toarray() if sp.issparse(fast) else fast
            slow = slow.toarray() if sp.issparse(slow) else slow
            assert pd.DataFrame(fast).equals(pd.DataFrame(slow))


def _mixed_codes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two categorical code columns (first) and three numeric ones, with NaN; a signal in both."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 12, size=(n, 2)).astype(float)
    numbers = rng.normal(size=(n, 3))
    X = np.column_stack([codes, numbers])
    X[rng.random(X.shape) < 0.08] = np.nan
    signal = np.isin(np.nan_to_num(X[:, 0], nan=-1), [1, 4, 7]) * 1.5 + np.nan_to_num(X[:, 2])
    return X, signal + rng.normal(scale=0.5, size=n)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_fast_single_row_paths_predict_like_the_libraries(task):
    """HistGB's flat walker and LightGBM's bare booster equal the scikit-learn wrappers' output,
    on rows with NaN, unseen categories (20) and negative codes."""
    from labcoat.models import FAMILIES
    from labcoat.models._base import BuildContext, predict_output

    X, signal = _mixed_codes(600)
    y = signal if task == "regression" else np.digitize(signal, np.quantile(
        signal, [0.5] if task == "binary" else [0.33, 0.66]))
    rows = X[:40].copy()
    rows[0, 0], rows[1, 1], rows[2, 0] = 20, -1, np.nan
    n_classes = None if task == "regression" else len(np.unique(y))
    for name in ("hist_gb", "lightgbm"):
        family = FAMILIES[name]
        kind = "regressor" if task == "regression" else "classifier"
        context = BuildContext(kind=kind, seed=0, n_jobs=1, n_classes=n_classes or 0,
                               native_categoricals=2, n_rows=len(X))
        model = family.build({**family.portfolio(kind)[0]}, context)
        family.fit(model, X, y)
        fast = family.predict(model, rows, kind, n_classes=n_classes, threads=1)
        slow = predict_output(model, rows, kind, n_classes)
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12, err_msg=name)
        if name == "hist_gb":  # the walker was used, and met categorical splits
            from labcoat.models.hist_gb import _flat

            assert _flat(model) is not None and _flat(model).trees.any_categorical
