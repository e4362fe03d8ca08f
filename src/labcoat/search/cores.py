"""How many threads a model should use: the cores that are idle when the study starts.

Boosters' OpenMP threads wait for each other at every split; when another process holds one of
the cores, a 2-thread LightGBM waits for the descheduled thread and runs slower than with one
thread. Measured on 2 cores, LightGBM 300 trees × 3 fits (``benchmarks`` not needed to see it):

=========  ===============  ===============
rows       idle: 1 / 2 thr  one busy process: 1 / 2 thr
=========  ===============  ===============
640        0.57 / 0.42 s    0.56 / 1.57 s
5,000      1.25 / 0.80 s    1.31 / 2.98 s
30,000     2.39 / 1.46 s    2.41 / 4.70 s
=========  ===============  ===============

so the default thread count is the number of cores idle at the start (sampled from
``/proc/stat`` for 0.1 s), not the number of cores.

Examples
--------
>>> 1 <= idle_cores() <= (os.cpu_count() or 1)
True
"""
from __future__ import annotations

import os
import time
from pathlib import Path

#: How long /proc/stat is watched to measure the other processes' CPU use.
SAMPLE_SECONDS = 0.1


def idle_cores(sample: float = SAMPLE_SECONDS) -> int:
    """Cores available to this process that nothing else is using right now (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
    first = _cpu_times()
    if first is None:
        return cores
    time.sleep(sample)
    second = _cpu_times()
    if second is None:
        return cores
    busy = sum(b - a for a, b in zip(first[0], second[0]))
    total = busy + sum(b - a for a, b in zip(first[1], second[1]))
    if total <= 0:
        return cores
    machine = os.cpu_count() or cores
    idle = machine * (1 - busy / total)
    return max(1, min(cores, int(idle + 0.5)))


def _cpu_times() -> tuple[list[int], list[int]] | None:
    """(busy, idle) jiffies of the whole machine from /proc/stat's first line."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq = fields
    return [user, nice, system, irq, softirq], [idle, iowait]
