"""A few rows (≤ 64) take fast paths through prediction (``Schema.prepare_columns`` → SmallFrame,
``features.build`` plans, the families' bare predictors). Train/serve skew is the worst bug a
serving path can have, so every result here is compared with the general path on the same
rows: the general path is forced by setting every small-input threshold below zero, and, as a
check that needs no knowledge of those thresholds, by padding the rows past 64.
"""

from __future__ import annotations

import datetime as dt
import pickle
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import mixed_frame, shared_dataset
from labcoat.data import schema as schema_module
from labcoat.data.small_frame import SmallFrame
from labcoat.errors import LabcoatNotice
from labcoat.features import build as build_module
from labcoat.features import transformers as transformers_module
from labcoat.features.build import build_preprocessor, native_categorical_count, transform
from labcoat.model import Member, Model
from labcoat.models import FAMILIES
from labcoat.models._base import BuildContext, predict_output
from labcoat.tasks import get_task, infer_schema

#: Modules holding a small-input threshold, and its name.
_THRESHOLDS = [(schema_module, "_SMALL"), (transformers_module, "_SMALL"),
               ("labcoat.models.lightgbm", "SMALL_INPUT"), ("labcoat.models.linear", "SMALL_INPUT"),
               ("labcoat.models.hist_gb", "SMALL_INPUT"), ("labcoat.models._forest", "SMALL_INPUT"),
               ("labcoat.models.xgboost", "SMALL_INPUT"), ("labcoat.models.catboost", "SMALL_INPUT"),
               ("labcoat.models.knn", "SMALL_INPUT"), ("labcoat.model", "SMALL_INPUT")]


@contextmanager
def general_path() -> Iterator[None]:
    """Every fast path off: what the same rows give when they are not "a few"."""
    import importlib

    with pytest.MonkeyPatch.context() as mp:
        for module, name in _THRESHOLDS:
            module = importlib.import_module(module) if isinstance(module, str) else module
            assert hasattr(module, name), (module, name)
            mp.setattr(module, name, -1)
        yield


# ---------------------------------------------------------------------- data and models
def rich_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """conftest's mixed frame plus what it lacks: a categorical above 64 values (ordinal codes,
    target encoding), a small integer categorical, a numpy boolean, datetimes with hours, and
    a multiclass and a regression target."""
    rng = np.random.default_rng(seed)
    frame = mixed_frame(n, seed)
    frame["city"] = [f"c{v:02d}" for v in rng.integers(0, 80, n)]
    frame["visits"] = rng.integers(0, 7, n)
    frame["vip"] = rng.random(n) < 0.3
    frame["score"] = np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n))
    frame["last_seen"] = (pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s")
                          ).strftime("%Y-%m-%d %H:%M:%S")
    signal = (frame["age"] - 50) / 10 + frame["visits"] - 3 + frame["vip"] * 1.5
    frame["tier"] = np.digitize(signal, np.quantile(signal, [0.33, 0.66]))
    frame["spend"] = signal * 10 + rng.normal(0, 2, n)
    return frame


TARGETS = {"churn": "binary", "tier": "multiclass", "spend": "regression"}


def build_model(frame: pd.DataFrame, target: str, families: dict[str, dict[str, Any]],
                threshold: float | None = None) -> Model:
    """A Model fitted as ``train._refit`` fits one (one preprocessor per style, members on all
    rows), with small estimators so that the file stays quick."""
    data = frame.drop(columns=[t for t in TARGETS if t != target and t in frame])
    schema = infer_schema(data, target)
    prepared = schema.prepare(data, warn=False)
    y = get_task(schema.task).encode_target(data[target], schema.classes)
    n_classes = len(schema.classes or ())
    preprocessors, members = {}, []
    for i, (name, params) in enumerate(families.items()):
        family = FAMILIES[name.split(":")[0]]
        if family.style not in preprocessors:
            preprocessors[family.style] = build_preprocessor(schema, family.style).fit(prepared, y)
        X = transform(preprocessors[family.style], prepared)
        kind = get_task(schema.task).estimator_type
        context = BuildContext(kind=kind, n_classes=n_classes, seed=0, n_jobs=1,
                               native_categoricals=native_categorical_count(schema, family.style),
                               n_rows=len(data))
        estimator = family.build({**family.portfolio(kind)[0], **params}, context)
        family.fit(estimator, X, y)
        members.append(Member(family=family.name, trial=i, weight=1.0 / len(families), style=family.style,
                              estimator=estimator, params=params, preprocessor=family.style))
    return Model(schema=schema, members=members, preprocessors=preprocessors, leaderboard=pd.DataFrame(),
                 info={"metric": "roc_auc" if schema.classes is not None else "rmse", "n_jobs": 1},
                 threshold=threshold)


ALL_STYLES = {"lightgbm": {"n_estimators": 25}, "linear": {}, "catboost": {"iterations": 25}}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return rich_frame()


@pytest.fixture(scope="module")
def models(frame: pd.DataFrame) -> dict[str, Model]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "binary": build_model(frame, "churn", ALL_STYLES),
            "binary_threshold": build_model(frame, "churn", {"linear": {"C": 0.3}}, threshold=0.35),
            "multiclass": build_model(frame, "tier", ALL_STYLES),
            "regression": build_model(frame, "spend", {**ALL_STYLES, "linear:elastic": {"alpha": 0.5, "l1_ratio": 0.5}}),
        }


