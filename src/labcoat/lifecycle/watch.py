"""``labcoat watch``: monitor a model on a schedule and, when it drifts, run the retraining policy.

Each cycle:

1. The window: the newest file matching ``current`` (by modification time; write files under
   another name and rename them when complete), or the prediction log (``from_log``, ``since``).
2. :func:`labcoat.lifecycle.check.monitor` on it, logged as a run of ``labcoat-monitor``, with its
   report in ``report_dir/monitor-YYYYMMDDTHHMMSSZ.html`` (the oldest beyond ``keep_reports``
   are deleted).
3. When the trigger holds (``retrain.on``: drift, degradation or either), a challenger is fitted
   on all the files matching ``retrain.data`` and promoted only if the policy holds
   (:func:`labcoat.lifecycle.retrain.run_retrain`) -- unless those files (paths, sizes,
   modification times) are the ones the last retrain used: a persistent drift then waits for
   new data instead of retraining every cycle, and the log says so. A retrain that failed on
   its data (too few rows, a missing column) is not retried until the data changes; other
   failures (the store unreachable) are retried at the next drift.

Every action is one JSON line in ``actions.jsonl`` next to the state file and one printed
line. A failing cycle is logged and the loop goes on; only a bad config or a signal ends it.

Checks start every ``interval``: the next is due at the last check's start plus the interval,
as the state file records it, so a restart waits for its turn instead of checking at once.

Stopping (SIGTERM, Ctrl-C): between checks the watcher exits at once; a running check finishes
and is recorded first; a running challenger search is abandoned (its run closed as KILLED,
nothing promoted; the next drift retrains on the same data). A second signal abandons any
step. Exit code 0.

Examples
--------
>>> from labcoat.lifecycle.watch import watch
>>> watch("watch.yaml", once=True)   # doctest: +SKIP
2024-05-02T08:00:00.125Z check_started: models:/churn@champion on data/current/2024-05-02.parquet
2024-05-02T08:00:03.410Z check_finished: No drift detected. None of the 6 columns changed. (exit 0; ...)
0
"""
from __future__ import annotations

import glob
import os
import re
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from labcoat.errors import DataError, DataSourceError, LabcoatError, LabcoatNotice
from labcoat.lifecycle.watch_config import WatchConfig, load_config
from labcoat.lifecycle.watch_state import ActionLog, State, fingerprint, iso, locked

if TYPE_CHECKING:
    import pandas as pd

#: Whether a check's result calls for retraining, by ``retrain.on``.
TRIGGERS = {"drift": lambda r: r.drifted, "degradation": lambda r: r.degraded,
            "drift_or_degradation": lambda r: r.drifted or r.degraded}
_REPORT = re.compile(r"monitor-\d{8}T\d{6}Z(-\d+)?\.html")


def watch(config: str | Path | WatchConfig, *, once: bool = False, out: TextIO | None = None) -> int:
    """Watch the model of ``config`` (a YAML path or a :class:`WatchConfig`) until a signal stops
    it (exit code 0), or, with ``once``, run one cycle now and return the check's exit code (0 or
    1; 2 when the check or the retrain failed). Action lines are printed to ``out`` (stdout).

    Raises :class:`~labcoat.errors.ConfigError` for a bad config, an unusable tracking store or
    a state folder another watcher holds.
    """
    config = config if isinstance(config, WatchConfig) else load_config(config)
    from labcoat.tracking import store

    store.client(config.tracking_uri)  # a bad store is a config error, found before any cycle
    import labcoat.lifecycle.check  # noqa: F401  (imported now, so that the first check starts on time)
    with locked(config.state.parent), Stopper() as stopper:
        watcher = Watcher(config, State.load(config.state), ActionLog(config.actions, out), stopper)
        return watcher.cycle() if once else watcher.run()


class Stopper:
    """SIGTERM and SIGINT ask the watcher to stop (see the module docstring): they are counted,
    and raise :class:`KeyboardInterrupt` only to abandon a step (a second signal, or a signal
    during a challenger's search, which ``fit`` itself stops on SIGTERM)."""

    def __init__(self) -> None:
        self.count = 0
        self.signal: str | None = None
        self.step: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Stopper:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGINT):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    @property
    def requested(self) -> bool:
        return self.count > 0

    def request(self, name: str) -> None:
        """Stop after the current step (a step abandoned by ``fit``'s own SIGTERM handler)."""
        self.count = max(self.count, 1)
        self.signal = self.signal or name

    def _handle(self, number: int, frame: Any) -> None:
        self.count += 1
        self.signal = self.signal or signal.Signals(number).name
        if self.step is None:
            return
        searching = signal.getsignal(signal.SIGTERM) != self._handle  # fit's handler is installed
        if self.count >= 2 or (self.step == "retrain" and searching):
            raise KeyboardInterrupt(self.signal)

    @contextmanager
    def running(self, step: str) -> Iterator[None]:
        self.step = step
        try:
            yield
        finally:
            self.step = None

    def sleep_until(self, when: float) -> bool:
        """Wait until Unix time ``when``; False if a stop was asked meanwhile."""
        while not self.requested:
            left = when - time.time()
            if left <= 0:
                return True
            time.sleep(min(left, 0.25))
        return False


