"""Public functions besides ``fit``: loading models."""

from __future__ import annotations

from pathlib import Path

from labcoat.model import Model


def load(path: str | Path) -> Model:
    """Load a model saved by :meth:`Model.save` or ``labcoat fit --out``.

    Examples
    --------
    >>> import labcoat                       # doctest: +SKIP
    >>> model = labcoat.load("models/churn")  # doctest: +SKIP
    """
    return Model.load(path)
