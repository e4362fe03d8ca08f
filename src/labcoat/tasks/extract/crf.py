"""The CRF candidate: a linear-chain conditional random field (CRFsuite through
``sklearn-crfsuite``, L-BFGS with L1 and L2 penalties ``c1``, ``c2``) over
:mod:`~labcoat.tasks.extract.features`' token features, and tagging with it.

Examples
--------
>>> from labcoat.tasks.extract.data import from_tokens
>>> from labcoat.tasks.extract.features import Featurizer, Gazetteer
>>> docs = [from_tokens(["Ann", "ran", "."], ["B-PER", "O", "O"]), from_tokens(["Bob", "sat"], ["B-PER", "O"])] * 5
>>> featurizer = Featurizer(Gazetteer())
>>> crf = train_crf([featurizer.sentence(d.tokens) for d in docs], [d.tags for d in docs], c1=0.0, c2=0.01,
...                 iterations=50)
>>> tags = tag(crf, featurizer.sentence(["Ann", "sat"]))
>>> tags, marginal(crf, tags, 0, 1) > 0.5
(['B-PER', 'O'], True)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labcoat.errors import ConfigError

EXTRA = ("Entity extraction (task='extract') needs sklearn-crfsuite: pip install 'labcoat[text]'.")


def require_crfsuite() -> None:
    """A :class:`~labcoat.errors.ConfigError` naming the extra when sklearn-crfsuite is missing."""
    try:
        import pycrfsuite  # noqa: F401
        import sklearn_crfsuite  # noqa: F401
    except ImportError as error:
        raise ConfigError(EXTRA) from error


def train_crf(X: Sequence[list[list[str]]], y: Sequence[Sequence[str]], *, c1: float, c2: float,
              iterations: int) -> Any:
    """A fitted ``sklearn_crfsuite.CRF`` on sentences' features ``X`` and tags ``y``
    (every transition between tags allowed; at most ``iterations`` L-BFGS iterations)."""
    import sklearn_crfsuite

    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, max_iterations=iterations,
                               all_possible_transitions=True)
    crf.fit(X, y)
    return crf


def iterations_run(crf: Any) -> int:
    """How many L-BFGS iterations ``crf``'s training ran (it stops early on convergence)."""
    log = getattr(crf, "training_log_", None)
    last = getattr(log, "last_iteration", None) if log is not None else None
    return int(last["num"]) if isinstance(last, dict) and "num" in last else int(crf.max_iterations)


def tag(crf: Any, sentence: list[list[str]]) -> list[str]:
    """``sentence``'s most probable tags by ``crf`` (it stays the tagger's current sentence)."""
    return list(crf.tagger_.tag(sentence))


def marginal(crf: Any, tags: Sequence[str], start: int, end: int) -> float:
    """The smallest marginal probability of ``tags[start:end]`` (an entity's) in the sentence
    last tagged by :func:`tag`: how sure the CRF is of its least sure token."""
    tagger = crf.tagger_
    return float(min(tagger.marginal(tags[i], i) for i in range(start, end)))
