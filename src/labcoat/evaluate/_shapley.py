"""SHAP values of raw columns for a whole ensemble: exact TreeExplainer values for the tree
members shap handles, permutation sampling for the rest (see ``labcoat.evaluate.shap_values``).

Both measure the same interventional SHAP values against the same background rows, so the
ensemble's values are the weight-sum of its members' (Shapley values are linear in the model)
and its base is its mean output over the background.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labcoat.evaluate._encoded import EncodedRows
from labcoat.models import FAMILIES

if TYPE_CHECKING:
    from labcoat.model import Member
    from labcoat.model import Model

#: Families whose members ``shap.TreeExplainer`` explains exactly (``Family.tree_shap``).
#: Left out, measured with shap 0.51: histogram gradient boosting (its values miss the model's
#: output by up to 0.6 even without categorical splits), CatBoost (refused, and with a
#: background the process crashed); boosters with native categorical splits ("not yet
#: supported", or silently wrong for LightGBM) and multiclass boosters (softmax is not one of
#: its output transforms: LightGBM's values were silently off by 0.1) are ``"single_output"``.
TREE_FAMILIES = frozenset(name for name, family in FAMILIES.items() if family.tree_shap)
#: Largest error of "contributions + base = output" accepted from TreeExplainer per member
#: (relative to the output's scale when above 1); values that miss by more are not used.
TREE_TOLERANCE = 1e-4


def shapley_values(model: Model, rows: pd.DataFrame, background: pd.DataFrame, seed: int,
                   trees: frozenset[str] = TREE_FAMILIES
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, str]]:
    """Contributions ``(n, d, K)``, base ``(K,)``, output ``(n, K)`` and the method per member.

    Members of the families ``trees`` are tried with TreeExplainer; rows whose values do not
    add up to the member's own output (shap's interventional algorithm misses by a tree or two
    on some rows) are estimated by sampling instead, as are the other members.
    """
    n, b = len(rows), len(background)
    table = EncodedRows(model, pd.concat([rows, background], ignore_index=True))
    K = max(table.n_classes, 1)
    phi = np.zeros((n, len(table.names), K))
    methods: dict[str, str] = {}
    sampled, redo = [], []
    # A calibrated model's output is a nonlinear map of the blend, so it is not the weighted sum
    # of its members' outputs: the whole model is then explained by sampling.
    calibrated = table.calibrator is not None
    for m in model.members:
        label = f"{m.family}#{m.trial}"
        ready = not calibrated and m.family in trees and tree_ready(model, table, m)
        tree = tree_values(model, table, m, n, b) if ready else None
        if tree is None:
            sampled.append(m)
            methods[label] = "sampling"
            continue
        values, exact = tree
        phi[exact] += m.weight * values[exact]
        methods[label] = "tree" if exact.all() else "tree+sampling"
        if not exact.all():
            redo.append((m, np.flatnonzero(~exact)))
    rng = np.random.default_rng(seed)
    if sampled:
        part = table if calibrated else table.restricted(sampled)
        phi += sampled_values(part, np.arange(n), n, b, rng)
    for m, missed in redo:
        phi[missed] += sampled_values(table.restricted([m]), missed, n, b, rng)
    full = table.output(np.repeat(np.arange(n + b)[:, None], len(table.names), axis=1))
    output, base = full[:n], full[n:].mean(axis=0)
    return phi, base, output, methods


def tree_ready(model: Model, table: EncodedRows, member: Member) -> bool:
    """Whether TreeExplainer is worth trying on ``member`` (see :data:`TREE_FAMILIES`)."""
    key = member.preprocessor or member.style
    if member.family not in TREE_FAMILIES or table.owners.get(key) is None:
        return False
    if sp.issparse(table.encoded[key]) or np.asarray(table.encoded[key]).dtype == object:
        return False
    if FAMILIES[member.family].tree_shap == "single_output":
        categoricals: int = getattr(member.estimator, "_labcoat_categoricals", 0)
        if table.n_classes > 2 or categoricals:
            return False
    return True


def tree_values(model: Model, table: EncodedRows, member: Member, n: int,
                b: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Exact interventional values of one tree member, ``(n, d, K)``, with a mask of the rows
    whose values add up to the member's own output; ``None`` when TreeExplainer fails or its
    base is not the member's mean output over the background."""
    try:
        key = member.preprocessor or member.style
        encoded = np.asarray(table.encoded[key], dtype=np.float64)
        if FAMILIES[member.family].float32_splits:
            # Explaining the float64 values of a model that compares float32 inputs with its
            # thresholds sends a few near-threshold rows down other branches.
            encoded = encoded.astype(np.float32).astype(np.float64)
        X, B = encoded[:n], encoded[n:]
        K = max(table.n_classes, 1)
        # A member with fold models outputs their mean: its values are the mean of theirs.
        explained = [_explained(e, X, B, K, model.task.estimator_type == "classifier") for e in member.estimators]
        values = np.mean([v for v, _ in explained], axis=0)
        expected = np.mean([e for _, e in explained], axis=0)
        if values.shape != (n, encoded.shape[1], K) or expected.shape != (K,):
            return None
        truth = table.member_output(member, np.arange(n + b))
        tolerance = TREE_TOLERANCE * max(1.0, float(np.abs(truth).max()))
        if np.abs(expected - truth[n:].mean(axis=0)).max() > tolerance:
            return None
        exact = np.abs(values.sum(axis=1) + expected - truth[:n]).max(axis=1) <= tolerance
        grouping = np.zeros((encoded.shape[1], len(table.names)))
        grouping[np.arange(encoded.shape[1]), table.owners[key]] = 1.0
        return np.einsum("nwk,wd->ndk", values, grouping), exact
    except Exception:  # noqa: BLE001  (any failure: the member is explained by sampling)
        return None


