"""The data profile: what is in a table, before any model is fitted.

For each column its role (as :func:`labcoat.fit` would use it), missing values, distinct
values and distribution; the association of each column with the target; the correlations
between numeric columns; and the findings of :func:`labcoat.guards.check_data`.

Large tables are profiled on a sample of :data:`SAMPLE_ROWS` rows for the expensive parts
(roles, associations, correlations); counts of rows, missing and distinct values and the
histograms use every row.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from labcoat.data.columns import FEATURE_ROLES, Column, Role
from labcoat.data.infer import infer_column
from labcoat.tasks import get_task, infer_schema

if TYPE_CHECKING:
    from labcoat.data.io import DataSource
    from labcoat.data.schema import Schema

#: Rows used for role inference, associations and correlations.
SAMPLE_ROWS = 20_000
#: Columns that get a card with a plot; the table lists every column.
MAX_COLUMN_CARDS = 60
#: Numeric columns in the correlation heatmap.
MAX_HEATMAP_COLUMNS = 25
#: Values shown in a bar chart of a categorical column.
TOP_VALUES = 12
#: Levels of a categorical column kept apart when measuring association (the rest are pooled).
ASSOCIATION_LEVELS = 30
_CATEGORICAL_ROLES = (Role.CATEGORICAL, Role.BOOLEAN, Role.TEXT)


def profile_report(frame: DataSource, target: str | None = None, *, title: str | None = None,
                   effect_findings: list[dict[str, Any]] | None = None) -> str:
    """The data profile of ``frame`` (a DataFrame or anything :func:`labcoat.read_table`
    reads) as one self-contained HTML page.

    ``target``, when given, adds the task, the association of each column with it and the
    checks that :func:`labcoat.fit` runs before training; ``effect_findings`` are those of the
    check of leaks by their effect when already known (``fit`` passes its own: the check
    fits models, seconds the report's time budget does not have), else it runs here.
    """
    from labcoat.reports.render import render_page

    data = profile_data(frame, target, effect_findings=effect_findings)
    return render_page("profile.html.j2", title=title or "Data profile", p=data,
                       figures=profile_figures(data))


def profile_data(frame: DataSource, target: str | None = None, *,
                 effect_findings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every number of the profile, as plain data (no HTML)."""
    from labcoat.data.io import read_table
    from labcoat.errors import SchemaError

    frame = frame if isinstance(frame, pd.DataFrame) else read_table(frame)
    frame = frame.rename(columns=str) if not all(isinstance(c, str) for c in frame.columns) else frame
    repeated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if repeated:
        raise SchemaError(f"The data has duplicate column names: {', '.join(repeated[:5])}. Rename them "
                          "so each column has one name.")
    if frame.shape[1] == 0:
        raise SchemaError("The data has no columns.")
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if target is not None:
            from labcoat.data.infer import drop_missing_target

            frame = drop_missing_target(frame, target)
        sample = frame.sample(SAMPLE_ROWS, random_state=0) if len(frame) > SAMPLE_ROWS else frame
        columns, schema, role_notes = infer_roles(frame, sample, target)
    notes += [str(w.message) for w in caught] + role_notes
    task = get_task(schema.task) if schema is not None else None
    classes = None
    if schema is not None and schema.classes is not None:
        classes = frame[target].dropna().astype(str).value_counts().index.tolist()
    if len(sample) < len(frame):
        notes.append(f"Roles, associations and correlations are computed on a random sample of "
                     f"{len(sample):,} of the {len(frame):,} rows; counts and histograms use every row.")
    summaries = [column_summary(frame[c.name], c, is_target=c.name == target) for c in columns]
    assoc = (target_associations(sample, target, columns, categorical=classes is not None)
             if task is not None and target is not None else [])
    by_name = {a["column"]: a for a in assoc}
    for s in summaries:
        s["association"] = by_name.get(s["name"], {}).get("value")
    numeric = [c.name for c in columns if c.role is Role.NUMERIC and c.name != target]
    if len(numeric) > MAX_HEATMAP_COLUMNS:
        ranked = sorted(numeric, key=lambda n: -(by_name.get(n, {}).get("value") or 0)) if assoc else \
            sorted(numeric, key=lambda n: -float(sample[n].std() or 0))
        numeric = [n for n in numeric if n in set(ranked[:MAX_HEATMAP_COLUMNS])]
        notes.append(f"The correlation map shows {MAX_HEATMAP_COLUMNS} of the numeric columns.")
    corr = correlations(sample, numeric)
    findings = (data_findings(frame, target, schema, effect_findings=effect_findings)
                if schema is not None and target is not None else None)
    data = {
        "n_rows": len(frame), "n_columns": frame.shape[1], "target": target,
        "task": task.name if task is not None else None,
        "task_words": task.description if task is not None else None, "classes": classes,
        "columns": summaries, "associations": assoc, "correlations": corr,
        "strong_pairs": strong_pairs(corr), "findings": findings, "notes": notes,
        "missing_cells": float(frame.isna().to_numpy().mean()) if frame.size else 0.0,
        "duplicate_rows": int(frame.duplicated().sum()) if len(frame) else 0,
        "memory_mb": float(frame.memory_usage(deep=False).sum() / 1e6),
        "cards_capped": len(summaries) > MAX_COLUMN_CARDS,
    }
    data["summary"] = summary_sentences(data)
    return data


# ---------------------------------------------------------------------- roles
def infer_roles(frame: pd.DataFrame, sample: pd.DataFrame,
                target: str | None) -> tuple[list[Column], Any, list[str]]:
    """Each column's role as :class:`~labcoat.data.schema.Schema` infers it (the target's as
    a column of its own), the Schema when there is a usable target (else None), and notes.

    Roles come from ``sample``; a column whose sampled values are all distinct is inferred
    again on every row, since "all distinct" is what makes an identifier.
    """
    from labcoat.errors import LabcoatError

    notes: list[str] = []
    schema, by_name = None, {}
    if target is not None:
        try:
            schema = infer_schema(sample, target)
            by_name = {c.name: c for c in schema.columns}
        except LabcoatError as error:
            if target not in frame.columns:
                raise
            notes.append(f"The target could not be used: {error}")
    columns = []
    for name in frame.columns:
        if name == target:
            columns.append(infer_column(frame[name]))
            continue
        column = by_name.get(name) or infer_column(sample[name])
        if len(sample) < len(frame) and column.n_unique == sample[name].notna().sum() > 0:
            column = _recheck(column, frame[name])
        columns.append(column)
    if schema is not None:
        schema.columns = [c for c in columns if c.name != target]
        schema.n_rows = len(frame)
    return columns, schema, notes


def _recheck(column: Column, full: pd.Series) -> Column:
    """The role of a column whose sampled values were all distinct, on every row: an
    identifier stays one only if its values are distinct on every row; a number might be one."""
    if column.role is Role.IDENTIFIER:
        if full.notna().all() and full.nunique() == len(full):
            return dataclasses.replace(column, n_unique=len(full))
        return infer_column(full)
    if pd.api.types.is_numeric_dtype(full.dtype):
        return infer_column(full)  # cheap for numbers
    return column


# ---------------------------------------------------------------------- per column
def column_summary(s: pd.Series, column: Column, *, is_target: bool = False) -> dict[str, Any]:
    """Role, missing share, distinct values, a few statistics and the distribution of one column."""
    non_null = s.dropna()
    out: dict[str, Any] = {
        "name": str(s.name), "dtype": str(s.dtype), "role": "target" if is_target else column.role.value,
        "reason": "" if is_target else column.reason, "missing": float(s.isna().mean()) if len(s) else 0.0,
        "distinct": int(non_null.nunique()), "used": is_target or column.role in FEATURE_ROLES,
        "stats": {}, "distribution": distribution(s, column),
    }
    if column.role is Role.NUMERIC:
        values = pd.to_numeric(non_null, errors="coerce").astype(float)
        infinite = int(np.isinf(values).sum())
        values = values[np.isfinite(values)]
        out["stats"] = {"mean": values.mean(), "std": values.std(), "min": values.min(),
                        "median": values.median(), "max": values.max()}
        if infinite:
            out["stats"]["infinite values"] = infinite
        if (values == 0).any():
            out["stats"]["zeros"] = float((values == 0).mean())
    elif len(non_null) and column.role not in (Role.IDENTIFIER, Role.CONSTANT):
        counts = non_null.astype(str).value_counts()
        out["stats"] = {"most common": f"{counts.index[0]} ({counts.iloc[0] / len(non_null):.0%})"}
        if column.role is Role.DATETIME:
            dates = _dates(non_null)
            if dates.notna().any():
                out["stats"] = {"first": str(dates.min().date()), "last": str(dates.max().date())}
    return out


def distribution(s: pd.Series, column: Column) -> dict[str, Any]:
    """What to plot for a column: a histogram (numbers, dates, text lengths), bars of the most
    common values (categories), or a note (identifiers, constants)."""
    non_null = s.dropna()
    if len(non_null) == 0:
        return {"kind": "note", "text": "Every value is missing."}
    if column.role is Role.IDENTIFIER:
        examples = ", ".join(str(v) for v in non_null.iloc[:3])
        return {"kind": "note", "text": f"A different value on every row (e.g. {examples}): an "
                                        "identifier, not used to predict."}
    if column.role is Role.CONSTANT:
        return {"kind": "note", "text": f"One value only ({non_null.iloc[0]!s}): carries no information."}
    if column.role is Role.NUMERIC:
        values = pd.to_numeric(non_null, errors="coerce").astype(float).to_numpy()
        return _histogram(values[np.isfinite(values)], x_title=str(s.name))
    if column.role is Role.DATETIME:
        dates = _dates(non_null).dropna()
        if len(dates):
            seconds = _seconds(dates)
            return {**_histogram(seconds, x_title=str(s.name)), "dates": True}
    if column.role is Role.TEXT and non_null.nunique() > TOP_VALUES:
        split: Any = non_null.astype(str).str.split()  # pandas-stubs types .str on lists too narrowly
        words = split.str.len().to_numpy(dtype=float)
        return _histogram(words, x_title="words per value")
    counts = non_null.astype(str).value_counts()
    top = counts.iloc[:TOP_VALUES]
    rest = counts.iloc[TOP_VALUES:]
    return {"kind": "bars", "labels": top.index.tolist(), "counts": top.to_numpy().tolist(),
            "other": f"and {len(rest):,} other values ({rest.sum() / len(non_null):.0%} of rows)"
            if len(rest) else ""}


def _histogram(values: np.ndarray, *, x_title: str) -> dict[str, Any]:
    if len(values) == 0:
        return {"kind": "note", "text": "No finite values."}
    lo, hi = float(values.min()), float(values.max())
    distinct = np.unique(values[: 200_000])
    if len(distinct) <= 30 and np.all(np.mod(distinct, 1) == 0) and hi - lo <= 60:
        edges = np.arange(lo - 0.5, hi + 1.5)  # one bar per integer
    else:
        edges = np.histogram_bin_edges(values, bins=30 if lo < hi else 1)
    counts, edges = np.histogram(values, bins=edges)
    return {"kind": "histogram", "edges": edges.tolist(), "counts": counts.tolist(), "x_title": x_title,
            "dates": False}


def _dates(values: pd.Series) -> pd.Series:
    """Datetimes (time-zone naive, in UTC) from a datetime or text column; NaT where unparsable."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
            if parsed.notna().mean() < 0.9:
                head = values.iloc[:SAMPLE_ROWS]
                parsed = pd.to_datetime(head, errors="coerce", format="mixed", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert(None)
    return parsed


def _seconds(dates: pd.Series) -> np.ndarray:
    """Seconds since 1970 (NaN for NaT), whatever the datetime unit."""
    return ((dates - pd.Timestamp("1970-01-01")).dt.total_seconds()).to_numpy(dtype=float)


# ---------------------------------------------------------------------- associations
def target_associations(sample: pd.DataFrame, target: str, columns: list[Column], *,
                        categorical: bool) -> list[dict[str, Any]]:
    """How strongly each feature column goes with the target, 0 (not at all) to 1 (it tells the
    target), strongest first. The measure depends on the two kinds of column: Cramér's V
    (bias-corrected) for two categorical ones, the correlation ratio η for a number against
    categories, and the absolute rank (Spearman) correlation for two numbers. ``categorical``:
    the target is a class."""
    y = sample[target]
    known = y.notna().to_numpy()
    y_categorical = categorical
    y_values = _levels(y) if y_categorical else pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
    out = []
    for c in columns:
        if c.name == target or c.role not in FEATURE_ROLES:
            continue
        x_categorical = c.role in _CATEGORICAL_ROLES
        x = _levels(sample[c.name]) if x_categorical else _as_number(sample[c.name], c.role)
        value, measure = association(x[known], y_values[known], x_categorical, y_categorical)
        if value is not None:
            out.append({"column": c.name, "role": c.role.value, "value": value, "measure": measure})
    return sorted(out, key=lambda a: -a["value"])


def association(x: np.ndarray, y: np.ndarray, x_categorical: bool,
                y_categorical: bool) -> tuple[float | None, str]:
    """The association of ``x`` with ``y`` in [0, 1] and the name of the measure used.

    Categorical inputs are integer codes (missing as a level of its own), numeric ones floats
    (NaN rows are left out).

    Examples
    --------
    >>> x = np.arange(100.0)
    >>> round(association(x, 2 * x, False, False)[0], 3)
    1.0
    >>> association(np.array([0, 1] * 50), np.array([0, 1] * 50), True, True)[1]
    "Cramér's V"
    """
    if x_categorical and y_categorical:
        return cramers_v(x, y), "Cramér's V"
    if x_categorical:
        keep = ~np.isnan(y)
        return correlation_ratio(y[keep], x[keep]), "correlation ratio η"
    keep = ~np.isnan(x)
    if y_categorical:
        return correlation_ratio(x[keep], y[keep]), "correlation ratio η"
    keep &= ~np.isnan(y)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return None, "rank correlation"
    rx, ry = pd.Series(x[keep]).rank().to_numpy(), pd.Series(y[keep]).rank().to_numpy()
    return float(abs(np.corrcoef(rx, ry)[0, 1])), "rank correlation"


def correlation_ratio(values: np.ndarray, groups: np.ndarray) -> float | None:
    """η: the share of the spread of ``values`` explained by the group means, square-rooted."""
    if len(values) < 3:
        return None
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0:
        return None
    codes, inverse = np.unique(groups, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(codes))
    counts = np.bincount(inverse, minlength=len(codes))
    between = float((sums ** 2 / np.maximum(counts, 1)).sum() - values.sum() ** 2 / len(values))
    return float(np.sqrt(min(max(between / total, 0.0), 1.0)))


def cramers_v(x: np.ndarray, y: np.ndarray) -> float | None:
    """Bias-corrected Cramér's V (Bergsma 2013) of two code arrays."""
    n = len(x)
    if n < 3:
        return None
    table = pd.crosstab(x, y).to_numpy(dtype=float)
    r, k = table.shape
    if r < 2 or k < 2:
        return None
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    rc, kc = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denominator = min(kc - 1, rc - 1)
    return float(np.sqrt(phi2 / denominator)) if denominator > 0 else None


def _levels(s: pd.Series) -> np.ndarray:
    """Integer codes of the ``ASSOCIATION_LEVELS`` most common values; the rest pooled, missing
    a level of its own."""
    text = s.astype(object).where(s.notna(), "\x00missing").astype(str)
    top = text.value_counts().index[:ASSOCIATION_LEVELS]
    return pd.Categorical(text.where(text.isin(top), "\x00other")).codes.astype(np.int64)


def _as_number(s: pd.Series, role: Role) -> np.ndarray:
    if role is Role.DATETIME:
        return _seconds(_dates(s))
    values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(values), values, np.nan)


