"""A retraining decision in the tracking store: one run in the experiment ``labcoat-retrain``
and tags on the challenger's model version.

The run has the parameters ``policy``, ``margin``, ``metric`` (and the holdout), the metrics
``champion_score``, ``challenger_score``, ``difference``, ``ci_low``, ``ci_high``, ``p_value``
(and both scores' interval bounds), the tags ``champion_version``, ``challenger_version`` and
``decision`` (``promoted`` or ``kept``), and the whole decision as ``decision.json``. The
challenger's version gets ``labcoat.retrain.*`` tags with the same facts and the run id.

Examples
--------
>>> run_id = record_decision(decision, "sqlite:////tmp/doc.db")   # doctest: +SKIP
"""
from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labcoat.lifecycle.retrain import RetrainDecision

from labcoat.tracking import store
from labcoat.tracking.recorder import KIND_TAG, _param

EXPERIMENT = "labcoat-retrain"
VERSION_TAG = "labcoat.retrain."


def record_decision(decision: RetrainDecision, uri: str | None = None) -> str:
    """Write ``decision`` (a :class:`~labcoat.lifecycle.retrain.RetrainDecision`) to the store;
    returns the run id."""
    from mlflow.entities import Metric, Param

    facts = decision.to_dict()
    client = store.client(uri)
    tags = {KIND_TAG: "retrain", "labcoat.model": decision.name,
            "champion_version": decision.champion_version, "challenger_version": decision.challenger_version,
            "decision": decision.decision, "challenger_run_id": decision.challenger_run_id or ""}
    with store.quiet_mlflow():
        run = client.create_run(store.experiment_id(client, EXPERIMENT), tags=tags,
                                run_name=f"retrain {decision.name} v{decision.champion_version} vs "
                                         f"v{decision.challenger_version}")
        run_id = run.info.run_id
        params = {"policy": decision.policy, "margin": decision.margin, "metric": decision.metric,
                  "holdout": decision.holdout, "holdout_rows": decision.holdout_rows,
                  "train_rows": decision.train_rows, "settings": decision.settings}
        values = {"champion_score": decision.champion_score, "challenger_score": decision.challenger_score,
                  "champion_low": decision.champion_interval[0], "champion_high": decision.champion_interval[1],
                  "challenger_low": decision.challenger_interval[0],
                  "challenger_high": decision.challenger_interval[1], "difference": decision.difference,
                  "ci_low": decision.ci_low, "ci_high": decision.ci_high, "p_value": decision.p_value}
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in values.items() if math.isfinite(float(v))]
        client.log_batch(run_id, metrics=metrics, params=[Param(k, _param(v)) for k, v in params.items()])
        client.log_text(run_id, json.dumps({**facts, "run_id": run_id}, indent=2, default=str), "decision.json")
        client.set_terminated(run_id, "FINISHED")
        for key, value in {"decision": decision.decision, "policy": decision.policy, "margin": decision.margin,
                           "metric": decision.metric, "champion_version": decision.champion_version,
                           "difference": decision.difference, "ci_low": decision.ci_low,
                           "ci_high": decision.ci_high, "p_value": decision.p_value, "run_id": run_id}.items():
            client.set_model_version_tag(decision.name, decision.challenger_version, VERSION_TAG + key, str(value))
    return run_id
