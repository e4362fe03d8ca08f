"""A fitted segmentation: the schema and distance space it was found in, the chosen clusterer,
and what the segments are (:attr:`SegmentModel.segments`, in words and numbers).

Segments are numbered from 0, the largest first. Every row gets one: HDBSCAN's noise rows
are given to the nearest segment (``info["noise"]`` says so), so no row is ``-1``.

Examples
--------
>>> from labcoat.datasets import make_customers
>>> from labcoat.tasks.segment.fit import fit_segment
>>> customers = make_customers(300, seed=0)
>>> model = fit_segment(customers, k=4, budget=5, quiet=True)
>>> model.predict(customers.head(3)).name
'segment'
>>> model.segments.columns.tolist()
['segment', 'rows', 'share', 'description']
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd

from labcoat import __version__
from labcoat.errors import DataError
from labcoat.tasks.saved_folder import load_saved, write_mlmodel

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer

    from labcoat.data.schema import Schema
    from labcoat.tasks.segment.candidates import Clustering

FORMAT_VERSION = 1
KIND = "segment"


@dataclass
class SegmentModel:
    """What ``labcoat.fit(data, task="segment")`` returns: :meth:`predict` gives new rows'
    segments, :attr:`segments` describes them, :meth:`describe` says it all in words."""

    schema: Schema
    space: ColumnTransformer  #: the fitted transform from ``schema.prepare(rows)`` to the distance space
    clustering: Clustering
    order: np.ndarray  #: the clusterer's label → segment number (0: the largest)
    segments: pd.DataFrame  #: segment, rows, share, description
    profile: pd.DataFrame  #: each segment's value of each column against the whole (see describe.profile)
    leaderboard: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    map_sample: np.ndarray | None = None  #: a sample of training rows in the distance space (the report's map)
    map_segments: np.ndarray | None = None  #: their segments

    task = KIND

    def predict(self, rows: pd.DataFrame) -> pd.Series:
        """The segment of each of ``rows`` (the training table's columns; extra ones are
        ignored), as a Series named ``segment`` on ``rows``' index."""
        if isinstance(rows, dict):
            rows = pd.DataFrame([rows])
        if not isinstance(rows, pd.DataFrame):
            raise DataError(f"Give the rows to segment as a DataFrame; got {type(rows).__name__}.")
        if rows.empty:
            raise DataError("There are no rows to segment.")
        X = self.embed(rows)
        return pd.Series(self.order[self.clustering.predict(X)], index=rows.index, name="segment")

    def predict_frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        """:meth:`predict` as a one-column frame (what ``labcoat predict`` writes)."""
        return self.predict(rows).to_frame()

    def embed(self, rows: pd.DataFrame) -> np.ndarray:
        """``rows`` in the distance space the segments were found in."""
        prepared = self.schema.prepare(rows)
        return np.asarray(self.space.transform(prepared), dtype=float)

    def describe(self) -> str:
        """The segmentation in words: how it was chosen, then each segment."""
        info, chosen = self.info, self.info.get("chosen", {})
        stability = (f"stability {chosen['stability']:.2f} [{chosen['stability_low']:.2f}, "
                     f"{chosen['stability_high']:.2f}] (adjusted Rand index between refits on "
                     f"{info.get('resamples')} bootstrap samples)" if chosen.get("stability") is not None else "")
        lines = [f"{info.get('k')} segments of {info.get('rows', 0):,} rows, found by {chosen.get('candidate')} "
                 f"on {len(info.get('columns', []))} columns: silhouette {chosen.get('silhouette', float('nan')):.3f}, "
                 f"{stability}.", f"Chosen: {chosen.get('why', '')}."]
        if info.get("noise"):
            lines.append(f"{info['noise']} ({chosen.get('noise_share', 0):.1%} were noise).")
        lines += list(self.segments["description"])
        return "\n".join(lines)

    summary = describe

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the model to folder ``path``: ``labcoat.json``, ``segments.csv``,
        ``leaderboard.csv``, ``model.joblib`` and an ``MLmodel`` (rows in, segments out)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"kind": KIND, "task": KIND, "format_version": FORMAT_VERSION, "labcoat_version": __version__,
                **self.info}
        (folder / "labcoat.json").write_text(json.dumps(meta, indent=2, default=str))
        self.segments.to_csv(folder / "segments.csv", index=False)
        self.leaderboard.to_csv(folder / "leaderboard.csv", index=False)
        joblib.dump(self, folder / "model.joblib")
        types = self.info.get("input_types", {})  # the training table's, as MLflow names them
        inputs = [(c.name, types.get(c.name, "string")) for c in self.schema.features]
        write_mlmodel(folder, "labcoat.tracking.segment_pyfunc", inputs=inputs, params=[])
        return folder

    @classmethod
    def load(cls, path: str | Path) -> SegmentModel:
        """The model saved in folder ``path`` (a :class:`ModelFileError` saying what is wrong)."""
        return load_saved(path, cls, kind=KIND, format_version=FORMAT_VERSION, what="a segment model")
