"""A live progress display for a study: trials done, best score so far, time left."""

from __future__ import annotations

import sys

from labcoat.search import Clock, StudyState


class StudyProgress:
    """Rich progress bar on stderr, updated after every trial; call :meth:`close` at the end."""

    def __init__(self, *, clock: Clock, trials: int | None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.clock = clock
        self.console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]searching[/]"), BarColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
            console=self.console, transient=not self.console.is_terminal, disable=not sys.stderr.isatty(),
        )
        total = float(trials) if trials else (clock.budget or 1.0)
        self._task = self._progress.add_task("search", total=total, status="starting")
        self._by_trials = trials is not None
        self._progress.start()

    def update(self, state: StudyState) -> None:
        best = state.best
        best_text = f"best {best.family} {best.score:.4f}" if best else "no model yet"
        left = "" if state.remaining == float("inf") else f", {max(state.remaining, 0):.0f}s left"
        completed = state.done if self._by_trials else min(self.clock.elapsed, self.clock.budget or 0)
        self._progress.update(self._task, completed=completed,
                              status=f"{state.done} trials, {best_text}{left}")

    def close(self) -> None:
        self._progress.stop()

    def __enter__(self) -> "StudyProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
