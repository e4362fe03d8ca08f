"""Matching with labelled pairs: a classifier compared with Fellegi–Sunter by grouped CV, chosen
either way; too few labels; the review on the terminal (FEBRL 3, first rows)."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED
from labcoat.errors import DataError, LabcoatNotice
from labcoat.tasks.match import quality, supervised
from labcoat.tasks.match.estimate import posterior
from labcoat.tasks.match.fit import fit_match
from labcoat.tasks.match.model import MatchModel
from labcoat.tasks.match.review import review, uncertain_pairs

FEBRL3 = SHARED / "matching" / "febrl3.csv"
pytest.importorskip("splink")


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    if not FEBRL3.exists():
        pytest.skip(f"{FEBRL3} is not available")
    frame = pd.read_csv(FEBRL3, skipinitialspace=True, dtype=str).head(2000)
    frame["rec_id"] = frame["rec_id"].str.strip()
    return frame


@pytest.fixture(scope="module")
def pairs(records: pd.DataFrame) -> pd.DataFrame:
    """Pairs to label: 150 of the same entity, 300 at random, 100 sharing a surname, with the
    truth (``entity``) and a planted rule (``surname``: the same surname is a match)."""
    rng = np.random.default_rng(0)
    ids = records["rec_id"]
    entity = quality.entities_from_ids(ids)
    assert entity is not None
    people = pd.DataFrame({"id": ids.to_numpy(), "entity": entity.to_numpy()})
    within = people.merge(people, on="entity")
    within = within[within["id_x"] < within["id_y"]].sample(150, random_state=0)
    by_surname = records.groupby("surname")["rec_id"].apply(list)
    by_surname = by_surname[by_surname.map(len) > 1].sample(100, random_state=0)
    out = pd.concat([pd.DataFrame({"id_a": within["id_x"].to_numpy(), "id_b": within["id_y"].to_numpy()}),
                     pd.DataFrame({"id_a": rng.choice(ids, 300), "id_b": rng.choice(ids, 300)}),
                     pd.DataFrame([rng.choice(v, 2, replace=False) for v in by_surname], columns=["id_a", "id_b"])],
                    ignore_index=True)
    out = out[out["id_a"] != out["id_b"]].drop_duplicates(["id_a", "id_b"]).reset_index(drop=True)
    truth = pd.Series(entity.to_numpy(), index=ids.to_numpy())
    out["entity"] = quality.pair_truth(out, truth).astype(int)
    surname = records.set_index("rec_id")["surname"]
    out["surname"] = (surname.reindex(out["id_a"]).to_numpy() == surname.reindex(out["id_b"]).to_numpy()).astype(int)
    out["train"] = rng.random(len(out)) < 0.7
    return out


def _labels(pairs: pd.DataFrame, rule: str) -> pd.DataFrame:
    train = pairs[pairs["train"]]
    return pd.DataFrame({"id_a": train["id_a"], "id_b": train["id_b"], "match": train[rule]})


def _check_comparison(model: MatchModel) -> dict:
    learned = model.info["supervised"]
    assert learned["folds"] == 5 and "interval" in learned["rule"] and learned["computed"] > 0
    for name in ("log_loss_difference", "f1_difference", "fellegi_sunter_log_loss", "classifier_log_loss"):
        value, low, high = learned[name]
        assert low <= value <= high
    board = model.leaderboard
    assert board["candidate"].tolist() == ["fellegi_sunter", "classifier"]
    assert {"cv_log_loss", "cv_log_loss_low", "cv_log_loss_high", "cv_f1", "cv_brier"} <= set(board.columns)
    assert board["chosen"].sum() == 1
    assert board.loc[board["chosen"], "candidate"].item() == learned["chosen"]
    return learned


def test_true_labels_keep_fellegi_sunter(records: pd.DataFrame, pairs: pd.DataFrame) -> None:
    # FEBRL 3 is easy for Fellegi-Sunter: a classifier cannot be better beyond noise.
    model = fit_match(records, id_column="rec_id", labels=_labels(pairs, "entity"), budget="30s", quiet=True)
    learned = _check_comparison(model)
    assert learned["chosen"] == "fellegi_sunter" and model.classifier is None
    assert learned["log_loss_difference"][2] >= 0
    np.testing.assert_allclose(model.scored["match_probability"], posterior(model.scored["match_weight"].to_numpy()))
    assert "Fellegi-Sunter is kept" in model.summary()


def test_planted_labels_choose_the_classifier(records: pd.DataFrame, pairs: pd.DataFrame, tmp_path) -> None:
    # Labels that call any two records sharing a surname a match contradict Fellegi-Sunter.
    model = fit_match(records, id_column="rec_id", labels=_labels(pairs, "surname"), budget="30s", quiet=True)
    learned = _check_comparison(model)
    assert learned["chosen"] == "classifier" and model.classifier is not None
    assert "the classifier is used" in model.summary()
    assert learned["log_loss_difference"][2] < 0
    assert model.info["threshold_chosen_by"].startswith("F1 on the labelled pairs")
    assert "Fellegi-Sunter's" in model.info["estimator"]
    assert not np.allclose(model.scored["match_probability"], posterior(model.scored["match_weight"].to_numpy()))

    # Calibrated on the held-out labelled pairs: no worse than Fellegi-Sunter, and per half
    # of the probability range the mean prediction is near the observed share of matches.
    held = pairs[~pairs["train"]]
    vectors = supervised.compare_pairs(model, held)
    p, fs = model.classifier.predict(vectors), posterior(vectors["match_weight"].to_numpy())
    y = held["surname"].to_numpy()
    assert np.mean((p - y) ** 2) <= np.mean((fs - y) ** 2)
    for part in (p < 0.5, p >= 0.5):
        if part.sum() >= 20:
            assert abs(p[part].mean() - y[part].mean()) < 0.1

    # find gives the classifier's probability, and the model saves and loads with it.
    found = model.find(records.head(5), k=3, id_column="rec_id")
    scored = model.scored.set_index(["id_a", "id_b"])["match_probability"]
    for row in found.itertuples():
        for key in ((row.query, row.id), (row.id, row.query)):
            if key in scored.index:
                assert row.match_probability == pytest.approx(scored[key], abs=1e-9)
    loaded = MatchModel.load(model.save(tmp_path / "model"))
    assert loaded.classifier is not None and loaded.classifier.name == model.classifier.name
    pd.testing.assert_frame_equal(loaded.find(records.head(5), k=3, id_column="rec_id"), found)


def test_too_few_labels_keep_fellegi_sunter_with_a_notice(records: pd.DataFrame, pairs: pd.DataFrame) -> None:
    first = set(records["rec_id"].head(1000))
    inside = pairs[pairs["id_a"].isin(first) & pairs["id_b"].isin(first)]
    few = pd.concat([inside[inside["entity"] == 1].head(5), inside[inside["entity"] == 0].head(30)])
    labels = few.rename(columns={"entity": "match"})[["id_a", "id_b", "match"]]
    with pytest.raises(DataError, match="5 matches and 30 non-matches.*at least 10"):
        supervised.check_labels(labels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fit_match(records.head(1000), id_column="rec_id", labels=labels, budget="30s", quiet=True)
    assert any("at least 10" in str(w.message) for w in caught if issubclass(w.category, LabcoatNotice))
    assert "at least 10" in model.info["supervised"]["refused"]
    assert model.classifier is None and model.leaderboard["candidate"].tolist() == ["fellegi_sunter"]

    # The review asks about the uncertain pairs, skips what is known, stops on q or at the end.
    asked = uncertain_pairs(model.scored, 4, exclude=labels)
    assert len(asked) == 4 and not set(zip(asked["id_a"], asked["id_b"])) & set(zip(labels["id_a"], labels["id_b"]))
    answers = iter(["y", "huh", "n", "s", "q"])
    said = review(model, ask=lambda prompt: next(answers), n=4, show=lambda text: None, exclude=labels)
    assert said["match"].tolist() == [True, False]
    assert len(review(model, ask=lambda prompt: (_ for _ in ()).throw(EOFError), show=lambda t: None)) == 0


def test_review_on_the_command_line(records: pd.DataFrame, tmp_path) -> None:
    data = tmp_path / "people.csv"
    records.head(1000).to_csv(data, index=False)
    out = tmp_path / "people-model"
    run = subprocess.run([sys.executable, "-m", "labcoat", "match", str(data), "--id", "rec_id", "--review",
                          "--review-pairs", "6", "--budget", "30s", "--no-track", "--no-report", "--out", str(out),
                          "-o", str(tmp_path / "pairs.csv")],
                         input="y\nn\nmaybe\ns\ny\nq\n", capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Pair 1 of 6" in run.stderr and "soc_sec_id" in run.stderr
    saved = pd.read_csv(tmp_path / "pairs-labels.csv", dtype=str)
    assert saved.columns.tolist() == ["id_a", "id_b", "match"] and saved["match"].tolist() == ["1", "0", "1"]
    info = json.loads((out / "labcoat.json").read_text())
    assert "at least 10" in info["supervised"]["refused"]  # three answers: refitted, Fellegi-Sunter kept
    assert info["evaluation"]["labelled"]["pairs"] == 3
