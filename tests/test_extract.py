"""Entity extraction (task="extract"): the CoNLL and JSON-lines readers and their errors, the
entity scorer on hand-computed examples, a fit on 300 CoNLL sentences (extract, save, load),
and the CLI's fit."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

import labcoat
from labcoat.errors import ConfigError, DataError, LabcoatNotice
from labcoat.tasks.extract.data import from_spans, read_conll, read_documents, read_jsonl, token_spans
from labcoat.tasks.extract.evaluate import confusion, entity_scores
from labcoat.tasks.extract.features import Featurizer, build_gazetteer, gazetteers
from labcoat.tasks.extract.model import ExtractModel

CONLL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "text" / "conll2003_train.tsv"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labcoat", *args], cwd=cwd, capture_output=True, text=True,
                          check=False, env={**os.environ, "MLFLOW_TRACKING_URI": ""})


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """The first 300 sentences of CoNLL-2003's training set."""
    if not CONLL.exists():
        pytest.skip(f"{CONLL} is not available")
    sentences = CONLL.read_text(encoding="utf-8").split("\n\n")[:300]
    path = tmp_path_factory.mktemp("conll") / "train.conll"
    path.write_text("\n\n".join(sentences) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model(sample) -> ExtractModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        return labcoat.fit(sample, task="extract", budget="4s", quiet=True, track=False, report=False)


# ---------------------------------------------------------------------------------------- readers
def test_conll_reads_tabs_spaces_docstart_and_iob1(tmp_path) -> None:
    path = tmp_path / "a.conll"
    path.write_text("-DOCSTART- -X- O O\n\nEU\tB-ORG\nrejects\tO\nGerman\tB-MISC\n\n"
                    "Peter NNP B-NP I-PER\nBlackburn NNP I-NP I-PER\nand CC O O\nLondon NNP B-NP I-LOC\n")
    first, second = read_conll(path)
    assert first.text == "EU rejects German" and first.entities() == [(0, 2, "ORG"), (11, 17, "MISC")]
    assert second.tokens == ["Peter", "Blackburn", "and", "London"]
    assert second.tags == ["B-PER", "I-PER", "O", "B-LOC"]  # IOB1 read as BIO
    assert second.entities() == [(0, 15, "PER"), (20, 26, "LOC")]


def test_jsonl_spans_round_trip(tmp_path) -> None:
    records = [{"text": "Acme-led talks in New York, said Ann Lee.", "entities": [[0, 4, "ORG"], [18, 26, "LOC"],
                                                                                  [33, 40, "PER"]]},
               {"text": "Nothing here.", "entities": []},
               {"text": "Visit Oslo", "entities": [{"start": 6, "end": 10, "label": "LOC"}]}]
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    docs = read_jsonl(path)
    assert [d.entities() for d in docs] == [[(0, 4, "ORG"), (18, 26, "LOC"), (33, 40, "PER")], [], [(6, 10, "LOC")]]
    assert docs[0].tokens[:2] == ["Acme", "-led"]  # cut at the entity's edge
    framed = read_documents(pd.DataFrame(records))
    assert [d.entities() for d in framed] == [d.entities() for d in docs]


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("bad.conll", "EU\tB-ORG\nrejects\tX-Y\n", "line 2: tag 'X-Y' is not O"),
    ("bad.conll", "EU\tB-ORG\nrejects\n", "line 2: expected a token and its tag"),
    ("empty.conll", "\n\n", "has no sentences"),
    ("out.jsonl", '{"text": "abc", "entities": []}\n{"text": "Oslo", "entities": [[0, 9, "LOC"]]}\n',
     "line 2: entity [0, 9, 'LOC'] is outside the text"),
    ("overlap.jsonl", '{"text": "New York City", "entities": [[0, 8, "LOC"], [4, 13, "LOC"]]}\n',
     "line 1: entities 'LOC' and 'LOC' overlap"),
    ("broken.jsonl", '{"text": "a"\n', "line 1: not valid JSON"),
    ("empty.jsonl", "", "has no documents"),
])
def test_bad_files_name_the_file_and_line(tmp_path, name: str, content: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError) as error:
        read_documents(path)
    assert str(path) in str(error.value) and expected in str(error.value)


