"""An extraction model through the lifecycle: fitted on 200 CoNLL-2003 sentences, tracked and
registered by ``labcoat.fit``, loaded back from the registry and as an MLflow pyfunc with the
same entities; the run's figures; its report in a real browser; ``labcoat serve`` (a real
uvicorn process) answering ``/extract`` with what ``model.extract`` gives in process and
refusing bad bodies naming the field; ``labcoat monitor`` on texts like training's (exit 0),
on texts without entities or far longer (exit 1), on a bad table (exit 2) and on the texts the
service answered."""
from __future__ import annotations

import functools
import json
import os
import re
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED
from markupsafe import escape as html_escape
from test_serve import Server, call

import labcoat
from labcoat.errors import ConfigError, DataError, LabcoatNotice
from labcoat.serve.export import log_frame

CONLL = SHARED / "text" / "conll2003_train.tsv"


@functools.cache
def sentences() -> list[list[tuple[str, str]]]:
    """600 of the first 1,000 CoNLL-2003 training sentences in a random order (the file's order is
    the articles', and its stretches differ: sports results are shorter and fuller of names):
    (token, tag) pairs."""
    if not CONLL.exists():
        pytest.skip(f"{CONLL} is not available")
    blocks = CONLL.read_text(encoding="utf-8").split("\n\n")[:1000]
    order = np.random.default_rng(0).permutation(len(blocks))[:600]
    return [[tuple(line.split("\t")) for line in blocks[i].strip().splitlines()] for i in order]  # type: ignore[misc]


def texts_of(block: list[list[tuple[str, str]]]) -> list[str]:
    return [" ".join(token for token, _ in sentence) for sentence in block]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> tuple[object, str, Path, list[str]]:
    """200 sentences fitted (6 s), tracked in a SQLite store and registered as 'ents'; the
    texts of 400 other sentences."""
    folder = tmp_path_factory.mktemp("extract")
    train = sentences()[:200]
    (folder / "train.conll").write_text("\n\n".join("\n".join(f"{t}\t{g}" for t, g in s) for s in train) + "\n")
    store = f"sqlite:///{folder / 'mlflow.db'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        model = labcoat.fit(folder / "train.conll", task="extract", budget="6s", quiet=True, tracking_uri=store,
                            register="ents", report_dir=folder / "reports")
    model.save(folder / "model")
    return model, store, folder, texts_of(sentences()[200:])


def test_registered_and_pyfunc_extract_the_same_entities(tracked, monkeypatch):
    model, store, _, texts = tracked
    expected = model.extract(texts[:80])
    assert len(expected) > 20
    registered = labcoat.load("models:/ents/1", tracking_uri=store)
    pd.testing.assert_frame_equal(expected, registered.extract(texts[:80]))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    import mlflow.pyfunc

    served = mlflow.pyfunc.load_model("models:/ents/1").predict(pd.DataFrame({"text": texts[:80]}))
    pd.testing.assert_frame_equal(expected, served)
    with pytest.raises(DataError, match="column named 'text'"):
        mlflow.pyfunc.load_model("models:/ents/1").predict(pd.DataFrame({"body": texts[:2]}))


def test_run_holds_types_figures_and_artifacts(tracked):
    import mlflow

    model, store, folder, _ = tracked
    client = mlflow.MlflowClient(store)
    run = client.get_run(model.info["run_id"])
    scores = model.evaluation.scores
    metrics = run.data.metrics
    assert metrics["f1"] == pytest.approx(scores.loc["overall", "f1"])
    assert metrics["f1_low"] <= metrics["f1"] <= metrics["f1_high"]
    assert metrics["recall_low"] <= metrics["recall"] <= metrics["recall_high"]
    assert {f"f1_{label}" for label in model.labels} <= set(metrics)
    assert metrics["f1_PER"] == pytest.approx(scores.loc["PER", "f1"])
    assert json.loads(run.data.params["entity_types"]) == model.labels == ["LOC", "MISC", "ORG", "PER"]
    assert run.data.params["candidate"] == "crf" and run.data.params["budget_seconds"] == "6.0"
    assert float(run.data.params["c1"]) == pytest.approx(model.info["chosen"]["c1"])
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"leaderboard.csv", "model", "reports"}


