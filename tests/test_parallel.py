"""Trials in parallel: the study's ordering with several slots, budgets with overdue trials,
and local worker processes (a crash or a memory blow-up costs one trial, not the study)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from dataclasses import replace
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest

import labcoat
from labcoat.data.split import choose_resampling
from labcoat.errors import LabcoatNotice
from labcoat.evaluate.metrics import get_metric
from labcoat.models import FAMILIES
from labcoat.models._base import FitOutcome
from labcoat.models.linear import LinearFamily
from labcoat.search import Clock, Study, TrialData
from labcoat.search.executor import Executor, LocalExecutor
from labcoat.search.processes import ProcessExecutor
from labcoat.tasks import get_task, infer_schema

FAST = ["lightgbm", "linear"]
GB = 2**30


def fit_quietly(data, target, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        return labcoat.fit(data, target, quiet=True, track=False, report=False, **kwargs)


class CrashFamily(LinearFamily):
    """Its fit ends the process, as a segfault in native code or the OOM killer would."""

    name = "crash"

    def portfolio(self, task):
        return [{"C": 1.0}]

    def fit(self, estimator, X, y, *, valid=None, deadline=None):
        os._exit(3)


class HogFamily(LinearFamily):
    """Its fit asks for 8 GB at once."""

    name = "hog"

    def portfolio(self, task):
        return [{"C": 1.0}]

    def fit(self, estimator, X, y, *, valid=None, deadline=None):
        np.ones(8 * GB, dtype=np.uint8)
        return FitOutcome()


# The worker processes get the test families by value: importing this module there would find
# another conftest first.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture
def extra_families(monkeypatch):
    for family in (CrashFamily(), HogFamily()):
        monkeypatch.setitem(FAMILIES, family.name, family)


def study_data(n: int = 300) -> TrialData:
    """Four numeric columns and one 5-fold cross-validation (not 15 folds): quick studies."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    frame["churn"] = np.where(frame["a"] - frame["b"] + rng.normal(size=n) > 0, "yes", "no")
    schema = infer_schema(frame, "churn")
    y = get_task(schema.task).encode_target(frame["churn"], schema.classes)
    plan = choose_resampling(y, stratify=True)
    return TrialData(X=schema.prepare(frame, warn=False), y=y, schema=schema, task=get_task(schema.task),
                     metric=get_metric("roc_auc", schema.task),
                     resampling=replace(plan, folds=plan.folds[:5], n_repeats=1), seed=0, n_jobs=1)


class Shuffled(LocalExecutor):
    """Runs trials in process but finishes them in a random order, several at a time."""

    def __init__(self, slots: int, seed: int) -> None:
        super().__init__(n_jobs=1)
        self.slots, self.rng = slots, random.Random(seed)

    @property
    def capacity(self) -> int:
        return self.slots

    def wait(self, handles, timeout=None):
        handles = list(handles)
        chosen = self.rng.sample(handles, self.rng.randint(1, len(handles)))
        return [trial for h in chosen for trial in LocalExecutor.wait(self, [h])]


def run_study(executor: Executor, trials: int = 8) -> list[tuple]:
    result = Study(data=study_data(), clock=Clock(None), trials=trials, families=["linear", "knn"],
                   executor=executor).run()
    return [(t.number, t.family, t.origin, tuple(sorted(t.params.items())), t.score) for t in result.trials]


def test_parallel_proposals_do_not_depend_on_the_order_trials_finish_in():
    """With trials=N, the same number of slots gives the same search whatever the timing."""
    first, second = run_study(Shuffled(3, seed=1)), run_study(Shuffled(3, seed=2))
    assert first == second
    assert [origin for _, _, origin, _, _ in first] == ["portfolio"] * 2 + ["optuna"] * 6
    # One slot is the sequential search, whatever the executor.
    assert run_study(Shuffled(1, seed=3)) == run_study(LocalExecutor(n_jobs=1))


class Failing(LinearFamily):
    name = "failing"

    def portfolio(self, task):
        return [{"C": 1.0}]

    def fit(self, estimator, X, y, *, valid=None, deadline=None):
        raise ValueError("this configuration cannot be fitted")


def test_tuning_waits_for_a_usable_result_instead_of_stopping(monkeypatch):
    """Both portfolio trials finish together; the first one told failed: the study must tell
    the second before deciding there is nothing to tune."""
    monkeypatch.setitem(FAMILIES, "failing", Failing())
    together = Shuffled(2, seed=0)
    together.wait = lambda handles, timeout=None: [t for h in handles for t in LocalExecutor.wait(together, [h])]
    result = Study(data=study_data(), clock=Clock(None), trials=4, families=["failing", "linear"],
                   executor=together).run()
    assert [t.status for t in result.trials] == ["failed", "ok", "ok", "ok"]


class Hanging(LocalExecutor):
    """Trials that never finish (a fold ignoring its deadline)."""

    def __init__(self) -> None:
        super().__init__(n_jobs=1)
        self.submitted, self.cancelled, self.stopped = [], [], False

    @property
    def capacity(self) -> int:
        return 2

    def submit(self, request):
        self.submitted.append(request.number)
        return request.number

    def wait(self, handles, timeout=None):
        time.sleep(timeout if timeout is not None else 0.1)
        return []

    def cancel(self, handles):
        self.cancelled.extend(handles)

    def stop(self):
        self.stopped = True


