"""The report of an extraction model: entity-level precision, recall and F1 per entity type and
overall with their 95% intervals, the confusion between types, examples of misses (the text
with the gold and the found entities highlighted), the entities per type in training, and
every candidate tried.

Examples
--------
>>> html = extract_report(model)                                  # doctest: +SKIP
>>> Path("entities.html").write_text(html)                        # doctest: +SKIP
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from labcoat.reports import figures
from labcoat.reports.render import figure, render_page, write_page

#: Documents shown in the examples of misses.
EXAMPLES = 12


def extract_report(model: Any, *, title: str | None = None) -> str:
    """The report as one self-contained HTML page."""
    info, evaluation = model.info, model.evaluation
    scores = evaluation.scores
    types = scores.drop(index="overall")
    plots: dict[str, Any] = {}
    if "f1_low" in scores.columns:
        f1 = figures.interval_plot(list(scores.index), scores["f1"].tolist(), scores["f1_low"].tolist(),
                                   scores["f1_high"].tolist(), metric="F1 (exact span and type)",
                                   highlight=[label == "overall" for label in scores.index])
        f1.update_layout(title_text="Entity F1 per type, with its 95% interval (bootstrap over documents)")
        plots["f1"] = figure(f1)
    confusion = evaluation.confusion
    if len(confusion):
        plots["confusion"] = figure(confusion_map(confusion))
    trained = training_counts(model)
    if trained:
        plots["counts"] = figure(figures.bars(list(trained), list(trained.values()),
                                              title="Entities of each type in the training texts", x_title="entities"))
    overall = scores.loc["overall"].to_dict()
    return render_page("extract_report.html.j2", title=title or "Entity extraction", info=info, overall=overall,
                       scores=[{"label": label, **row} for label, row in types.to_dict("index").items()],
                       figures=plots, examples=examples(evaluation.misses), trained=trained, evaluation=evaluation,
                       board=model.leaderboard.to_dict("records"))


def training_counts(model: Any) -> dict[str, int]:
    """Entities per type in the training texts, most frequent first."""
    counts = model.info.get("entities") or {}
    return dict(sorted(((str(k), int(v)) for k, v in counts.items()), key=lambda kv: -kv[1]))


def confusion_map(table: pd.DataFrame) -> Any:
    """Gold type (rows) × the type found on the same span (columns), or ``(missed)``; each
    cell's share of its gold type's entities."""
    import plotly.graph_objects as go

    counts = table.to_numpy(dtype=float)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    text = [[f"{int(n):,}<br>{s:.0%}" for n, s in zip(row, srow)] for row, srow in zip(counts, share)]
    fig = go.Figure(go.Heatmap(z=share.round(4), x=[str(c) for c in table.columns], y=[str(i) for i in table.index],
                               text=text, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1, showscale=False,
                               hovertemplate="gold %{y}, found %{x}: %{text}<extra></extra>"))
    fig.update_layout(template="plotly_white", height=max(280, 120 + 50 * len(table)),
                      margin=dict(l=10, r=10, t=40, b=10),
                      title_text="The type found on each gold entity's span")
    fig.update_xaxes(title_text="found as", type="category", showgrid=False)
    fig.update_yaxes(title_text="gold type", type="category", autorange="reversed", showgrid=False)
    return fig


def highlight(text: str, spans: Sequence[tuple[int, int, str, str]]) -> Markup:
    """``text`` escaped, with each (start, end, label, css class) span in a ``<mark>`` showing its
    label; a span overlapping an earlier one is left out.

    >>> str(highlight("Anna met Bo", [(0, 4, "PER", "gold")]))
    '<mark class="gold">Anna<sub>PER</sub></mark> met Bo'
    """
    out, at = [], 0
    for start, end, label, kind in sorted(spans, key=lambda s: (s[0], -s[1])):
        if start < at or not 0 <= start < end <= len(text):
            continue
        out.append(escape(text[at:start]))
        out.append(Markup('<mark class="{}">{}<sub>{}</sub></mark>').format(kind, text[start:end], label))
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)


def examples(misses: pd.DataFrame, limit: int = EXAMPLES) -> list[dict[str, Any]]:
    """Documents with errors: the text twice, once with the gold entities the model missed or
    mislabelled, once with the entities it found wrongly (spurious, or with another type)."""
    out = []
    for _, errors in list(misses.groupby("document", sort=False))[:limit]:
        text = str(errors["sentence"].iloc[0])
        located = [(error, *_span(error, text)) for error in errors.itertuples()]
        relabelled = {(start, end) for error, start, end in located if error.error == "wrong label"}
        gold: list[tuple[int, int, str, str]] = []
        found: list[tuple[int, int, str, str]] = []
        for error, start, end in located:
            if start is None or end is None:
                continue
            wrong = (start, end) in relabelled
            if error.error == "missed":
                gold.append((start, end, str(error.gold), "wrong" if wrong else "missed"))
            else:
                found.append((start, end, str(error.found), "wrong" if wrong else "spurious"))
        out.append({"gold": highlight(text, gold), "found": highlight(text, found)})
    return out


def _span(error: Any, text: str) -> tuple[int | None, int | None]:
    """The error's character span in its document (its ``start``/``end`` when given, else the
    first place its text occurs)."""
    if hasattr(error, "start") and not pd.isna(error.start):
        return int(error.start), int(error.end)
    at = text.find(str(error.text))
    return (at, at + len(str(error.text))) if at >= 0 else (None, None)


def write_extract_report(model: Any, out_dir: str | Path) -> Path:
    """Write ``extract_report.html`` in ``out_dir``; returns its path."""
    return write_page(out_dir, "extract_report.html", extract_report(model))