def test_the_report_shows_scores_confusion_and_misses_offline_in_chromium(tracked, browser, tmp_path):
    from test_reports import open_offline

    from labcoat.reports.extract_report import extract_report

    model, _, folder, _ = tracked
    path = folder / "reports" / "extract_report.html"
    html = path.read_text()  # written by the fit
    shown = model.evaluation.misses.drop_duplicates("document").head(3)
    assert all(re.search(f'<mark class="(missed|spurious|wrong)">{re.escape(str(html_escape(t)))}<sub>', html)
               for t in shown["text"]), shown
    assert "Entities in training" in extract_report(model)
    errors, requests, state, plots, page = open_offline(browser, path, tmp_path / "extract.png")
    page.close()
    assert errors == [] and state == "ready" and requests == [], errors
    assert len(plots) == 3  # F1 per type with intervals, the confusion, the training counts
    assert all(p["svg"] and p["drawn"] and p["width"] > 100 for p in plots), plots


def test_misses_are_highlighted_by_kind():
    from labcoat.reports.extract_report import examples

    text = "Anna met Bo in Rome ."
    misses = pd.DataFrame([
        {"document": 4, "error": "missed", "text": "Anna", "gold": "PER", "found": None, "sentence": text},
        {"document": 4, "error": "missed", "text": "Rome", "gold": "LOC", "found": None, "sentence": text},
        {"document": 4, "error": "wrong label", "text": "Rome", "gold": "LOC", "found": "ORG", "sentence": text},
        {"document": 4, "error": "spurious", "text": "Bo", "gold": None, "found": "PER", "sentence": text},
        {"document": 9, "error": "missed", "text": "<b>", "gold": "ORG", "found": None, "sentence": "a <b> c"}])
    first, second = examples(misses)
    assert str(first["gold"]) == ('<mark class="missed">Anna<sub>PER</sub></mark> met Bo in '
                                  '<mark class="wrong">Rome<sub>LOC</sub></mark> .')
    assert str(first["found"]) == ('Anna met <mark class="spurious">Bo<sub>PER</sub></mark> in '
                                   '<mark class="wrong">Rome<sub>ORG</sub></mark> .')
    assert str(second["gold"]) == 'a <mark class="missed">&lt;b&gt;<sub>ORG</sub></mark> c'


@pytest.fixture(scope="module")
def server(tracked):
    """`labcoat serve` of the saved folder (at most 50 texts a request, bodies up to 20 kB)."""
    folder = tracked[2]
    running = Server(str(folder / "model"), folder, "--max-batch", "50", env={"LABCOAT_SERVE_MAX_BODY": "20000"})
    yield running
    running.stop()


def test_served_entities_equal_in_process(tracked, server):
    model, _, _, texts = tracked
    status, answer = call(server.port, "/extract", {"texts": texts[:40]})
    assert status == 200, answer
    expected = model.extract(texts[:40])
    served = pd.DataFrame([{"document": d, **e} for d, entities in enumerate(answer["entities"]) for e in entities])
    pd.testing.assert_frame_equal(served[expected.columns].astype(expected.dtypes.to_dict()), expected)
    assert len(answer["entities"]) == 40 and answer["model"] == {"name": "model", "version": "local"}
    status, one = call(server.port, "/extract", {"text": texts[3]})
    assert status == 200 and one["entities"] == [answer["entities"][3]]
    assert call(server.port, "/schema")[1]["labels"] == model.labels
    assert "/extract" in call(server.port, "/openapi.json")[1]["paths"] and call(server.port, "/docs")[0] == 200


def test_served_requests_checked(server):
    def post(body: object) -> tuple[int, dict]:
        return call(server.port, "/extract", body)

    status, wrong = post({"texts": ["Anna is in Paris .", 7]})
    assert status == 422 and wrong["detail"][0]["loc"] == ["body", "texts", 1], wrong
    status, wrong = post({"text": None})
    assert status == 422 and wrong["detail"][0]["loc"] == ["body", "text"]
    status, empty = post({"texts": []})
    assert status == 422 and empty["detail"][0]["loc"] == ["body", "texts"]
    status, string = post({"texts": "Anna is in Paris ."})
    assert status == 422 and "non-empty list of strings" in string["detail"][0]["msg"]
    assert post({"texts": ["a"], "text": "b"})[0] == 422
    status, extra = post({"texts": ["a"], "labels": ["PER"]})
    assert status == 422 and "labels" in str(extra)
    status, many = post({"texts": ["Anna ."] * 51})
    assert status == 413 and many["detail"][0]["loc"] == ["body", "texts"] and "50 one request" in str(many)
    assert post({"texts": ["Anna is in Paris ." * 100] * 30})[0] == 413  # 54 kB, over the 20 kB limit
    assert call(server.port, "/extract", raw=b"{not json")[0] == 400
    assert call(server.port, "/health")[0] == 200 and call(server.port, "/ready")[1]["ready"] is True


