"""The measures of a match against true links, on cases small enough to count by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labcoat.tasks.match import quality


def truth(**entities: str) -> pd.Series:
    return pd.Series(entities).rename_axis("id")


def pairs(*found: tuple[str, str], probability: float = 0.9) -> pd.DataFrame:
    return pd.DataFrame({"id_a": [a for a, _ in found], "id_b": [b for _, b in found],
                         "match_probability": probability})


def test_febrl_ids_give_the_entities_and_other_ids_none():
    ids = pd.Series(["rec-1-org", "rec-1-dup-0", "rec-22-org", "rec-1-dup-1"])
    assert quality.entities_from_ids(ids).tolist() == ["1", "1", "22", "1"]
    assert quality.entities_from_ids(pd.Series(["a17", "b20", "c3"])) is None


def test_true_pair_count_within_one_table_and_across_two():
    # entity x: 3 records -> 3 pairs; y: 2 -> 1; z: 1 -> 0
    within = truth(a="x", b="x", c="x", d="y", e="y", f="z")
    assert quality.true_pair_count(within) == 4
    # linking: x has 2 on the left and 1 on the right -> 2 pairs; y 1 x 0 -> 0
    left, right = truth(a="x", b="x", c="y"), truth(d="x", e="w")
    assert quality.true_pair_count(left, right) == 2


def test_pairwise_precision_recall_f1_counted_by_hand():
    entities = truth(a="x", b="x", c="x", d="y", e="y", f="z")  # 4 true pairs: ab ac bc de
    found = pairs(("a", "b"), ("b", "c"), ("d", "f"))  # 2 right, 1 wrong; ac and de missed
    scores = quality.pairwise_quality(found, entities)
    assert scores["precision"][0] == pytest.approx(2 / 3)
    assert scores["recall"][0] == pytest.approx(2 / 4)
    assert scores["f1"][0] == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))
    for name in ("precision", "recall", "f1"):
        value, low, high = scores[name]
        assert low <= value <= high


def test_bcubed_counted_by_hand():
    # truth {a,b,c} {d}; clusters {a,b} {c,d}
    clusters = truth(a="1", b="1", c="2", d="2")
    entities = truth(a="x", b="x", c="x", d="y")
    # precision per record: a 2/2, b 2/2, c 1/2, d 1/2 -> 0.75; recall: a 2/3, b 2/3, c 1/3, d 1/1 -> 2/3
    scores = quality.bcubed(clusters, entities)
    assert scores["precision"] == pytest.approx(0.75)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))


def test_clusters_are_the_connected_records():
    ids = pd.Series(["a", "b", "c", "d", "e"])
    entity = quality.clusters_from_pairs(ids, pairs(("a", "b"), ("c", "b"), ("d", "e")))
    assert entity["a"] == entity["b"] == entity["c"] != entity["d"] == entity["e"]


def test_the_curve_counts_unblocked_true_pairs_as_missed():
    entities = truth(a="x", b="x", c="y", d="y")  # 2 true pairs, only ab was compared
    scored = pd.DataFrame({"id_a": ["a", "a"], "id_b": ["b", "c"], "match_probability": [0.9, 0.2]})
    curve = quality.threshold_curve(scored, entities, total_true=2)
    top = curve[curve["threshold"] == 0.9].iloc[0]
    assert top["precision"] == 1.0 and top["recall"] == 0.5 and top["pairs"] == 1
    bottom = curve[curve["threshold"] == 0.2].iloc[0]
    assert bottom["precision"] == 0.5 and bottom["recall"] == 0.5


def test_labelled_pairs_are_read_whatever_the_spelling_of_match():
    labels = pd.DataFrame({"id_a": ["a", "b"], "id_b": ["b", "c"], "match": ["yes", "0"]})
    read = quality.labelled_pairs(labels, pd.Series(["a", "b", "c"]))
    assert read["match"].tolist() == [True, False]


def test_own_estimate_without_truth_carries_its_caveat():
    own = quality.estimated_quality(np.array([0.99, 0.95, 0.4, 0.01]), 0.5)
    assert own["precision"] == pytest.approx(0.97)
    assert own["recall"] == pytest.approx(1.94 / 2.35)
    assert "estimate" in own["caveat"].lower()
