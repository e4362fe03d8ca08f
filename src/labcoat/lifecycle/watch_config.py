"""The configuration of ``labcoat watch``: a YAML file, read and checked before anything runs.

Every error names the key, the value and what is allowed (a :class:`~labcoat.errors.ConfigError`,
exit code 2). Relative paths and globs are relative to the config file's folder.

.. code-block:: yaml

    model: models:/churn@champion
    tracking_uri: sqlite:///mlflow.db
    interval: 1h                       # 30s, 15m, 1h, 1d or seconds
    current: data/current/*.parquet    # the newest matching file is the window
    labels: data/outcomes.csv          # optional, joined by id_column (else by row order)
    id_column: customer_id
    monitor: {share: 0.3, columns: {age: {method: psi, threshold: 0.2}}}
    retrain:
      data: data/labelled/*.parquet    # all matching files, concatenated
      policy: superiority
      on: drift_or_degradation

Examples
--------
>>> parse_interval("15m"), parse_interval(90), parse_interval("1.5h")
(900.0, 90.0, 5400.0)
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from labcoat.errors import ConfigError, did_you_mean

#: Known keys (listed when a key is unknown).
KEYS = ("model", "tracking_uri", "interval", "current", "from_log", "since", "labels", "id_column",
        "label_column", "monitor", "retrain", "report_dir", "keep_reports", "state")
MONITOR_KEYS = ("share", "columns", "prediction", "missing_alpha", "missing_min_rise", "tolerance")
RETRAIN_KEYS = ("data", "on", "policy", "margin", "budget", "trials", "time_column", "n_jobs", "report")
#: When a check leads to retraining.
TRIGGERS = ("drift_or_degradation", "drift", "degradation")
#: Interval when none is given; the shortest allowed.
DEFAULT_INTERVAL, MIN_INTERVAL = 3600.0, 1.0
#: Monitoring reports kept in ``report_dir`` (the oldest are deleted); ``keep_reports: null`` keeps all.
KEEP_REPORTS = 100
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class RetrainConfig:
    """The ``retrain:`` section: the labelled data (a path or glob, absolute) and the settings of
    :func:`labcoat.lifecycle.retrain.retrain`; ``on``: one of :data:`TRIGGERS`."""

    data: str
    on: str = "drift_or_degradation"
    policy: str = "non-inferiority"
    margin: float | str | None = None
    budget: float | None = None
    trials: int | None = None
    time_column: str | None = None
    n_jobs: int | None = None
    report: bool = True


@dataclass(frozen=True)
class WatchConfig:
    """A checked watch configuration (see the module docstring); paths are absolute."""

    path: Path
    model: str
    interval: float
    state: Path
    report_dir: Path
    tracking_uri: str | None = None
    current: str | None = None
    from_log: Path | None = None
    since: str | None = None
    labels: str | None = None
    id_column: str | None = None
    label_column: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    tolerance: float | None = None
    retrain: RetrainConfig | None = None
    keep_reports: int | None = KEEP_REPORTS

    @property
    def actions(self) -> Path:
        """The action log, next to the state file."""
        return self.state.parent / "actions.jsonl"


def load_config(path: str | Path) -> WatchConfig:
    """Read and check the watch config at ``path``.

    Examples
    --------
    >>> config = load_config("watch.yaml")          # doctest: +SKIP
    >>> config.interval, config.state.name          # doctest: +SKIP
    (3600.0, 'state.json')
    """
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"Cannot read the watch config '{path}': {error.strerror or error}.") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        raise ConfigError(f"The watch config '{path}' is not valid YAML{at}: "
                          f"{getattr(error, 'problem', None) or error}.") from None
    return Checker(path).config(raw)


def parse_interval(value: Any, key: str = "interval") -> float:
    """Seconds in ``value``: a number of seconds, or ``30s``, ``15m``, ``1h``, ``1d``."""
    seconds = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip()[-1:].lower() in _UNITS:
        try:
            seconds = float(value.strip()[:-1]) * _UNITS[value.strip()[-1].lower()]
        except ValueError:
            pass
    if seconds is None or not seconds >= MIN_INTERVAL or seconds == float("inf"):
        raise ConfigError(f"{key}: {value!r} is not allowed; give a duration of at least {MIN_INTERVAL:g} second "
                          "such as 30s, 15m, 1h, 1d, or a number of seconds.")
    return seconds


class Checker:
    """Checks a parsed config, each error naming its key (see :func:`load_config`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = path.resolve().parent

    def fail(self, key: str, value: Any, allowed: str, hint: str = "") -> ConfigError:
        """The error for ``key``: its value, what is allowed, and a "did you mean" ``hint``."""
        return ConfigError(f"{self.path}: {key}: {value!r} is not allowed; {allowed}.{hint}")

    def config(self, raw: Any) -> WatchConfig:
        if not isinstance(raw, dict):
            raise ConfigError(f"{self.path}: the watch config must be a mapping of keys ({', '.join(KEYS)}); "
                              f"got {type(raw).__name__}.")
        self.known(raw, KEYS, "")
        if raw.get("model") is None:
            raise ConfigError(f"{self.path}: model is missing; give the model to watch, e.g. "
                              "model: models:/churn@champion.")
        model = self.text(raw, "model")
        assert model is not None  # checked just above
        current, from_log = raw.get("current"), raw.get("from_log")
        if (current is None) == (from_log is None):
            raise ConfigError(f"{self.path}: give current (a file or glob of the latest rows) or from_log (the "
                              "prediction log of `labcoat serve`), one of the two"
                              + ("; both are given." if current is not None else "; neither is given."))
        if raw.get("since") is not None and from_log is None:
            raise self.fail("since", raw["since"], "since selects requests of the prediction log: use it with from_log")
        for key in ("labels", "id_column"):
            if raw.get(key) is not None and current is None:
                raise self.fail(key, raw[key], "it goes with current; with from_log the labels are those sent "
                                "to /feedback")
        if raw.get("id_column") is not None and raw.get("labels") is None:
            raise self.fail("id_column", raw["id_column"], "it joins labels to the current rows: give labels too")
        state = self.file(raw, "state", Path(".labcoat-watch") / "state.json")
        retrain = self.retrain(raw.get("retrain"), model)
        monitor = self.mapping(raw, "monitor")
        self.known(monitor, MONITOR_KEYS, "monitor.")
        options = self.drift_options(monitor)
        return WatchConfig(
            path=self.path.resolve(), model=model,
            interval=self.interval(raw.get("interval", DEFAULT_INTERVAL)), state=state,
            report_dir=self.file(raw, "report_dir", state.parent / "reports"),
            tracking_uri=self.text(raw, "tracking_uri"),
            current=self.pattern(raw, "current"),
            from_log=self.file(raw, "from_log", None),
            since=self.since(raw.get("since")),
            labels=self.pattern(raw, "labels"), id_column=self.text(raw, "id_column"),
            label_column=self.text(raw, "label_column"), options=options,
            tolerance=self.number(monitor, "tolerance", "monitor.tolerance", low=0, high=1, closed=False),
            retrain=retrain, keep_reports=self.keep(raw))

    # ------------------------------------------------------------------ sections
    def retrain(self, raw: Any, model: str) -> RetrainConfig | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise self.fail("retrain", raw, "give a mapping with at least data: (a file or glob of labelled rows)")
        self.known(raw, RETRAIN_KEYS, "retrain.")
        if raw.get("data") is None:
            raise ConfigError(f"{self.path}: retrain.data is missing; give the labelled recent rows to train "
                              "the challenger on (a file or glob).")
        from labcoat.lifecycle.gate import POLICIES, resolve_margin
        from labcoat.lifecycle.retrain import champion_reference

        try:
            champion_reference(model)
        except ConfigError as error:
            raise ConfigError(f"{self.path}: model: {model!r} cannot be retrained: {error}") from None
        on = raw.get("on", TRIGGERS[0])
        if on not in TRIGGERS:
            raise self.fail("retrain.on", on, f"use {', '.join(TRIGGERS)}", did_you_mean(str(on), TRIGGERS))
        policy = raw.get("policy", POLICIES[0])
        if policy not in POLICIES:
            raise self.fail("retrain.policy", policy, f"use {' or '.join(POLICIES)}",
                            did_you_mean(str(policy), POLICIES))
        margin = raw.get("margin")
        if margin is not None:
            try:
                resolve_margin(margin, policy, 1.0)
            except ConfigError:
                raise self.fail("retrain.margin", margin, "give a number ≥ 0 in the metric's units (0.01) or a "
                                "share of the champion's score (1%)") from None
        budget = raw.get("budget")
        if budget is not None:
            from labcoat.search.budget import parse_budget

            try:
                budget = parse_budget(budget)
            except ConfigError:
                raise self.fail("retrain.budget", budget, "give a duration such as 30s, 5m, 1h or seconds") from None
        report = raw.get("report", True)
        if not isinstance(report, bool):
            raise self.fail("retrain.report", report, "use true or false")
        return RetrainConfig(data=self.pattern(raw, "data", "retrain.data") or "", on=on, policy=policy,
                             margin=margin, budget=budget, trials=self.count(raw, "trials", "retrain.trials"),
                             time_column=self.text(raw, "time_column", "retrain.time_column"),
                             n_jobs=self.count(raw, "n_jobs", "retrain.n_jobs"), report=report)

    def drift_options(self, monitor: dict[str, Any]) -> dict[str, Any]:
        """The fields of :class:`~labcoat.monitoring.drift.DriftOptions` (column names are checked
        against the model's reference at each check)."""
        out: dict[str, Any] = {}
        share = self.number(monitor, "share", "monitor.share", low=0, high=1, closed=True)
        if share is not None:
            out["share"] = share
        for key in ("missing_alpha", "missing_min_rise"):
            value = self.number(monitor, key, f"monitor.{key}", low=0, high=1, closed=False)
            if value is not None:
                out[key] = value
        columns = monitor.get("columns")
        if columns is not None:
            if not isinstance(columns, dict):
                raise self.fail("monitor.columns", columns, "give a mapping of column: {method: ..., threshold: ...}")
            out["columns"] = {str(name): self.drift_setting(setting, f"monitor.columns.{name}")
                              for name, setting in columns.items()}
        if monitor.get("prediction") is not None:
            out["prediction"] = self.drift_setting(monitor["prediction"], "monitor.prediction")
        return out

    def drift_setting(self, setting: Any, key: str) -> dict[str, Any]:
        from labcoat.monitoring.stattests import METHODS

        if not isinstance(setting, dict):
            raise self.fail(key, setting, "give a mapping {method: ..., threshold: ...}")
        self.known(setting, ("method", "threshold"), f"{key}.")
        method = setting.get("method")
        if method is not None and method not in METHODS:
            raise self.fail(f"{key}.method", method, f"use {', '.join(METHODS)}", did_you_mean(str(method), METHODS))
        threshold = setting.get("threshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not threshold > 0):
            raise self.fail(f"{key}.threshold", threshold, "give a positive number")
        return dict(setting)

    # ------------------------------------------------------------------ values
    def known(self, raw: dict[str, Any], keys: tuple[str, ...], prefix: str) -> None:
        unknown = [k for k in raw if k not in keys]
        if unknown:
            name = str(unknown[0])
            raise ConfigError(f"{self.path}: unknown key '{prefix}{name}'.{did_you_mean(name, keys)} Known keys"
                              f"{' of ' + prefix.rstrip('.') if prefix else ''}: {', '.join(keys)}.")

    def mapping(self, raw: dict[str, Any], key: str) -> dict[str, Any]:
        value = raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, value, "give a mapping of settings")
        return value

    def text(self, raw: dict[str, Any], key: str, name: str | None = None) -> str | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name or key, value, "give a non-empty text")
        return value.strip()

    def pattern(self, raw: dict[str, Any], key: str, name: str | None = None) -> str | None:
        """A path or glob, made absolute against the config's folder."""
        value = self.text(raw, key, name)
        if value is None:
            return None
        return os.path.join(self.folder, os.path.expanduser(value))

    @overload
    def file(self, raw: dict[str, Any], key: str, default: Path) -> Path: ...

    @overload
    def file(self, raw: dict[str, Any], key: str, default: None) -> Path | None: ...

    def file(self, raw: dict[str, Any], key: str, default: Path | None) -> Path | None:
        value = self.text(raw, key)
        if value is None:
            return None if default is None else (self.folder / default if not default.is_absolute() else default)
        if glob.has_magic(value):
            raise self.fail(key, value, "give one path, not a glob")
        return self.folder / Path(value).expanduser()

    def interval(self, value: Any) -> float:
        try:
            return parse_interval(value)
        except ConfigError as error:
            raise ConfigError(f"{self.path}: {error}") from None

    def since(self, value: Any) -> str | None:
        if value is None:
            return None
        from labcoat.serve.export import parse_since

        try:
            parse_since(str(value), now=0.0)
        except ConfigError:
            raise self.fail("since", value, "give a duration such as 24h, 30m, 7d or a date such as "
                            "2026-11-01") from None
        return str(value)

    def number(self, raw: dict[str, Any], key: str, name: str, *, low: float, high: float,
               closed: bool) -> float | None:
        value = raw.get(key)
        if value is None:
            return None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low < value and (
            value <= high if closed else value < high)
        if not ok:
            raise self.fail(name, value, f"give a number in ({low:g}, {high:g}{']' if closed else ')'}")
        return float(value)

    def count(self, raw: dict[str, Any], key: str, name: str) -> int | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(name, value, "give a whole number of at least 1")
        return value

    def keep(self, raw: dict[str, Any]) -> int | None:
        if "keep_reports" not in raw:
            return KEEP_REPORTS
        return None if raw["keep_reports"] is None else self.count(raw, "keep_reports", "keep_reports")
