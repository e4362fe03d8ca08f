"""``labcoat watch CONFIG.yaml``: monitor on a schedule and retrain by the policy on drift (see
:mod:`labcoat.lifecycle.watch`)."""
from __future__ import annotations

from pathlib import Path

import typer


def watch(config: Path = typer.Argument(..., help="YAML config: model, interval, current (or from_log), "
                                        "retrain, ... (see the README's Watch section)."),
          once: bool = typer.Option(False, "--once", help="Run one cycle now and exit with the check's code: "
                                    "0 nothing to act on, 1 drift or degradation, 2 a failure (for cron).")) -> None:
    """Check the model every interval and, when it drifts, retrain it by the policy. Every action
    is appended to actions.jsonl next to the state file and printed. SIGTERM or Ctrl-C stops it
    cleanly (exit 0); restarted, it goes on from its state."""
    from labcoat.lifecycle.watch import watch as run

    raise typer.Exit(code=run(config, once=once))
