"""Monitoring a served recommender from its prediction log: the live reward per request and
click-through rate of the recent window against the traffic before it (or, without earlier
traffic, against the off-policy estimate from the recent window itself: what the greedy model
would earn), and the popularity of what it shows against the popularity of what users chose in
its training data.

Two alerts, each a reason for exit code 1: the recent reward per request is lower than the
reference by more than ``tolerance`` (relative) with the difference's 95% interval below zero,
and the population stability index (PSI) of the shown items' popularity deciles against those
shown before the window is above :data:`PSI_ALERT` (the lists have drifted towards, or away
from, the best sellers). Without earlier traffic the popularity is compared with what users
chose in training, for information only: a recommender that leaves out what each user already
met is expected to differ from it.

Examples
--------
>>> result = monitor_recommender(model, "predictions.db", since=time.time() - 86400)  # doctest: +SKIP
>>> result["alerts"]                                                                # doctest: +SKIP
[]
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.errors import ConfigError
from labcoat.lifecycle.policy_eval import logged_lists
from labcoat.monitoring.stattests import psi

#: PSI of the shown items' popularity deciles above which the popularity has drifted.
PSI_ALERT = 0.2
#: Fewest requests in the recent window for its reward to be compared.
MIN_REQUESTS = 30


def monitor_recommender(model: Any, log_path: str | Path, *, since: float | None, tolerance: float = 0.1
                        ) -> dict[str, Any]:
    """The check as a JSON-able dict: ``live``, ``reference``, ``difference``, ``popularity``,
    ``alerts`` (words), ``exit_code`` (0 or 1)."""
    everything = logged_lists(log_path)
    if not everything:
        raise ConfigError(f"The log '{log_path}' holds no /recommend request: serve the recommender and send "
                          "traffic first.")
    times = np.array([r["time"] for r in everything])
    recent = [r for r, t in zip(everything, times) if since is None or t >= since]
    earlier = [r for r, t in zip(everything, times) if since is not None and t < since]
    if len(recent) < MIN_REQUESTS:
        raise ConfigError(f"Only {len(recent)} requests in the window: at least {MIN_REQUESTS} are needed to "
                          "judge the reward; widen --since.")
    live = _reward(recent)
    alerts: list[str] = []
    if earlier:
        reference = {**_reward(earlier), "source": f"the {len(earlier):,} requests before the window"}
    else:
        from labcoat.lifecycle.policy_eval import replay
        from labcoat.evaluate.off_policy import snips

        estimate = snips(replay(model, recent, None))
        reference = {"reward_per_request": estimate.value, "low": estimate.low, "high": estimate.high,
                     "requests": len(recent), "source": "the off-policy (SNIPS) estimate of the greedy model on "
                                                        "the window's own log (no earlier traffic)"}
    difference = live["reward_per_request"] - reference["reward_per_request"]
    spread = math.hypot(live["high"] - live["low"], reference["high"] - reference["low"]) / 2
    low, high = difference - spread, difference + spread
    if reference["reward_per_request"] > 0 and -difference / reference["reward_per_request"] > tolerance and high < 0:
        alerts.append(f"the reward per request fell from {reference['reward_per_request']:.4f} to "
                      f"{live['reward_per_request']:.4f} ({difference / reference['reward_per_request']:+.1%}, "
                      f"95% interval of the difference [{low:+.4f}, {high:+.4f}])")
    popularity = _popularity(model, recent, earlier)
    if earlier and popularity["psi"] > PSI_ALERT:
        alerts.append(f"the popularity of what is shown drifted from what was shown before (PSI "
                      f"{popularity['psi']:.3f} > {PSI_ALERT}; {popularity['top_decile_share']:.1%} of the shown "
                      "items are now in the top popularity decile)")
    return {"live": live, "reference": reference,
            "difference": {"value": difference, "low": low, "high": high, "tolerance": tolerance},
            "popularity": popularity, "alerts": alerts, "exit_code": 1 if alerts else 0}


def _reward(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Reward per request and click-through rate per shown item, with normal 95% intervals."""
    per_request = np.array([sum(r["reward"]) for r in requests], dtype=float)
    clicked = np.concatenate([np.asarray(r["reward"], dtype=float) > 0 for r in requests])
    half = 1.96 * per_request.std(ddof=1) / math.sqrt(len(per_request)) if len(per_request) > 1 else 0.0
    mean = float(per_request.mean())
    return {"reward_per_request": mean, "low": mean - half, "high": mean + half, "requests": len(requests),
            "click_through_rate": float(clicked.mean()), "shown": int(len(clicked))}


def _popularity(model: Any, recent: list[dict[str, Any]], earlier: list[dict[str, Any]]) -> dict[str, Any]:
    """PSI of the training popularity deciles of what was shown in the window, against what was
    shown before it (or, without earlier traffic, what users chose in training)."""
    ranked = pd.Series(model.popularity).rank(pct=True, method="average").to_numpy()
    deciles = np.minimum((ranked * 10).astype(int), 9)

    def shown(requests: list[dict[str, Any]]) -> np.ndarray:
        ids = pd.Index([i for r in requests for i in r["shown"]], dtype=object)
        codes = pd.Index(model.item_ids).get_indexer(ids)
        counts = np.bincount(deciles[codes[codes >= 0]], minlength=10).astype(float)
        return counts / max(counts.sum(), 1.0)

    now = shown(recent)
    if earlier:
        before, against = shown(earlier), "shown before the window"
    else:  # each item weighted by its number of preferences
        chosen = np.bincount(deciles, weights=np.asarray(model.popularity, dtype=float), minlength=10)
        before, against = chosen / chosen.sum(), "chosen by users in training"
    return {"psi": float(psi(before, now)), "against": against, "top_decile_share": float(now[9]),
            "shown_by_decile": now.round(4).tolist(), "reference_by_decile": before.round(4).tolist()}
