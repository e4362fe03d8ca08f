"""The search, for the model report: the leaderboard's rows and the history of the trials'
scores with the best so far."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Leaderboard rows shown in the table.
MAX_LEADERBOARD_ROWS = 50


def leaderboard_rows(board: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The leaderboard's rows as records with the columns the report shows (missing ones empty)."""
    if board is None or len(board) == 0:
        return []
    rows = []
    for r in board.head(MAX_LEADERBOARD_ROWS).to_dict("records"):
        rows.append({k: r.get(k) for k in ("rank", "trial", "family", "score", "score_low", "score_high",
                                           "p_vs_best", "fit_time", "ensemble_weight", "status", "params")}
                    | {"truncated": r.get("truncated") in (True, "True", "true")})
    return rows


def search_history(board: pd.DataFrame | None, greater_is_better: bool) -> dict[str, Any] | None:
    """Each completed trial's score in the order it finished, and the best score so far.

    The x axis is seconds since the study started (the leaderboard's ``finished``, or
    ``started`` + ``fit_time``), else the trial number."""
    if board is None or len(board) == 0 or "score" not in board:
        return None
    ok = board[board["status"] == "ok"] if "status" in board else board
    ok = ok[pd.to_numeric(ok["score"], errors="coerce").notna()]
    if ok.empty:
        return None
    when, x_title = None, "trial number"
    if "finished" in ok and pd.to_numeric(ok["finished"], errors="coerce").notna().all():
        when, x_title = pd.to_numeric(ok["finished"]), "seconds since the search started"
    elif "started" in ok and pd.to_numeric(ok["started"], errors="coerce").notna().all():
        fit_time = ok["fit_time"] if "fit_time" in ok else pd.Series(0.0, index=ok.index)
        when = pd.to_numeric(ok["started"]) + pd.to_numeric(fit_time, errors="coerce").fillna(0)
        x_title = "seconds since the search started"
    order = np.argsort(when.to_numpy() if when is not None else ok["trial"].to_numpy(), kind="stable")
    ok = ok.iloc[order]
    x = (when.iloc[order] if when is not None else ok["trial"]).to_numpy(dtype=float)
    scores = ok["score"].to_numpy(dtype=float)
    best = np.maximum.accumulate(scores) if greater_is_better else np.minimum.accumulate(scores)
    return {"x": x, "scores": scores, "best": best, "families": ok["family"].astype(str).tolist(),
            "x_title": x_title, "n_failed": int((board["status"] != "ok").sum()) if "status" in board else 0}
