"""Text-first tables: the documents column found or named, the text families searched and
chosen, explanations in words, the report's highlighted documents, embeddings of a local
model2vec folder, and bad documents (empty, not UTF-8, unspaced scripts) handled with notices.

One fit (300 generated reviews, deterministic trials) is shared by most tests.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import labcoat
from labcoat.data.documents import document_notices
from labcoat.errors import ConfigError, LabcoatNotice
from labcoat.evaluate.text_explanation import document_words, word_marks
from labcoat.features.text import WORDS

POSITIVE = "superb wonderful moving delightful brilliant charming gripping stunning".split()
NEGATIVE = "dull tedious clumsy boring awful bland messy lifeless".split()
NEUTRAL = ("the film story actor scene plot director camera music script ending start middle "
           "character dialogue minute hour theatre screen role cast").split()
TEXT_FAMILIES = {"text_linear", "nbsvm", "text_svm"}


def make_reviews(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Reviews of 12-28 neutral words with 1-3 words of their tone and at most one of the other;
    a numeric column that says nothing."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        good = bool(rng.random() < 0.5)
        words = list(rng.choice(NEUTRAL, rng.integers(12, 25)))
        tone = [*rng.choice(POSITIVE if good else NEGATIVE, rng.integers(1, 4)),
                *rng.choice(NEGATIVE if good else POSITIVE, rng.integers(0, 2))]
        for w in tone:
            words.insert(int(rng.integers(0, len(words) + 1)), str(w))
        rows.append({"review": " ".join(words), "length": len(words) + rng.normal(), "label": "pos" if good else "neg"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    return make_reviews()


@pytest.fixture(scope="module")
def model(reviews):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        return labcoat.fit(reviews, target="label", trials=5, families=["text_linear", "nbsvm", "text_svm",
                                                                        "lightgbm", "linear"],
                           quiet=True, track=False, report=False, n_jobs=1)


def test_the_review_column_is_found_and_a_text_family_beats_the_tabular_ones(model):
    assert model.schema.documents is not None and model.schema.documents.column == "review"
    board = model.leaderboard[model.leaderboard["status"] == "ok"]
    text = board[board["family"].isin(TEXT_FAMILIES)]["score"].max()
    tabular = board[~board["family"].isin(TEXT_FAMILIES)]["score"].max()
    # The tone words decide the label up to the one word of the other tone: the n-gram models see
    # each word, LightGBM and the linear family's 20,000-word TF-IDF on 300 rows see them less well.
    assert text > tabular
    assert set(model.ensemble["family"]) & TEXT_FAMILIES


def test_save_load_round_trip_and_one_row_predicts_as_a_batch(model, reviews, tmp_path):
    loaded = labcoat.load(model.save(tmp_path / "m"))
    assert loaded.schema.documents == model.schema.documents
    np.testing.assert_allclose(loaded.predict_proba(reviews.head(40)), model.predict_proba(reviews.head(40)),
                               rtol=0, atol=1e-12)
    # One row takes the fast path of serving (features.build.transform on a SmallFrame).
    one = loaded.predict_frame(reviews.iloc[[7]])
    np.testing.assert_allclose(one.filter(like="proba_").to_numpy(),
                               loaded.predict_frame(reviews.head(40)).filter(like="proba_").to_numpy()[[7]], atol=1e-12)


def test_the_words_of_one_document_add_up_to_the_text_model_and_name_its_tone(model, reviews):
    row = int(np.flatnonzero(reviews["review"].str.contains("superb"))[0])
    explanation = model.explain(reviews, row=row, words=5, background=reviews.head(50))
    words = explanation.words
    assert set(words["row"]) == {row} and len(words) == 5
    assert "words that decided it" in str(explanation)
    assert explanation.to_dict()["rows"][0]["words"][0]["ngram"] == words["ngram"].iloc[0]
    # Every word n-gram of the text_linear member alone: the sum of their contributions is its
    # decision function on the word block (scikit-learn's own, other columns zeroed) less its intercept.
    member = next(m for m in model.members if m.family == "text_linear")
    alone = copy.copy(model)
    alone.members = [member]
    prepared = model.schema.prepare(reviews.iloc[[row]], warn=False)
    everything = document_words(alone, prepared, [0], top=10**6)["contribution"].sum()
    pre = model.preprocessors[member.preprocessor or member.style]
    X = sp.csr_matrix(pre.transform(prepared)).toarray()
    block = pre.output_indices_[WORDS + "review"]
    only_words = np.zeros_like(X)
    only_words[:, block] = X[:, block]
    expected = member.estimator.decision_function(only_words)[0] - member.estimator.intercept_[0]
    assert everything == pytest.approx(expected, abs=1e-9)


def test_per_class_ngrams_are_the_tone_words(model, reviews):
    ngrams = model.explain(reviews, row=0, background=reviews.head(30)).ngrams
    assert set(ngrams["class"]) == {"pos", "neg"}
    assert (ngrams["weight"] > 0).all()
    for label, tone in (("pos", POSITIVE), ("neg", NEGATIVE)):
        top = ngrams[ngrams["class"] == label]["ngram"].head(6)
        assert sum(g in tone for g in top) >= 4, top.tolist()


def test_the_report_colours_the_words_of_documents(model):
    from labcoat.reports import model_report

    html = model_report(model)
    section = html[html.index('<section id="words">'):]
    assert "<mark style=\"background:rgba(22,163,74" in section and "rgba(220,38,38" in section
    assert "superb" in section or "stunning" in section


def test_word_marks_spread_unigrams_and_bigrams_over_their_words():
    pieces = word_marks("A great, great film", {"great": 0.4, "film": -0.1, "great film": 0.2})
    assert pieces == [("A ", 0.0), ("great", 0.2), (", ", 0.0), ("great", 0.3), (" ", 0.0), ("film", 0.0)]
    assert sum(s for _, s in pieces) == pytest.approx(0.4 - 0.1 + 0.2)


def test_a_non_utf8_file_with_empty_documents_fits_and_predicts_with_notices(tmp_path):
    frame = make_reviews(120, seed=1)
    frame.loc[:9, "review"] = ""
    frame.loc[10:, "review"] = frame.loc[10:, "review"] + " café crème"
    path = tmp_path / "reviews.csv"
    path.write_bytes(frame.to_csv(index=False).encode("cp1252"))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fitted = labcoat.fit(path, target="label", trials=1, families=["text_linear"], text_column="review",
                             quiet=True, track=False, report=False, n_jobs=1)
    said = " ".join(str(w.message) for w in seen if issubclass(w.category, LabcoatNotice))
    assert "is not UTF-8" in said and "10 of 120 documents are empty" in said
    out = fitted.predict_frame(pd.DataFrame({"review": ["", None, "superb café"], "length": [3.0, 4.0, 5.0]}))
    assert out["label_predicted"].notna().all()


def test_documents_in_a_script_without_spaces_get_a_notice():
    notices = document_notices(pd.Series(["这部电影非常精彩演员很好", "故事无聊节奏太慢", "good film"] * 5), "body")
    assert any("without spaces between words" in n for n in notices)
    assert document_notices(pd.Series(["a fine film", "a dull one"]), "body") == []


def test_a_wrong_text_column_or_a_text_family_without_documents_is_refused(reviews):
    with pytest.raises(ConfigError, match="text_column 'reviw' is not a column.*review"):
        labcoat.fit(reviews, target="label", trials=1, text_column="reviw", quiet=True, track=False)
    numbers = pd.DataFrame({"x": np.random.default_rng(0).normal(size=60), "y": ["a", "b"] * 30})
    with pytest.raises(ConfigError, match="nbsvm read a column of documents"):
        labcoat.fit(numbers, target="y", trials=1, families=["nbsvm"], quiet=True, track=False)


def tiny_model2vec(folder):
    """A model2vec model made here (no download): the reviews' vocabulary, random vectors."""
    model2vec = pytest.importorskip("model2vec", reason="model2vec is in the 'text' extra")
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.normalizers import Lowercase
    from tokenizers.pre_tokenizers import Whitespace

    vocabulary = {word: i for i, word in enumerate(["[UNK]", "[PAD]", *POSITIVE, *NEGATIVE, *NEUTRAL])}
    tokenizer = Tokenizer(WordLevel(vocabulary, unk_token="[UNK]"))
    tokenizer.pre_tokenizer, tokenizer.normalizer = Whitespace(), Lowercase()
    vectors = np.random.default_rng(0).normal(size=(len(vocabulary), 16)).astype(np.float32)
    model2vec.StaticModel(vectors=vectors, tokenizer=tokenizer, normalize=True).save_pretrained(folder)
    return folder


