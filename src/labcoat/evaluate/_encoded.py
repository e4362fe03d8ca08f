"""Rows encoded once, and the model's output on rows assembled from them column by column.

Each preprocessing built by ``features.build`` is column-wise: every output column of its
fitted ``ColumnTransformer`` comes from one raw column (:func:`owners_of` recovers which). So a
raw row mixing columns of several rows (a column shuffled, a value from a background row, a
grid value) is encoded by taking, for each raw column, its block of encoded columns from the
right row: the model's exact output on the mixed raw row, without preparing and transforming
it again. Explanations (``labcoat.evaluate.explain``) evaluate many such rows.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    from labcoat.model import Member
    from labcoat.model import Model

#: Hybrid rows evaluated per model call: bounds memory (rows x encoded width) while keeping
#: per-call overheads small.
CHUNK_CELLS = 4_000_000


class EncodedRows:
    """Prepared rows encoded once per preprocessing, and the (weighted) members' output on
    rows assembled from them column by column.

    ``output(idx)`` takes an integer array of shape ``(rows, n_features)``: row ``r`` of the
    result is the output on the raw row whose column ``k`` holds the value of row
    ``idx[r, k]`` of the table.
    """

    def __init__(self, model: Model, prepared: pd.DataFrame, members: Sequence[Any] | None = None) -> None:
        from labcoat.features.build import transform

        self.model = model
        self.prepared = prepared
        self.names = [c.name for c in model.schema.features]
        self.members = list(model.members if members is None else members)
        self.n_classes = len(model.schema.classes or ())
        #: The model's map from blended to calibrated probabilities, applied to the whole
        #: ensemble's output (not to a subset of members: see restricted).
        self.calibrator = getattr(model, "calibrator", None) if members is None else None
        self.encoded: dict[str, Any] = {}
        self.owners: dict[str, np.ndarray | None] = {}
        self._ready: dict[str, Any] = {}
        for key in {m.preprocessor or m.style for m in self.members}:
            pre = model.preprocessors[key]
            self.encoded[key] = transform(pre, prepared)
            owners = owners_of(pre, self.names)
            width = self.encoded[key].shape[1]
            self.owners[key] = owners if owners is not None and len(owners) == width else None

    def output(self, idx: np.ndarray) -> np.ndarray:
        """Weighted sum of the members' outputs, shape ``(rows, K)`` (K = 1 for regression)."""
        idx = np.asarray(idx, dtype=np.int64)
        width = sum(e.shape[1] for e in self.encoded.values()) + len(self.names)
        step = max(1, CHUNK_CELLS // max(width, 1))
        parts = [self._output(idx[i:i + step]) for i in range(0, len(idx), step)]
        if not parts:
            return np.zeros((0, max(self.n_classes, 1)))
        return np.concatenate(parts)

    def _output(self, idx: np.ndarray) -> np.ndarray:
        from labcoat.features.build import transform

        threads = 1 if len(idx) < 1000 else self.model.info.n_jobs
        inputs: dict[str, Any] = {}
        total = np.zeros((len(idx), max(self.n_classes, 1)))
        for m in self.members:
            key = m.preprocessor or m.style
            if key not in inputs:
                owners = self.owners[key]
                if owners is not None:
                    inputs[key] = gather(self._gatherable(key, owners), idx, owners)
                else:  # unknown preprocessing layout: assemble the raw rows and encode them
                    inputs[key] = transform(self.model.preprocessors[key], gather_frame(self.prepared, idx))
            out = m.output(inputs[key], self.model.task.estimator_type, n_classes=self.n_classes or None,
                           threads=threads)
            total += m.weight * as_2d(out)
        return total if self.calibrator is None else as_2d(self.calibrator.apply(total))

    def _gatherable(self, key: str, owners: np.ndarray) -> Any:
        """The encoding of ``key`` (whose owners are ``owners``) in the form :func:`gather` takes
        (built once)."""
        if key not in self._ready:
            encoded = self.encoded[key]
            self._ready[key] = (SparseBlocks(encoded, owners) if sp.issparse(encoded)
                                else np.asarray(encoded))
        return self._ready[key]

    def restricted(self, members: Sequence[Any]) -> "EncodedRows":
        """The same encoded rows, with the output of ``members`` only (weights unchanged)."""
        part = copy.copy(self)
        part.members = list(members)
        part.calibrator = None
        return part

    def member_output(self, member: Member, rows: np.ndarray) -> np.ndarray:
        """One member's (unweighted) output on table rows ``rows``, shape ``(rows, K)``."""
        key = member.preprocessor or member.style
        X = self.encoded[key][rows]
        return as_2d(member.output(X, self.model.task.estimator_type, n_classes=self.n_classes or None, threads=1))


def gather(encoded: Any, idx: np.ndarray, owners: np.ndarray) -> Any:
    """Encoded rows whose columns owned by raw column ``k`` come from rows ``idx[:, k]``.

    ``encoded`` is a dense array or a :class:`SparseBlocks`.
    """
    if isinstance(encoded, SparseBlocks):
        assembled = sp.hstack([block[idx[:, k]] for k, block in encoded.blocks]).tocsr()
        return assembled[:, encoded.order]
    return encoded[idx[:, owners], np.arange(encoded.shape[1])[None, :]]


class SparseBlocks:
    """A sparse encoding split into the column blocks of each raw column, for :func:`gather`."""

    def __init__(self, matrix: Any, owners: np.ndarray) -> None:
        matrix = sp.csr_matrix(matrix)
        self.shape = matrix.shape
        self.blocks, columns = [], []
        for k in np.unique(owners):
            cols = np.flatnonzero(owners == k)
            self.blocks.append((int(k), matrix[:, cols]))
            columns.append(cols)
        #: Puts the concatenated blocks' columns back in the encoding's order.
        self.order = np.argsort(np.concatenate(columns)) if columns else np.zeros(0, dtype=np.int64)


def gather_frame(prepared: pd.DataFrame, idx: np.ndarray) -> pd.DataFrame:
    """The prepared raw rows whose column ``k`` comes from rows ``idx[:, k]``."""
    return pd.DataFrame({name: pd.Series(prepared[name].to_numpy()[idx[:, k]], dtype=prepared[name].dtype)
                         for k, name in enumerate(prepared.columns)})


def owners_of(preprocessor: Any, names: list[str]) -> np.ndarray | None:
    """For each output column of a fitted ColumnTransformer from ``features.build``, the
    position in ``names`` of the raw column it comes from; ``None`` for an unknown layout."""
    position = {name: k for k, name in enumerate(names)}
    owners: list[int] = []
    for _, step, columns in preprocessor.transformers_:
        if isinstance(step, str) and step == "drop":
            continue
        if isinstance(columns, str):  # one column (TF-IDF): every output is its
            inputs = [position[columns]]
            single = True
        else:
            try:
                inputs = [position[c] for c in columns]
            except (KeyError, TypeError):
                return None
            single = False
        if isinstance(step, str):  # "passthrough"
            owners += inputs
            continue
        mapped = _step_owners(step, inputs)
        if mapped is None:
            if not single:
                return None
            mapped = [inputs[0]] * _width(step)
            if not mapped:
                return None
        owners += mapped
    return np.asarray(owners, dtype=np.int64)


def _step_owners(step: Any, inputs: list[int]) -> list[int] | None:
    """Owners of one step's outputs given the owners of its inputs, or ``None`` if unknown."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler, TargetEncoder

    from labcoat.features.transformers import CategoryStrings, DatetimeParts, NormalQuantiles, OneHot, OrdinalCodes

    if isinstance(step, Pipeline):
        for _, inner in step.steps:
            inner_owners = _step_owners(inner, inputs)
            if inner_owners is None:
                return None
            inputs = inner_owners
        return inputs
    if isinstance(step, (StandardScaler, FunctionTransformer, OrdinalCodes, CategoryStrings, NormalQuantiles)):
        return list(inputs)
    if isinstance(step, SimpleImputer):
        kept = list(inputs)
        if not step.keep_empty_features:
            valid = ~np.isnan(np.asarray(step.statistics_, dtype=np.float64)) if \
                np.asarray(step.statistics_).dtype.kind == "f" else np.ones(len(inputs), bool)
            kept = [o for o, v in zip(inputs, valid) if v]
        indicator = getattr(step, "indicator_", None)
        return kept + ([inputs[f] for f in indicator.features_] if indicator is not None else [])
    if isinstance(step, OneHot):
        out = []
        for owner, mapping, other in zip(inputs, step.maps_, step.other_):
            out += [owner] * (len(mapping) + (other >= 0))
        return out
    if isinstance(step, DatetimeParts):
        return [owner for owner, parts in zip(inputs, step.parts_.values()) for _ in range(len(parts) + 1)]
    if isinstance(step, TargetEncoder):
        per = len(step.classes_) if getattr(step, "target_type_", "") == "multiclass" else 1
        return [owner for owner in inputs for _ in range(per)]
    return None


def _width(step: Any) -> int:
    try:
        return len(step.get_feature_names_out())
    except Exception:  # noqa: BLE001
        return 0


def as_2d(out: np.ndarray) -> np.ndarray:
    out = np.asarray(out, dtype=np.float64)
    return out[:, None] if out.ndim == 1 else out
