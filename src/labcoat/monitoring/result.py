"""The outcome of one monitoring check: the verdict and exit code, the summary in words, the
JSON document (which the HTML report is rendered from) and the figures logged to tracking.

Exit code: 0 when nothing needs attention; 1 when the dataset drifted (the share of changed
columns reached the threshold), the predictions drifted, or performance degraded. Errors exit
with 2 (:class:`~labcoat.errors.LabcoatError`). Schema violations (new categories, values out
of the training range, more missing values) are reported but do not change the exit code on
their own: when they matter, the column's drift test or the performance check sees it.

Examples
--------
>>> result = labcoat.monitor("models:/churn@champion", current="last_week.csv")  # doctest: +SKIP
>>> result.exit_code, result.summary[0]                                          # doctest: +SKIP
(1, 'Drift detected: 3 of 6 columns changed (50%): tenure, plan, region.')
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from labcoat.monitoring.drift import ColumnDrift, DriftReport
from labcoat.monitoring.performance import Performance
from labcoat.monitoring.stattests import P_VALUE_METHODS

#: Columns named in a summary line before "and N more".
NAMED = 5
#: Values beyond the training range are reported when chance explains them with p below this.
RANGE_ALPHA = 0.01
#: Out of range, below and above, in words by role.
_RANGE_WORDS = {"numeric": ("below the training minimum", "above the training maximum"),
                "datetime": ("before the earliest training date", "after the latest training date"),
                "text": ("shorter than any training text", "longer than any training text")}


@dataclass
class MonitorResult:
    """A monitoring check's findings (see the module docstring).

    ``model``: reference, label, registered name and version, the run that trained it, target,
    task and metric; ``window``: where the current rows come from and facts about them;
    ``roles``: each column's role in training (``datetime`` and ``text`` columns are compared
    as seconds since 1970 and as lengths).
    """

    model: dict[str, Any]
    window: dict[str, Any]
    drift: DriftReport
    performance: Performance | None
    created: str
    run_id: str | None = None
    report: str | None = None
    notes: list[str] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    #: Values (rows not missing) of each column in the reference.
    reference_values: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ verdict
    @property
    def prediction_drift(self) -> bool:
        return bool(self.drift.prediction is not None and self.drift.prediction.drifted)

    @property
    def drifted(self) -> bool:
        """The dataset drifted (the share of drifted columns reached the threshold).

        A shift of the predictions alone is reported but does not count: their reference is
        the out-of-fold predictions of the search's fold models, and the final model, refit on
        all rows, differs from them by construction: on 300 training rows its predictions on
        unchanged data were flagged in 4 of 5 samples by PSI >= 0.2 and in 2 of 5 by KS.
        """
        return bool(self.drift.dataset_drift)

    @property
    def degraded(self) -> bool:
        return bool(self.performance is not None and self.performance.degraded)

    @property
    def exit_code(self) -> int:
        """0: nothing to act on; 1: drift or degradation (errors raise and exit with 2)."""
        return 1 if self.drifted or self.degraded else 0

    @property
    def headline(self) -> str:
        """The verdict: drift of the dataset and degradation."""
        drift = "Drift detected"
        if self.drifted and self.degraded:
            return f"{drift} and performance has degraded"
        if self.degraded:
            return "Performance has degraded"
        if self.drifted:
            return drift
        return "No drift detected"

    @property
    def columns(self) -> list[ColumnDrift]:
        """The columns, most changed first (see :func:`severity`)."""
        return sorted(self.drift.columns, key=lambda c: (not c.drifted, -severity(c), c.name))

    # ------------------------------------------------------------------ words
    @property
    def summary(self) -> list[str]:
        """The findings in a few sentences, verdict first."""
        d = self.drift
        changed = [c.name for c in self.columns if c.drifted]
        n = len(d.columns)
        rule = f"the {d.share_threshold:.0%} that signals a dataset drift"
        if changed:
            first = (f"{len(changed)} of {n} columns changed ({d.share_drifted:.0%}): {_names(changed)}; "
                     f"{'at or above' if d.dataset_drift else 'below'} {rule}.")
        else:
            first = f"None of the {n} columns changed."
        lines = [f"{self.headline}: {first[0].lower()}{first[1:]}" if self.drifted or self.degraded
                 else f"{self.headline}. {first}"]
        if d.prediction is not None:
            p = d.prediction
            lines.append(f"The model's predictions have shifted ({p.method} {p.statistic:.3g}, threshold "
                         f"{p.threshold:g}): worth a look, though alone it is not counted as drift (the "
                         "reference is the search's out-of-fold predictions, which differ from the final "
                         "model's by construction)." if p.drifted else "The model's predictions are stable.")
        if self.performance is not None:
            lines.append(self.performance.words())
        else:
            lines.append("Performance not measured: no labels (give --labels, include the target in the "
                         "current data, or send labels to the service's /feedback).")
        kinds: dict[str, list[str]] = {}
        for v in self.violations():
            kinds.setdefault(v["check"], []).append(v["column"])
        if kinds:
            lines.append("Schema: " + "; ".join(f"{check} in {_names(cols)}" for check, cols in kinds.items()) + ".")
        lines.extend(self.notes)
        return lines

    def violations(self) -> list[dict[str, str]]:
        """New categories, values outside the training range and rises of missing values."""
        found = []
        for c in self.columns:
            if c.new_categories:
                top = sorted(c.new_categories.items(), key=lambda kv: -kv[1])
                shown = ", ".join(f"'{k}' ({v:.1%})" for k, v in top[:NAMED])
                more = f" and {len(top) - NAMED} more" if len(top) > NAMED else ""
                found.append({"column": c.name, "check": "new categories",
                              "text": f"{shown}{more} of the values (unknown to the model)"})
            shares = [(c.out_of_range or {}).get(side, 0.0) for side in ("below", "above")]
            beyond = [s if self._beyond_chance(c, s) else 0.0 for s in shares]
            if any(beyond):
                words = _RANGE_WORDS.get(self.roles.get(c.name, ""), _RANGE_WORDS["numeric"])
                parts = [f"{share:.1%} {side}" for share, side in zip(beyond, words) if share]
                found.append({"column": c.name, "check": "values out of range", "text": " and ".join(parts)})
            if c.missing_rise:
                found.append({"column": c.name, "check": "more missing values",
                              "text": f"missing {c.reference_missing:.1%} in training, {c.current_missing:.1%} now "
                                      f"(p = {c.missing_p_value:.2g})"})
        return found

    def _beyond_chance(self, c: ColumnDrift, share: float) -> bool:
        """Whether values beyond one end of the training range are more than chance explains.

        When nothing changed, each new value lies above the largest of the n training values
        with probability 1 / (n + 1) (and below the smallest likewise), so a few always do; the
        count is flagged when a one-sided binomial test against that rate gives p < 0.01.
        """
        n_ref = self.reference_values.get(c.name)
        present = round((1 - c.current_missing) * self.drift.current_rows)
        if not share or not n_ref or present <= 0:
            return bool(share) and not n_ref
        from scipy import stats

        count = round(share * present)
        return bool(stats.binom.sf(count - 1, present, 1 / (n_ref + 1)) < RANGE_ALPHA)

    def __str__(self) -> str:
        return "\n".join(self.summary)

    # ------------------------------------------------------------------ documents
    def to_dict(self) -> dict[str, Any]:
        """The JSON document: verdict, summary, model, window, drift (columns most changed
        first), performance, schema violations, tracking run and report."""
        d = self.drift
        return _finite({
            "verdict": self.headline.lower(), "exit_code": self.exit_code, "headline": self.headline,
            "summary": self.summary, "created": self.created, "model": self.model,
            "window": {**self.window, "rows": d.current_rows},
            "drift": {"dataset_drift": d.dataset_drift, "share_drifted": d.share_drifted,
                      "share_threshold": d.share_threshold, "n_columns": len(d.columns),
                      "n_drifted": sum(c.drifted for c in d.columns), "reference_rows": d.reference_rows,
                      "columns": [column_dict(c, self.roles.get(c.name)) for c in self.columns],
                      "prediction": column_dict(d.prediction, self.roles.get("prediction")) if d.prediction else None},
            "performance": self.performance.to_dict() if self.performance else None,
            "violations": self.violations(), "run_id": self.run_id, "report": self.report})

    def metrics(self) -> dict[str, float]:
        """The figures logged to the tracking run."""
        d = self.drift
        out: dict[str, float] = {"share_drifted": d.share_drifted, "dataset_drift": float(d.dataset_drift),
                                 "n_drifted": float(sum(c.drifted for c in d.columns)),
                                 "current_rows": float(d.current_rows), "exit_code": float(self.exit_code)}
        if d.prediction is not None:
            out["prediction_drift"] = float(d.prediction.drifted)
            out.update(_column_metrics("prediction", d.prediction))
        for c in d.columns:
            out.update(_column_metrics(c.name, c))
        p = self.performance
        if p is not None:
            out["labelled_rows"] = float(p.rows)
            if p.current is not None:
                out.update(current_score=p.current.score, current_score_low=p.current.low,
                           current_score_high=p.current.high)
            if p.training is not None:
                out["training_score"] = p.training.score
            if p.tested:
                out.update(score_drop=p.drop, degradation_p_value=p.p_value, degraded=float(p.degraded))
        return {k: float(v) for k, v in out.items() if v is not None}


def severity(c: ColumnDrift) -> float:
    """How far a column is past (> 1) or short of (< 1) its threshold, comparable across
    methods: ``log p / log threshold`` for tests, ``statistic / threshold`` for distances."""
    if c.method in P_VALUE_METHODS:
        if c.p_value is None:
            return 0.0
        return math.log(max(c.p_value, 1e-300)) / math.log(c.threshold) if 0 < c.threshold < 1 else 0.0
    return (c.statistic or 0.0) / c.threshold if c.threshold else 0.0


def column_dict(c: ColumnDrift, role: str | None = None) -> dict[str, Any]:
    """One column's drift as the report and the JSON show it (plot labels under ``labels``)."""
    plot = dict(c.plot or {})
    plot["labels"] = plot.pop("bins", [])
    return {"name": c.name, "kind": c.kind, "role": role or c.kind, "method": c.method, "statistic": c.statistic,
            "threshold": c.threshold, "p_value": c.p_value, "drifted": c.drifted, "psi": c.psi,
            "severity": severity(c), "missing_reference": c.reference_missing,
            "missing_current": c.current_missing, "missing_rise": c.missing_rise,
            "missing_p_value": c.missing_p_value, "new_categories": c.new_categories,
            "out_of_range": c.out_of_range, "plot": plot}


def _column_metrics(name: str, c: ColumnDrift) -> dict[str, float]:
    out = {}
    if c.statistic is not None:
        out[f"drift.{name}"] = c.statistic
    if c.p_value is not None:
        out[f"p_value.{name}"] = c.p_value
    if c.psi is not None:
        out[f"psi.{name}"] = c.psi
    return out


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMED])
    return shown + (f" and {len(names) - NAMED} more" if len(names) > NAMED else "")


def _finite(value: Any) -> Any:
    """NaN and infinities as None, numpy scalars as Python ones, recursively (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
