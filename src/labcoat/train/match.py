"""``labcoat.match``: record matching through ``labcoat.fit(task="match")``, so that a match
model is tracked, reported and registered as every other model is."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from labcoat.train.pipeline import fit

if TYPE_CHECKING:
    from labcoat.tasks.match.model import MatchModel


def match(records: pd.DataFrame | str | Path, other: pd.DataFrame | str | Path | None = None, *,
          id_column: str | None = None, labels: pd.DataFrame | str | Path | None = None,
          budget: float | str | None = "2m", backend: str | None = None, spark: Any = None,
          **settings: Any) -> MatchModel:
    """Deduplicate ``records`` (or link them with ``other``) with no configuration, and return
    the match model: ``pairs()``, ``clusters()``, ``explain(id_a, id_b)``, ``find(new, k)``.

    ``backend`` is where Splink trains: ``"duckdb"`` (default) or ``"spark"`` on ``spark``, a
    SparkSession or a master URL such as ``"local[2]"`` or ``"spark://host:7077"`` (needs
    ``pip install 'labcoat[spark]'`` and Java 17); the model, and its scoring of new records on
    DuckDB, are the same either way.

    ``settings`` are :func:`labcoat.fit`'s (``track``, ``quiet``, ``register``, ``report_dir``...)
    and matching's own (``settings`` file, ``threshold``, ``costs``, ``columns``; see
    :func:`labcoat.tasks.match.fit.fit_match`).

    Examples
    --------
    >>> import labcoat
    >>> from labcoat.datasets import make_people
    >>> model = labcoat.match(make_people(300), id_column="rec_id", budget=30, track=False, quiet=True)  # doctest: +SKIP
    >>> model.clusters().head()                                                                           # doctest: +SKIP
    """
    if backend is not None:
        settings["backend"] = backend
    if spark is not None:
        settings["spark"] = spark
    model: MatchModel = fit(records, task="match", other=other, id_column=id_column, labels=labels, budget=budget,
                            **settings)
    return model
