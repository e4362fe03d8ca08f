"""How another recommendation policy would have done, from the lists a service showed.

``labcoat serve RECOMMENDER --explore 0.05`` logs every shown list with each item's position
and the probability with which it was shown there, and ``/feedback`` adds the rewards. Here a
*target* policy (a recommender, possibly a new version, with an exploration setting) is
replayed on each logged request: its model scores the same candidates for the same user, the
policy gives the probability that it would have shown each logged item at its logged
position, and :mod:`labcoat.evaluate.off_policy` turns those weights into IPS, SNIPS and
doubly robust estimates of its reward per request, with 95% intervals, beside the logging
policy's own value.

Examples
--------
>>> estimates, summary = evaluate_policy(model, "predictions.db", explore=None)  # doctest: +SKIP
>>> summary["requests"], estimates[0].name                                       # doctest: +SKIP
(5000, 'ips')
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError
from labcoat.evaluate.off_policy import PolicyEstimate, estimate_all
from labcoat.serve.explore import parse_explore
from labcoat.serve.predlog import read_log


def logged_lists(log_path: str | Path, *, since: float | None = None) -> list[dict[str, Any]]:
    """The ``/recommend`` requests of a prediction log with their shown lists and rewards
    (a position without feedback has reward 0)."""
    path = Path(log_path)
    if not path.is_file():
        raise ConfigError(f"No prediction log at '{path}'; pass the --log of `labcoat serve`.")
    out = []
    for entry in read_log(path, since=since):
        if entry.get("endpoint") != "/recommend" or not entry["outputs"]:
            continue
        request = entry["inputs"][0]
        rewards = {int(row): float(label) for row, label in entry["labels"].items()}
        out.append({"request_id": entry["request_id"], "user": request["user"], "k": request["k"],
                    "items": request.get("items"), "exclude": request.get("exclude") or [],
                    "shown": [r["item"] for r in entry["outputs"]],
                    "propensity": [float(r["propensity"]) for r in entry["outputs"]],
                    "reward": [rewards.get(j, 0.0) for j in range(len(entry["outputs"]))],
                    "policy": request.get("policy"), "version": entry.get("version"), "time": entry["time"]})
    return out


def replay(model: Any, requests: list[dict[str, Any]], explore: str | None) -> pd.DataFrame:
    """One row per logged (request, position): the logging propensity, the reward and the
    probability that ``model`` with exploration ``explore`` would have shown the same item
    there (0 for an item it cannot rank)."""
    policy = parse_explore(explore)
    rows = []
    for number, request in enumerate(requests):
        candidates, scores, _ = model.user_scores(request["user"], items=request["items"],
                                                  exclude=request["exclude"])
        shown = request["shown"]
        index = pd.Index(candidates).get_indexer(pd.Index(shown, dtype=object))
        known = index >= 0
        target = np.zeros(len(shown))
        if len(candidates) and known.any():
            target = policy.propensity(scores, request["k"], np.where(known, index, 0))
            target = np.where(known, target, 0.0)
        rows += [{"request": number, "position": j, "reward": request["reward"][j],
                  "propensity": request["propensity"][j], "target_propensity": float(target[j])}
                 for j in range(len(shown))]
    return pd.DataFrame(rows, columns=["request", "position", "reward", "propensity", "target_propensity"])


def evaluate_policy(model: Any, log_path: str | Path, *, explore: str | None = None, since: float | None = None,
                    clip: float | None = None) -> tuple[list[PolicyEstimate], dict[str, Any]]:
    """Estimates of ``model`` (with exploration ``explore``) on the lists logged at
    ``log_path``, and a summary: requests, clicks, the logging policies seen."""
    requests = logged_lists(log_path, since=since)
    if not requests:
        raise ConfigError(f"The log '{log_path}' holds no /recommend request"
                          f"{' in that period' if since else ''}: serve a recommender and send traffic first.")
    frame = replay(model, requests, explore)
    summary = {"requests": len(requests), "shown": len(frame), "rewarded": int((frame["reward"] > 0).sum()),
               "logging_policies": sorted({str(r["policy"]) for r in requests}),
               "target_policy": parse_explore(explore).describe()}
    return estimate_all(frame, clip=clip), summary
