"""The mlp family and its PyTorch estimators (``labcoat.models.torch_mlp``); skipped without torch,
except the checks of what happens when torch is missing."""

import pickle
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import labcoat
from labcoat.errors import ConfigError, LabcoatNotice, ModelFileError
from labcoat.models import FAMILIES, BuildContext

from conftest import mixed_frame


@pytest.fixture(scope="module")
def mlp():
    """The estimators' module (skips the test when PyTorch is not installed)."""
    pytest.importorskip("torch", reason="PyTorch is in the 'torch' extra")
    from labcoat.models import torch_mlp

    return torch_mlp


def table(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two category-code columns (first; with NaN) and three numbers; a signal in both kinds."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 6, size=(n, 2)).astype(float)
    codes[rng.random(codes.shape) < 0.05] = np.nan
    numbers = rng.normal(size=(n, 3))
    signal = np.isin(codes[:, 0], [1, 4]) * 2.0 + numbers[:, 0] - 0.5 * numbers[:, 1] ** 2
    return np.column_stack([codes, numbers]), signal + rng.normal(scale=0.3, size=n)


def fast(cls, **params):
    return cls(n_categoricals=2, width=64, depth=2, max_epochs=25, learning_rate=3e-3, batch_size=64,
               **params)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_predictions_have_the_tasks_shape(mlp, task):
    X, signal = table()
    if task == "regression":
        model = fast(mlp.MLPRegressor).fit(X, signal)
        out = model.predict(X)
        assert out.shape == (len(X),) and model.score(X, signal) > 0.7
        return
    y = np.digitize(signal, np.quantile(signal, [0.5] if task == "binary" else [0.33, 0.66]))
    labels = np.array(["low", "mid", "high"])[y]
    model = fast(mlp.MLPClassifier).fit(X, labels)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), len(set(labels))) and np.allclose(proba.sum(axis=1), 1)
    assert list(model.classes_) == sorted(set(labels))
    assert (model.predict(X) == model.classes_[proba.argmax(axis=1)]).all()
    assert model.score(X, labels) > 0.7


def test_unseen_rare_and_missing_codes_predict(mlp):
    X, signal = table()
    model = fast(mlp.MLPRegressor).fit(X, signal)
    rows = np.tile(X[:1], (5, 1))
    rows[:, 0] = [np.nan, 99, -1, 1.5, 3]
    rows[:, 1] = [5, 0, np.nan, np.inf, 2]
    assert np.isfinite(model.predict(rows)).all()
    # 0 missing, 1 unknown (out of range, negative, not whole, infinite), else the column's own map
    codes = model._inputs(rows)[0]
    assert codes[:, 0].tolist() == [0, 1, 1, 1, model.code_maps_[0][3]]
    assert codes[:, 1].tolist() == [model.code_maps_[1][5], model.code_maps_[1][0], 0, 1, model.code_maps_[1][2]]
    assert min(model.code_maps_[0][3], model.code_maps_[1][0]) >= 2
    assert model.predict(rows[:2]).tolist() != [model.predict(rows[:1])[0]] * 2  # missing ≠ unknown


def test_a_seed_gives_the_same_model_and_leaves_torch_as_it_was(mlp):
    import torch

    X, signal = table()
    threads, state = torch.get_num_threads(), torch.random.get_rng_state()
    a = fast(mlp.MLPRegressor, random_state=3, n_jobs=1).fit(X, signal).predict(X)
    b = fast(mlp.MLPRegressor, random_state=3, n_jobs=1).fit(X, signal).predict(X)
    c = fast(mlp.MLPRegressor, random_state=4, n_jobs=1).fit(X, signal).predict(X)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert torch.get_num_threads() == threads and torch.equal(torch.random.get_rng_state(), state)


def test_early_stopping_keeps_the_best_epoch(mlp):
    X, _ = table(300)
    noise = np.random.default_rng(1).normal(size=300)  # nothing to learn: validation loss rises
    model = mlp.MLPRegressor(n_categoricals=2, width=64, max_epochs=200, patience=4, learning_rate=1e-2)
    model.fit(X[:200], noise[:200], X_valid=X[200:], y_valid=noise[200:])
    assert model.n_epochs_ < 200 and model.best_epoch_ == model.n_epochs_ - 4 and not model.stopped_
    fixed = mlp.MLPRegressor(n_categoricals=2, width=64, max_epochs=200, epochs=7).fit(X, noise)
    assert fixed.n_epochs_ == fixed.best_epoch_ == 7


def test_the_deadline_stops_training(mlp):
    X, signal = table(2000)
    family = FAMILIES["mlp"]
    context = BuildContext(kind="regressor", n_classes=0, seed=0, n_jobs=1, native_categoricals=2)
    model = family.build({**family.portfolio("regressor")[0], "epochs": 10_000}, context)
    started = time.monotonic()
    outcome = family.fit(model, X, signal, deadline=started + 0.5)
    assert outcome.stopped and time.monotonic() - started < 1.5
    assert np.isfinite(model.predict(X[:3])).all()
    assert family.refit_params({"width": 64}, 20) == {"width": 64, "epochs": 22}