def test_embeddings_of_a_local_model2vec_folder_feed_the_tabular_families(reviews, tmp_path):
    folder = tiny_model2vec(tmp_path / "m2v")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        fitted = labcoat.fit(reviews, target="label", trials=1, families=["linear"], embeddings=folder,
                             quiet=True, track=False, report=False, n_jobs=1)
    assert fitted.schema.documents.embeddings == str(folder)
    pre = fitted.preprocessors["linear"]
    assert "embed_review" in pre.named_transformers_
    # The documents' mean vectors carry the tone words' directions: the linear model reads them.
    assert fitted.info.ensemble_score > 0.8
    # A few rows (the fast path of serving) as the general path predicts them.
    np.testing.assert_allclose(fitted.predict_proba(reviews.head(20)), fitted.predict_proba(reviews.head(100))[:20],
                               atol=1e-12)
    # Saved with its vectors: the folder is not needed to predict.
    saved = fitted.save(tmp_path / "model")
    (folder / "model.safetensors").unlink()
    np.testing.assert_allclose(labcoat.load(saved).predict_proba(reviews.head(20)),
                               fitted.predict_proba(reviews.head(20)), atol=1e-12)


def test_embeddings_need_a_model_folder(reviews, tmp_path):
    with pytest.raises(ConfigError, match="is not a model2vec or sentence-transformers model folder"):
        labcoat.fit(reviews, target="label", trials=1, embeddings=tmp_path, quiet=True, track=False)


def test_a_number_from_documents_is_explained_in_the_targets_units(reviews):
    from labcoat.reports import model_report

    tone = reviews["review"].map(lambda d: sum(w in POSITIVE for w in d.split()) - sum(w in NEGATIVE for w in d.split()))
    numbers = reviews.drop(columns="label").assign(score=tone.astype(float))
    fitted = labcoat.fit(numbers, target="score", task="regression", trials=1, families=["text_linear"],
                         text_column="review", quiet=True, track=False, report=False, n_jobs=1)
    explanation = fitted.explain(numbers, row=0, background=numbers.head(30))
    assert "words that decided it (in the target's units)" in str(explanation)
    assert set(explanation.ngrams["class"]) == {"higher score", "lower score"}
    assert "higher score" in model_report(fitted)
