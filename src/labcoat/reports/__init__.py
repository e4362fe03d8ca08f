"""Self-contained HTML reports: the data profile and the model report.

Each report is one file that opens offline in any browser (plotly.js is embedded once per
page; no CDN). Jinja2 and Plotly are imported on first use.

- :func:`profile_report` — what is in a table: roles, missing values, distributions,
  associations with the target, correlations, findings.
- :func:`model_report` — what a fitted :class:`~labcoat.model.Model` is and how good it is.
- :func:`write_reports` — both, written to a folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

# Imported here, not lazily: the module ``model_report`` would otherwise shadow the function of
# the same name as an attribute of this package once imported.
from labcoat.reports.model_report import model_report
from labcoat.reports.profile import profile_report

if TYPE_CHECKING:
    import pandas as pd

    from labcoat.model import Model


def write_reports(model: Model, frame: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write ``profile.html`` (of ``frame``, the training data) and ``report.html`` (of
    ``model``) into ``out_dir`` (created if needed) and return their paths.

    ``frame`` may be None: then only the model report is written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    if frame is not None:
        path = out / "profile.html"
        path.write_text(profile_report(frame, model.schema.target, title=f"Data profile: {model.schema.target}",
                                       effect_findings=effect_findings(model.info.findings or [])),
                        encoding="utf-8")
        paths.append(path)
    path = out / "report.html"
    path.write_text(model_report(model), encoding="utf-8")
    paths.append(path)
    return paths


def effect_findings(findings: list[str]) -> list[dict[str, Any]]:
    """fit's findings of leaks by their effect (``"[medium] suspected leakage: column 'x':
    ..."``, ``"[low] dominant column: ..."``) as the profile's records."""
    import re

    out = []
    for text in findings:
        match = re.match(r"\[(\w+)\] (suspected leakage|dominant column): (?:column '(.+?)': )?(.*)", text,
                         flags=re.S)
        if match:
            out.append({"severity": match[1], "check": match[2], "column": match[3], "text": match[4]})
    return out


__all__ = ["model_report", "profile_report", "write_reports"]
