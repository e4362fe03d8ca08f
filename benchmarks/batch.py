"""Batch scoring benchmark: ``labcoat predict MODEL big.parquet -o scored.parquet`` on millions
of rows, its time and its peak memory (target: 5 million rows with peak RSS ≤ 1.5 GB).

The input is written in chunks (it is never whole in memory here either); the scoring runs as
the CLI a user would run, in its own process, and its peak RSS is read from ``getrusage`` of
the child. Run: ``.venv/bin/python benchmarks/batch.py [--rows 5000000]``; writes the ``batch``
section of RESULTS.md.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

BIN = Path(sys.executable).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    import pyarrow as pa
    import pyarrow.parquet as pq

    import labcoat
    from labcoat.datasets import make_churn

    work = Path(tempfile.mkdtemp(prefix="labcoat-batch-"))
    train = make_churn(5000)
    model = labcoat.fit(train, target="churned", trials=3, families=["lightgbm"], quiet=True, track=False,
                        report=False, seed=0)
    model.save(work / "model")
    source = work / "rows.parquet"
    writer = None
    chunk = 250_000
    for i in range(0, args.rows, chunk):
        part = make_churn(min(chunk, args.rows - i), seed=1 + i // chunk).drop(columns="churned")
        table = pa.Table.from_pandas(part, preserve_index=False)
        writer = writer or pq.ParquetWriter(source, table.schema)
        writer.write_table(table)
    writer.close()
    started = time.perf_counter()
    run = subprocess.run([str(BIN / "labcoat"), "predict", str(work / "model"), str(source), "-o",
                          str(work / "scored.parquet"), "--keep", "customer_id"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        return 1
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    scored = pq.ParquetFile(work / "scored.parquet").metadata.num_rows
    text = "\n".join([
        "## Batch scoring: `labcoat predict MODEL big.parquet -o scored.parquet`",
        "",
        f"Written by `benchmarks/batch.py` on {time.strftime('%Y-%m-%d')}: labcoat {labcoat.__version__}, a "
        f"LightGBM-based churn model (11 columns incl. a date and free text), {args.rows:,} rows of Parquet "
        f"({source.stat().st_size / 2**20:,.0f} MiB), chunks of 100,000 rows.",
        "",
        "| rows scored | time | rows/s | peak RSS of the CLI process | target |",
        "| --- | --- | --- | --- | --- |",
        f"| {scored:,} | {seconds:,.0f} s | {scored / seconds:,.0f} | {peak_mb:,.0f} MB | ≤ 1,536 MB: "
        f"{'met' if peak_mb <= 1536 else 'missed'} |",
    ])
    print(text)
    write_section("batch", text)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
