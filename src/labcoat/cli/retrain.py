"""``labcoat retrain MODEL --data NEW``: a challenger fitted like the champion, promoted only if a
paired test on recent labelled rows says so (see :mod:`labcoat.lifecycle.retrain`)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Optional

import typer

from labcoat.cli._shared import TRACKING_HELP, show_notices


def retrain(model: str = typer.Argument(..., help="Registered model: NAME (its champion), "
                                        "models:/NAME@champion or models:/NAME/VERSION."),
            data: Path = typer.Option(..., "--data", help="The new window: labelled rows (CSV, Parquet, ...)."),
            budget: Optional[str] = typer.Option(None, help="The challenger's budget (default: the champion's)."),
            trials: Optional[int] = typer.Option(None, help="The challenger's trials (default: the champion's)."),
            policy: str = typer.Option("non-inferiority", help="non-inferiority: promote when shown to be worse "
                                       "by at most the margin; superiority: only when shown to be better."),
            margin: Optional[str] = typer.Option(None, help="In the metric's units (0.01) or a share of the "
                                                 "champion's score (1%); default 1% (non-inferiority), 0 "
                                                 "(superiority)."),
            time_column: Optional[str] = typer.Option(None, help="Hold out the latest rows by this column "
                                                      "(default: the champion's time column, else random rows)."),
            holdout_share: float = typer.Option(0.2, help="Share of the rows held out (at least 200 rows)."),
            seed: Optional[int] = typer.Option(None, help="Seed (default: the champion's)."),
            no_report: bool = typer.Option(False, "--no-report", help="Skip the challenger's explanations and reports."),
            tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP),
            quiet: bool = typer.Option(False, "--quiet", "-q"),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Fit a challenger like MODEL's champion on --data and promote it only if the policy holds.

    Exit status 0 whether the challenger is promoted or not; 2 on bad input.
    """
    from labcoat.lifecycle.retrain import run_retrain

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        decision = run_retrain(model, data, budget=budget, trials=trials, policy=policy, margin=margin,
                               holdout=holdout_share, time_column=time_column, tracking_uri=tracking_uri, seed=seed,
                               report=not no_report, progress=not (quiet or as_json))
    if as_json:
        from labcoat.errors import LabcoatNotice

        notices = [str(w.message) for w in caught if issubclass(w.category, LabcoatNotice)]
        print(json.dumps({**decision.to_dict(), "notices": notices}, default=str))
        return
    show_notices(caught)
    print(decision.summary())