# ---------------------------------------------------------------------- comparison
def _outcome(call: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 - the error itself is compared
            result = error
    # labcoat's own notices (libraries' deprecation warnings are not the model's behaviour)
    return result, [str(w.message) for w in caught if issubclass(w.category, LabcoatNotice)]


def assert_same_predictions(model: Model, rows: pd.DataFrame, *, pad: bool = True,
                            atol: float = 1e-12, value_atol: float = 1e-12) -> pd.DataFrame | None:
    """``predict_frame`` of ``rows`` equals the general path's: labels exactly, regression values
    to ``value_atol``, probabilities to ``atol`` (1e-12: BLAS may sum a dense product in another
    order for another row count), the same warnings, or the same error (type and message)."""
    assert len(rows) <= 64
    fast, fast_warnings = _outcome(lambda: model.predict_frame(rows))
    with general_path():
        slow, slow_warnings = _outcome(lambda: model.predict_frame(rows))
    assert fast_warnings == slow_warnings
    if isinstance(slow, Exception) or isinstance(fast, Exception):
        assert type(fast) is type(slow), (fast, slow)
        assert str(fast) == str(slow)
        return None
    _assert_equal_tables(fast, slow, atol, value_atol)
    if pad:  # rows past 64 take the general path whatever the thresholds are
        padded = pd.concat([rows, rows.iloc[[0] * (65 - len(rows) + 3)]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _assert_equal_tables(fast, model.predict_frame(padded).iloc[:len(rows)].reset_index(drop=True),
                                 atol, value_atol)
    return fast


def _assert_equal_tables(fast: pd.DataFrame, slow: pd.DataFrame, atol: float = 1e-12,
                         value_atol: float = 1e-12) -> None:
    assert list(fast.columns) == list(slow.columns)
    assert (fast.dtypes == slow.dtypes).all()
    first = fast.columns[0]
    if fast[first].dtype.kind == "f":  # regression values
        np.testing.assert_allclose(fast[first], slow[first], rtol=0, atol=value_atol)
    else:
        np.testing.assert_array_equal(fast[first].to_numpy(), slow[first].to_numpy())
    np.testing.assert_allclose(fast.iloc[:, 1:].to_numpy(float), slow.iloc[:, 1:].to_numpy(float), rtol=0, atol=atol)


def assert_same_preparation(model: Model, rows: pd.DataFrame) -> None:
    """The prepared frame and every style's model input are bit for bit the general ones."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = model.schema.prepare_columns(rows)
        assert isinstance(small, SmallFrame)
        with general_path():
            general = model.schema.prepare(rows)
            slow = {key: transform(pre, general) for key, pre in model.preprocessors.items()}
        again = model.schema.prepare(rows)
    pd.testing.assert_frame_equal(small.to_frame(), general)
    pd.testing.assert_frame_equal(again, general)
    for key, pre in model.preprocessors.items():
        fast = transform(pre, small)
        assert build_module._small_plan(pre) is not None
        assert type(fast) is type(slow[key]) and fast.shape == slow[key].shape
        a, b = (fast.toarray(), slow[key].toarray()) if sp.issparse(fast) else (fast, slow[key])
        assert pd.DataFrame(a).equals(pd.DataFrame(b)), key  # NaN == NaN, object columns too


# ---------------------------------------------------------------------- tests
@pytest.mark.parametrize("kind", ["binary", "binary_threshold", "multiclass", "regression"])
def test_training_rows_predict_as_the_general_path(models, frame, kind):
    model = models[kind]
    for rows in (frame.head(1), frame.iloc[5:12], frame.iloc[100:164], frame.sample(9, random_state=1)):
        assert_same_predictions(model, rows)
        assert_same_preparation(model, rows)


def messy_records() -> list[dict[str, Any]]:
    """Rows as a request may send them: missing values of every kind, unseen categories, numbers
    as strings, booleans spelled many ways, dates in many formats, extreme numbers."""
    base = rich_frame(1).drop(columns=list(TARGETS)).iloc[0].to_dict()
    edits = [
        {},
        {"age": None, "income": np.nan, "plan": None, "autopay": None, "signup": None, "note": None,
         "city": None, "visits": None, "vip": None, "score": None, "last_seen": None},
        {"plan": "platinum", "city": "atlantis", "visits": 99},              # unseen categories
        {"age": "42", "income": " 3.5e4 ", "score": "", "visits": "3"},      # numbers as strings
        {"age": 42, "income": 35000, "visits": 3.0, "score": True},         # ints, floats, bools
        {"autopay": "YES"}, {"autopay": " no "}, {"autopay": True}, {"autopay": 1}, {"autopay": 0.0},
        {"autopay": "maybe"}, {"vip": "yes"}, {"vip": 1}, {"vip": "False"}, {"vip": np.nan},
        {"signup": "2021/03/04"}, {"signup": "03/04/2021"}, {"signup": "2021-03-04T10:30:00"},
        {"signup": "2021-03-04 10:30:00+02:00"}, {"signup": "March 4, 2021"}, {"signup": "1969-07-20"},
        {"last_seen": "2024-02-29 23:59:59.999"}, {"last_seen": "0850-01-01"}, {"last_seen": "9999-12-31 23:00"},
        {"note": ""}, {"note": 12345}, {"note": "Ünïcödé — great service, great!"}, {"note": "cancel " * 50},
        {"age": 1e308, "income": -1e308, "score": 1e-308}, {"age": -0.0, "income": 0.0},
        {"plan": 3}, {"plan": 3.0}, {"city": ""}, {"plan": "pro "}, {"city": " c01 "}, {"city": 7},
    ]
    return [{**base, **e} for e in edits]


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_messy_requests_predict_as_the_general_path(models, kind):
    model = models[kind]
    records = messy_records()
    for record in records:  # one row at a time, as the service sees them
        assert_same_predictions(model, pd.DataFrame.from_records([record]), pad=False)
    rows = pd.DataFrame.from_records(records)
    assert assert_same_predictions(model, rows) is not None
    assert_same_preparation(model, rows)


@pytest.mark.parametrize("edit", [
    {"age": "lots"}, {"age": "1_000"}, {"income": " nan "}, {"income": "١٢٣"}, {"income": "inf"},
    {"signup": "not a date"}, {"signup": ""}, {"signup": 20210304}, {"age": float("inf")},
    {"age": -float("inf")}, {"note": pd.NA}, {"age": pd.NA}, {"plan": pd.NaT}, {"autopay": pd.NA},
])
def test_bad_values_fail_as_in_the_general_path(models, edit):
    record = {**messy_records()[0], **edit}
    rows = pd.DataFrame.from_records([record, messy_records()[2]])
    for kind in ("binary", "regression"):
        assert_same_predictions(models[kind], rows, pad=False)
        assert_same_predictions(models[kind], rows.head(1), pad=False)


def test_column_problems_fail_or_warn_as_in_the_general_path(models, frame):
    model = models["binary"]
    assert_same_predictions(model, frame.head(3).drop(columns=["age", "plan"]), pad=False)
    assert_same_predictions(model, frame.head(3).assign(unknown=1))
    reordered = frame.head(5)[list(reversed(frame.columns))]
    assert_same_predictions(model, reordered)
    assert_same_predictions(model, frame.head(4).set_axis([10, 3, 7, 7]))
    assert_same_predictions(model, frame.head(0), pad=False)


@pytest.mark.parametrize("variant", ["nullable", "objects", "strings", "categories", "datetimes", "utc"])
def test_column_dtypes_predict_as_the_general_path(models, frame, variant):
    rows = frame.iloc[20:30].copy()
    rows.iloc[0, rows.columns.get_loc("age")] = np.nan
    if variant == "nullable":
        rows = rows.convert_dtypes()
    elif variant == "objects":
        rows = rows.astype(object)
    elif variant == "strings":
        rows = rows.astype(str)
    elif variant == "categories":
        rows = rows.astype({"plan": "category", "city": "category", "visits": "category"})
    elif variant == "datetimes":
        rows["signup"] = pd.to_datetime(rows["signup"]).astype("datetime64[s]")
        rows.loc[rows.index[1], "signup"] = pd.NaT
    else:
        rows["last_seen"] = pd.to_datetime(rows["last_seen"]).dt.tz_localize("Europe/Paris")
    for kind in ("binary", "multiclass", "regression"):
        assert_same_predictions(models[kind], rows)
        assert_same_predictions(models[kind], rows.head(1), pad=False)


@pytest.mark.parametrize("family, params", [("random_forest", {"n_estimators": 15}),
                                            ("extra_trees", {"n_estimators": 15}),
                                            ("hist_gb", {"max_iter": 15}), ("xgboost", {"n_estimators": 15}),
                                            ("knn", {})])
@pytest.mark.parametrize("target", list(TARGETS))
def test_other_families_predict_as_the_general_path(frame, family, params, target):
    """Their preprocessing is the styles' above; their own few-row predictors (flat forests,
    which once accepted 1e308 where the forest refuses it as float32) must agree too."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(frame, target, {family: params})
    messy = pd.DataFrame.from_records(messy_records())
    extreme = messy[messy["age"] == 1e308]
    # XGBoost's probabilities are float32, from its expf; the flat walker's margins are its
    # own to the bit, the probabilities to a float32 rounding (see models/_flat_xgboost.py).
    estimator = model.members[0].estimator
    atol = knn_tolerance(estimator) if family == "knn" else 2e-7 if family == "xgboost" else 1e-12
    # k-NN's value is its neighbours' weighted mean: weight shares moved by ``atol`` move it by at
    # most ``atol`` times the training targets' range (CI once saw 8.8e-06 on a value of 48.9).
    value_atol = atol * float(np.ptp(estimator._y)) if family == "knn" and TARGETS[target] == "regression" else 1e-12
    for rows in (frame.head(1), frame.iloc[30:64], messy, messy.iloc[[0, 1, 2]], extreme):
        assert_same_predictions(model, rows, atol=atol, value_atol=value_atol)


@pytest.mark.parametrize("target", list(TARGETS))
def test_merged_forests_predict_as_the_general_path(frame, target):
    """A model's forests on one input are walked together (Family.merge), weights folded into
    their leaf values: the same answers as each forest on its own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(frame, target, {"random_forest": {"n_estimators": 12}, "linear": {},
                                            "extra_trees": {"n_estimators": 9, "min_samples_leaf": 3}})
    model.members[0].weight, model.members[2].weight = 0.5, 0.2  # unequal weights
    messy = pd.DataFrame.from_records(messy_records())
    for rows in (frame.head(1), frame.iloc[30:64], messy, messy[messy["age"] == 1e308]):
        assert_same_predictions(model, rows)
    assert [[m.family for m in members] for _, _, members in model._merged] == [["random_forest", "extra_trees"]]
    model.members[2].weight = 0.3  # the merge follows the members
    assert_same_predictions(model, frame.head(2))


#: Boosters merged per family. scikit-learn's histogram boosting recodes categorical columns
#: by each model's encoder: merged where every model codes them alike (all categories seen).
MERGED_BOOSTERS = {"mixed": {"lightgbm": {"n_estimators": 25}, "lightgbm:2": {"n_estimators": 15, "num_leaves": 7},
                             "xgboost": {"n_estimators": 15}, "linear": {}},
                   "catboost": {"catboost": {"iterations": 25}, "catboost:2": {"iterations": 15, "depth": 3},
                                "xgboost": {"n_estimators": 15}},
                   "few categories": {"hist_gb": {"max_iter": 20}, "hist_gb:2": {"max_iter": 10, "max_leaf_nodes": 7},
                                      "xgboost": {"n_estimators": 15}}}


@pytest.mark.parametrize("columns", list(MERGED_BOOSTERS))
@pytest.mark.parametrize("target", list(TARGETS))
def test_merged_boosters_predict_as_the_general_path(frame, target, columns):
    """A model's boosters of one family, with their fold models, are walked together
    (Family.merge), each booster's margin through its own link: the same answers as each
    booster on its own, a fold model that saw fewer classes included (CatBoost's merged walk
    answers once each model was checked against CatBoost, from the second rows on)."""
    from labcoat.models._merged_boosters import MergedBoosters
    from labcoat.models._merged_catboost import MergedCatBoost

    if columns == "few categories":
        frame = frame[["age", "score", "visits", *TARGETS]]
    families = MERGED_BOOSTERS[columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(frame, target, families)
    data = frame.drop(columns=[t for t in TARGETS if t != target])
    y = get_task(TARGETS[target]).encode_target(data[target], model.schema.classes)
    rng = np.random.default_rng(0)
    for member in (model.members[0], model.members[2]):  # fold models, one of them without class 2
        family = FAMILIES[member.family]
        X = transform(model.preprocessors[member.preprocessor], model.schema.prepare(data, warn=False))
        context = BuildContext(kind=get_task(TARGETS[target]).estimator_type, n_classes=len(model.schema.classes or ()),
                               seed=1, n_jobs=1, native_categoricals=native_categorical_count(model.schema, family.style),
                               n_rows=len(y))
        for rows in (rng.random(len(y)) < 0.8, (y != 2) if target == "tier" else rng.random(len(y)) < 0.8):
            estimator = family.build({**family.portfolio(context.kind)[0], **member.params}, context)
            family.fit(estimator, X[rows], y[rows])
            member.bag.append(estimator)
    model.members[0].weight, model.members[1].weight = 0.4, 0.1  # unequal weights
    messy = pd.DataFrame.from_records(messy_records())[data.columns.drop(target)]
    # XGBoost's outputs are float32; the merged walk sums its margins in float64
    atol, value_atol = 2e-7, 1e-6 * float(np.abs(frame["spend"]).max())
    for rows in (frame.head(1), frame.iloc[30:64], messy, messy[messy["age"] == 1e308]):
        assert_same_predictions(model, rows, atol=atol, value_atol=value_atol)
    merged = {members[0].family: (walk, [m.trial for m in members]) for _, walk, members in model._merged}
    boosters = [name.split(":")[0] for name in families if name != "linear"]
    assert {family: trials for family, (_, trials) in merged.items()} == {
        family: [i for i, name in enumerate(boosters) if name == family] for family in boosters}
    assert all(isinstance(walk, MergedCatBoost if family == "catboost" else MergedBoosters)
               for family, (walk, _) in merged.items())
    assert len(merged["xgboost"][0].walks) == (2 if target == "tier" else 1)  # the fold without class 2 apart
    assert getattr(merged[boosters[0]][0], "ready", True)  # CatBoost's answered the later rows


def test_flat_lightgbm_routes_as_the_booster():
    """The walker's LightGBM routing equals the booster's raw scores on rows the probe rows do
    not hold: missing values in numeric splits and in categorical ones that saw none in training
    (right, though code 0 goes left), codes outside every set,
    negative and fractional codes, values within LightGBM's zero threshold, numbers beyond the
    1e300 the dump writes for an infinite threshold."""
    from labcoat.models._flat_lightgbm import ZERO, lightgbm_additive, margin

    rng = np.random.default_rng(5)
    n = 900
    X = np.column_stack([rng.integers(0, 9, n), rng.normal(size=(n, 3))]).astype(float)
    X[:, 1:][rng.random((n, 3)) < 0.1] = np.nan  # none in the categorical column: its nodes' missing_type is None
    X[rng.random(n) < 0.2, 2] = 0.0
    # missing values of column 3 matter: a split of them against all numbers, its threshold 1e300
    # in the dump (infinite in the booster)
    signal = np.isin(np.nan_to_num(X[:, 0], nan=-1), [0, 2, 5]) + np.nan_to_num(X[:, 1]) + (X[:, 2] == 0) \
        + 2 * np.isnan(X[:, 3])
    for kind, y in (("classifier", (signal > 0.7).astype(int)), ("classifier", np.digitize(signal, [0.3, 1.2])),
                    ("regressor", signal)):
        family = FAMILIES["lightgbm"]
        context = BuildContext(kind=kind, n_classes=len(np.unique(y)) if kind == "classifier" else 0, seed=0,
                               n_jobs=1, native_categoricals=1, n_rows=n)
        estimator = family.build({**family.portfolio(kind)[0], "n_estimators": 40, "min_child_samples": 5}, context)
        family.fit(estimator, X, y)
        model = lightgbm_additive(estimator)
        assert any(t.category is not None for t in model.trees)  # the categorical column split
        rows = np.vstack([X[:200], [[np.nan, ZERO, -ZERO, np.nan], [-1, 0, 0, 0], [40, np.nan, np.nan, np.nan],
                                    [2.7, -ZERO * 1.5, 1e300, -1e300], [1, 1, 1, 1e301], [1, 1, 1, np.inf]]])
        expected = estimator.booster_.predict(rows, raw_score=True).reshape(len(rows), -1)
        np.testing.assert_allclose(margin(model, rows), expected, rtol=1e-12, atol=1e-12)


def test_flat_trees_follow_a_refit_and_ignore_a_saved_walker(frame):
    """The flat trees are built on first use and kept beside the estimator, not in it: fitted
    again (forests grow by warm start), it gets new ones; a model saved when forests kept
    theirs in ``_labcoat_flat`` (another layout) still predicts as the general path."""
    from labcoat.models import _forest, hist_gb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(frame, "tier", {"random_forest": {"n_estimators": 10}, "hist_gb": {"max_iter": 10}})
    rows = frame.head(3)
    assert_same_predictions(model, rows)
    forest, boosting = (m.estimator for m in model.members)
    for estimator in (forest, boosting):  # nothing of the walkers would be pickled
        assert not any(isinstance(v, (_forest.FlatForest, hist_gb.FlatHistGB)) for v in vars(estimator).values())
    X = transform(model.preprocessors["tree"], model.schema.prepare(frame, warn=False))
    y = get_task("multiclass").encode_target(frame["tier"], model.schema.classes)
    forest.set_params(n_estimators=20)
    forest.fit(X, y)  # warm start: 10 more trees in the same list
    boosting.set_params(max_iter=20)
    boosting.fit(X, y)
    assert_same_predictions(model, rows)
    assert _forest._flat(forest).trees.n_trees == 20
    assert hist_gb._flat(boosting).rounds == 20
    old = _forest.FlatForest.__new__(_forest.FlatForest)
    old.__dict__.update(roots=np.zeros(1), left=np.zeros(1), depth=3)  # the old layout's fields
    forest._labcoat_flat = old
    reloaded = pickle.loads(pickle.dumps(model))
    assert_same_predictions(reloaded, rows)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_flat_xgboost_sums_margins_as_the_booster(task):
    """The flat XGBoost walker's margins equal the booster's bit for bit (float32 sums in its
    order), on rows with NaN, unseen, negative and huge categories and numbers beyond float32,
    also with early stopping's best iteration; its answers equal the booster's to float32."""
    from labcoat.models import xgboost as xgb_family

    rng = np.random.default_rng(3)
    n = 800
    X = np.column_stack([rng.integers(0, 12, n), rng.integers(0, 5, n), rng.normal(size=(n, 3))]).astype(float)
    X[rng.random(X.shape) < 0.08] = np.nan
    signal = np.isin(np.nan_to_num(X[:, 0], nan=-1), [1, 4, 7]) * 1.5 + np.nan_to_num(X[:, 2]) + rng.normal(0, 0.5, n)
    y = signal if task == "regression" else np.digitize(signal, np.quantile(
        signal, [0.5] if task == "binary" else [0.33, 0.66]))
    family = FAMILIES["xgboost"]
    kind = "regressor" if task == "regression" else "classifier"
    context = BuildContext(kind=kind, n_classes=0 if task == "regression" else len(np.unique(y)), seed=0,
                           n_jobs=1, native_categoricals=2, n_rows=n)
    rows = np.vstack([X[:60], [[20, -1, 1e308, -1e39, np.nan], [np.nan] * 5, [3.5, 2, 0, 0, 0]]])
    for valid in (None, (X[600:], y[600:])):
        model = family.build({**family.portfolio(kind)[0], "n_estimators": 60 if valid is None else 400}, context)
        family.fit(model, X[:600], y[:600], valid=valid)
        flat = xgb_family._flat(model)
        assert flat is not None and flat.trees.any_categorical
        booster = model.get_booster()
        margin = booster.inplace_predict(rows, iteration_range=xgb_family._rounds(model), predict_type="margin")
        assert np.array_equal(flat.margin(rows).reshape(np.shape(margin)), margin)
        for part in (rows[:1], rows[60:61], rows):
            fast = family.predict(model, part, kind, n_classes=context.n_classes or None, threads=1)
            slow = predict_output(model, part, kind, context.n_classes or None)
            np.testing.assert_allclose(fast, slow, rtol=0, atol=2e-7 if kind == "classifier" else 0)


def test_category_hash_is_catboosts():
    """CatBoost's models keep the hashes of categorical values (CityHash64's low 32 bits); its
    Pool hashes group ids with the same CityHash64 (numbers excepted, which it parses)."""
    import random
    import string

    import catboost

    from labcoat.models._cityhash import category_hash, city_hash64

    rng = random.Random(0)
    words = ["", "a", "yes", "__missing__", "Ünïcödé — ok", "1<=X<4", "日本語のテキスト"]
    words += ["".join(rng.choice(string.ascii_letters + " é/-") for _ in range(n)) for n in range(1, 300, 7)]
    words = [w for w in words if w and not w.strip().lstrip("-").isdigit()]
    expected = catboost.Pool(np.zeros((len(words), 1)), group_id=words).get_group_id_hash()
    assert [city_hash64(w.encode("utf-8")) for w in words] == [int(h) for h in expected]
    assert category_hash("education") == -2098509934 and category_hash("1") == 1121341681


@pytest.mark.parametrize("target", list(TARGETS))
def test_flat_catboost_equals_catboost(frame, target):
    """The flat CatBoost model gives CatBoost's answers (one-hot and CTR splits, NaN in numbers,
    unseen categories), and leaves to CatBoost what it cannot read (values not strings)."""
    from labcoat.models import catboost as catboost_family

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(frame, target, {"catboost": {"iterations": 40, "depth": 4}})
    estimator = model.members[0].estimator
    X = transform(model.preprocessors["catboost"], model.schema.prepare(frame.head(64), warn=False))
    X[3, 0], X[4, 1] = "never seen", "__missing__"
    kind = model.task.estimator_type
    fast = FAMILIES["catboost"].predict(estimator, X, kind, threads=1)
    flat = catboost_family._FLAT.get(estimator)
    assert flat is not None and flat.checked and flat.projections  # CTRs were read
    np.testing.assert_allclose(fast, catboost_family._native(estimator, X, kind, None, 1), rtol=0, atol=1e-12)
    numbers = X.copy()
    numbers[:, 0] = 7  # not strings: CatBoost's own conversion
    np.testing.assert_array_equal(FAMILIES["catboost"].predict(estimator, numbers, kind, threads=1),
                                  catboost_family._native(estimator, numbers, kind, None, 1))


def knn_tolerance(estimator: Any) -> float:
    """How far k-nearest neighbours' probabilities may move with the number of rows predicted.

    The few-row path (``models/knn.py``) sums squared differences, exact to rounding, and 0 for
    a query that duplicates a training row; scikit-learn's brute-force euclidean search (the
    general path's) computes ``d² = ‖x‖² − 2·x·y + ‖y‖²`` with BLAS (row norms by ``ddot``,
    ``x·y`` by ``dgemm``, which OpenBLAS hands to ``dgemv`` when one side has a single row), whose
    kernels round differently (the Haswell kernels use FMA), so for such a query the
    cancellation leaves ``|d²| ≲ 4γ‖x‖²`` (γ = n_features·ε) instead of 0: ``d ≲ 2√(γ)·max‖x‖``
    (seen: 8.4e-08 for 1 row, 0 for 68, under OpenBLAS's Haswell kernels; 0 for both under
    Sandybridge's). The few-row path hands a tie at the k-th neighbour within that rounding to
    scikit-learn, so both choose the same neighbours.
    With ``weights="distance"`` a neighbour at d = 0 takes all the weight, one at d > 0 the
    weight 1/d, so the other neighbours' share moves by at most ``d·(k − 1)/d_min``, d_min
    being the smallest distance between distinct training rows (seen: 5.3e-08 against this
    bound's ~1e-05). Distances far from 0 lose only relative ``~γ‖x‖²/d²`` (far below it)."""
    X = estimator._fit_X
    assert isinstance(X, np.ndarray), "a dense training matrix (the bound assumes BLAS distances)"
    gamma = X.shape[1] * np.finfo(np.float64).eps
    squared = np.einsum("ij,ij->i", X, X)
    d_zero = 2 * np.sqrt(gamma * squared.max())
    distances = np.sqrt(np.maximum(squared[:, None] - 2 * X @ X.T + squared[None, :], 0))
    d_min = distances[distances > 1e3 * d_zero].min()
    return max(1e-12, d_zero * (estimator.n_neighbors - 1) / d_min)


@pytest.mark.parametrize("name, target", [("titanic", "survived"), ("adult", "income")])
def test_shared_datasets_predict_as_the_general_path(name, target):
    data = shared_dataset(name)
    data = data.drop(columns=["alive"], errors="ignore").sample(min(len(data), 1500), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(data, target, {"lightgbm": {"n_estimators": 20}, "linear": {}})
    rows = data.iloc[:40].copy()
    rows.iloc[0, 1] = None  # a missing value in the first feature
    for part in (rows.head(1), rows.iloc[3:4], rows):
        assert_same_predictions(model, part)
        assert_same_preparation(model, part)


def test_the_benchmark_dataset_predicts_as_the_general_path():
    from labcoat.datasets import make_churn

    data = make_churn(600)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(data, "churned", {"lightgbm": {"n_estimators": 20}, "linear": {}})
    for part in (data.head(1), data.iloc[10:74]):
        assert_same_predictions(model, part)
        assert_same_preparation(model, part)


# ---------------------------------------------------------------------- the replaced library calls
def test_datetime_parts_equal_pandas_from_year_1_to_9999():
    from labcoat.features.transformers import DatetimeParts

    rng = np.random.default_rng(0)
    seconds = rng.integers(-62_000_000_000, 253_000_000_000, 64)
    nanos = rng.integers(-9 * 10**18, 9 * 10**18, 64)  # below the second, before 1970 too
    fitted = DatetimeParts().fit(pd.DataFrame({"d": pd.to_datetime(["2020-01-01 10:00", "2021-06-03 23:00"])}))
    assert fitted.parts_["d"] == ["year", "month", "day", "day_of_week", "day_of_year", "hour"]
    for values in (seconds.astype("datetime64[s]"), nanos.astype("datetime64[ns]"),
                   (nanos // 1000).astype("datetime64[us]")):
        values[::7] = np.datetime64("NaT")
        for start in range(0, 64, 16):
            part = pd.DataFrame({"d": values[start:start + 16]})
            fast = fitted.transform(part)
            with general_path():
                slow = fitted.transform(part)
            np.testing.assert_array_equal(fast, slow)


def _corpus() -> list[str]:
    rng = np.random.default_rng(0)
    words = np.array(["great", "service", "slow", "network", "café", "naïve", "price", "cancel", "the", "a",
                      "Great", "SERVICE", "x1", "2024"])
    return [" ".join(rng.choice(words, rng.integers(0, 12))) + rng.choice(["", "!", " ...", "\n"])
            for _ in range(200)]


@pytest.mark.parametrize("options", [dict(max_features=100, min_df=3, sublinear_tf=True),
                                     dict(max_features=20_000, ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                                     dict(sublinear_tf=False, strip_accents="unicode", lowercase=False)])
def test_tfidf_of_a_few_strings_equals_the_vectorizer(options):
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = _corpus()
    vectorizer = TfidfVectorizer(**options).fit(docs)
    tfidf = build_module._Tfidf.of(vectorizer)
    assert tfidf is not None
    few = np.array(docs[:20] + ["", "   ", "unknown words only", "great great great service"], dtype=object)
    rows = tfidf(few)
    expected = vectorizer.transform(few)
    np.testing.assert_array_equal(build_module._dense(rows), expected.toarray())
    got = build_module._csr_hstack([rows, np.ones((len(few), 1))], len(few))
    reference = sp.hstack([sp.csr_matrix(expected), sp.csr_matrix(np.ones((len(few), 1)))]).tocsr()
    for attr in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(got, attr), getattr(reference, attr))


@pytest.mark.parametrize("target", ["binary", "multiclass", "continuous"])
def test_target_codes_equal_the_target_encoder(target):
    rng = np.random.default_rng(0)
    X = rng.choice([f"v{i}" for i in range(30)], size=(400, 2)).astype(object)
    y = {"binary": rng.integers(0, 2, 400), "multiclass": rng.integers(0, 3, 400),
         "continuous": rng.normal(size=400)}[target]
    encoder = build_module._target_encoder().fit(X, y)
    codes = build_module._TargetCodes.of(encoder)
    assert codes is not None
    rows = np.array([["v1", "v2"], ["unseen", "v29"], ["v0", ""]], dtype=object)
    np.testing.assert_array_equal(codes(rows), encoder.transform(rows))


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("sparse", [False, True])
def test_linear_models_predict_few_rows_as_scikit_learn(task, sparse):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 30)) * (rng.random((300, 30)) < 0.3)
    y = X[:, 0] + X[:, 1] + rng.normal(size=300)
    family = FAMILIES["linear"]
    params = [{"alpha": 1.0, "l1_ratio": 0.0}, {"alpha": 0.5, "l1_ratio": 0.5}] if task == "regression" \
        else [{"C": 1.0}]
    kind = get_task(task).estimator_type
    if kind == "classifier":
        y = np.digitize(y, np.quantile(y, [0.5] if task == "binary" else [0.33, 0.66]))
    n_classes = None if task == "regression" else len(np.unique(y))
    for p in params:
        model = family.build(p, BuildContext(kind=kind, n_classes=n_classes or 0, seed=0, n_jobs=1))
        family.fit(model, sp.csr_matrix(X) if sparse else X, y)
        rows = sp.csr_matrix(X[:7]) if sparse else X[:7]
        fast = family.predict(model, rows, kind, n_classes=n_classes, threads=1)
        np.testing.assert_array_equal(fast, predict_output(model, rows, kind, n_classes))
        bad = X[:2].copy()
        bad[0, 3] = np.inf
        bad = sp.csr_matrix(bad) if sparse else bad
        fast, _ = _outcome(lambda m=model, X=bad: family.predict(m, X, kind, n_classes=n_classes, threads=1))
        slow, _ = _outcome(lambda m=model, X=bad: predict_output(m, X, kind, n_classes))
        if isinstance(slow, Exception):  # scikit-learn refuses infinity, except ElasticNet on sparse rows
            assert type(fast) is type(slow) and str(fast) == str(slow)
        else:
            np.testing.assert_array_equal(fast, slow)


def test_sparse_output_and_unknown_steps_equal_the_column_transformer():
    """A linear preprocessing dense enough to stay sparse (text bigrams), and a step the plans
    do not know (scikit-learn's OrdinalEncoder), which goes through the DataFrame path."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    data = mixed_frame(200)
    data["note"] = [f"{d} {w}" for d, w in zip(data["note"], np.array(_corpus())[:200])]
    schema = infer_schema(data, "churn")
    prepared = schema.prepare(data)
    y = get_task(schema.task).encode_target(data["churn"], schema.classes)
    linear = build_preprocessor(schema, "linear").fit(prepared, y)
    assert linear.sparse_output_
    other = ColumnTransformer([("codes", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                                ["plan"]), ("num", "passthrough", ["age", "income"])]).fit(prepared)
    for pre in (linear, other):
        for rows in (data.head(1), data.iloc[3:40]):
            small = schema.prepare_columns(rows)
            fast = transform(pre, small)
            slow = pre.transform(schema.prepare(rows))
            assert type(fast) is type(slow)
            if sp.issparse(fast):
                fast.sort_indices()
                np.testing.assert_array_equal(fast.indptr, slow.indptr)
                np.testing.assert_array_equal(fast.indices, slow.indices)
                fast, slow = fast.data, slow.data
            np.testing.assert_array_equal(fast, slow)


def test_plans_are_not_saved_and_follow_a_refit(models, frame):
    model = models["binary"]
    frame = frame.drop(columns=["tier", "spend"])
    rows = frame.iloc[40:45]
    expected = model.predict_frame(rows)
    again = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(again.predict_frame(rows), expected)
    pre = pickle.loads(pickle.dumps(model.preprocessors["tree"]))
    prepared = model.schema.prepare(frame)
    before = transform(pre, model.schema.prepare_columns(rows))
    pre.fit(prepared.iloc[::-1].head(120), None)  # other rows: other codes, other TF-IDF words
    after = transform(pre, model.schema.prepare_columns(rows))
    np.testing.assert_array_equal(after, transform(pre, model.schema.prepare(rows)))
    assert before.shape != after.shape or not np.array_equal(before, after, equal_nan=True)


def test_object_columns_are_the_frames_objects():
    """``small_frame.object_columns`` reads the frame block by block: the same objects, of the
    same types, as ``to_numpy(dtype=object)``, and the frame's dtypes, for every kind of column."""
    from labcoat.data.small_frame import object_columns

    frame = pd.DataFrame({
        "f": [1.5, np.nan, -0.0], "f32": np.array([1.5, np.nan, 2], dtype=np.float32),
        "i": [1, 2, 3], "u": np.array([1, 2, 3], dtype=np.uint8), "b": [True, False, True],
        "o": ["a", None, 3], "str": pd.array(["x", None, "z"], dtype="str"),
        "py": pd.array(["x", None, "z"], dtype="string[python]"),
        "arrow": pd.array(["x", None, "z"], dtype="string[pyarrow]"),
        "cat": pd.Categorical(["u", None, "v"]), "Int64": pd.array([1, None, 3], dtype="Int64"),
        "boolean": pd.array([True, None, False], dtype="boolean"),
        "date": pd.to_datetime(["2020-01-01 00:00", None, "2021-05-06 10:00"]),
        "tz": pd.to_datetime(["2020-01-01", None, "2021-05-06"]).tz_localize("Europe/Paris"),
        "delta": pd.to_timedelta([1, None, 3], unit="s"), "f2": [0.25, 1e308, np.inf],
    })
    for rows in (frame, frame.iloc[[1]], frame.iloc[[2, 0]], frame.head(0), frame[["str", "f", "i", "f2"]]):
        columns, dtypes = object_columns(rows)
        expected = rows.to_numpy(dtype=object).T.tolist() if len(rows) else [[] for _ in rows.columns]
        assert dtypes == rows.dtypes.tolist()
        for name, got, want in zip(rows.columns, columns, expected):
            assert [type(v) for v in got] == [type(v) for v in want], name
            assert all(a is b or a == b or (a != a and b != b) for a, b in zip(got, want)), name


def test_small_frame_to_frame_keeps_dtypes():
    small = SmallFrame({"x": np.array([1.5]), "c": np.array(["a"], dtype=object),
                        "d": np.array(["2020-01-01"], dtype="datetime64[us]")}, pd.Index([7]))
    frame = small.to_frame()
    assert len(small) == 1 and list(frame.index) == [7]
    assert frame.dtypes.astype(str).tolist() == ["float64", "object", "datetime64[us]"]
    assert list(small.to_frame(["c"]).columns) == ["c"]


def test_dates_of_many_kinds_prepare_as_the_general_path():
    schema = infer_schema(mixed_frame(60), "churn")
    values = ["2021-03-04", "2021/03/04 10:00", None, np.nan, "2021-03-04T10:30:00.123456+05:30",
              dt.datetime(2020, 1, 1).isoformat(), "Jan 5 2020"]
    rows = mixed_frame(len(values)).assign(signup=values)
    with general_path():
        general = schema.prepare(rows)
    pd.testing.assert_frame_equal(schema.prepare(rows), general)
    # Plain ISO strings, which numpy parses (see small_frame._iso_dates), alone and mixed.
    iso = ["2019-03-26 16:21:11", "2019-03-26", "2019-03-26T16:21", "2019-03-26 16:21:11.5",
           "2024-02-29 23:59:59.999999", "0001-01-01", "9999-12-31 23:59:59", "1969-12-31 23:59:59.000001",
           "2019-02-30", "2019-03-26 24:00", "2019-03-26 16:21:11.1234567", " 2019-03-26", "0000-01-01"]
    for chosen in [[v] for v in iso] + [[v, None] for v in iso] + [iso[:8], iso[:8] + [np.nan]]:
        rows = mixed_frame(len(chosen)).assign(signup=chosen)
        assert_same_preparation_or_error(schema, rows)


def assert_same_preparation_or_error(schema: Any, rows: pd.DataFrame) -> None:
    fast, _ = _outcome(lambda: schema.prepare(rows))
    with general_path():
        slow, _ = _outcome(lambda: schema.prepare(rows))
    if isinstance(slow, Exception) or isinstance(fast, Exception):
        assert (type(fast), str(fast)) == (type(slow), str(slow))
    else:
        pd.testing.assert_frame_equal(fast, slow)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_knn_predicts_few_rows_as_scikit_learn(kind, weights):
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    from labcoat.models.knn import _few_rows

    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 6))
    y = rng.integers(0, 3, 600) if kind == "classifier" else rng.normal(size=600)
    cls = KNeighborsClassifier if kind == "classifier" else KNeighborsRegressor
    estimator = cls(n_neighbors=7, weights=weights, algorithm="brute").fit(X, y)
    queries = np.vstack([X[[3, 5]] + 0.01, rng.normal(size=(4, 6))])
    expected = estimator.predict_proba(queries) if kind == "classifier" else estimator.predict(queries)
    fast = _few_rows(estimator, queries)
    assert fast is not None
    np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(_few_rows(estimator, sp.csr_matrix(queries)), expected, rtol=0, atol=1e-12)
    # On a training row, distance weights rest on the brute search's rounding: scikit-learn answers;
    # a k-d tree sums squares as the few-row path does, to 0, and gives that row all the weight.
    assert (_few_rows(estimator, X[[3]]) is None) == (weights == "distance")
    tree = cls(n_neighbors=7, weights=weights, algorithm="kd_tree").fit(X, y)
    on_rows = tree.predict_proba(X[:5]) if kind == "classifier" else tree.predict(X[:5])
    np.testing.assert_allclose(_few_rows(tree, X[:5]), on_rows, rtol=0, atol=1e-12)
    # A tie at the k-th neighbour is left to scikit-learn, which then chooses the neighbours.
    grid = np.repeat(np.arange(3.0), 200)[:, None]
    tied = cls(n_neighbors=7, weights=weights).fit(grid, y)
    assert _few_rows(tied, grid[:1]) is None
    assert FAMILIES["knn"].predict(tied, grid[:1], kind, n_classes=3).shape[0] == 1


def test_normal_quantiles_of_a_few_rows_are_those_of_many():
    from labcoat.features.transformers import NormalQuantiles

    rng = np.random.default_rng(2)
    n = 3000
    frame = pd.DataFrame({"normal": rng.normal(size=n), "counts": rng.integers(0, 5, n).astype(float),
                          "gaps": np.where(rng.random(n) < 0.3, np.nan, rng.exponential(size=n)),
                          "constant": np.zeros(n)})
    encoder = NormalQuantiles().fit(frame.iloc[:2000])
    rows = frame.iloc[2000:2600].copy()
    rows.iloc[:5, 0] = [np.inf, -np.inf, 1e300, -1e300, np.nan]
    rows.iloc[5:8, 1] = [0.0, 4.0, 2.5]  # the ends and between ties
    for start in range(0, 600, 3):
        few = encoder.transform(rows.iloc[start:start + 3])
        many = encoder.transform(pd.concat([rows.iloc[start:start + 3]] * 30))[:3]
        # The same np.interp arithmetic per column; BLAS takes no part.
        np.testing.assert_allclose(few, many, rtol=0, atol=1e-12)