def _explained(estimator: Any, X: np.ndarray, B: np.ndarray, K: int,
               classification: bool) -> tuple[np.ndarray, np.ndarray]:
    """TreeExplainer's interventional values of one fitted estimator, ``(n, d, K)``, and its
    base, ``(K,)``."""
    with warnings.catch_warnings():  # shap's import warns about matplotlib's deprecations
        warnings.simplefilter("ignore")
        import shap

        explainer = shap.TreeExplainer(estimator, data=B, feature_perturbation="interventional",
                                       model_output="probability" if classification else "raw")
        raw = explainer.shap_values(X, check_additivity=False)
    # One array per class (older shap) or one array (rows, columns[, classes]).
    values = np.stack(raw, axis=-1) if isinstance(raw, list) else np.asarray(raw, dtype=np.float64)
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    if values.ndim == 2:
        if K == 2:  # the positive class's values; the negative class's are their opposite
            values = np.stack([-values, values], axis=-1)
            expected = np.array([1.0 - expected[-1], expected[-1]])
        else:
            values = values[..., None]
    return values, expected


def sampled_values(table: EncodedRows, rows: np.ndarray, n: int, b: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Interventional Shapley values by permutation sampling for table rows ``rows``, whose
    background rows are table rows ``n .. n+b-1``: shape ``(len(rows), d, K)``.

    For each explained row ``i`` and background row ``j``, one random order of the columns
    (reversed for every other ``j``: antithetic pairs) turns ``j`` into ``i`` one column at a
    time; each column is credited with the change of output its step caused. The steps of one
    pair add up to ``f(i) - f(j)``, so the mean over ``j`` adds up exactly to ``f(i) - base``;
    each value is unbiased. shap's own PermutationExplainer is not used: its maskers take
    numeric arrays, while mixing raw columns (strings, dates) is done here on encoded rows.
    """
    d = len(table.names)
    K = max(table.n_classes, 1)
    phi = np.zeros((len(rows), d, K))
    ends = table.output(np.repeat(np.concatenate([rows, n + np.arange(b)])[:, None], d, axis=1))
    fx, fb = ends[:len(rows)], ends[len(rows):]
    if d == 1:
        phi[:, 0, :] = fx - fb.mean(axis=0)
        return phi
    per_chunk = max(1, 50_000 // (b * (d - 1)))
    steps = np.arange(1, d)
    for start in range(0, len(rows), per_chunk):
        local = np.arange(start, min(len(rows), start + per_chunk))
        pair_i = np.repeat(local, b)  # position in ``rows``
        pair_j = np.tile(np.arange(b), len(local))
        order = rng.random((len(pair_i), d)).argsort(axis=1)
        flip = pair_j % 2 == 1
        order[flip] = order[np.flatnonzero(flip) - 1][:, ::-1]
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.broadcast_to(np.arange(d), order.shape).copy(), axis=1)
        # Step t takes the columns ranked below t from the explained row, the others from the
        # background row.
        from_row = rank[:, None, :] < steps[None, :, None]  # (pairs, d-1, d)
        idx = np.where(from_row, rows[pair_i][:, None, None], n + pair_j[:, None, None]).reshape(-1, d)
        middle = table.output(idx).reshape(len(pair_i), d - 1, K)
        chain = np.concatenate([fb[pair_j][:, None], middle, fx[pair_i][:, None]], axis=1)  # (pairs, d+1, K)
        gains = (np.take_along_axis(chain, (rank + 1)[:, :, None], axis=1)
                 - np.take_along_axis(chain, rank[:, :, None], axis=1))  # (pairs, d, K)
        phi[local] = gains.reshape(len(local), b, d, K).mean(axis=1)
    return phi
