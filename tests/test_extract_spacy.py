"""Entity extraction's spaCy candidate (the ``spacy`` extra): beside the CRF on 400 CoNLL-2003
sentences it is trained, scored on the validation part and listed on the leaderboard, and the
better one is kept; asked for alone, it is scored and saved in spaCy's format inside the model
folder, and the loaded model, its MLflow pyfunc and ``labcoat serve``'s ``POST /extract`` find
the same entities. Without spaCy, the CRF is the only candidate and asking for spaCy names the
extra. The candidate's minimum time is lowered so that short budgets train it."""
from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_extract_lifecycle import sentences, texts_of

import labcoat
from labcoat.errors import ConfigError, LabcoatNotice
from labcoat.tasks.extract import spacy_fit
from labcoat.tasks.extract.fit import _check_candidates


def write(path, block) -> str:
    path.write_text("\n\n".join("\n".join(f"{t}\t{g}" for t, g in s) for s in block) + "\n")
    return str(path)


def fit(path: str, budget: str, **options: Any) -> Any:
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        patch.setattr(spacy_fit, "MIN_SECONDS", 2.0)
        warnings.simplefilter("ignore", LabcoatNotice)
        return labcoat.fit(path, task="extract", budget=budget, quiet=True, track=False, report=False, n_jobs=1,
                           **options)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """Both candidates on 400 sentences, 10 s (spaCy's share: 3.5 s)."""
    pytest.importorskip("spacy", reason="the 'spacy' extra")
    return fit(write(tmp_path_factory.mktemp("both") / "train.conll", sentences()[:400]), "10s")


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """spaCy alone on 400 sentences, 20 s (10 s left it untrained beside a loaded machine); saved and
    loaded back."""
    pytest.importorskip("spacy", reason="the 'spacy' extra")
    folder = tmp_path_factory.mktemp("spacy")
    model = fit(write(folder / "train.conll", sentences()[:400]), "20s", families=["spacy"])
    model.save(folder / "model")
    return model, folder, texts_of(sentences()[400:])


def test_both_candidates_are_scored_and_the_better_kept(both):
    board = both.leaderboard
    assert set(board["candidate"]) == {"crf", "spacy"} and (board["status"] == "ok").all()
    spacy_row = board[board["candidate"] == "spacy"].iloc[0]
    assert 0 <= spacy_row["f1"] <= 1 and spacy_row["seconds"] > 0 and spacy_row["epochs"] >= 1
    assert board["chosen"].sum() == 1
    chosen = board[board["chosen"]].iloc[0]
    assert chosen["f1"] == board["f1"].max()
    assert (chosen["candidate"] == "spacy") == (spacy_row["f1"] > board[board["candidate"] == "crf"]["f1"].max())
    assert both.info["chosen"]["candidate"] == chosen["candidate"]
    assert (both.ner is not None) == (chosen["candidate"] == "spacy")


def test_spacy_alone_is_scored_on_held_out_documents(alone):
    model, _, _ = alone
    assert model.ner is not None and model.crf is None and model.info["chosen"]["candidate"] == "spacy"
    assert model.labels == ["LOC", "MISC", "ORG", "PER"] and model.evaluation.documents == 80
    assert model.evaluation.f1 > 0.1  # trained from scratch for seconds (0.3 to 0.5 when written)
    assert "spaCy pipeline" in model.describe()
    from labcoat.reports.extract_report import extract_report

    assert "spacy" in extract_report(model)


def test_saved_spacy_model_extracts_the_same_entities(alone):
    model, folder, texts = alone
    assert (folder / "model" / "spacy" / "config.cfg").is_file()
    expected = model.extract(texts[:100] + ["", None])
    assert len(expected) > 20 and (expected["confidence"].between(0, 1)).all()
    for row in expected.itertuples():
        assert texts[row.document][row.start:row.end] == row.text
    loaded = labcoat.load(folder / "model")
    pd.testing.assert_frame_equal(loaded.extract(texts[:100] + ["", None]), expected)
    import mlflow.pyfunc

    served = mlflow.pyfunc.load_model(str(folder / "model")).predict(pd.DataFrame({"text": texts[:100]}))
    pd.testing.assert_frame_equal(served, expected)


def test_spacy_model_is_served(alone):
    from test_serve import Server, call

    model, folder, texts = alone
    server = Server(str(folder / "model"), folder)
    try:
        status, answer = call(server.port, "/extract", {"texts": texts[:40]})
    finally:
        server.stop()
    assert status == 200, answer
    expected = model.extract(texts[:40])
    served = pd.DataFrame([{"document": d, **e} for d, entities in enumerate(answer["entities"]) for e in entities])
    pd.testing.assert_frame_equal(served[expected.columns].drop(columns="confidence").astype(
        expected.dtypes.drop("confidence").to_dict()), expected.drop(columns="confidence"))
    # Another process, other BLAS threads: sums in another order, the actions' probabilities within 1e-3.
    assert np.allclose(served["confidence"], expected["confidence"], atol=1e-3)


def test_without_spacy_the_crf_alone_and_the_extra_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "spacy", None)
    assert _check_candidates(None) == ["crf"]
    with pytest.raises(ConfigError, match=r"^The spaCy candidate .* pip install 'labcoat\[spacy\]'\.$"):
        labcoat.fit(tmp_path / "train.conll", task="extract", families=["spacy"], track=False, report=False)
