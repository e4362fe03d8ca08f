"""An extraction model's fit as an MLflow run: the entity types, the candidate chosen (with its
settings) and the budget as parameters; entity-level F1, precision and recall with their 95% intervals
(``f1_low``, ``f1_high``...) and each type's F1 (``f1_PER``...) as metrics; the leaderboard,
the report and the model folder (``runs:/RUN_ID/model``).

Examples
--------
>>> run_id = record_extract(model, uri="sqlite:////tmp/doc.db", source="conll2003_train.tsv")  # doctest: +SKIP
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from labcoat.tracking import store
from labcoat.tracking.recorder import _param, finite_number
from labcoat.tracking.store import quiet_mlflow
from labcoat.tracking.task_run import close_run, open_run

#: The overall figures logged as metrics, each with its interval's ends.
FIGURES = ("f1", "precision", "recall")


def metrics_of(scores: Any) -> dict[str, float]:
    """The run's metrics from the evaluation's scores (rows: types, then ``overall``): overall
    F1, precision, recall and their interval ends, and each type's F1, precision and recall
    (MLflow's metric names keep letters, digits and ``_-./ ``; other characters become ``_``).

    >>> import pandas as pd
    >>> scores = pd.DataFrame({"f1": [0.8, 0.9], "f1_low": [0.7, 0.85], "precision": [0.8, 0.9],
    ...                        "recall": [0.8, 0.9]}, index=["B&W", "overall"])
    >>> metrics_of(scores)
    {'f1': 0.9, 'f1_low': 0.85, 'precision': 0.9, 'recall': 0.9, 'f1_B_W': 0.8, 'precision_B_W': 0.8, 'recall_B_W': 0.8}
    """
    out: dict[str, float] = {}
    overall = scores.loc["overall"]
    for name in FIGURES:
        for column in (name, f"{name}_low", f"{name}_high"):
            if column in scores.columns and finite_number(overall[column]):
                out[column] = float(overall[column])
    for label, row in scores.drop(index="overall").iterrows():
        safe = re.sub(r"[^\w\-. /]", "_", str(label))
        out.update({f"{name}_{safe}": float(row[name]) for name in FIGURES if finite_number(row[name])})
    return out


def record_extract(model: Any, *, uri: str | None = None, experiment: str = store.EXPERIMENT,
                   source: str = "in-memory", run_name: str | None = None, report: Path | None = None) -> str:
    """Write ``model``'s fit (and its ``report`` under ``reports/``) to the store at ``uri``;
    returns the run id."""
    from mlflow.entities import Metric, Param

    info = model.info
    chosen = info.get("chosen") or {}
    now = int(time.time() * 1000)
    with quiet_mlflow():
        client, _, run_id = open_run(uri, experiment, run_name or "extract", task="extract", source=source,
                                     fingerprint=str(info.get("fingerprint", "")))
        figures = metrics_of(model.evaluation.scores)
        figures["fit_seconds"] = float(info.get("seconds", 0.0))
        metrics = [Metric(name, value, now, 0) for name, value in figures.items()]
        params = [Param("entity_types", _param(list(model.labels))),
                  Param("candidate", _param(chosen.get("candidate"))),
                  Param("budget_seconds", _param(info.get("budget_seconds")))]
        params += [Param(key, _param(value)) for key, value in chosen.items()  # its settings (c1, c2...)
                   if key != "candidate" and not key.endswith("f1")]
        if finite_number(chosen.get("validation_f1")):
            metrics.append(Metric("validation_f1", float(chosen["validation_f1"]), now, 0))
        client.log_batch(run_id, metrics=metrics, params=params)
        close_run(client, run_id, model, report)
    return run_id
