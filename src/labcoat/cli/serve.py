"""``labcoat serve`` (the REST service) and ``labcoat log export`` (the prediction log)."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

import typer

from labcoat.cli._shared import MODEL_HELP

log_app = typer.Typer(help="The prediction log of `labcoat serve`.", no_args_is_help=True)


def exposed(host: str) -> bool:
    """Whether binding ``host`` lets other machines connect (anything but loopback).

    Examples
    --------
    >>> exposed("127.0.0.1"), exposed("localhost"), exposed("::1"), exposed("0.0.0.0"), exposed("10.1.2.3")
    (False, False, False, True, True)
    """
    import ipaddress

    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: assume it is reachable from elsewhere
        return True


def serve(model: str = typer.Argument(..., help=MODEL_HELP),
          host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default)."),
          port: int = typer.Option(8000), workers: int = typer.Option(1, help="Worker processes."),
          token: Optional[str] = typer.Option(None, envvar="LABCOAT_TOKEN",
                                              help="Require 'Authorization: Bearer TOKEN' (not on health probes)."),
          log: Path = typer.Option(Path("predictions.db"), "--log", help="Prediction log (SQLite)."),
          max_batch: int = typer.Option(10_000, help="Most rows (records for /match, texts for /extract) per request (more: 413)."),
          follow_alias: bool = typer.Option(False, "--follow-alias",
                                            help="Watch the registry and swap in the alias's new version."),
          explore: Optional[str] = typer.Option(None, help="Recommenders: explore with epsilon-greedy at this "
                                                "rate (e.g. 0.05) or with 'thompson'; every shown item is logged "
                                                "with its probability (default: greedy)."),
          tracking_uri: Optional[str] = typer.Option(None, help="MLflow store or server of models:/ URIs.")) -> None:
    """Serve MODEL over REST: /predict, /invocations (MLflow), /v2 (KServe), /metrics, /docs; a forecast
    model: /forecast, /schema, /docs; a recommender: /recommend, /feedback, /schema, /docs; a match
    model: /match (new records' best candidates among the fitted ones), /schema, /docs; a segment model:
    /segment (rows' segments), /schema, /docs; an anomaly model: /predict (each row's score, flag and
    reasons), /schema, /docs; an extraction model: /extract (texts' entities), /schema, /docs."""
    import tempfile

    import uvicorn

    from labcoat.serve.asgi import settings_to_env
    from labcoat.api import load_forecaster, load_own
    from labcoat.errors import ConfigError
    from labcoat.serve.explore import parse_explore
    from labcoat.serve.follow import check_followable
    from labcoat.serve.service import load_served

    if follow_alias:
        check_followable(model)
    recommender = load_own(model, "recommend", tracking_uri)
    if explore is not None:
        if recommender is None:
            raise ConfigError("--explore is for recommenders; this model is not one.")
        parse_explore(explore)  # a bad value fails here, not in every worker
    if recommender is None and load_forecaster(model, tracking_uri) is None and all(
            load_own(model, kind, tracking_uri) is None for kind in ("match", "segment", "anomaly", "extract")):
        load_served(model, tracking_uri)  # fail here, with a clear message, not in every worker
    if exposed(host) and not token:
        typer.echo(f"warning: serving on {host} without --token: anyone who can reach it can use it.", err=True)
    os.environ.update(settings_to_env({"model": model, "tracking_uri": tracking_uri, "token": token,
                                       "log_path": str(log), "max_batch": max_batch, "follow_alias": follow_alias,
                                       "explore": explore}))
    if workers > 1:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="labcoat-metrics-"))
    typer.echo(f"Serving {model} on http://{host}:{port} (docs: /docs); log: {log}", err=True)
    uvicorn.run("labcoat.serve.asgi:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False, loop="auto", http="auto")


@log_app.command("export")
def export(log: Path = typer.Option(Path("predictions.db"), "--log", help="Prediction log (SQLite)."),
           since: Optional[str] = typer.Option(None, help="Only requests since: 24h, 30m, 7d or an ISO date."),
           output: Path = typer.Option(..., "-o", "--output", help="Parquet or CSV file to write.")) -> None:
    """Write the logged requests (one row per predicted row, with labels from /feedback)."""
    from labcoat.errors import ConfigError
    from labcoat.serve.export import log_frame, parse_since

    if not log.is_file():
        raise ConfigError(f"No prediction log at '{log}'; pass the --log of `labcoat serve`.")
    frame = log_frame(log, since=parse_since(since, now=time.time()))
    if output.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(output, index=False)
    else:
        frame.to_csv(output, index=False)
    typer.echo(f"{len(frame):,} predicted rows written to {output}")