class Watcher:
    """One watcher: the config, its state and action log, and the stop signals."""

    def __init__(self, config: WatchConfig, state: State, log: ActionLog, stopper: Stopper) -> None:
        self.config, self.state, self.log, self.stopper = config, state, log, stopper

    # ------------------------------------------------------------------ the loop
    def run(self) -> int:
        """Cycle every interval until a signal; returns 0."""
        c, now = self.config, time.time()
        due, last = self.next_due(now), self.state.last_check
        when = (f"last check {last['started']}, next at {iso(due)}" if last else "first check now")
        self.log.write("watch_started", f"watching {c.model} every {duration(c.interval)}; {when}", now=now,
                       pid=os.getpid(), config=str(c.path), interval_seconds=c.interval, resumed=last is not None,
                       next_check=iso(due), next_check_epoch=due)
        cycles = 0
        while self.stopper.sleep_until(due):
            self.cycle()
            cycles += 1
            due = self.next_due(time.time())
        self.log.write("watch_stopped", f"stopped by {self.stopper.signal} after {cycles} cycle(s); next check due "
                       f"at {iso(due)}", now=time.time(), signal=self.stopper.signal, cycles=cycles,
                       next_check=iso(due), next_check_epoch=due)
        return 0

    def next_due(self, now: float) -> float:
        """The last check's start plus the interval (now if none; at most an interval ahead, should
        the clock have gone back)."""
        last = self.state.last_check
        if last is None:
            return now
        return min(float(last["started_epoch"]) + self.config.interval, now + self.config.interval)

    def cycle(self) -> int:
        """One check and, when it calls for it, a retrain; the check's exit code (2 on a failure)."""
        result, code = self.check()
        retrain = self.config.retrain
        triggered = result is not None and retrain is not None and TRIGGERS[retrain.on](result)
        if triggered and not self.retrain(result):
            code = 2
        return code

    # ------------------------------------------------------------------ the check
    def check(self) -> tuple[Any, int]:
        """Monitor the current window; the result (None on failure) and the exit code."""
        from labcoat.lifecycle.check import monitor
        from labcoat.monitoring.performance import TOLERANCE

        c, started = self.config, time.time()
        window: dict[str, Any] | LabcoatError
        try:
            window = self.window()
            where = self.describe(window)
        except LabcoatError as error:  # no file yet: reported as this check's failure
            window, where = error, c.current or str(c.from_log)
        self.log.write("check_started", f"{c.model} on {where}", now=started, model=c.model, window=where)
        report = None
        try:
            if isinstance(window, LabcoatError):
                raise window
            report = self.report_path(started)
            with self.stopper.running("check"), notices() as caught:
                result = monitor(c.model, **window, options=c.options or None, report=report,
                                 tracking_uri=c.tracking_uri, track=True,
                                 tolerance=TOLERANCE if c.tolerance is None else c.tolerance)
        except KeyboardInterrupt as stop:
            self.stopper.request(signal_name(stop))
            if report is not None:
                report.unlink(missing_ok=True)
            self.log.write("check_abandoned", "stopped during the check; not recorded as a check",
                           now=time.time(), window=where)
            return None, 2
        except Exception as error:  # noqa: BLE001  (any failure is logged; the loop goes on)
            now = time.time()
            self.log.write("check_failed", f"{describe_error(error)} (exit 2)", now=now, window=where, exit_code=2,
                           seconds=round(now - started, 3), **error_fields(error))
            self.remember_check(started, now, {"verdict": "error", "exit_code": 2, "error": describe_error(error)})
            return None, 2
        now = time.time()
        drifted = [col.name for col in result.columns if col.drifted]
        self.log.write("check_finished", f"{result.summary[0]} (exit {result.exit_code}; run {result.run_id}; "
                       f"report {report})", now=now, window=where, verdict=result.headline.lower(),
                       exit_code=result.exit_code, dataset_drift=result.drift.dataset_drift,
                       prediction_drift=result.prediction_drift, degraded=result.degraded,
                       drifted_columns=drifted, share_drifted=result.drift.share_drifted,
                       rows=result.drift.current_rows, run_id=result.run_id, report=str(report),
                       seconds=round(now - started, 3), notices=caught)
        self.remember_check(started, now, {"verdict": result.headline.lower(), "exit_code": result.exit_code,
                                           "run_id": result.run_id, "report": str(report), "window": where})
        prune_reports(c.report_dir, c.keep_reports)
        return result, result.exit_code

    def window(self) -> dict[str, Any]:
        """The monitor's arguments for this cycle's rows."""
        c = self.config
        if c.from_log is not None:
            return {"from_log": c.from_log, "since": c.since}
        assert c.current is not None
        found: dict[str, Any] = {"current": newest(c.current, "current")}
        if c.labels is not None:
            found.update(labels=newest(c.labels, "labels"), id_column=c.id_column)
        if c.label_column is not None:
            found["label_column"] = c.label_column
        return found

    def describe(self, window: dict[str, Any]) -> str:
        if "from_log" in window:
            return f"prediction log {window['from_log']}" + (f" since {window['since']}" if window["since"] else "")
        return str(window["current"]) + (f" with labels {window['labels']}" if "labels" in window else "")

    def report_path(self, started: float) -> Path:
        folder = self.config.report_dir
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
        path, n = folder / f"monitor-{stamp}.html", 1
        while path.exists():
            n += 1
            path = folder / f"monitor-{stamp}-{n}.html"
        return path

    def remember_check(self, started: float, finished: float, facts: dict[str, Any]) -> None:
        self.state.data["last_check"] = {"started": iso(started), "started_epoch": started,
                                         "finished": iso(finished), "model": self.config.model, **facts}
        self.state.data["checks"] = int(self.state.data.get("checks", 0)) + 1
        self.state.save()

    # ------------------------------------------------------------------ the retrain
    def retrain(self, result: Any) -> bool:
        """Retrain after ``result`` unless the data is the last retrain's; False on failure."""
        c, r = self.config, self.config.retrain
        assert r is not None
        try:
            files = matching(r.data, "retrain.data")
            data = fingerprint(files)
        except (LabcoatError, OSError) as error:
            self.log.write("retrain_failed", describe_error(error), now=time.time(), will_retry=True,
                           **error_fields(error))
            return False
        last = self.state.last_retrain
        if last is not None and last.get("model") == c.model and last.get("digest") == data["digest"]:
            what = (f"{last.get('decision')}, version {last.get('challenger_version')}" if last.get("decision")
                    else f"failed: {last.get('error')}")
            self.log.write("retrain_skipped", f"{result.headline.lower()}, but the retrain data ({len(files)} "
                           f"file(s)) is unchanged since the retrain of {last['time']} ({what}); waiting for new "
                           "data", now=time.time(), reason="data unchanged", digest=data["digest"],
                           last_retrain=last["time"])
            return True
        if self.stopper.requested:
            self.log.write("retrain_postponed", f"{result.headline.lower()}, but stopping: the next check decides "
                           "again", now=time.time())
            return True
        started = time.time()
        self.log.write("retrain_started", f"{result.headline.lower()}: fitting a challenger to {c.model} on "
                       f"{len(files)} file(s) ({r.policy})", now=started, trigger=r.on,
                       verdict=result.headline.lower(), files=[f["path"] for f in data["files"]],
                       digest=data["digest"])
        try:
            with self.stopper.running("retrain"), notices() as caught:
                decision = self.fit_challenger(files)
        except KeyboardInterrupt as stop:
            self.stopper.request(signal_name(stop))
            self.log.write("retrain_abandoned", "stopped during the retrain, before its decision; this data will be "
                           "retrained on at the next drift", now=time.time(), digest=data["digest"])
            return False
        except Exception as error:  # noqa: BLE001  (as for the check)
            now, final = time.time(), isinstance(error, DataError) and not isinstance(error, DataSourceError)
            self.log.write("retrain_failed", describe_error(error) + ("; not retried until the data changes" if final
                                                                      else "; retried at the next drift"),
                           now=now, will_retry=not final, seconds=round(now - started, 3), **error_fields(error))
            if final:
                self.remember_retrain(started, data, {"error": describe_error(error)})
            return False
        now, d = time.time(), decision
        evidence = {k: v for k, v in d.to_dict().items() if k != "settings"}
        if d.promoted:
            what = f"promoted version {d.challenger_version} over version {d.champion_version}"
        else:
            what = f"kept version {d.champion_version}; version {d.challenger_version} stays challenger"
        p = "p < 0.001" if d.p_value < 0.001 else f"p = {d.p_value:.3f}"
        self.log.write("retrain_decided", f"{what}: {d.metric} difference {d.difference:+.4f} "
                       f"[{d.ci_low:+.4f}, {d.ci_high:+.4f}], {p} under {d.policy}; run {d.run_id}", now=now,
                       seconds=round(now - started, 3), notices=caught, **evidence)
        self.remember_retrain(started, data, {"decision": d.decision, "champion_version": d.champion_version,
                                              "challenger_version": d.challenger_version, "run_id": d.run_id})
        return True

    def fit_challenger(self, files: list[Path]) -> Any:
        from labcoat.lifecycle.retrain import run_retrain

        c, r = self.config, self.config.retrain
        assert r is not None
        data: Path | pd.DataFrame
        if len(files) == 1:
            data, source = files[0], None
        else:
            import pandas as pd

            from labcoat.data.io import read_table

            data = pd.concat([read_table(f) for f in files], ignore_index=True)
            source = f"{len(files)} files matching {r.data}"
        return run_retrain(c.model, data, budget=r.budget, trials=r.trials, policy=r.policy, margin=r.margin,
                           time_column=r.time_column, tracking_uri=c.tracking_uri, n_jobs=r.n_jobs,
                           report=r.report, progress=False, source=source)

    def remember_retrain(self, started: float, data: dict[str, Any], facts: dict[str, Any]) -> None:
        self.state.data["last_retrain"] = {"time": iso(started), "model": self.config.model,
                                           "digest": data["digest"], "files": data["files"], **facts}
        self.state.save()


