"""Binary decision trees of one ensemble in one set of flat arrays, walked for all trees at once.

Libraries predict a few rows tree by tree with fixed costs per tree (scikit-learn's forests
~35 µs, its histogram boosting ~15 µs): milliseconds for one row through a few hundred trees.
:class:`FlatTrees` moves every row through every tree one level per step in numpy, so the cost
is a few array operations per level (~3 µs), whatever the number of trees. To keep a step cheap:

- a node is one record of four 8-byte words, at slot ``4 i``: its feature, its threshold,
  its left and its right child's slot, so that a step reads one cache line per node (three
  arrays read three: on credit_g's forests, 0.38 -> 0.25 ms a row with cold caches, as a
  serving process has them after the other members ran) and finds the child at
  ``slot + 2 + (x > threshold)``;
- leaves are their own children, so a tree that reached a leaf stays there;
- trees are ordered deepest first, and the trees still descending at a level, a prefix of the
  array, are the only ones stepped;
- missing values are handled only when the input has any;
- categorical splits are decided before the walk, all at once for the rows given, and read
  as a numeric split on a "virtual" input column holding 0 (left) or 1 (right), one per
  categorical node, appended to the input.

A node sends ``x`` left when ``x <= threshold``; a missing ``x`` goes where the node's
``nan_left`` says; a categorical node (``category >= 0``) sends integer codes through its row
of ``category_left`` (codes outside the row go where ``category_outside_left`` says, missing
ones follow ``nan_left``). The families turn their libraries' trees into these arrays (see
``_forest.py``, ``hist_gb.py``, ``_flat_xgboost.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Words per node record: feature, threshold, left child's slot, right child's slot.
_RECORD = 4


@dataclass
class Tree:
    """One tree in the libraries' common layout: node arrays, children ``-1`` at leaves."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    nan_left: np.ndarray
    #: Leaf values, ``(nodes, outputs)``; only the rows of leaves are read.
    value: np.ndarray
    #: Per node, its row in ``category_left`` or -1 for a numeric split.
    category: np.ndarray | None = None
    #: ``(categorical nodes, codes)``: True where a code goes left.
    category_left: np.ndarray | None = None
    #: Per categorical node, where codes outside its row (negative, too large) go: True for
    #: left; None: as missing values (``nan_left``).
    category_outside_left: np.ndarray | None = None