# ---------------------------------------------------------------------------------------- scorer
def test_scores_by_hand() -> None:
    # Gold: PER 3, LOC 2, ORG 1. Found: PER 2 right + 1 wrong boundary; LOC 1 right, 1 as ORG; ORG missed.
    gold = [[(0, 3, "PER"), (10, 15, "LOC")], [(0, 4, "PER"), (8, 12, "ORG")], [(0, 5, "PER"), (9, 14, "LOC")]]
    found = [[(0, 3, "PER"), (10, 15, "ORG")], [(0, 4, "PER")], [(0, 6, "PER"), (9, 14, "LOC"), (20, 22, "LOC")]]
    scores = entity_scores(gold, found, resamples=200, seed=1)
    # PER: tp 2, found 3, gold 3 -> P = R = F1 = 2/3. LOC: tp 1, found 2, gold 2 -> 1/2.
    # ORG: tp 0, found 1, gold 1 -> 0. Overall: tp 3, found 6, gold 6 -> 1/2.
    assert scores.loc["PER", ["precision", "recall", "f1"]].tolist() == pytest.approx([2 / 3] * 3)
    assert scores.loc["LOC", ["precision", "recall", "f1"]].tolist() == pytest.approx([0.5] * 3)
    assert scores.loc["ORG", "f1"] == 0.0
    assert scores.loc["overall", ["precision", "recall", "f1", "support"]].tolist() == pytest.approx([0.5, 0.5, 0.5, 6])
    assert (scores["f1_low"] <= scores["f1"]).all() and (scores["f1"] <= scores["f1_high"]).all()
    table = confusion(gold, found)
    assert table.loc["LOC", "ORG"] == 1 and table.loc["ORG", "(missed)"] == 1 and table.loc["PER", "(missed)"] == 1
    assert table.loc["PER", "PER"] == 2


def test_precision_and_recall_differ_by_hand() -> None:
    gold = [[(0, 2, "X"), (3, 5, "X"), (6, 8, "X"), (9, 11, "X")]]
    found = [[(0, 2, "X")]]
    row = entity_scores(gold, found, resamples=0).loc["overall"]
    assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((1.0, 0.25, 0.4))


def test_token_spans_read_bio_and_iob1() -> None:
    assert token_spans(["I-PER", "I-PER", "B-PER", "O", "I-LOC"]) == [(0, 2, "PER"), (2, 3, "PER"), (4, 5, "LOC")]


# ---------------------------------------------------------------------------------------- features

def test_the_gazetteer_knows_where_in_an_entity_a_word_stood() -> None:
    docs = [from_spans("Acme Corp hired Ann in Paris .", [(0, 9, "ORG"), (16, 19, "PER"), (23, 28, "LOC")])]
    words = build_gazetteer(docs).words
    assert {"gb=ORG"} <= set(words["Acme"]) and "ge=ORG" not in words["Acme"]
    assert {"ge=ORG"} <= set(words["Corp"]) and "gb=ORG" not in words["Corp"]
    assert {"gb=LOC", "ge=LOC", "gu=LOC"} <= set(words["Paris"])
    assert not any(f.startswith(("gb=", "ge=", "gu=")) for f in words["hired"])
    first = Featurizer(build_gazetteer(docs)).sentence(["Ann", "in", "Paris"])
    assert "t=BOS|ann|in" in first[0] and "t=in|paris|EOS" in first[2]


