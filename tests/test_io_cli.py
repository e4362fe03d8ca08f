"""Reading data and the command line, end to end through real files and a real process."""

import hashlib
import json
import sqlite3
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from labcoat.data.io import read_table
from labcoat.datasets import make_churn
from labcoat.errors import DataError, DataSourceError, LabcoatNotice


@pytest.mark.parametrize("name, encoding, expected", [
    ("latin.csv", "latin-1", "cp1252"), ("windows.csv", "cp1252", "cp1252"), ("latin.csv.gz", "latin-1", "cp1252"),
])
def test_a_csv_that_is_not_utf8_is_read_in_its_encoding_with_a_notice(tmp_path, name, encoding, expected):
    frame = pd.DataFrame({"city": ["München", "Zürich", "São Paulo", "Kraków"], "n": [1, 2, 3, 4]})
    if encoding == "cp1252":
        frame.loc[0, "city"] = "“Köln”"  # curly quotes: 0x93/0x94 in Windows-1252, not in Latin-1
    frame.to_csv(tmp_path / name, index=False, encoding=encoding)
    with pytest.warns(LabcoatNotice, match=f"File '{name}' is not UTF-8: read as {expected}"):
        got = read_table(tmp_path / name)
    pd.testing.assert_frame_equal(got, frame)


def test_bytes_no_text_encoding_knows_are_read_as_latin1(tmp_path):
    (tmp_path / "odd.csv").write_bytes(b"code\nA\x81B\n")  # 0x81 is undefined in Windows-1252
    with pytest.warns(LabcoatNotice, match="read as latin-1"):
        assert read_table(tmp_path / "odd.csv")["code"].tolist() == ["A\x81B"]


def test_every_format_reads_back(tmp_path):
    df = make_churn(50)
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_csv(tmp_path / "a.tsv", sep="\t", index=False)
    df.to_parquet(tmp_path / "a.parquet")
    df.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    for name in ("a.csv", "a.tsv", "a.parquet", "a.jsonl"):
        got = read_table(tmp_path / name)
        assert got.shape == df.shape and list(got.columns) == list(df.columns), name
    with sqlite3.connect(tmp_path / "shop.sqlite") as con:
        df.to_sql("customers", con, index=False)
    got = read_table(sql="select * from customers where plan = 'basic'", db=tmp_path / "shop.sqlite")
    assert len(got) == (df["plan"] == "basic").sum()


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(DataSourceError, match="does not exist"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="no rows"):
        read_table(tmp_path / "header.csv")
    (tmp_path / "dup.csv").write_text("a,a,b\n1,2,3\n")
    with pytest.raises(DataError, match="duplicate column names: 'a'"):
        read_table(tmp_path / "dup.csv")
    (tmp_path / "x.xyz").write_text("1")
    with pytest.raises(DataSourceError, match="unknown file type"):
        read_table(tmp_path / "x.xyz")


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "labcoat", *args], cwd=cwd, capture_output=True, text=True)


def entry_points():
    """``python -m labcoat`` and, when installed beside this Python, the ``labcoat`` script."""
    from pathlib import Path

    yield pytest.param([sys.executable, "-m", "labcoat"], id="python-m")
    script = Path(sys.executable).parent / "labcoat"
    if script.is_file():
        yield pytest.param([str(script)], id="script")


