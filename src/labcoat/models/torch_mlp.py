"""A multilayer perceptron for tables in PyTorch (CPU), as scikit-learn estimators.

The input is a float matrix whose first ``n_categoricals`` columns hold category codes
(0, 1, 2..., NaN for missing or unknown: the ``"neural"`` preprocessing style), each looked
up in an embedding, and whose other columns are numbers, used as they are. Hidden layers are
``Linear → LayerNorm → ReLU → Dropout``; AdamW trains them on mini-batches with a cosine
learning-rate decay over ``max_epochs``, and early stopping keeps the weights of the epoch
with the lowest validation loss (cross-entropy, or squared error on the standardised target).

Training is deterministic for a ``random_state`` and ``n_jobs`` (it seeds PyTorch's generator
inside :func:`torch.random.fork_rng`, so the caller's stream is left as it was) and runs on
``n_jobs`` threads; a few rows are predicted by the same arithmetic in numpy, without PyTorch. The
fitted network pickles as plain numpy arrays (see :meth:`_MLP.__getstate__`).

This module imports torch; ``labcoat.models.mlp`` (the family) imports it only when it
builds an estimator, so that ``import labcoat`` never loads PyTorch.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from torch import nn

from labcoat.models._base import align_classes
from labcoat.models._companions import Companions

#: Inputs up to this many rows are predicted on one thread (a pool's start-up costs more).
SMALL_INPUT = 64
#: Rows per forward pass when predicting or validating, which bounds memory.
CHUNK = 8192
#: A category seen fewer times in training shares the "rare or unknown" embedding.
MIN_COUNT = 3
#: The learning rate decays (cosine) to this share of its start by ``max_epochs``.
FINAL_LR_SHARE = 0.05
#: The internal validation split needs at least this many rows (else no early stopping).
MIN_VALIDATION_ROWS = 30
#: ``nn.LayerNorm``'s default, which the numpy forward pass repeats.
LAYER_NORM_EPS = 1e-5


class _Network(nn.Module):
    """Embeddings of the category codes, concatenated with the numbers, through the layers."""

    def __init__(self, cardinalities: list[int], dims: list[int], n_numeric: int, width: int,
                 depth: int, dropout: float, n_outputs: int) -> None:
        super().__init__()
        embeddings = [nn.Embedding(c, d) for c, d in zip(cardinalities, dims)]
        for embedding in embeddings:  # small at first: a rare code adds little noise
            nn.init.normal_(embedding.weight, std=0.1)
        self.embeddings = nn.ModuleList(embeddings)
        layers: list[nn.Module] = []
        size = sum(dims) + n_numeric
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.LayerNorm(width, eps=LAYER_NORM_EPS), nn.ReLU(),
                       nn.Dropout(dropout)]
            size = width
        layers.append(nn.Linear(size, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, codes: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
        parts = [embedding(codes[:, j]) for j, embedding in enumerate(self.embeddings)]
        out: torch.Tensor = self.layers(torch.cat([*parts, numbers], dim=1))
        return out


class _MLP(BaseEstimator):
    """What the classifier and the regressor share; see the module docstring.

    Parameters
    ----------
    n_categoricals : how many leading columns are category codes.
    width, depth : units per hidden layer and number of hidden layers.
    dropout : dropout rate after each hidden layer.
    learning_rate, weight_decay : AdamW's.
    batch_size : rows per gradient step.
    embedding_dim : the largest embedding (a category column with k values gets
        ``min(embedding_dim, round(1.6 * k ** 0.56))`` dimensions).
    max_epochs : the most epochs, and the horizon of the learning-rate decay.
    epochs : train exactly this many epochs without early stopping (a refit on all rows).
    patience : epochs without a better validation loss before stopping.
    validation_fraction : share of the rows kept for early stopping when ``fit`` is given
        no validation rows.
    random_state, n_jobs : seed and threads.
    """

    def __init__(self, *, n_categoricals: int = 0, width: int = 256, depth: int = 2,
                 dropout: float = 0.1, learning_rate: float = 2e-3, weight_decay: float = 1e-5,
                 batch_size: int = 128, embedding_dim: int = 16, max_epochs: int = 100,
                 epochs: int | None = None, patience: int = 10, validation_fraction: float = 0.1,
                 random_state: int = 0, n_jobs: int = 1) -> None:
        self.n_categoricals = n_categoricals
        self.width = width
        self.depth = depth
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.embedding_dim = embedding_dim
        self.max_epochs = max_epochs
        self.epochs = epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ what subclasses say
    def _encode_target(self, y: np.ndarray) -> tuple[torch.Tensor, int]:
        """Learn the target's encoding; the training target as a tensor and the output width."""
        raise NotImplementedError

    def _target(self, y: np.ndarray) -> torch.Tensor:
        """The target as the loss sees it, with the encoding learnt by ``_encode_target``."""
        raise NotImplementedError

    def _loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any, *, X_valid: Any = None, y_valid: Any = None,
            deadline: float | None = None) -> _MLP:
        """Train on ``X, y``; stop early on ``X_valid, y_valid`` (else on a split of ``X``)
        and between mini-batches once ``time.monotonic()`` passes ``deadline``."""
        X, y = _dense(X), np.asarray(y)
        self.n_features_in_ = X.shape[1]
        k = self.n_categoricals
        self.code_maps_ = [_code_map(X[:, j]) for j in range(k)]
        cardinalities = [int(m.max()) + 1 for m in self.code_maps_]
        self.network_spec_: dict[str, Any] = {
            "cardinalities": cardinalities,
            "dims": [min(self.embedding_dim, max(2, round(1.6 * c ** 0.56))) for c in cardinalities],
            "n_numeric": X.shape[1] - k, "width": self.width, "depth": self.depth,
            "dropout": self.dropout, "n_outputs": 0}
        target, self.network_spec_["n_outputs"] = self._encode_target(y)
        generator = np.random.default_rng(self.random_state)
        valid = None
        if self.epochs is None and X_valid is not None and y_valid is not None and len(y_valid):
            valid = (*self._tensors(_dense(X_valid)), self._target(np.asarray(y_valid)))
        elif self.epochs is None and self.validation_fraction > 0 and \
                len(y) * self.validation_fraction >= MIN_VALIDATION_ROWS:
            held = generator.permutation(len(y))[:int(len(y) * self.validation_fraction)]
            keep = np.setdiff1d(np.arange(len(y)), held)
            valid = (*self._tensors(X[held]), target[held])
            X, target = X[keep], target[keep]
        with _threads(self.n_jobs), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            self.network_ = _Network(**self.network_spec_)
            self._train(*self._tensors(X), target, valid, deadline)
        self.network_.eval()
        return self

    def _train(self, codes: torch.Tensor, numbers: torch.Tensor, target: torch.Tensor,
               valid: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
               deadline: float | None) -> None:
        network = self.network_
        optimizer = torch.optim.AdamW(network.parameters(), lr=self.learning_rate,
                                      weight_decay=self.weight_decay)
        horizon = max(self.max_epochs, 1)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: FINAL_LR_SHARE + (
            1 - FINAL_LR_SHARE) * 0.5 * (1 + math.cos(math.pi * min(e, horizon) / horizon)))
        shuffle = torch.Generator().manual_seed(self.random_state)
        n, size = len(target), max(1, min(self.batch_size, len(target)))
        epochs = self.epochs if self.epochs is not None else self.max_epochs
        best, best_state, waited = math.inf, None, 0
        self.n_epochs_, self.best_epoch_, self.stopped_ = 0, 0, False
        for epoch in range(1, epochs + 1):
            network.train()
            order = torch.randperm(n, generator=shuffle)
            for start in range(0, n, size):
                rows = order[start:start + size]
                optimizer.zero_grad(set_to_none=True)
                self._loss(network(codes[rows], numbers[rows]), target[rows]).backward()
                optimizer.step()
                if deadline is not None and time.monotonic() >= deadline:
                    self.stopped_ = True
                    break
            schedule.step()
            self.n_epochs_ = epoch
            if valid is None:
                self.best_epoch_ = epoch
            else:
                loss = self._validation_loss(*valid)
                if loss < best:
                    best, best_state, waited, self.best_epoch_ = loss, _copy(network), 0, epoch
                else:
                    waited += 1
                if waited >= self.patience:
                    break
            if self.stopped_:
                break
        if best_state is not None:
            network.load_state_dict(best_state)

    def _validation_loss(self, codes: torch.Tensor, numbers: torch.Tensor, target: torch.Tensor) -> float:
        self.network_.eval()
        with torch.inference_mode():
            total = sum(float(self._loss(self.network_(codes[i:i + CHUNK], numbers[i:i + CHUNK]),
                                         target[i:i + CHUNK])) * len(target[i:i + CHUNK])
                        for i in range(0, len(target), CHUNK))
        return total / max(len(target), 1)

    # ------------------------------------------------------------------ predict
    def _inputs(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embedding indices (0 missing, 1 rare or unknown, 2... known codes) and numbers.

        All columns' code maps are looked up at once, end to end in one array: a loop over
        the columns cost 0.13 ms of one row's 0.34 ms on credit-g's 16 categories."""
        sizes = np.array([len(lookup) for lookup in self.code_maps_], dtype=np.int64)
        flat = np.concatenate(self.code_maps_) if self.code_maps_ else np.zeros(0, dtype=np.int64)
        codes = _embedding_codes(X[:, :self.n_categoricals], sizes, np.cumsum(sizes) - sizes, flat)
        return codes, _numbers(X, self.n_categoricals)

    def _tensors(self, X: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_inputs` as tensors (sharing their memory)."""
        codes, numbers = self._inputs(X)
        return torch.from_numpy(codes), torch.from_numpy(numbers)

    def _raw(self, X: Any) -> np.ndarray:
        """The network's outputs for ``X``, on one thread for a few rows."""
        if not hasattr(self, "network_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit first.")
        X = _dense(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} columns; {type(self).__name__} was fitted on "
                             f"{self.n_features_in_}.")
        codes, numbers = self._inputs(X)
        if len(X) <= SMALL_INPUT:
            return self._raw_in_numpy(codes, numbers)
        codes_t, numbers_t = torch.from_numpy(codes), torch.from_numpy(numbers)
        with _threads(self.n_jobs), torch.inference_mode():
            if len(X) <= CHUNK:
                return self.network_(codes_t, numbers_t).double().numpy()
            return np.concatenate([self.network_(codes_t[i:i + CHUNK], numbers_t[i:i + CHUNK]).double().numpy()
                                   for i in range(0, len(X), CHUNK)])

    def _raw_in_numpy(self, codes: np.ndarray, numbers: np.ndarray) -> np.ndarray:
        """The network's forward pass in numpy (float32, as PyTorch's), for a few rows: there
        PyTorch's dispatch per operation and its switch to one thread cost more than the
        arithmetic (see ``benchmarks/RESULTS.md``, single-row latency)."""
        arrays = _ARRAYS.get(self)
        assert arrays is not None
        parts = [table[codes[:, j]] for j, table in enumerate(arrays["embeddings"])]
        x = np.concatenate([*parts, numbers], axis=1) if parts else numbers
        return _forward(x, arrays["hidden"], arrays["output"])

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        """The fitted network as numpy arrays (its architecture is ``network_spec_``)."""
        state: dict[str, Any] = dict(super().__getstate__())  # Python's own is __dict__ itself
        network = state.get("network_")
        if isinstance(network, nn.Module):
            state["network_"] = {name: value.detach().numpy().copy()
                                 for name, value in network.state_dict().items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.get("network_")
        super().__setstate__(state)
        if isinstance(weights, dict):
            network = _Network(**self.network_spec_)
            network.load_state_dict({name: torch.from_numpy(value) for name, value in weights.items()})
            self.network_ = network.eval()


class MLPClassifier(ClassifierMixin, _MLP):
    """A PyTorch MLP for classes: cross-entropy, probabilities by softmax.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.integers(0, 3, 300), rng.normal(size=300)])
    >>> y = (X[:, 0] == 1) ^ (X[:, 1] > 0)
    >>> clf = MLPClassifier(n_categoricals=1, max_epochs=30).fit(X, y)
    >>> clf.classes_.tolist(), clf.predict_proba(X[:2]).shape, float(clf.score(X, y)) > 0.9
    ([False, True], (2, 2), True)
    """

    def _encode_target(self, y: np.ndarray) -> tuple[torch.Tensor, int]:
        self.classes_ = np.unique(y)
        return self._target(y), len(self.classes_)

    def _target(self, y: np.ndarray) -> torch.Tensor:
        index = np.searchsorted(self.classes_, y)
        return torch.from_numpy(np.clip(index, 0, len(self.classes_) - 1).astype(np.int64))

    def _loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(out, target)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities, one column per class of ``classes_``."""
        raw = self._raw(X)
        raw -= raw.max(axis=1, keepdims=True)
        proba = np.exp(raw)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row."""
        return np.asarray(self.classes_[self._raw(X).argmax(axis=1)])


class MLPRegressor(RegressorMixin, _MLP):
    """A PyTorch MLP for numbers: squared error on the standardised target.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))
    >>> y = 10 + 5 * X[:, 0] - 3 * X[:, 1] ** 2
    >>> reg = MLPRegressor(max_epochs=40).fit(X, y)
    >>> reg.predict(X[:3]).shape, float(reg.score(X, y)) > 0.9
    ((3,), True)
    """

    def _encode_target(self, y: np.ndarray) -> tuple[torch.Tensor, int]:
        y = y.astype(np.float64)
        self.target_mean_ = float(y.mean())
        self.target_scale_ = float(y.std()) or 1.0
        return self._target(y), 1

    def _target(self, y: np.ndarray) -> torch.Tensor:
        scaled = (y.astype(np.float64) - self.target_mean_) / self.target_scale_
        return torch.from_numpy(scaled.astype(np.float32)).reshape(-1, 1)

    def _loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(out, target)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values, on the target's scale."""
        return self._raw(X)[:, 0] * self.target_scale_ + self.target_mean_


def _forward(x: np.ndarray, hidden: Sequence[tuple[np.ndarray, ...]], output: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The network's forward pass in numpy on inputs ``x`` (rows, inputs), or several networks'
    at once on (networks, rows, inputs) with their arrays stacked the same way."""
    for weight, bias, scale, shift in hidden:
        x = np.matmul(x, weight)
        x += bias
        # LayerNorm, then ReLU (dropout is off when predicting), in place and with
        # np.add.reduce rather than x.mean: a third of the layer's time on one row
        per_unit = 1.0 / x.shape[-1]
        x -= np.add.reduce(x, axis=-1, keepdims=True) * per_unit
        x *= 1.0 / np.sqrt(np.add.reduce(x * x, axis=-1, keepdims=True) * per_unit + LAYER_NORM_EPS)
        x *= scale
        x += shift
        np.maximum(x, 0.0, out=x)
    weight, bias = output
    return np.asarray(np.matmul(x, weight) + bias, dtype=np.float64)


def _embedding_codes(raw: np.ndarray, sizes: np.ndarray, starts: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Embedding indices of category codes ``raw`` (rows, columns): each column's code map is
    ``flat[start:start + size]``; ``sizes`` and ``starts`` are (columns,) for one network, or
    (networks, 1, columns) for several at once, giving (networks, rows, columns)."""
    known = np.isfinite(raw) & (raw >= 0) & (raw < sizes.max(initial=0))  # a cast to int64 is safe
    whole = np.where(known, raw, 0).astype(np.int64)
    known = known & (whole == raw) & (whole < sizes)
    lookup = flat[np.where(known, whole + starts, 0)] if flat.size else np.zeros(known.shape, dtype=np.int64)
    return np.where(known, lookup, np.where(np.isnan(raw), 0, 1)).astype(np.int64)


def _numbers(X: np.ndarray, n_categoricals: int) -> np.ndarray:
    """The numeric columns as the network takes them: float32, missing and infinite as 0."""
    numbers = X[:, n_categoricals:].astype(np.float32)
    np.nan_to_num(numbers, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return numbers


def _numpy_arrays(model: _MLP) -> dict[str, Any]:
    """A fitted network's weights as numpy arrays, laid out for ``_MLP._raw_in_numpy``."""
    w = {name: value.detach().numpy() for name, value in model.network_.state_dict().items()}
    depth, tables = model.network_spec_["depth"], len(model.network_spec_["cardinalities"])
    # layers: (Linear, LayerNorm, ReLU, Dropout) x depth, then the output Linear
    linear = [(w[f"layers.{4 * i}.weight"].T.copy(), w[f"layers.{4 * i}.bias"])
              for i in range(depth + 1)]
    norms = [(w[f"layers.{4 * i + 1}.weight"], w[f"layers.{4 * i + 1}.bias"])
             for i in range(depth)]
    return {"embeddings": [w[f"embeddings.{j}.weight"] for j in range(tables)],
            "hidden": [(*lin, *norm) for lin, norm in zip(linear, norms)], "output": linear[depth]}


#: Each fitted network's numpy arrays, made on its first few-row prediction, never pickled, made
#: again once the estimator is fitted again (a new ``network_``).
_ARRAYS: Companions[dict[str, Any]] = Companions(_numpy_arrays,
                                                 version=lambda model: (model.network_,))


class MergedNetworks:
    """Fitted networks predicting a few rows together (an MLP member and its fold models, or
    several members on one input): the networks of one layout have their weights stacked and
    run one ``np.matmul`` per layer over the stack, their inputs looked up at once, rather than
    one forward pass each (penguins' two members with their fold models, twelve networks: one row
    2.98 -> 1.53 ms). Gives the weighted sum of what ``MLPFamily.predict`` gives for each
    (probabilities spread over ``n_classes``, or values).
    """

    def __init__(self, estimators: list[_MLP], weights: list[float], kind: str, n_classes: int | None) -> None:
        self.kind, self.n_classes = kind, n_classes
        self.n_features = {e.n_features_in_ for e in estimators}
        if len(self.n_features) != 1:
            raise ValueError("networks of different inputs")
        stacks: dict[tuple[Any, ...], list[tuple[_MLP, dict[str, Any], float]]] = {}
        for estimator, weight in zip(estimators, weights):
            arrays = _ARRAYS.get(estimator)
            if arrays is None:
                raise ValueError("a network without numpy arrays")
            layout = (tuple(layer[0].shape for layer in arrays["hidden"]), arrays["output"][0].shape,
                      tuple(getattr(estimator, "classes_", ())))
            stacks.setdefault(layout, []).append((estimator, arrays, weight))
        self.stacks = [_Stack(members) for members in stacks.values()]

    def __call__(self, X: Any) -> np.ndarray | None:
        if not isinstance(X, np.ndarray) or X.ndim != 2 or len(X) > SMALL_INPUT or X.shape[1] not in self.n_features:
            return None
        total: np.ndarray | None = None
        for stack in self.stacks:
            out = stack.output(X, self.kind, self.n_classes)
            total = out if total is None else total + out
        return total


class _Stack:
    """Networks of one layout (and, for classes, the same classes seen), their arrays stacked."""

    def __init__(self, members: list[tuple[_MLP, dict[str, Any], float]]) -> None:
        self.estimators = [e for e, _, _ in members]
        self.embeddings = [a["embeddings"] for _, a, _ in members]
        # every network's code maps end to end, for one lookup of all (see _embedding_codes)
        self.n_categoricals = self.estimators[0].n_categoricals
        maps = [m for e in self.estimators for m in e.code_maps_]
        sizes = np.array([len(m) for m in maps], dtype=np.int64)
        self.sizes = sizes.reshape(len(self.estimators), 1, self.n_categoricals)
        self.starts = (np.cumsum(sizes) - sizes).reshape(self.sizes.shape)
        self.flat = np.concatenate(maps) if maps else np.zeros(0, dtype=np.int64)
        arrays = [a for _, a, _ in members]
        self.hidden = []
        for i in range(len(arrays[0]["hidden"])):
            weight = np.stack([a["hidden"][i][0] for a in arrays])  # (networks, inputs, units)
            bias, scale, shift = (np.stack([a["hidden"][i][j] for a in arrays])[:, None] for j in (1, 2, 3))
            self.hidden.append((weight, bias, scale, shift))
        self.last = (np.stack([a["output"][0] for a in arrays]), np.stack([a["output"][1] for a in arrays])[:, None])
        self.weights = np.array([w for _, _, w in members])
        self.scale = np.array([getattr(e, "target_scale_", 1.0) for e in self.estimators])[:, None]
        self.mean = np.array([getattr(e, "target_mean_", 0.0) for e in self.estimators])[:, None]

    def output(self, X: np.ndarray, kind: str, n_classes: int | None) -> np.ndarray:
        k = self.n_categoricals
        numbers = _numbers(X, k)  # the same for every network
        if k:
            codes = _embedding_codes(X[:, :k], self.sizes, self.starts, self.flat)  # (networks, rows, k)
            parts = [table[codes[g, :, j]] for g, tables in enumerate(self.embeddings) for j, table in enumerate(tables)]
            # (rows, networks x width) -> (networks, rows, width): one layout, one width
            embedded = np.concatenate(parts, axis=1).reshape(len(X), len(self.embeddings), -1).transpose(1, 0, 2)
            x = np.concatenate([embedded, np.broadcast_to(numbers, (len(self.embeddings), *numbers.shape))], axis=2)
        else:
            x = np.broadcast_to(numbers, (len(self.embeddings), *numbers.shape))
        raw = _forward(x, self.hidden, self.last)
        if kind != "classifier":
            return np.einsum("g,gn->n", self.weights, raw[:, :, 0] * self.scale + self.mean)
        raw -= raw.max(axis=2, keepdims=True)
        proba = np.exp(raw)
        proba /= proba.sum(axis=2, keepdims=True)
        # the stack's networks saw the same classes: a fold that lacked one spreads as each would
        return align_classes(self.estimators[0], np.einsum("g,gnc->nc", self.weights, proba), n_classes)


@cache
def warm_up() -> None:
    """Train a tiny network for one epoch, once per process: PyTorch's first training pass
    costs about a second more than the later ones (2,400 rows x 16 columns: 1.8 s, then 0.7-0.8
    s), which a trial's first fold would otherwise be judged by.

    Examples
    --------
    >>> warm_up()
    """
    rows = np.random.default_rng(0).normal(size=(64, 4))
    MLPClassifier(width=8, depth=1, epochs=1, n_jobs=1).fit(rows, (rows[:, 0] > 0).astype(int))


def _dense(X: Any) -> np.ndarray:
    """``X`` as a 2-D float64 array (a sparse matrix made dense)."""
    if hasattr(X, "toarray"):
        X = X.toarray()
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(-1, 1) if X.ndim == 1 else X


def _code_map(column: np.ndarray) -> np.ndarray:
    """Embedding index by category code: 2, 3... for codes seen at least :data:`MIN_COUNT`
    times (most frequent first), 1 for the others."""
    codes = column[np.isfinite(column) & (column >= 0)]
    codes = codes[codes == np.floor(codes)].astype(np.int64)
    counts = np.bincount(codes, minlength=1)
    lookup = np.ones(len(counts), dtype=np.int64)
    frequent = np.flatnonzero(counts >= MIN_COUNT)
    frequent = frequent[np.argsort(-counts[frequent], kind="stable")]
    lookup[frequent] = np.arange(2, 2 + len(frequent))
    return lookup


def _copy(network: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in network.state_dict().items()}


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """PyTorch's intra-op threads set to ``n`` (all cores for n < 1), restored after."""
    wanted = n if n >= 1 else os.cpu_count() or 1
    previous = torch.get_num_threads()
    if wanted != previous:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if wanted != previous:
            torch.set_num_threads(previous)