# ---------------------------------------------------------------------- files
def newest(pattern: str, key: str) -> Path:
    """``pattern`` itself, or for a glob its most recently modified file."""
    if not glob.has_magic(pattern):
        return Path(pattern)
    found = [Path(p) for p in glob.glob(pattern) if os.path.isfile(p)]
    if not found:
        raise DataSourceError(f"No file matches {key} '{pattern}' yet.")
    return max(found, key=lambda p: (p.stat().st_mtime_ns, str(p)))


def matching(pattern: str, key: str) -> list[Path]:
    """Every file ``pattern`` names or matches, sorted by name."""
    if not glob.has_magic(pattern):
        if not os.path.isfile(pattern):
            raise DataSourceError(f"The {key} file '{pattern}' does not exist.")
        return [Path(pattern)]
    found = sorted(Path(p) for p in glob.glob(pattern) if os.path.isfile(p))
    if not found:
        raise DataSourceError(f"No file matches {key} '{pattern}' yet.")
    return found


def prune_reports(folder: Path, keep: int | None) -> None:
    """Delete the oldest monitoring reports beyond ``keep`` (names sort by time)."""
    if keep is None:
        return
    reports = sorted(p for p in folder.iterdir() if _REPORT.fullmatch(p.name))
    for old in reports[:-keep]:
        old.unlink(missing_ok=True)


