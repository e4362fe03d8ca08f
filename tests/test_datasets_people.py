"""make_people: FEBRL's columns and ids, duplicates as asked, corruptions that keep the records
findable, deterministic by seed, and record matching finds the duplicates."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import labcoat
from labcoat.datasets import PEOPLE_COLUMNS, make_people
from labcoat.errors import LabcoatNotice
from labcoat.tasks.match.quality import entities_from_ids


def test_shape_columns_and_ids() -> None:
    people = make_people(1000, duplicates=0.4, max_duplicates=3, seed=0)
    assert people.shape == (1000, 11)
    assert tuple(people.columns) == PEOPLE_COLUMNS
    ids = people["rec_id"]
    assert ids.is_unique and ids.str.fullmatch(r"rec-\d+-(org|dup-\d+)").all()
    assert int(ids.str.endswith("-org").sum()) == 600
    entities = entities_from_ids(ids)
    assert entities is not None
    per_entity = entities.value_counts()
    assert per_entity.max() <= 4 and per_entity.size == 600  # an original and at most 3 duplicates each
    # every duplicate's original is there, and its copies are numbered 0, 1, ...
    dup = ids.str.extract(r"rec-(\d+)-dup-(\d+)").dropna().astype(int)
    assert set(dup[0]) <= set(ids.str.extract(r"rec-(\d+)-org")[0].dropna().astype(int))
    assert (dup.groupby(0)[1].max() + 1).equals(dup.groupby(0).size())
    assert not (ids.iloc[:50].str.endswith("-org").all() or ids.iloc[-50:].str.contains("-dup-").all())  # shuffled


def test_values_look_like_febrl_and_duplicates_are_corrupted() -> None:
    people = make_people(3000, seed=5)
    dates = people["date_of_birth"].dropna()
    assert dates.str.fullmatch(r"\d{8}").mean() > 0.97
    assert people["postcode"].dropna().str.fullmatch(r"\d{4}").mean() > 0.97
    assert people["state"].dropna().isin(["nsw", "vic", "qld", "sa", "wa", "tas", "act", "nt"]).all()
    assert 0.3 < people["address_2"].isna().mean() < 0.6  # often absent, as in FEBRL
    counts = people["surname"].value_counts()
    assert counts.iloc[0] > 20 * counts.median()  # a few common names, many rare ones
    entity = people["rec_id"].str.extract(r"rec-(\d+)-")[0]
    original = people[people["rec_id"].str.endswith("-org")].set_index(entity[people["rec_id"].str.endswith("-org")])
    duplicates = people[people["rec_id"].str.contains("-dup-")]
    source = original.loc[entity[duplicates.index]]
    columns = list(PEOPLE_COLUMNS[1:])
    changed = (duplicates[columns].fillna("").to_numpy() != source[columns].fillna("").to_numpy()).sum(axis=1)
    assert changed.min() >= 0 and 1.2 < changed.mean() < 3.5
    assert (changed > 0).mean() > 0.95  # (a corruption may undo another or miss an absent value)
    swapped = (duplicates["given_name"].to_numpy() == source["surname"].to_numpy())
    assert swapped.sum() > 0


def test_deterministic_by_seed() -> None:
    assert make_people(400, seed=3).equals(make_people(400, seed=3))
    assert not make_people(400, seed=3).equals(make_people(400, seed=4))


def test_refuses_impossible_settings() -> None:
    with pytest.raises(ValueError, match="max_duplicates"):
        make_people(100, duplicates=0.8, max_duplicates=3)
    with pytest.raises(ValueError, match="n_records"):
        make_people(0)


def test_a_hundred_thousand_records_half_of_them_duplicates() -> None:
    people = make_people(100_000, seed=0)
    assert len(people) == 100_000 and np.isclose(people["rec_id"].str.contains("-dup-").mean(), 0.5)


def test_matching_finds_the_duplicates() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        model = labcoat.match(make_people(600, seed=1), id_column="rec_id", budget=30, track=False, quiet=True)
    f1, low, high = model.info["evaluation"]["pairwise"]["f1"]
    assert f1 >= 0.9 and low <= f1 <= high
    assert re.fullmatch(r"rec-\d+-(org|dup-\d+)", str(model.pairs()["id_a"].iloc[0]))