def test_the_budget_is_kept_by_cancelling_overdue_trials():
    hanging = Hanging()
    clock = Clock(2.0)
    result = Study(data=study_data(), clock=clock, families=FAST, executor=hanging).run()
    assert clock.elapsed < 2.0 + 3.0  # the budget, plus the grace given to a late trial
    assert hanging.stopped and sorted(hanging.cancelled) == sorted(hanging.submitted)
    assert result.trials and all(t.status == "stopped" and "cancelled" in t.error for t in result.trials)


def test_worker_processes_run_trials_at_once(frame):
    parallel = fit_quietly(frame, "churn", trials=6, families=FAST, n_jobs=2)
    board = parallel.leaderboard.sort_values("trial")
    assert parallel.info.executor == "local (2 processes)" and parallel.info.n_jobs == 1
    assert (board["status"] == "ok").all() and len(board) == 6
    spans = list(zip(board["started"], board["finished"]))
    assert any(a0 < b1 and b0 < a1 for i, (a0, a1) in enumerate(spans) for b0, b1 in spans[i + 1:])
    # Portfolio trials (0-4) are the same configurations as in a sequential search, on one
    # thread each: same scores.
    sequential = fit_quietly(frame, "churn", trials=6, families=FAST, n_jobs=1).leaderboard.sort_values("trial")
    pd.testing.assert_series_equal(board["score"].head(5).reset_index(drop=True),
                                   sequential["score"].head(5).reset_index(drop=True))


def test_a_crash_or_a_memory_blow_up_costs_one_trial(frame, extra_families):
    executor = ProcessExecutor(2, memory_limit=4 * GB)
    model = fit_quietly(frame, "churn", trials=5, families=["linear", "crash", "hog"], executor=executor)
    board = model.leaderboard.set_index("family")
    crash, hog = board.loc["crash"], board.loc["hog"]
    assert crash["status"] == "failed"
    assert "exited with code 3" in crash["error"] and "retried once" in crash["error"]
    assert hog["status"] == "failed" and hog["error"].startswith("MemoryError")
    linear = model.leaderboard[model.leaderboard["family"] == "linear"]
    assert len(linear) == 3 and (linear["status"] == "ok").all()  # later trials ran on new workers
    assert model.predict(frame.head(3)).shape == (3,)


SLEEPER = textwrap.dedent("""
    import os, sys, time, warnings
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    warnings.simplefilter("ignore")
    import labcoat
    from labcoat.models import FAMILIES
    from labcoat.models.linear import LinearFamily
    from conftest import mixed_frame

    class Sleeper(LinearFamily):
        name = "sleeper"
        def portfolio(self, task):
            return [{{"C": 1.0}}]
        def fit(self, estimator, X, y, *, valid=None, deadline=None):
            Path({folder!r}, f"{{os.getpid()}}.pid").write_text("")
            time.sleep(120)

    FAMILIES["sleeper"] = Sleeper()
    labcoat.fit(mixed_frame(), "churn", trials=4, families=["sleeper", "linear"], quiet=True, track=False,
                report=False, {executor})
""")


def run_until_trials_start(script: str, folder: Path, expected: int = 1) -> tuple[subprocess.Popen, list[int]]:
    """Start ``script`` and return once ``expected`` sleeper trials have written their pids."""
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 60
    while len(list(folder.glob("*.pid"))) < expected:
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < end, "the trials did not start"
        time.sleep(0.1)
    return process, [int(p.stem) for p in folder.glob("*.pid")]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_terminated_driver_leaves_no_worker_process(tmp_path):
    script = SLEEPER.format(tests=str(Path(__file__).parent), folder=str(tmp_path), executor="n_jobs=2")
    process, pids = run_until_trials_start(script, tmp_path)
    assert all(alive(pid) for pid in pids)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode != 0 and "KeyboardInterrupt" in err
    end = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < end:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in pids)


class Slow(LinearFamily):
    """A family whose every fold takes a tenth of a second."""

    name = "slow"

    def portfolio(self, task):
        return [{"C": 1.0}, {"C": 0.5}]

    def fit(self, estimator, X, y, *, valid=None, deadline=None):
        time.sleep(0.1)
        return super().fit(estimator, X, y, valid=valid, deadline=deadline)


def slow_families(monkeypatch, count: int) -> list[str]:
    names = [f"slow{i}" for i in range(count)]
    for name in names:
        monkeypatch.setitem(FAMILIES, name, type(name, (Slow,), {"name": name})())
    return names


def repeated_twice() -> TrialData:
    data = study_data()
    plan = choose_resampling(data.y, stratify=True)
    return replace(data, resampling=replace(plan, folds=plan.folds[:10], n_repeats=2))


