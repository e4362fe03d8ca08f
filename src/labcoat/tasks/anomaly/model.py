"""A fitted anomaly detector: the schema and preprocessing of the columns, the chosen PyOD
detectors and their weights (and a supervised model when labels chose one), the threshold, and
each column's training values to say why a row is unusual.

Scores are on a 0..1 scale shared with training: a row's ``anomaly_score`` is the share of
training rows whose combined score is at most its own (0.99: more unusual than 99% of the
training rows), so that a threshold, an alert rate and a drift check all read the same way.

Examples
--------
>>> from labcoat.datasets import make_transactions
>>> from labcoat.tasks.anomaly.fit import fit_anomaly
>>> data = make_transactions(600, seed=0)
>>> model = fit_anomaly(data.drop(columns="is_fraud"), budget=10, quiet=True, candidates=["hbos", "copod"])
>>> model.predict(data.head(3)).columns.tolist()
['anomaly_score', 'is_anomaly', 'reasons']
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from labcoat import __version__
from labcoat.data.schema import Schema
from labcoat.errors import ConfigError, DataError
from labcoat.tasks.anomaly.detectors import FittedDetector, to_ranks
from labcoat.tasks.anomaly.entity_use import add_at_predict
from labcoat.tasks.anomaly.fast_features import SMALL, compile_features
from labcoat.tasks.anomaly.features import feature_columns
from labcoat.tasks.anomaly.reasons import ColumnProfile
from labcoat.tasks.saved_folder import load_saved, write_mlmodel

FORMAT_VERSION = 1
KIND = "anomaly"
OUTPUT_COLUMNS = ["anomaly_score", "is_anomaly", "reasons"]


@dataclass
class AnomalyModel:
    """What ``labcoat.fit(data, task="anomaly")`` returns.

    :meth:`score` gives each row's anomaly score (0..1, higher = more unusual), :meth:`predict`
    the score, the flag (score at or above :attr:`threshold`) and, for flagged rows, the columns
    that make them unusual in words; :meth:`explain` each column's part, in words and numbers.
    """

    schema: Schema
    features: Any  #: the fitted ColumnTransformer (``features.py``)
    detectors: list[FittedDetector]
    weights: np.ndarray  #: one per detector, summing to 1 (over detectors and ``supervised``)
    reference: np.ndarray  #: the training rows' combined scores, sorted
    threshold: float  #: on the anomaly-score scale: rows scoring at least this are flagged
    profile: ColumnProfile
    training_scores: np.ndarray  #: the training rows' anomaly scores (the monitoring reference)
    leaderboard: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    #: A classifier learned from labels (``supervised.py``) and its weight in the combination.
    supervised: Any = None
    supervised_weight: float = 0.0
    #: The per-entity features (``entity.py``) with their state, added to the rows before the
    #: detectors; ``schema`` is then what a caller gives and ``features_schema`` what the detectors read.
    entity_features: Any = None
    features_schema: Any = None
    #: What the report shows that needs the training rows (``examples.py``): the most unusual
    #: rows, the detectors' ranks on a sample, alerts per day, held-out scores of labelled rows.
    examples: dict[str, Any] = field(default_factory=dict)

    task = KIND

    # ------------------------------------------------------------------ inputs
    @property
    def columns(self) -> dict[str, str]:
        """The input columns and their kinds (``numeric``, ``categorical``, ``boolean``, ``datetime``)."""
        return feature_columns(self.schema)

    def _prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows as the preprocessing takes them: a :class:`SchemaError` names a missing
        column or a value of the wrong type."""
        if isinstance(frame, dict):
            frame = pd.DataFrame([frame])
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"Give the rows to score as a table (a pandas DataFrame); got {type(frame).__name__}.")
        if frame.empty:
            raise DataError("There are no rows to score: the table is empty.")
        if self.entity_features is not None:
            return self.features_schema.prepare(add_at_predict(self.entity_features, frame), warn=False)
        return self.schema.prepare(frame, warn=False)

    # ------------------------------------------------------------------ scores
    def _combined(self, prepared: pd.DataFrame) -> np.ndarray:
        X = np.asarray(self._matrix(prepared), dtype=np.float64)
        return combine(X, self.detectors, self.weights, self.supervised, self.supervised_weight)

    def _matrix(self, prepared: pd.DataFrame) -> np.ndarray:
        """The detectors' input: a few rows (one served request) through the compiled fast
        path (``fast_features.py``, the same numbers), more through the transformer."""
        if len(prepared) <= SMALL:
            if "_fast" not in self.__dict__:
                self.__dict__["_fast"] = compile_features(self.features)
            fast = self.__dict__["_fast"]
            if fast is not None:
                return fast.transform(prepared)
        return np.asarray(self.features.transform(prepared))

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_fast"}

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's anomaly score: the share of training rows less unusual or as unusual (0..1)."""
        return to_ranks(self._combined(self._prepare(frame)), self.reference)

    def predict(self, frame: pd.DataFrame, threshold: float | None = None) -> pd.DataFrame:
        """``anomaly_score``, ``is_anomaly`` (score >= the threshold) and ``reasons`` (the flagged
        rows' unusual columns in words; empty for the others), indexed as ``frame``."""
        prepared = self._prepare(frame)
        scores = to_ranks(self._combined(prepared), self.reference)
        flagged = scores >= self._threshold(threshold)
        reasons = self.profile.reasons(prepared, flagged)
        return pd.DataFrame({"anomaly_score": scores, "is_anomaly": flagged, "reasons": reasons},
                            index=prepared.index)

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """:meth:`predict` at the model's threshold: what ``labcoat predict`` writes."""
        return self.predict(frame)

    def explain(self, frame: pd.DataFrame, top: int = 3) -> pd.DataFrame:
        """Per row of ``frame``, its ``top`` most unusual columns: ``row`` (the frame's index),
        ``anomaly_score``, ``rank``, ``column``, ``value``, ``surprise`` (``-log10`` of the share of
        training rows as extreme: 2 = 1 in 100), ``share`` (of the row's total surprise) and ``words``."""
        if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
            raise ConfigError(f"top must be a whole number of columns, at least 1; got {top!r}.")
        prepared = self._prepare(frame)
        scores = to_ranks(self._combined(prepared), self.reference)
        table = self.profile.explain(prepared, top=int(top))
        positions = table["row"].to_numpy()
        table.insert(1, "anomaly_score", scores[positions])
        table["row"] = prepared.index.to_numpy()[positions]
        return table

    def _threshold(self, threshold: float | None) -> float:
        if threshold is None:
            return self.threshold
        if isinstance(threshold, bool) or not 0 < float(threshold) <= 1:
            raise ConfigError(f"A threshold is an anomaly score above 0 and at most 1; got {threshold!r}.")
        return float(threshold)

    def summary(self) -> str:
        """What was fitted and decided, in a few lines of words."""
        info = self.info
        parts = [f"{d['name']} ({d['weight']:.2f})" for d in info.get("detectors", [])]
        learned = info.get("supervised")
        if learned and learned["model"] == "neighbours":
            parts.append(f"nearest labelled anomaly against nearest labelled normal row ({learned['weight']:.2f})")
        elif learned:
            parts.append(f"{learned['model']} on the columns and all the detectors' ranks ({learned['weight']:.2f})")
        chosen = ", ".join(parts)
        cut = info.get("threshold", {})
        lines = [f"labcoat anomaly detection on {info.get('rows', 0):,} rows, {len(self.columns)} columns.",
                 f"Detectors (weight): {chosen}; chosen by {info.get('criterion', '')}.",
                 f"Threshold: anomaly score >= {self.threshold:.4f} ({cut.get('mode', '')}: {cut.get('why', '')}); "
                 f"{info.get('training_alert_rate', 0):.2%} of the training rows flagged."]
        metrics = info.get("metrics")
        if metrics:
            lines.append("On the labels: " + ", ".join(
                f"{name} {m['value']:.4f} [{m['low']:.4f}, {m['high']:.4f}]" for name, m in metrics.items()
                if isinstance(m, dict) and "value" in m) + f" ({info.get('validation', '')}).")
        lines += [f"Notice: {n}" for n in info.get("notices", [])]
        return "\n".join(lines)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the model to folder ``path``: ``labcoat.json`` (what it is and decided),
        ``leaderboard.csv``, ``model.joblib`` and an ``MLmodel`` that makes it an MLflow pyfunc
        model (rows in; score, flag and reasons out)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"kind": KIND, "task": KIND, "format_version": FORMAT_VERSION, "labcoat_version": __version__,
                **self.info}
        (folder / "labcoat.json").write_text(json.dumps(meta, indent=2, default=str))
        self.leaderboard.to_csv(folder / "leaderboard.csv", index=False)
        joblib.dump(self, folder / "model.joblib")
        write_mlmodel(folder, "labcoat.tracking.anomaly_pyfunc",
                      inputs=[(name, mlflow_kind(str(self.schema.column(name).dtype))) for name in self.columns],
                      params=[])
        return folder

    @classmethod
    def load(cls, path: str | Path) -> AnomalyModel:
        """The model saved in folder ``path`` (a :class:`ModelFileError` saying what is wrong)."""
        return load_saved(path, cls, kind=KIND, format_version=FORMAT_VERSION, what="an anomaly model")


