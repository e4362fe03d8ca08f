"""The report of a segment model: the segments in words with their sizes, a 2-D map of a sample
of the rows coloured by segment (UMAP when umap-learn is installed, else PCA; ``projection``
in the model's info chooses), each segment's profile against the whole, and every candidate's
silhouette, BIC and stability with its interval.

Examples
--------
>>> html = segment_report(model)                                  # doctest: +SKIP
>>> Path("segments.html").write_text(html)                        # doctest: +SKIP
"""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labcoat.reports import figures
from labcoat.reports.render import figure, render_page, write_page

#: Rows of a segment's profile shown in its card.
PROFILE_ROWS = 8


def segment_report(model: Any, *, title: str | None = None, projection: str | None = None) -> str:
    """The report as one self-contained HTML page; ``projection`` (``"umap"``, ``"pca"``,
    ``"auto"``) overrides the model's."""
    info = model.info
    plots: dict[str, Any] = {}
    method = None
    if model.map_sample is not None and len(model.map_sample) >= 3:
        method, xy = project(model.map_sample, projection or info.get("projection", "auto"), seed=info.get("seed", 0))
        plots["map"] = figure(segment_map(xy, model.map_segments, method=method))
    segments = model.segments
    plots["shares"] = figure(figures.bars([f"segment {s}" for s in segments["segment"]], segments["share"].tolist(),
                                          title="Share of the rows in each segment", x_title="share of rows",
                                          percent=True))
    board = model.leaderboard
    ok = board[board["status"] == "ok"]
    labels = [f"{r.candidate} k={int(r.k)}" for r in ok.itertuples()]
    stability = figures.interval_plot(labels, ok["stability"].tolist(), ok["stability_low"].tolist(),
                                      ok["stability_high"].tolist(), metric="stability (adjusted Rand index)",
                                      highlight=ok["chosen"].tolist())
    stability.update_layout(title_text="Agreement between refits on bootstrap samples, with its 95% interval")
    plots["stability"] = figure(stability)
    numbers = model.profile[model.profile["kind"] != "category"]
    if len(numbers):
        plots["numbers"] = figure(difference_map(numbers))
    return render_page("segment_report.html.j2", title=title or "Segments", info=info, model=model,
                       figures=plots, method=method, cards=cards(model), board=board.to_dict("records"),
                       segments=segments.to_dict("records"))


def project(X: np.ndarray, projection: str, *, seed: int = 0) -> tuple[str, np.ndarray]:
    """``X`` in two dimensions: ``(method, coordinates)``; ``"auto"`` is UMAP when umap-learn
    is installed, else PCA.

    >>> method, xy = project(np.random.default_rng(0).normal(size=(30, 4)), "pca")
    >>> method, xy.shape
    ('PCA', (30, 2))
    """
    if projection not in ("auto", "umap", "pca"):
        raise ValueError(f"projection is auto, umap or pca; got {projection!r}.")
    use_umap = projection == "umap" or (projection == "auto" and importlib.util.find_spec("umap") is not None)
    if use_umap and len(X) > 15:
        import umap  # type: ignore[import-untyped]

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "n_jobs overridden by random_state", numba's notes
            xy = umap.UMAP(n_components=2, random_state=seed, n_jobs=1,
                           n_neighbors=min(15, len(X) - 1)).fit_transform(X)
        return "UMAP", np.asarray(xy)
    from sklearn.decomposition import PCA

    return "PCA", np.asarray(PCA(n_components=2, random_state=seed).fit_transform(X))


def segment_map(xy: np.ndarray, segments: Any, *, method: str) -> Any:
    """The rows' 2-D coordinates as points coloured by segment."""
    import plotly.graph_objects as go

    segments = np.asarray(segments)
    fig = go.Figure()
    for number in sorted(set(segments.tolist())):
        mine = segments == number
        fig.add_trace(go.Scattergl(x=np.round(xy[mine, 0], 4), y=np.round(xy[mine, 1], 4), mode="markers",
                                   name=f"segment {number}",
                                   marker=dict(size=5, opacity=0.7,
                                               color=figures.PALETTE[number % len(figures.PALETTE)]),
                                   hovertemplate=f"segment {number}<extra></extra>"))
    fig.update_layout(template="plotly_white", height=480, margin=dict(l=40, r=20, t=40, b=40),
                      title_text=f"{len(xy):,} rows in two dimensions ({method}), coloured by segment",
                      legend=dict(itemsizing="constant"))
    fig.update_xaxes(showticklabels=False, title_text=f"{method} 1")
    fig.update_yaxes(showticklabels=False, title_text=f"{method} 2")
    return fig


def difference_map(numbers: pd.DataFrame) -> Any:
    """Segments × number columns: how far each segment's mean is from the whole's, in standard
    deviations (blue above, red below)."""
    import plotly.graph_objects as go

    table = numbers.pivot(index="segment", columns="column", values="difference")
    bound = max(1.0, float(np.nanmax(np.abs(table.to_numpy()))))
    fig = go.Figure(go.Heatmap(z=np.round(table.to_numpy(), 2), x=table.columns.tolist(),
                               y=[f"segment {s}" for s in table.index], zmin=-bound, zmax=bound, colorscale="RdBu",
                               colorbar=dict(title="sd", thickness=12),
                               hovertemplate="%{y}, %{x}: %{z:+.2f} sd from the average<extra></extra>"))
    fig.update_layout(template="plotly_white", height=max(260, 90 + 34 * len(table)),
                      margin=dict(l=10, r=10, t=40, b=10),
                      title_text="Each segment's mean against the whole's (standard deviations)")
    fig.update_xaxes(automargin=True, tickangle=-30)
    fig.update_yaxes(automargin=True, autorange="reversed")
    return fig


def cards(model: Any, rows: int = PROFILE_ROWS) -> list[dict[str, Any]]:
    """Each segment: its description and its most distinctive columns (numbers, and the
    categories over-represented in it), segment against whole."""
    out = []
    for segment in model.segments.itertuples():
        mine = model.profile[model.profile["segment"] == segment.segment]
        mine = mine[(mine["kind"] != "category") | (mine["difference"] > 0)]
        mine = mine.reindex(mine["difference"].abs().sort_values(ascending=False, kind="stable").index).head(rows)
        out.append({"segment": segment.segment, "description": segment.description, "share": segment.share,
                    "rows": [{"what": r.column if r.kind != "category" else f"{r.column} = {r.value}",
                              "kind": r.kind, "segment": r.segment_value, "overall": r.overall_value,
                              "difference": r.difference} for r in mine.itertuples()]})
    return out


def write_segment_report(model: Any, out_dir: str | Path) -> Path:
    """Write ``segment_report.html`` in ``out_dir``; returns its path."""
    return write_page(out_dir, "segment_report.html", segment_report(model))