def test_a_fitted_estimator_pickles_as_arrays(mlp):
    X, signal = table()
    model = fast(mlp.MLPClassifier).fit(X, signal > 0)
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.predict_proba(X), model.predict_proba(X))
    assert isinstance(model.__getstate__()["network_"], dict)
    with pytest.raises(Exception, match="not fitted"):
        mlp.MLPClassifier().predict_proba(X)


def test_a_few_rows_are_predicted_in_numpy_as_pytorch_predicts_them(mlp):
    import torch

    X, signal = table()
    X[0, 0], X[1, 1] = 99.0, np.nan  # an unseen code and a missing one
    for model in (fast(mlp.MLPClassifier).fit(X, signal > 0), fast(mlp.MLPRegressor).fit(X, signal)):
        model = pickle.loads(pickle.dumps(model))  # a loaded model too
        rows = X[:mlp.SMALL_INPUT]
        with torch.inference_mode():
            expected = model.network_(*model._tensors(rows)).double().numpy()
        # float32 arithmetic in both, summed in another order: differences of a few 1e-7
        np.testing.assert_allclose(model._raw(rows), expected, rtol=0, atol=1e-5)
        np.testing.assert_allclose(model._raw(rows[:1]), expected[:1], rtol=0, atol=1e-5)


def fit_quietly(data, target, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        return labcoat.fit(data, target, quiet=True, track=False, **kwargs)


@pytest.fixture(scope="module")
def saved(mlp, tmp_path_factory):
    """A model of one mlp trial, and the folder it was saved to."""
    model = fit_quietly(mixed_frame(), "churn", trials=1, families=["mlp"])
    return model, model.save(tmp_path_factory.mktemp("mlp") / "model")


def test_a_saved_model_predicts_identically(saved, frame):
    model, path = saved
    assert model.members[0].family == "mlp" and model.members[0].style == "neural"
    expected = model.predict_proba(frame)
    loaded = labcoat.load(path)
    assert np.array_equal(loaded.predict_proba(frame), expected)
    one = loaded.predict_proba(frame.head(1))  # the few-row path: one thread, fast preprocessing
    np.testing.assert_allclose(one, expected[:1], rtol=0, atol=1e-6)


def test_missing_torch_is_explained(frame, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    assert FAMILIES["mlp"].missing_library() == "The mlp family needs PyTorch: pip install 'labcoat[torch]'."
    with pytest.raises(ConfigError, match=r"^The mlp family needs PyTorch: pip install 'labcoat\[torch\]'\.$"):
        fit_quietly(frame, "churn", trials=1, families=["linear", "mlp"])
    from labcoat.models import default_families

    assert "mlp" not in default_families() and "linear" in default_families()


def test_with_torch_installed_the_mlp_is_searched_by_default(mlp):
    from labcoat.models import default_families

    assert default_families()[-1] == "mlp"


def test_labcoat_imports_no_torch():
    code = "import sys, labcoat, labcoat.models; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_saved_model_names_its_extra_and_is_refused_without_torch(saved, monkeypatch):
    from labcoat.artifact import check_libraries

    _, path = saved
    assert f"labcoat[torch]=={labcoat.__version__}" in (path / "requirements.txt").read_text()
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelFileError, match=r"members of the mlp family\. The mlp family needs PyTorch"):
        labcoat.load(path)
    check_libraries(path, ["linear", "unknown"])  # families without a library to miss pass


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_merged_networks_predict_the_weighted_sum_of_each(mlp, kind):
    """An MLP member with its fold models, and another member of another layout, predict a few
    rows together (``MergedNetworks``: one matmul per layer over the stacked networks): the same
    as each network on its own, weighted; a network whose fold lacked a class spreads its
    probabilities over every class as ``align_classes`` does."""
    family = FAMILIES["mlp"]
    X, signal = table(300)
    y = np.digitize(signal, np.quantile(signal, [0.33, 0.66])) if kind == "classifier" else signal
    cls = mlp.MLPClassifier if kind == "classifier" else mlp.MLPRegressor
    networks = [fast(cls, random_state=seed).fit(X[rows], y[rows])
                for seed, rows in enumerate([np.arange(300), np.arange(240), np.arange(60, 300)])]
    networks.append(cls(n_categoricals=2, width=32, depth=1, max_epochs=5).fit(X, y))  # another layout
    if kind == "classifier":  # a fold without class 2
        networks.append(fast(cls).fit(X[y != 2], y[y != 2]))
        assert list(networks[-1].classes_) == [0, 1]
    weights = [0.3, 0.1, 0.1, 0.35, 0.15][:len(networks)]
    merged = family.merge(networks, weights, kind, 3 if kind == "classifier" else None)
    assert merged is not None and len(merged.stacks) == (3 if kind == "classifier" else 2)
    rows = X[:40].copy()
    rows[0, 0], rows[1, 1], rows[2, 2] = 99.0, np.nan, np.nan  # an unseen code, missing values
    for part in (rows[:1], rows):
        expected = sum(w * family.predict(n, part, kind, n_classes=3 if kind == "classifier" else None, threads=1)
                       for n, w in zip(networks, weights))
        # float32 arithmetic in both, the products summed in another order
        np.testing.assert_allclose(merged(part), expected, rtol=0, atol=1e-5)
    assert merged(X[:mlp.SMALL_INPUT + 1]) is None  # more rows: each network on its own, in PyTorch
    assert merged(X[:3, :4]) is None  # not the networks' input
