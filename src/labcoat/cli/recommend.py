"""``labcoat recommend MODEL --users 1,2,3`` and ``labcoat evaluate-policy MODEL --log FILE``."""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any, Optional

import typer

from labcoat.cli._shared import MODEL_HELP, TRACKING_HELP, err, show_notices, unique, write_table


def _load_recommender(model: str, tracking_uri: Optional[str]) -> Any:
    from labcoat.api import load

    from labcoat.tasks.recommend.model import RecommendModel

    loaded = load(model, tracking_uri=tracking_uri)
    if not isinstance(loaded, RecommendModel):
        err(f"'{model}' does not hold a recommender (fit one with `labcoat fit DATA --task recommend --user "
            "COLUMN --item COLUMN`).")
        raise typer.Exit(2)
    return loaded


def recommend(model: str = typer.Argument(..., help=MODEL_HELP),
              users: Optional[str] = typer.Option(None, "--users", help="Comma-separated user ids."),
              users_file: Optional[Path] = typer.Option(None, "--users-file", help="A table with the user-id "
                                                        "column (and, for new users, their segment)."),
              k: int = typer.Option(10, "-k", help="Items per user."),
              include_seen: bool = typer.Option(False, "--include-seen", help="Also recommend items a user "
                                                "already interacted with."),
              items: Optional[str] = typer.Option(None, "--items", help="Comma-separated item ids: rank only "
                                                  "these."),
              output: Optional[Path] = typer.Option(None, "-o", "--output", help="CSV or Parquet file to write "
                                                    "(default: CSV on stdout)."),
              tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """The top K items for each user of a recommender MODEL (user, rank, item, score, reason)."""
    from labcoat.data.io import read_table

    if (users is None) == (users_file is None):
        err("Give the users: --users 1,2,3 or --users-file FILE (one of them).")
        raise typer.Exit(2)
    m = _load_recommender(model, tracking_uri)
    asked: Any = read_table(users_file) if users_file is not None else _ids(users or "", m.user_ids)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = m.recommend(asked, k=k, exclude_seen=not include_seen,
                             items=_ids(items, m.item_ids) if items else None)
    show_notices(unique(caught))
    write_table(result, output)
    if output is not None:
        err(f"{len(result):,} recommendations for {result['user'].nunique():,} users written to {output}")


def _ids(text: str, known: Any) -> list[Any]:
    """Ids typed on the command line, as the fitted ids they spell (``7`` is the number 7 when
    the ids were numbers); an id not met at fit stays as typed."""
    spelled = {str(value): value for value in known}
    return [spelled.get(v.strip(), v.strip()) for v in text.split(",") if v.strip()]


def evaluate_policy(model: str = typer.Argument(..., help="The recommender to evaluate: " + MODEL_HELP),
                    log: Path = typer.Option(Path("predictions.db"), "--log", help="Prediction log of "
                                             "`labcoat serve` (the lists it showed and their feedback)."),
                    explore: Optional[str] = typer.Option(None, help="The exploration MODEL would run with: "
                                                          "a rate (0.05), 'thompson', or none (greedy)."),
                    since: Optional[str] = typer.Option(None, help="Only requests since: 24h, 30m, 7d or an "
                                                        "ISO date."),
                    clip: Optional[float] = typer.Option(None, help="Clip importance weights at this value "
                                                         "(less variance, some bias; default: none)."),
                    as_json: bool = typer.Option(False, "--json"),
                    tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP)) -> None:
    """Estimate from logged lists alone how MODEL would have done: reward per request by IPS,
    self-normalised IPS and doubly robust estimates, with 95% intervals, beside the logging
    policy's own."""
    from labcoat.evaluate.off_policy import to_frame
    from labcoat.lifecycle.policy_eval import evaluate_policy as estimate
    from labcoat.serve.export import parse_since

    m = _load_recommender(model, tracking_uri)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimates, summary = estimate(m, log, explore=explore, since=parse_since(since, now=time.time()),
                                      clip=clip)
    if as_json:
        print(json.dumps({"summary": summary, "estimates": [e.to_dict() for e in estimates]}, default=str))
        return
    show_notices(unique(caught))
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{model} as '{summary['target_policy']}' on {summary['requests']:,} logged requests "
                        f"({summary['rewarded']:,} rewarded of {summary['shown']:,} shown items; logged by "
                        f"{', '.join(summary['logging_policies'])})")
    for name in ("estimator", "reward per request", "95% interval", "effective sample size"):
        table.add_column(name)
    for row in to_frame(estimates).to_dict("records"):
        label = "logging policy (observed)" if row["name"] == "on_policy" else row["name"]
        table.add_row(label, f"{row['value']:.4f}", f"[{row['low']:.4f}, {row['high']:.4f}]", f"{row['ess']:,.0f}")
    Console().print(table)
