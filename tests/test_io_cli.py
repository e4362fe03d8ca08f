"""Reading data and the command line, end to end through real files and a real process."""

import hashlib
import json
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

from labcoat.data.io import read_table
from labcoat.datasets import make_churn
from labcoat.errors import DataError, DataSourceError


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