def test_repeats_give_way_to_breadth_when_the_families_do_not_fit(monkeypatch):
    # six families x 10 folds x 0.1 s = 6 s with both repeats: three quarters of 8 s cannot hold
    # that; the first repeats alone (1 + 5 x 0.5 s) leave room for a loaded machine's overhead
    result = Study(data=repeated_twice(), clock=Clock(8.0), families=slow_families(monkeypatch, 6)).run()
    ok = [t for t in result.trials if t.status == "ok"]
    folds = [len(t.fold_scores) for t in ok]
    assert folds[0] == 10 and set(folds[1:]) == {5} and len(folds) >= 4, folds
    # breadth first: no family is tried twice before every family was (how many fit in 8 s
    # depends on the machine's load: six on an idle one, five beside another test process; a
    # family stopped by the budget counts as tried)
    tried = [t.family for t in sorted(result.trials, key=lambda t: t.number)]  # in the order started
    for i, family in enumerate(tried):
        if family in tried[:i]:
            assert len(set(tried[:i])) == 6, [(t.family, t.status) for t in result.trials]
    assert "first repeat only (5 folds)" in result.resampling
    assert np.isfinite(result.trials[1].oof).all()  # one repeat validates every row once


def test_repeats_stay_when_every_family_fits(monkeypatch):
    # two families' first trials, 2 s with both repeats, fit easily in half of 30 s
    result = Study(data=repeated_twice(), clock=Clock(30.0), families=slow_families(monkeypatch, 2),
                   trials=3).run()
    assert [len(t.fold_scores) for t in result.trials] == [10, 10, 10]
    assert "first repeat" not in result.resampling


class SlowStart(LinearFamily):
    """A family whose library takes a second to load, in its first build."""

    name = "slow_start"

    def __init__(self) -> None:
        self.loaded = False

    def portfolio(self, task):
        return [{"C": 1.0}]

    def build(self, params, context):
        if not self.loaded:
            time.sleep(1.0)
            self.loaded = True
        return super().build(params, context)


def test_a_librarys_loading_does_not_stop_the_first_trial_of_its_family():
    # five folds of milliseconds after a second's load: judged by its first fold, load included,
    # the trial would need 5 s and be stopped before its deadline of 2.5 s
    from labcoat.search.trial import evaluate_trial

    trial = evaluate_trial(SlowStart(), {"C": 1.0}, study_data(), number=0, origin="portfolio",
                           deadline=time.monotonic() + 2.5)
    assert trial.status == "ok" and len(trial.fold_scores) == 5, (trial.status, trial.fold_scores)
    assert trial.setup_seconds >= 1.0 and trial.model_fold_seconds < 0.5


class InRounds(LinearFamily):
    """A family that trains in rounds of 10 ms, 10 s in all, and stops at its deadline."""

    name = "in_rounds"

    def fit(self, estimator, X, y, *, valid=None, deadline=None):
        rounds = 0
        while rounds < 1000 and not (deadline is not None and time.monotonic() >= deadline):
            time.sleep(0.01)
            rounds += 1
        estimator.fit(X, y)
        return FitOutcome(iterations=rounds, stopped=rounds < 1000)


def test_a_deadline_is_shared_between_the_folds_so_that_every_fold_is_scored():
    # 50 s of training asked for, 2.5 s given: each of the five folds is cut at about its
    # share, where the first fold used to take it all and leave the trial without predictions
    from labcoat.search.trial import evaluate_trial

    started = time.monotonic()
    trial = evaluate_trial(InRounds(), {"C": 1.0}, study_data(), number=0, origin="portfolio",
                           deadline=started + 2.5)
    assert trial.status == "ok" and trial.truncated and len(trial.fold_scores) == 5, trial.status
    assert trial.oof is not None and np.isfinite(trial.oof).all()
    assert all(0 < rounds < 1000 for rounds in trial.iterations), trial.iterations
    assert time.monotonic() - started < 2.5 + 1.0  # each fold's own work comes after its share


def test_under_a_budget_the_first_family_leads_and_the_others_come_cheapest_first():
    data = study_data()
    names = ["lightgbm", "catboost", "xgboost", "random_forest", "linear", "knn"]
    unbudgeted = Study(data=data, clock=Clock(None), families=names)._ordered_families()
    assert [f.name for f in unbudgeted] == names
    study = Study(data=data, clock=Clock(60.0), families=names)
    ordered = study._ordered_families()
    assert ordered[0].name == "lightgbm" and sorted(f.name for f in ordered) == sorted(names)
    costs = [study._estimate(f, f.portfolio("classifier")[0], {}) for f in ordered[1:]]
    assert costs == sorted(costs) and ordered[1].name == "linear", [f.name for f in ordered]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_sigterm_lost_in_a_weakref_callback_is_raised_again():
    import weakref

    from labcoat.search.signals import raise_if_terminated, sigterm_as_interrupt

    class Thing:
        pass

    def callback(_):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs here, inside the callback: its raise is dropped

    with sigterm_as_interrupt():
        thing = Thing()
        ref = weakref.ref(thing, callback)
        del thing
        assert ref() is None
        with pytest.raises(KeyboardInterrupt):
            raise_if_terminated()
    raise_if_terminated()  # the block's end forgets it