# ---------------------------------------------------------------------- words
@contextmanager
def notices() -> Iterator[list[str]]:
    """Collect the labcoat notices raised inside (each once) instead of printing them."""
    found: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield found
        finally:
            for w in caught:
                if issubclass(w.category, LabcoatNotice) and str(w.message) not in found:
                    found.append(str(w.message))


def signal_name(stop: KeyboardInterrupt) -> str:
    """The signal behind a KeyboardInterrupt: ours carry its name, ``fit``'s says "terminated"."""
    text = str(stop)
    return "SIGTERM" if text == "terminated" else text if text.startswith("SIG") else "SIGINT"


def describe_error(error: BaseException) -> str:
    return str(error) if isinstance(error, LabcoatError) else f"{type(error).__name__}: {error}"


def error_fields(error: BaseException) -> dict[str, Any]:
    fields: dict[str, Any] = {"error": describe_error(error), "error_type": type(error).__name__}
    if not isinstance(error, LabcoatError):  # not the user's input: where it happened helps
        fields["traceback"] = traceback.format_exception(type(error), error, error.__traceback__)[-6:]
    return fields


def duration(seconds: float) -> str:
    """``seconds`` in the largest unit that divides it.

    Examples
    --------
    >>> duration(3600), duration(90), duration(2.5)
    ('1h', '90s', '2.5s')
    """
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
