"""``labcoat match people.csv [--with other.csv] -o pairs.csv --clusters clusters.csv``."""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from labcoat.cli._shared import TRACKING_HELP, err, print_saved, show_notices, write_table

if TYPE_CHECKING:
    import pandas as pd


def match(data: Path = typer.Argument(..., help="The records to deduplicate (CSV, Parquet, Excel...)."),
          other: Optional[Path] = typer.Option(None, "--with", help="A second table to link the records with "
                                               "(same columns, or mapped with --map)."),
          id_column: Optional[str] = typer.Option(None, "--id", help="The record-id column (default: row "
                                                  "numbers)."),
          labels: Optional[Path] = typer.Option(None, "--labels", help="Pairs known to match or not: id_a, id_b, "
                                                "match (1/0)."),
          settings: Optional[Path] = typer.Option(None, "--settings", help="JSON or YAML overriding what is "
                                                  "chosen: roles, blocking, threshold, exclude, columns."),
          mapping: Optional[str] = typer.Option(None, "--map", help="The second table's columns as the first's: "
                                                "their_name=our_name,..."),
          threshold: Optional[float] = typer.Option(None, help="Match probability from which pairs link "
                                                    "(default: chosen for F1, or for --costs)."),
          costs: Optional[str] = typer.Option(None, help="merge=COST,miss=COST: a false merge's cost against a "
                                              "missed match's; the threshold minimises the expected cost."),
          output: Optional[Path] = typer.Option(None, "-o", "--output", help="Where to write the linked pairs "
                                                "(CSV or Parquet; default: CSV on stdout)."),
          clusters: Optional[Path] = typer.Option(None, "--clusters", help="Where to write each record's entity."),
          out: Path = typer.Option(Path("labcoat-match"), help="Directory to save the match model in."),
          budget: Optional[str] = typer.Option(None, help="Time budget: 30s, 2m, 10m (default 2m)."),
          seed: int = typer.Option(0),
          backend: str = typer.Option("duckdb", help="Where Splink trains: duckdb, or spark (a cluster; needs "
                                      "pip install 'labcoat\\[spark]' and Java 17). New records are scored on "
                                      "DuckDB either way."),
          spark_master: Optional[str] = typer.Option(None, "--spark-master", help="The Spark master URL with "
                                                     "--backend spark: local[2], spark://host:7077 (default: "
                                                     "local[*])."),
          tracking_uri: Optional[str] = typer.Option(None, help=TRACKING_HELP),
          experiment: str = typer.Option("labcoat", help="MLflow experiment to record the run in."),
          register: Optional[str] = typer.Option(None, help="Also register the model under this name."),
          no_track: bool = typer.Option(False, "--no-track", help="Do not record the run in MLflow."),
          no_report: bool = typer.Option(False, "--no-report", help="Skip the HTML report."),
          quiet: bool = typer.Option(False, "--quiet", "-q"),
          as_json: bool = typer.Option(False, "--json", help="Print what was decided and measured as JSON."),
          review: bool = typer.Option(False, "--review", help="Ask on the terminal about the pairs the model is "
                                      "least sure of (y/n/s/q), save the answers and refit with them."),
          review_pairs: int = typer.Option(20, "--review-pairs", min=1, help="How many pairs --review asks about."),
          labels_out: Optional[Path] = typer.Option(None, "--labels-out", help="Where --review saves the answers "
                                                    "(CSV; default: next to the output, NAME-labels.csv); labels "
                                                    "already there are kept, used and not asked again.")) -> None:
    """Deduplicate DATA (or link it with --with) without configuration: the pairs that are the
    same entity, each record's entity, and a saved match model (labcoat info/report/serve)."""
    import labcoat
    from labcoat.tracking.lineage import describe_source

    columns = _mapping(mapping) if mapping else None
    if spark_master is not None and backend != "spark":
        err("--spark-master goes with --backend spark.")
        raise typer.Exit(2)
    on = {"backend": backend, "spark": spark_master}
    report_dir = None if no_report else out.with_name(out.name + "-reports")
    given: Any = labels
    if review:
        given = _review(data, other=other, id_column=id_column, labels=labels, settings=settings, columns=columns,
                        threshold=threshold, costs=costs, budget=budget, seed=seed, n=review_pairs, **on,
                        labels_out=labels_out or _labels_path(output or out))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model: Any = labcoat.fit(data, task="match", other=other, id_column=id_column, labels=given,
                                 settings=settings, threshold=threshold, costs=costs, columns=columns, budget=budget,
                                 seed=seed, **on, quiet=quiet or as_json or output is None, track=not no_track,
                                 tracking_uri=tracking_uri, experiment=experiment, register=register,
                                 source=describe_source(data), report=report_dir is not None, report_dir=report_dir)
    path = model.save(out)
    pairs = model.pairs()
    write_table(pairs, output)
    if clusters is not None:
        write_table(model.clusters(), clusters)
    if as_json:
        print(json.dumps({"model": str(path), "pairs": len(pairs), "info": model.info}, default=str))
        return
    show_notices(caught)
    if output is not None:
        print(model.summary())
        print(f"{len(pairs):,} pairs written to {output}" + (f"; entities to {clusters}" if clusters else ""))
        print_saved(model.info, path)
    else:
        err(f"Saved to {path}")