def test_out_of_fold_gazetteers_leave_out_each_documents_neighbours() -> None:
    """Documents side by side share names (one article's sentences): a document's gazetteer is
    built without its whole block, so a name only its block has is new to it."""
    docs = [from_spans(f"{name} spoke .", [(0, len(name), "PER")])
            for name in ("Meri", "Meri", "Ann", "Ann", "Bob", "Bob", "Eve", "Eve", "Ida", "Ida")]
    fold, oof = gazetteers(docs, folds=5)
    assert fold.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert "Meri" not in oof[0].words and "g=PER" in oof[1].words["Meri"]
    assert all(docs[i].tokens[0] not in oof[f].words for i, f in enumerate(fold))


# ---------------------------------------------------------------------------------------- model
def test_fit_extract_save_load(model: ExtractModel, tmp_path) -> None:
    assert model.labels == ["LOC", "MISC", "ORG", "PER"]
    texts = ["EU rejects German call to boycott British lamb .", "Peter Blackburn met officials in Brussels.", "", None]
    found = model.extract(texts)
    assert found.columns.tolist() == ["document", "start", "end", "label", "text", "confidence"]
    assert set(found["document"]) <= {0, 1}
    for row in found.itertuples():
        assert texts[row.document][row.start:row.end] == row.text and row.label in model.labels
        assert 0 < row.confidence <= 1
    assert ("German", "MISC") in set(zip(found["text"], found["label"]))
    labcoat.load(model.save(tmp_path / "m"))  # through labcoat.load's dispatch on the folder's kind
    again = ExtractModel.load(tmp_path / "m")
    pd.testing.assert_frame_equal(again.extract(texts), found)


def test_evaluation_and_leaderboard(model: ExtractModel) -> None:
    scores = model.evaluation.scores
    assert list(scores.index) == [*model.labels, "overall"]
    assert {"f1_low", "f1_high", "precision_low", "recall_high"} <= set(scores.columns)
    assert model.evaluation.documents == 60  # the last 20% of 300 sentences
    assert model.evaluation.f1 > 0.3  # far above chance on 240 training sentences (0.5 when written)
    board = model.leaderboard  # with the spacy extra, the spaCy candidate's row (skipped at 4 s) too
    assert board["chosen"].sum() == 1 and (board.loc[board["candidate"] == "crf", "status"] == "ok").all()
    assert "overall" in model.summary() and model.info["documents"] == 300


def test_extract_refuses_a_single_string(model: ExtractModel) -> None:
    with pytest.raises(DataError, match="list of texts"):
        model.extract("Peter Blackburn")


def test_without_crfsuite_the_fit_names_the_extra(monkeypatch, sample) -> None:
    monkeypatch.setitem(sys.modules, "sklearn_crfsuite", None)
    with pytest.raises(ConfigError, match=r"pip install 'labcoat\[text\]'"):
        labcoat.fit(sample, task="extract", budget=2, quiet=True, track=False, report=False)


def test_options_of_other_tasks_are_refused(sample) -> None:
    with pytest.raises(ConfigError, match="target"):
        labcoat.fit(sample, "label", task="extract", budget=2, track=False, report=False)


# ---------------------------------------------------------------------------------------- CLI
def test_cli_fit_and_a_bad_file(tmp_path, sample) -> None:
    done = cli("fit", str(sample), "--task", "extract", "--budget", "3s", "-o", "ner", "--no-track", "--no-report",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "overall" in done.stdout and isinstance(labcoat.load(tmp_path / "ner"), ExtractModel)
    (tmp_path / "bad.conll").write_text("EU\tB-ORG\n\nrejects\tB_ORG\n")
    done = cli("fit", "bad.conll", "--task", "extract", "--no-track", "--no-report", cwd=tmp_path)
    assert done.returncode == 2 and "bad.conll, line 3" in done.stderr and "Traceback" not in done.stderr


def test_from_spans_refuses_an_entity_on_whitespace() -> None:
    with pytest.raises(DataError, match="covers no word"):
        from_spans("a  b", [(1, 2, "X")])
