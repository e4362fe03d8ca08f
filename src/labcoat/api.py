"""Public functions besides ``fit``: loading models."""

from __future__ import annotations

from pathlib import Path

from labcoat.model import Model

#: Prefixes of model URIs that live in the tracking store rather than on disk.
STORE_SCHEMES = ("runs:/", "models:/")


def load(path: str | Path, *, tracking_uri: str | None = None) -> Model:
    """Load a model: a folder written by :meth:`Model.save` or ``labcoat fit --out``, a run's
    model ``runs:/RUN_ID/model``, or a registered one ``models:/NAME/VERSION`` or
    ``models:/NAME@ALIAS`` (from ``tracking_uri``, default as in :func:`labcoat.fit`).

    Examples
    --------
    >>> import labcoat                                   # doctest: +SKIP
    >>> model = labcoat.load("models/churn")              # doctest: +SKIP
    >>> champion = labcoat.load("models:/churn@champion")  # doctest: +SKIP
    """
    if isinstance(path, str) and path.startswith(STORE_SCHEMES):
        from labcoat.tracking.runs import download_model

        return Model.load(download_model(path, tracking_uri))
    return Model.load(path)