def mlflow_kind(dtype: str) -> str:
    """The MLflow signature type of a training column of pandas type ``dtype`` (MLflow refuses
    input of another type: datetimes for a string column, integers for a double one).

    >>> [mlflow_kind(d) for d in ("datetime64[us]", "int64", "float64", "bool", "str")]
    ['datetime', 'long', 'double', 'boolean', 'string']
    """
    if dtype.startswith("datetime64"):
        return "datetime"
    if dtype.lower().startswith(("int", "uint")):
        return "long"
    if dtype.lower().startswith("float"):
        return "double"
    return "boolean" if dtype in ("bool", "boolean") else "string"


def combine(X: np.ndarray, detectors: list[FittedDetector], weights: np.ndarray, supervised: Any = None,
            supervised_weight: float = 0.0) -> np.ndarray:
    """The weighted average of the detectors' ranks (and of the supervised model's, which reads
    the detectors' input and all their ranks) for the feature matrix ``X``."""
    needed = supervised is not None and supervised_weight > 0
    all_ranks = needed and getattr(supervised, "reads_ranks", True)
    ranks = [d.ranks(X) if (w > 0 or all_ranks) else np.zeros(len(X)) for d, w in zip(detectors, weights)]
    combined = np.column_stack(ranks) @ np.asarray(weights, dtype=np.float64) if ranks else np.zeros(len(X))
    if needed:
        combined = combined + supervised_weight * supervised.ranks(np.hstack([X, np.column_stack(ranks)]))
    # rounded: a sum's last bits depend on how many rows are multiplied at once, and a row must
    # rank against the training rows the same alone or in a batch
    return np.round(np.asarray(combined, dtype=np.float64), 12)