def _review(data: Path, *, labels: Path | None, n: int, labels_out: Path, **fit: Any) -> pd.DataFrame | Path | None:
    """Fit without tracking, ask about the uncertain pairs on stdin (questions on stderr), save
    each answer to ``labels_out`` at once; the labels to refit with: the given ones, those
    already in ``labels_out`` and the answers."""
    import pandas as pd

    import labcoat
    from labcoat.tasks.match.review import LABEL_COLUMNS, review

    err(f"Fitting once to find the {n} pairs the model is least sure of...")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        first: Any = labcoat.fit(data, task="match", labels=labels, track=False, report=False, quiet=True, **fit)
    previous = (pd.read_csv(labels_out, dtype={"id_a": str, "id_b": str}) if labels_out.is_file()
                else pd.DataFrame(columns=LABEL_COLUMNS))
    known = pd.concat([pd.read_csv(labels, dtype={"id_a": str, "id_b": str}) if labels else None, previous])
    labels_out.parent.mkdir(parents=True, exist_ok=True)

    def save(answers: pd.DataFrame) -> None:
        both = pd.concat([previous, answers.assign(match=answers["match"].astype(int))], ignore_index=True)
        both[LABEL_COLUMNS].to_csv(labels_out, index=False)

    answers = review(first, ask=_ask, n=n, show=_show, exclude=known, on_answer=save)
    err(f"{len(answers):,} answers ({int(answers['match'].sum()) if len(answers) else 0:,} matches) saved to "
        f"{labels_out}; refitting with {len(known) + len(answers):,} labelled pairs.")
    everything = pd.concat([known, answers.assign(match=answers["match"].astype(int))], ignore_index=True)
    return everything[LABEL_COLUMNS] if len(everything) else None


def _ask(prompt: str) -> str:
    """An answer from stdin (the prompt on stderr, so that stdout stays the pairs); EOFError at the end."""
    print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        print(file=sys.stderr)
        raise EOFError
    return line


def _show(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _labels_path(near: Path) -> Path:
    """The default file of --review's answers: NAME-labels.csv next to ``near``."""
    return near.with_name(f"{near.stem if near.suffix else near.name}-labels.csv")


def _mapping(text: str) -> dict[str, str]:
    """``their=ours,...`` as a mapping (exit 2 when it does not read so)."""
    pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
    if not pairs or any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        err(f"--map takes their_name=our_name pairs separated by commas; got {text!r}.")
        raise typer.Exit(2)
    return {a.strip(): b.strip() for a, b in pairs}