class FlatTrees:
    """The trees of one ensemble, predicted together: the sum over trees of each row's leaf
    values, ``(rows, outputs)``."""

    def __init__(self, trees: list[Tree], n_features: int) -> None:
        if not trees:
            raise ValueError("no trees")
        depths = _depths(trees)
        order = np.argsort(-depths, kind="stable")  # deepest first
        trees = [trees[i] for i in order]
        sizes = np.array([len(t.left) for t in trees], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        index = np.arange(int(sizes.sum()), dtype=np.int64)
        left = np.concatenate([np.asarray(t.left, dtype=np.int64) for t in trees])
        right = np.concatenate([np.asarray(t.right, dtype=np.int64) for t in trees])
        shift = np.repeat(offsets, sizes)
        leaf = left < 0
        feature = np.where(leaf, 0, np.concatenate([np.asarray(t.feature, dtype=np.int64) for t in trees]))
        if feature.max(initial=0) >= n_features:
            raise ValueError(f"a split on feature {feature.max()} of {n_features}")
        threshold = np.where(leaf, np.inf, np.concatenate([np.asarray(t.threshold, dtype=np.float64)
                                                           for t in trees]))
        nan_left = np.concatenate([np.asarray(t.nan_left, dtype=bool) for t in trees]) | leaf
        # Categorical nodes read virtual column n_features + their row in the tables.
        width = max([1] + [t.category_left.shape[1] for t in trees if t.category_left is not None])
        categories, tables, outside, used = [], [], [], 0
        for t, start in zip(trees, offsets):
            if t.category is None or t.category_left is None or not len(t.category_left):
                categories.append(np.full(len(t.left), -1, dtype=np.int64))
                continue
            category = np.asarray(t.category, dtype=np.int64)
            categories.append(np.where(category >= 0, category + used, -1))
            if t.category_outside_left is None:  # as missing: the node's nan_left
                at_node = np.flatnonzero(category >= 0)
                side = np.empty(len(t.category_left), dtype=bool)
                side[category[at_node]] = nan_left[start + at_node]
            else:
                side = np.asarray(t.category_outside_left, dtype=bool)
            table = np.repeat(side[:, None], width, axis=1)  # codes past the tree's row: outside
            table[:, :t.category_left.shape[1]] = t.category_left
            tables.append(table)
            outside.append(side)
            used += len(table)
        category = np.where(leaf, -1, np.concatenate(categories))
        at = np.flatnonzero(category >= 0)
        rows = category[at]
        #: Per categorical node (in table row order): its input column, where missing codes
        #: go and where codes outside the table go.
        self.category_feature = np.zeros(used, dtype=np.intp)
        self.category_feature[rows] = feature[at]
        self.category_nan_left = np.zeros(used, dtype=bool)
        self.category_nan_left[rows] = nan_left[at]
        self.category_outside_left = np.concatenate(outside) if outside else np.zeros(0, dtype=bool)
        #: The tables, flat: row ``r``, code ``c`` at ``r * width + c``.
        self.category_left = np.concatenate(tables).ravel() if tables else np.zeros(0, dtype=bool)
        self.width = width
        feature[at] = n_features + rows
        threshold[at] = 0.5
        records = np.empty(_RECORD * len(index), dtype=np.int64)
        records[0::_RECORD] = feature
        records[1::_RECORD] = threshold.view(np.int64)
        records[2::_RECORD] = _RECORD * np.where(leaf, index, left + shift)
        records[3::_RECORD] = _RECORD * np.where(leaf, index, right + shift)
        self.records = records
        # What a step reads at a slot: views of the records from their fields on.
        self._feature = records
        self._threshold = records.view(np.float64)[1:]
        self._children = records[2:]
        self.nan_left = np.repeat(nan_left, _RECORD)  # read only for missing inputs
        self.n_features = n_features
        self.roots = _RECORD * offsets.astype(np.int64)
        #: Per level, how many trees (a prefix, deepest first) are still above their leaves.
        self.active = [int((depths > level).sum()) for level in range(int(depths.max(initial=0)))]
        self.value = np.concatenate([np.asarray(t.value, dtype=np.float64) for t in trees])
        self.n_trees = len(trees)
        #: ``order[i]``: the position in the given list of this object's tree ``i``.
        self.order = order

    @property
    def node_feature(self) -> np.ndarray:
        """Each node's feature (virtual columns for categorical nodes, 0 for leaves)."""
        return self.records[0::_RECORD]

    @property
    def node_threshold(self) -> np.ndarray:
        """Each node's threshold (infinity for leaves)."""
        return self.records.view(np.float64)[1::_RECORD]

    @property
    def any_categorical(self) -> bool:
        return len(self.category_feature) > 0

    def leaves(self, X: np.ndarray) -> np.ndarray:
        """The leaf (node index) each row reaches in each tree: ``(rows, trees)``, trees in
        this object's order (:attr:`order`)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} columns, got shape {X.shape}")
        missing = bool(np.isnan(X).any())
        if self.any_categorical:
            X = np.concatenate([X, self._categorical_columns(X)], axis=1)
        if X.shape[0] == 1:  # one row: 1-D arrays throughout
            row = X[0]
            slots = self.roots.copy()
            for k in self.active:
                current = slots[:k]
                x = row.take(self._feature.take(current))
                slots[:k] = self._step(current, x, missing)
            return (slots // _RECORD)[None, :]
        flat = X.ravel()
        starts = (np.arange(X.shape[0]) * X.shape[1])[:, None]
        slots = np.repeat(self.roots[None, :], X.shape[0], axis=0)
        for k in self.active:
            current = slots[:, :k]
            x = flat.take(self._feature.take(current) + starts)
            slots[:, :k] = self._step(current, x, missing)
        return slots // _RECORD

    def _categorical_columns(self, X: np.ndarray) -> np.ndarray:
        """The virtual columns: 1.0 where a row goes right at a categorical node, else 0.0."""
        code = X[:, self.category_feature]
        valid = (code >= 0) & (code < self.width)  # False for NaN
        cell = np.arange(len(self.category_feature)) * self.width + np.where(valid, code, 0).astype(np.intp)
        left = np.where(valid, self.category_left.take(cell), self.category_outside_left)
        left = np.where(np.isnan(code), self.category_nan_left, left)
        return (~left).astype(np.float64)

    def _step(self, slots: np.ndarray, x: np.ndarray, missing: bool) -> np.ndarray:
        """The slots one level down from ``slots`` for inputs ``x`` (same shape)."""
        right = x > self._threshold.take(slots)
        if missing:
            right = np.where(np.isnan(x), ~self.nan_left.take(slots), right)
        return self._children.take(slots + right)

    def predict_sum(self, X: np.ndarray) -> np.ndarray:
        """Each row's leaf values summed over trees: ``(rows, outputs)``."""
        return self.value[self.leaves(X)].sum(axis=1)


def bits_to_table(bits: np.ndarray) -> np.ndarray:
    """Bitsets of 32-bit words, code ``c`` at bit ``c % 32`` of word ``c // 32`` (scikit-learn's
    layout), as a boolean table ``(sets, 32 * words)``."""
    words = np.ascontiguousarray(bits, dtype="<u4")
    return np.unpackbits(words.view(np.uint8), axis=1, bitorder="little").astype(bool)


def _depths(trees: list[Tree]) -> np.ndarray:
    """Each tree's depth: splits on its longest path from the root (0 for a lone leaf)."""
    sizes = np.array([len(t.left) for t in trees], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    shift = np.repeat(offsets, sizes)
    children = np.concatenate([np.concatenate([t.left for t in trees]).astype(np.int64) + shift,
                               np.concatenate([t.right for t in trees]).astype(np.int64) + shift])
    children[np.concatenate([np.concatenate([t.left for t in trees]),
                             np.concatenate([t.right for t in trees])]) < 0] = -1
    n = int(sizes.sum())
    depth = np.zeros(n, dtype=np.int64)
    frontier, level = offsets, 0
    while len(frontier):  # all trees a level at a time
        kids = np.concatenate([children[frontier], children[n + frontier]])
        frontier = kids[kids >= 0]
        level += 1
        depth[frontier] = level
    return np.maximum.reduceat(depth, offsets) if n else np.zeros(0, dtype=np.int64)
