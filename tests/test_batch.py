"""Batch scoring streams files in chunks and gives what in-memory prediction gives."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import labcoat
from labcoat.batch import predict_file
from labcoat.datasets import make_churn
from labcoat.errors import DataSourceError


def test_streamed_csv_and_parquet_match_in_memory_predictions(tmp_path):
    frame = make_churn(3000)
    model = labcoat.fit(frame.head(1000), target="churned", trials=2, families=["lightgbm", "linear"],
                        quiet=True, track=False, report=False, n_jobs=1)
    rows = frame.drop(columns="churned")
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows.to_parquet(tmp_path / "rows.parquet", index=False)
    expected = model.predict_frame(pd.read_csv(tmp_path / "rows.csv"))
    assert predict_file(model, tmp_path / "rows.csv", tmp_path / "a.parquet", chunk_rows=700, progress=False,
                        keep=["customer_id"]) == 3000
    streamed = pd.read_parquet(tmp_path / "a.parquet")
    assert streamed["customer_id"].tolist() == rows["customer_id"].tolist()
    assert np.allclose(streamed["proba_yes"], expected["proba_yes"])
    model.save(tmp_path / "model")
    run = subprocess.run([str(Path(sys.executable).parent / "labcoat"), "predict", str(tmp_path / "model"),
                          str(tmp_path / "rows.parquet"), "-o", str(tmp_path / "b.csv"), "--chunk-rows", "1000"],
                         capture_output=True, text=True)
    assert run.returncode == 0 and "3,000 rows scored" in run.stderr, run.stderr
    assert np.allclose(pd.read_csv(tmp_path / "b.csv")["proba_yes"], expected["proba_yes"])
    (tmp_path / "rows.xlsx").write_bytes(b"x")
    with pytest.raises(DataSourceError, match="Cannot stream"):
        predict_file(model, tmp_path / "rows.xlsx", tmp_path / "c.csv")