@pytest.mark.parametrize("entry", list(entry_points()))
@pytest.mark.parametrize("args, message", [
    (["fitt"], "No such command 'fitt'"),
    (["fit", "data.csv", "--budgett", "3"], "No such option: --budgett"),
    (["fit", "data.csv"], "Invalid value for '--target': give the column to predict"),
    (["models", "show"], "Missing argument"),
])
def test_usage_errors_print_the_usage_and_exit_2_without_a_traceback(tmp_path, entry, args, message):
    # Typer 0.29 raises its vendored Click's exceptions (typer._click), not click's.
    done = subprocess.run([*entry, *args], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "Usage:" in done.stderr and message in done.stderr
    assert not (tmp_path / "labcoat-model").exists()


def test_a_group_without_a_command_prints_its_help_without_a_traceback(tmp_path):
    done = run("models", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "register" in done.stdout and "promote" in done.stdout


@pytest.mark.parametrize("command", ["fit", "schema"])
def test_help_lists_every_task_and_fit_every_metric(tmp_path, command):
    from labcoat.evaluate.metrics import METRICS
    from labcoat.tasks import task_names

    done = subprocess.run([sys.executable, "-m", "labcoat", command, "--help"], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "400", "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    expected = [*task_names(), *(METRICS if command == "fit" else [])]
    # A whole word each ("f1" inside "f1_macro" does not count).
    assert [n for n in expected if not re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", text)] == []


@pytest.mark.parametrize("command, extra", [("fit", "labcoat[torch]"), ("fit", "labcoat[text]"),
                                            ("match", "labcoat[spark]")])
def test_help_names_the_extras_to_install(tmp_path, command, extra):
    # rich reads "[spark]" as markup and drops it unless escaped
    done = subprocess.run([sys.executable, "-m", "labcoat", command, "--help"], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "400", "NO_COLOR": "1"})
    assert done.returncode == 0 and extra in done.stdout, done.stderr


def test_usage_errors_are_caught_whichever_click_typer_uses():
    import typer

    from labcoat.cli._shared import click_exceptions

    caught = click_exceptions()
    with pytest.raises(caught):
        raise typer.BadParameter("bad")
    try:
        import click
    except ImportError:
        return
    assert click.ClickException in caught


def test_cli_modules_import_only_the_shared_helpers():
    """Inside labcoat.cli, command modules import _shared (and the library), never each other
    nor the package: the import graph has no cycle."""
    import ast
    from pathlib import Path

    import labcoat.cli

    folder = Path(labcoat.cli.__file__).parent
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] if node.module != "labcoat" else [f"labcoat.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name == "labcoat.cli" or name.startswith("labcoat.cli."):
                    assert name == "labcoat.cli._shared" and path.name != "_shared.py", (path.name, name)


def test_cli_fit_predict_info_and_errors(tmp_path):
    make_churn(400).to_csv(tmp_path / "train.csv", index=False)
    digest = hashlib.sha256((tmp_path / "train.csv").read_bytes()).hexdigest()
    fit = run("fit", "train.csv", "--target", "churned", "--trials", "2", "--families", "lightgbm,linear",
              "--out", "model", "--json", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert json.loads(fit.stdout)["metric"] == "roc_auc"
    pred = run("predict", "model", "train.csv", "-o", "p.parquet", cwd=tmp_path)
    assert pred.returncode == 0, pred.stderr
    out = pd.read_parquet(tmp_path / "p.parquet")
    assert list(out.columns) == ["churned_predicted", "proba_no", "proba_yes"] and len(out) == 400
    info = run("info", "model", "--json", cwd=tmp_path)
    assert json.loads(info.stdout)["schema"]["target"] == "churned"
    assert hashlib.sha256((tmp_path / "train.csv").read_bytes()).hexdigest() == digest
    for args, message in [(("fit", "nope.csv", "--target", "x"), "does not exist"),
                          (("fit", "train.csv", "--target", "chruned"), "Did you mean 'churned'"),
                          (("fit", "train.csv", "--target", "churned", "--budget", "soon"), "not a duration")]:
        bad = run(*args, cwd=tmp_path)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_polars_frames_eager_and_lazy():
    polars = pytest.importorskip("polars")
    df = make_churn(30)
    eager = polars.from_pandas(df)
    for source in (eager, eager.lazy()):
        got = read_table(source)
        assert got.shape == df.shape and got["tenure_months"].tolist() == df["tenure_months"].tolist()


def test_excel_through_openpyxl(tmp_path):
    pytest.importorskip("openpyxl")
    df = make_churn(20)
    df.to_excel(tmp_path / "a.xlsx", index=False)
    got = read_table(tmp_path / "a.xlsx")
    assert list(got.columns) == list(df.columns) and got["plan"].tolist() == df["plan"].tolist()


def test_large_csv_goes_through_duckdb_with_the_same_content(tmp_path, monkeypatch):
    import labcoat.data.io as io

    df = make_churn(200)
    df.to_csv(tmp_path / "big.csv", index=False)
    small = read_table(tmp_path / "big.csv")
    monkeypatch.setattr(io, "LARGE_CSV_BYTES", 0)  # every file is "large" now
    calls = []
    import duckdb

    real = duckdb.read_csv
    monkeypatch.setattr(duckdb, "read_csv", lambda *a, **k: calls.append(a) or real(*a, **k))
    large = read_table(tmp_path / "big.csv")
    assert calls, "the DuckDB reader was not used"
    assert list(large.columns) == list(small.columns) and len(large) == len(small)
    pd.testing.assert_series_equal(large["monthly_charges"], small["monthly_charges"], check_dtype=False)


def test_cli_reads_a_duckdb_query(tmp_path):
    import duckdb

    make_churn(300).to_parquet(tmp_path / "c.parquet")
    with duckdb.connect(str(tmp_path / "shop.duckdb")) as con:
        con.execute(f"create table customers as select * from '{tmp_path / 'c.parquet'}'")
    fit = run("fit", "--sql", "select * from customers where tenure_months > 0", "--db", "shop.duckdb",
              "--target", "churned", "--trials", "1", "--families", "linear", "--out", "m", "--json",
              cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert json.loads(fit.stdout)["n_rows"] > 0
    bad = run("fit", "--sql", "select * from nowhere", "--db", "shop.duckdb", "--target", "churned",
              cwd=tmp_path)
    assert bad.returncode == 2 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_schema_notices_and_predict_time_columns(tmp_path):
    df = make_churn(300)
    df["row_id"] = range(len(df))
    df["source"] = "crm"
    df.to_csv(tmp_path / "train.csv", index=False)
    schema = run("schema", "train.csv", "--target", "churned", "--json", cwd=tmp_path)
    roles = {c["name"]: c["role"] for c in json.loads(schema.stdout)["columns"]}
    assert roles["row_id"] == "identifier" and roles["source"] == "constant"
    assert roles["plan"] == "categorical"
    fit = run("fit", "train.csv", "--target", "churned", "--trials", "1", "--families", "linear",
              "--out", "m", "--quiet", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert "[low] identifier: column 'row_id'" in fit.stderr and "'source' is excluded" in fit.stderr
    df.drop(columns=["plan"]).to_csv(tmp_path / "no_plan.csv", index=False)
    missing = run("predict", "m", "no_plan.csv", cwd=tmp_path)
    assert missing.returncode == 2 and "'plan'" in missing.stderr and "Traceback" not in missing.stderr
    df.assign(extra=1).to_csv(tmp_path / "extra.csv", index=False)
    extra = run("predict", "m", "extra.csv", "-o", "p.csv", cwd=tmp_path)
    assert extra.returncode == 0 and "'extra'" in extra.stderr, extra.stderr
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(df)


def test_a_numpy_arrays_frame_fits_and_predicts_with_its_columns_named_as_strings():
    """pd.DataFrame(X) has columns 0, 1, ...: the tasks read them as '0', '1', ... (as a CSV file
    would name them), and the caller's frame keeps its own names."""
    import warnings

    import numpy as np

    import labcoat

    X = pd.DataFrame(np.random.default_rng(0).normal(size=(300, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        model = labcoat.fit(X.assign(y=(X[0] > 0).astype(int)), target="y", trials=1, families=["linear"],
                            quiet=True, track=False, report=False)
        detector = labcoat.fit(X, task="anomaly", budget=5, quiet=True, track=False, report=False)
    assert [c.name for c in model.schema.features] == ["0", "1", "2"]
    assert len(model.predict(X.head(5))) == 5 and len(detector.predict(X.head(5))) == 5
    assert X.columns.tolist() == [0, 1, 2]