# ---------------------------------------------------------------------- correlations, findings
def correlations(sample: pd.DataFrame, names: list[str]) -> pd.DataFrame | None:
    """Rank (Spearman) correlations between the numeric columns ``names``; None for fewer than two."""
    if len(names) < 2:
        return None
    numbers = sample[names].apply(pd.to_numeric, errors="coerce")
    return numbers.corr(method="spearman", min_periods=3)


def strong_pairs(corr: pd.DataFrame | None, threshold: float = 0.8) -> list[dict[str, Any]]:
    """Pairs of numeric columns whose rank correlation is at least ``threshold`` in size."""
    if corr is None:
        return []
    pairs: list[dict[str, Any]] = []
    names = list(corr.columns)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            r = float(corr.loc[a, b])  # type: ignore[arg-type]
            if r == r and abs(r) >= threshold:
                pairs.append({"a": a, "b": b, "r": float(r)})
    return sorted(pairs, key=lambda p: -abs(p["r"]))[:10]


def data_findings(frame: pd.DataFrame, target: str, schema: Schema, *,
                  effect_findings: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The findings :func:`labcoat.fit` would report, as plain records. The roles come from
    ``schema`` when :func:`~labcoat.guards.check_data` takes one (it would infer them again on
    every row otherwise, the slowest step of a large profile)."""
    import inspect

    from labcoat.guards import check_data

    from labcoat.guards_effect import check_effect
    from labcoat.tasks import get_task

    extra = {"schema": schema} if "schema" in inspect.signature(check_data).parameters else {}
    found = check_data(frame, target, schema.task, **extra)
    if effect_findings is None and "leakage" in get_task(schema.task).guards:  # by their effect, as fit does
        named = {f.column for f in found if f.check == "leakage" and f.column}
        found += check_effect(frame, target, schema.task, schema=schema, exclude=named)
    return [{"severity": f.severity, "check": f.check, "column": f.column,
             "text": f"{f.evidence} {f.fix}"} for f in found] + list(effect_findings or [])


# ---------------------------------------------------------------------- words
def summary_sentences(p: dict[str, Any]) -> list[str]:
    """The profile in a few plain sentences, for the top of the page."""
    cols = [c for c in p["columns"] if c["role"] != "target"]
    used = [c for c in cols if c["used"]]
    roles: dict[str, int] = {}
    for c in used:
        roles[c["role"]] = roles.get(c["role"], 0) + 1
    kinds = ", ".join(f"{n} {r}" for r, n in sorted(roles.items(), key=lambda kv: -kv[1]))
    out = [f"{p['n_rows']:,} rows and {p['n_columns']} columns."]
    unused = [c["name"] for c in cols if not c["used"]]
    out.append(f"{len(used)} columns can be used to predict ({kinds})"
               + (f"; {len(unused)} cannot (identifiers or single-valued): {', '.join(unused[:6])}"
                  + ("…" if len(unused) > 6 else "") + "." if unused else "."))
    if p["missing_cells"] > 0:
        worst = max(cols, key=lambda c: c["missing"]) if cols else None
        out.append(f"{p['missing_cells']:.1%} of all values are missing"
                   + (f"; the most incomplete column is '{worst['name']}' ({worst['missing']:.0%} missing)."
                      if worst and worst["missing"] > 0 else "."))
    else:
        out.append("No value is missing.")
    if p["target"] is not None and p["task"] is not None:
        sentence = f"The target '{p['target']}' is {p['task_words']}"
        target = next((c for c in p["columns"] if c["role"] == "target"), None)
        if target and target["distribution"].get("kind") == "bars" and p["classes"] is not None:
            total = sum(target["distribution"]["counts"])
            shares = ", ".join(f"{label} {n / total:.0%}" for label, n in
                               zip(target["distribution"]["labels"][:4], target["distribution"]["counts"][:4]))
            sentence += f" ({shares})"
        out.append(sentence + ".")
        strong = [a["column"] for a in p["associations"][:3] if a["value"] >= 0.1]
        if strong:
            out.append("The columns most related to the target: " + ", ".join(f"'{s}'" for s in strong) + ".")
        found = p["findings"] or []
        serious = [f for f in found if f["severity"] == "high"]
        if found:
            out.append(f"The checks found {len(found)} possible problem(s)"
                       + (f", {len(serious)} serious: {serious[0]['check']} in '{serious[0]['column']}'"
                          if serious else "") + " — see Findings.")
        else:
            out.append("The checks labcoat runs before training found no problem.")
    elif p["target"] is not None:
        out.append(f"The target '{p['target']}' cannot be used as it is (see Notes).")
    return out


# ---------------------------------------------------------------------- figures
def profile_figures(p: dict[str, Any]) -> dict[str, Any]:
    """The HTML of every figure of the profile, by name (``column:<name>`` per column card)."""
    from labcoat.reports import figures as fg
    from labcoat.reports.render import figure

    def draw(d: dict[str, Any], name: str, compact: bool = True) -> Any:
        if d["kind"] == "histogram":
            x_title = "" if compact and d["x_title"] == name else d["x_title"]  # the card's title says it
            fig = fg.histogram(d["edges"], d["counts"], x_title=x_title, dates=d["dates"])
            return figure(fig, compact=compact)
        if d["kind"] == "bars":
            return figure(fg.bars(d["labels"], d["counts"], compact=compact), compact=compact)
        return None

    out: dict[str, Any] = {}
    for c in p["columns"][:MAX_COLUMN_CARDS]:
        out[f"column:{c['name']}"] = draw(c["distribution"], c["name"])
    target = next((c for c in p["columns"] if c["role"] == "target"), None)
    if target is not None:
        out["target"] = draw(target["distribution"], target["name"], compact=False)
    if p["associations"]:
        top = p["associations"][:30]
        out["associations"] = figure(fg.bars([a["column"] for a in top], [a["value"] for a in top],
                                             x_title="association with the target (0 = none, 1 = complete)",
                                             color=fg.ORANGE))
    if p["correlations"] is not None:
        corr = p["correlations"]
        out["correlations"] = figure(fg.heatmap(corr.to_numpy(), list(corr.columns)))
    return out
