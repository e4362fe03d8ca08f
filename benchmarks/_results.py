"""``benchmarks/RESULTS.md`` holds one section per benchmark script; each run rewrites its own."""
from __future__ import annotations

import os
import platform
import re
import signal
import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = ("# Benchmarks\n\nEach section is written by the script it names, in one run of that "
          "script; rerun it to refresh the section.\n")


def write_section(name: str, text: str, path: Path = RESULTS) -> None:
    """Replace (or append) the section of benchmark ``name`` in ``path``."""
    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    current = path.read_text() if path.exists() else HEADER
    if begin not in current:
        current = (current if current.startswith("# Benchmarks") else HEADER) + "\n" + block + "\n"
    else:
        current = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, current, flags=re.S)
    path.write_text(current)


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo``), for the sections' headers."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                platform.processor() or platform.machine())


def run_in_group(command: list[str], *, timeout: float, env: dict[str, str] | None = None,
                 ) -> subprocess.CompletedProcess[str] | None:
    """Run ``command`` in a process group of its own, its output captured; None when it is
    still running after ``timeout`` seconds, and then the whole group is killed: a peer's
    worker processes (joblib, multiprocessing) outlive their parent and would take the cores
    from every run after it."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None
    finally:
        try:  # workers left behind by a run that ended on its own
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def peer_python(venv: Path, packages: list[str]) -> Path:
    """The interpreter of a peer's venv at ``venv`` with ``packages``, made on first use."""
    import sys

    python, stamp = venv / "bin" / "python", venv / ".installed"
    if not stamp.exists():
        print(f"creating {venv} (first run only)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages], check=True)
        stamp.touch()
    return python


def machine_state() -> str:
    """Load averages and the busiest other processes, to say whether the run was quiet."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    ps = subprocess.run(["ps", "-eo", "pid,pcpu,args", "--sort=-pcpu"], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in ps.splitlines()[1:]]
    busy = [f"{cpu}% {args[:50]}" for pid, cpu, args in rows if int(pid) != os.getpid() and float(cpu) >= 10.0]
    return f"load {load}" + (f"; busy: {'; '.join(busy[:3])}" if busy else "; no other process at >= 10% CPU")
