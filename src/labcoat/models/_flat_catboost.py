"""A CatBoost model's oblivious trees evaluated in numpy, for a few rows.

CatBoost's predict costs ~0.17 ms a call whatever the model (0.12 ms of it inside its native
``_base_predict``, even for one tree; the rest building the Pool). Its models are small and
simple to evaluate (see CatBoost's own Python export, ``save_model(format="python")``):

- every split is a binary feature: a number above a border (inputs as float32, missing values
  as the feature's ``nan_value_treatment`` says), a categorical value's hash equal to a value
  (one-hot), or a target statistic ("CTR") of the values above a border;
- a CTR is read from the model's table by the hash of its projection (the hashes of its
  categorical values, see :mod:`labcoat.models._cityhash`, combined as CatBoost combines them),
  and computed in float32 as CatBoost does (precomputed here for every key of the table);
- an oblivious tree of depth ``d`` has one split per level: the leaf is the ``d`` bits.

The leaf values are added in float64 tree after tree as CatBoost adds them, then scaled and
biased; probabilities are the sigmoid or softmax of that. The splits are read from the model's
JSON and checked against their place in the model's list of binary features; a model with
other features (text, embeddings) or losses is not converted, and each converted model is
compared with CatBoost on the first rows it predicts (and not used if they differ).
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

from labcoat.models._cityhash import category_hash

#: Losses whose output :meth:`FlatCatBoost.predict` computes as CatBoost's predict does.
LOSSES = ("Logloss", "MultiClass", "RMSE")
_MAGIC = 0x4906BA494954CB65
_M = 0xFFFFFFFFFFFFFFFF
#: A projection: its elements (kind, position, border or value), and its CTRs (a column among a
#: row's values, value by projection hash, value for a hash not in the table).
Projection = tuple[list[tuple[str, int, Any]], list[tuple[int, dict[int, float], float]]]
#: Categorical values hashed so far, with their hash (bounded; then hashed every time).
_HASHES: dict[str, int] = {}
_MAX_HASHES = 1 << 16


def _hash(value: Any) -> int:
    h = _HASHES.get(value)
    if h is None:
        if not isinstance(value, str):
            raise TypeError(f"a categorical value of type {type(value).__name__}")
        h = category_hash(value)
        if len(_HASHES) < _MAX_HASHES:
            _HASHES[value] = h
    return h


def _mix(a: int, b: int) -> int:
    """CatBoost's CalcHash of a projection's running hash and one more element."""
    return (_MAGIC * ((a + _MAGIC * b) & _M)) & _M


class FlatCatBoost:
    """The trees, features and CTR tables of a fitted CatBoostClassifier or CatBoostRegressor."""

    def __init__(self, estimator: Any) -> None:
        model = _model_json(estimator)
        self.loss = model["model_info"]["params"]["loss_function"]["type"]
        features = model["features_info"]
        if self.loss not in LOSSES or set(features) - {"float_features", "categorical_features", "ctrs"}:
            raise ValueError(f"a {self.loss} model with {sorted(features)}")
        floats = features.get("float_features", [])
        cats = features.get("categorical_features", [])
        ctrs = features.get("ctrs", [])
        self.float_columns = np.array([f["flat_feature_index"] for f in floats], dtype=np.intp)
        self.cat_columns = [int(c["flat_feature_index"]) for c in cats]
        cat_position = {int(c["feature_index"]): i for i, c in enumerate(cats)}
        float_position = {int(f["feature_index"]): i for i, f in enumerate(floats)}
        n_float, n_cat = len(floats), len(cats)
        # The binary features in the model's order: numbers' borders, one-hot values, CTR borders.
        # Each reads one entry of the row's values [floats, category hashes, CTRs].
        column, border, equal, nan_bit, described = [], [], [], [], []

        def add(at: int, value: float, is_equal: bool, nan: bool, what: tuple[str, int, Any]) -> None:
            column.append(at)
            border.append(value)
            equal.append(is_equal)
            nan_bit.append(nan)
            described.append(what)

        for i, f in enumerate(floats):
            as_true = f.get("nan_value_treatment", "AsIs") == "AsTrue"
            for b in f.get("borders", []):
                add(i, b, False, as_true, ("FloatFeature", int(f["feature_index"]), b))
        for c in cats:
            for v in c.get("values", []):
                add(n_float + cat_position[int(c["feature_index"])], v, True, False,
                    ("OneHotFeature", int(c["feature_index"]), v))
        for k, ctr in enumerate(ctrs):
            for b in ctr.get("borders", []):
                add(n_float + n_cat + k, b, False, False, ("OnlineCtr", int(ctr["target_border_idx"]), b))
        self.split_column = np.array(column, dtype=np.intp)
        self.split_border = np.array(border, dtype=np.float64)
        self.split_equal = np.array(equal, dtype=bool)
        self.split_nan = np.array(nan_bit, dtype=bool)
        self.n_values = n_float + n_cat + len(ctrs)
        self.projections = self._projections(ctrs, model.get("ctr_data", {}), cat_position, float_position)
        scale, bias = model.get("scale_and_bias", [1.0, [0.0]])
        self.scale, self.bias = float(scale), np.asarray(bias, dtype=np.float64)
        self.dimension = len(self.bias)
        self._trees(model["oblivious_trees"], described)
        self.checked = False

    def _projections(self, ctrs: list[dict[str, Any]], data: dict[str, Any], cats: dict[int, int],
                     floats: dict[int, int]) -> list[Projection]:
        """Per projection: its elements (kind, position, border or value) and its CTRs (column
        among the row's values, value by projection hash, value for a hash not in the table)."""
        first = len(floats) + len(cats)  # the CTRs' columns follow the numbers and categories
        groups: dict[str, Projection] = {}
        for k, ctr in enumerate(ctrs):
            elements: list[tuple[str, int, Any]] = []
            for e in ctr["elements"]:
                kind = e["combination_element"]
                if kind == "cat_feature_value":
                    elements.append(("cat", cats[int(e["cat_feature_index"])], None))
                elif kind == "cat_feature_exact_value":
                    elements.append(("exact", cats[int(e["cat_feature_index"])], int(e["value"])))
                elif kind == "float_feature":
                    elements.append(("float", floats[int(e["float_feature_index"])], float(e["border"])))
                else:
                    raise ValueError(f"a CTR element {kind!r}")
            # CatBoost hashes a projection's categorical values first, then its binary features.
            elements.sort(key=lambda e: e[0] != "cat")
            table = data[ctr["identifier"]]
            groups.setdefault(json.dumps(elements), (elements, []))[1].append((first + k, *_ctr_values(ctr, table)))
        return list(groups.values())

    def _trees(self, trees: list[dict[str, Any]], described: list[tuple[str, int, Any]]) -> None:
        depth = max([len(t["splits"] or []) for t in trees] + [0])
        n_splits = len(self.split_column)
        # Padding reads a bit that is always 0 (index n_splits).
        self.tree_splits = np.full((len(trees), depth), n_splits, dtype=np.intp)
        dims = self.dimension
        offsets, values = [], []
        at = 0
        for t, tree in enumerate(trees):
            for level, split in enumerate(tree["splits"] or []):
                index = int(split["split_index"])
                kind, owner, value = described[index]
                mine = {"FloatFeature": split.get("float_feature_index"), "OneHotFeature": split.get("cat_feature_index"),
                        "OnlineCtr": split.get("ctr_target_border_idx")}.get(split["split_type"])
                expected = split.get("value") if kind == "OneHotFeature" else split.get("border")
                if kind != split["split_type"] or mine != owner or expected != value:
                    raise ValueError(f"split {index} is not the model's binary feature {index}")
                self.tree_splits[t, level] = index
            leaves = np.asarray(tree["leaf_values"], dtype=np.float64)
            if len(leaves) != dims << len(tree["splits"] or []):
                raise ValueError("leaf values of another shape")
            offsets.append(at)
            values.append(leaves)
            at += len(leaves)
        self.tree_offset = np.array(offsets, dtype=np.intp)
        self.leaf_values = np.concatenate(values) if values else np.zeros(0)
        self.level_weight = (1 << np.arange(depth)).astype(np.intp)

    def values(self, X: np.ndarray) -> np.ndarray:
        """Each row's inputs to the splits: float32 numbers, category hashes, CTRs."""
        return row_values(X, self.float_columns, self.cat_columns, self.projections, self.n_values)

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Scale times the sum of leaf values plus bias: ``(rows, dimension)``."""
        values = self.values(X)
        x = values[:, self.split_column]
        bits = np.where(self.split_equal, x == self.split_border, x > self.split_border)
        if np.isnan(x).any():
            bits = np.where(np.isnan(x), self.split_nan, bits)
        bits = np.concatenate([bits, np.zeros((len(X), 1), dtype=bool)], axis=1)
        leaf = bits[:, self.tree_splits].astype(np.intp) @ self.level_weight  # (rows, trees)
        at = self.tree_offset + leaf * self.dimension
        leaves = self.leaf_values[at[:, :, None] + np.arange(self.dimension)]  # (rows, trees, dims)
        total = np.cumsum(leaves, axis=1)[:, -1, :] if leaves.shape[1] else np.zeros((len(X), self.dimension))
        return self.scale * total + self.bias

    def predict(self, X: np.ndarray) -> np.ndarray:
        """predict_proba's probabilities (classifiers), predict's values (regressors)."""
        raw = self.raw(X)
        if self.loss == "Logloss":
            p = 1 / (1 + np.exp(-raw[:, 0]))
            return np.column_stack([1 - p, p])
        if self.loss == "MultiClass":
            exp = np.exp(raw - raw.max(axis=1, keepdims=True))
            return exp / exp.sum(axis=1, keepdims=True)
        return raw[:, 0]


def row_values(X: np.ndarray, float_columns: np.ndarray, cat_columns: list[int], projections: list[Projection],
               n_values: int) -> np.ndarray:
    """Rows' inputs to splits, ``(rows, n_values)``: the float columns as float32, then the
    categorical columns' hashes, then each projection's CTRs in the columns it names."""
    out = np.empty((X.shape[0], n_values), dtype=np.float64)
    n_float, n_cat = len(float_columns), len(cat_columns)
    with np.errstate(over="ignore"):  # beyond float32's range: infinity, as CatBoost casts
        out[:, :n_float] = np.asarray(X[:, float_columns], dtype=np.float64).astype(np.float32)
    for r, row in enumerate(X[:, cat_columns].tolist() if n_cat else [[]] * len(X)):
        hashes = [_hash(v) for v in row]
        out[r, n_float:n_float + n_cat] = hashes
        numbers = out[r, :n_float]
        for elements, ctrs in projections:
            h = 0
            for kind, at, value in elements:
                if kind == "cat":
                    h = _mix(h, hashes[at])
                elif kind == "exact":
                    h = _mix(h, int(hashes[at] == value))
                else:
                    h = _mix(h, int(numbers[at] > value))
            for column, table, default in ctrs:
                out[r, column] = table.get(h, default)
    return out


def _model_json(estimator: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.json")
        estimator.save_model(path, format="json")
        with open(path, encoding="utf-8") as file:
            return dict(json.load(file))


def _ctr_values(ctr: dict[str, Any], table: dict[str, Any]) -> tuple[dict[int, float], float]:
    """A CTR's value for each projection hash of its table, and for hashes not in it; float32
    arithmetic as CatBoost's (``(count + prior) / (total + prior denominator)``, shifted, scaled)."""
    f32 = np.float32
    prior, denominator = f32(ctr.get("prior_numerator", 0)), f32(ctr.get("prior_denomerator", 1))
    shift, scale = f32(ctr.get("shift", 0)), f32(ctr.get("scale", 1))

    def calc(count: float, total: float) -> float:
        return float((((f32(count) + prior) / (f32(total) + denominator)) + shift) * scale)

    kind, border = ctr["ctr_type"], int(ctr.get("target_border_idx", 0))
    stride = int(table["hash_stride"])
    flat = table["hash_map"]
    values: dict[int, float] = {}
    for i in range(0, len(flat), stride):
        key = int(flat[i])
        if key == _M:  # an empty slot
            continue
        history = [float(v) for v in flat[i + 1:i + stride]]
        if kind in ("Counter", "FeatureFreq"):
            values[key] = calc(history[0], float(table.get("counter_denominator", 0)))
        elif kind == "Buckets":
            values[key] = calc(history[border], sum(history))
        elif kind == "Borders":
            if len(history) > 2:
                good = sum(history[border + 1:])
                values[key] = calc(good, sum(history[:border + 1]) + good)
            else:
                values[key] = calc(history[1], history[0] + history[1])
        else:
            raise ValueError(f"a CTR of type {kind!r}")
    return values, calc(0, 0)