def test_entity_rates_and_lengths_monitored(tracked):
    from labcoat.lifecycle.extract_monitor import check_extract_texts

    model, _, _, texts = tracked
    same = check_extract_texts(model, texts)
    assert same["exit_code"] == 0 and not same["shifted"], same["summary"]
    assert [t["label"] for t in same["types"]] == model.labels and same["documents"] == 400
    assert all(t["current_rate"] > 0 for t in same["types"])
    held = sentences()[200:]
    plain = [text for text, s in zip(texts, held) if all(tag == "O" for _, tag in s)]  # no gold entity
    assert len(plain) >= 60
    fewer = check_extract_texts(model, plain)
    assert fewer["exit_code"] == 1
    assert {t["label"] for t in fewer["types"] if t["shifted"]} >= {"LOC", "PER"}, fewer["summary"]
    assert all(t["change"] < -0.5 for t in fewer["types"] if t["shifted"])
    longer = check_extract_texts(model, [" ".join(texts[i:i + 4]) for i in range(0, 400, 4)])
    assert longer["exit_code"] == 1 and longer["length"]["shifted"] and longer["length"]["psi"] >= 0.1
    assert "The texts are longer" in " ".join(longer["summary"])
    with pytest.raises(DataError, match="at least 30"):
        check_extract_texts(model, texts[:10])


def monitor(*args: str, cwd: Path):
    """``labcoat monitor ARGS`` run in ``cwd`` (in process: the exit code and the output)."""
    from typer.testing import CliRunner

    from labcoat.cli import app

    here = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, ["monitor", *args], env={"MLFLOW_TRACKING_URI": ""})
    finally:
        os.chdir(here)


def test_monitor_cli_exit_codes_and_the_service_log(tracked, server):
    _, _, folder, texts = tracked
    pd.DataFrame({"id": range(400), "body": texts}).to_csv(folder / "same.csv", index=False)
    pd.DataFrame({"body": [" ".join(texts[i:i + 4]) for i in range(0, 400, 4)]}).to_csv(folder / "long.csv",
                                                                                         index=False)
    done = monitor("model", "--current", "same.csv", "--column", "body", "--json", cwd=folder)
    assert done.exit_code == 0 and json.loads(done.output)["documents"] == 400, done.output
    done = monitor("model", "--current", "long.csv", cwd=folder)  # the only text column
    assert done.exit_code == 1 and "The texts are longer" in done.output, done.output
    done = monitor("model", "--current", "same.csv", "--column", "text", cwd=folder)  # exit 2 in main()
    assert isinstance(done.exception, DataError) and "No column 'text'" in str(done.exception)
    done = monitor("model", "--current", "same.csv", "--labels", "same.csv", cwd=folder)
    assert isinstance(done.exception, ConfigError) and "--labels" in str(done.exception)
    for start in range(0, 120, 40):
        assert call(server.port, "/extract", {"texts": texts[start:start + 40]})[0] == 200
    done = monitor("model", "--from-log", "--log", str(server.log), "--json", cwd=folder)
    assert done.exception is None or isinstance(done.exception, SystemExit), (  # CI once printed nothing here
        "".join(traceback.format_exception(done.exception)) + server.output.read_text())
    result = json.loads(done.output)
    assert done.exit_code == result["exit_code"] == 0 and result["documents"] >= 120, done.output
    assert result["training_documents"] == tracked[0].info["text_profile"]["documents"]
    logged = log_frame(server.log)  # `labcoat log export`: one row per text
    assert {"text", "entities"} <= set(logged.columns) and logged["text"].isin(texts).all()
