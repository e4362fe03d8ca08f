"""Record matching: roles and comparisons inferred on FEBRL's columns, the bad inputs, the
estimates against FEBRL's true links, explanations, finding new records, saving, the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

import labcoat
from labcoat.errors import ConfigError, DataError, LabcoatNotice
from labcoat.tasks.match import quality
from labcoat.tasks.match.comparisons import comparison_spec, swap_partners
from labcoat.tasks.match.model import MatchModel
from labcoat.tasks.match.roles import infer_roles

from conftest import SHARED, simulation_size

MATCHING = SHARED / "matching"


def febrl(name: str) -> pd.DataFrame:
    path = MATCHING / f"{name}.csv"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return pd.read_csv(path, skipinitialspace=True, dtype=str)


def fit(records: pd.DataFrame, other: pd.DataFrame | None = None, **settings) -> MatchModel:
    settings = {"id_column": "rec_id", "budget": "1m", "track": False, "quiet": True, **settings}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        return labcoat.match(records, other, **settings)


@pytest.fixture(scope="module")
def held_out() -> pd.DataFrame:
    """Forty duplicates of FEBRL 3 kept out of the fit, for ``find``."""
    records = febrl("febrl3")
    return records[records["rec_id"].str.contains("dup")].sample(40, random_state=0)


@pytest.fixture(scope="module")
def model(held_out) -> MatchModel:
    records = febrl("febrl3")
    return fit(records[~records["rec_id"].isin(held_out["rec_id"])])


# ---------------------------------------------------------------- what is inferred
def test_roles_on_febrl_columns_from_names_and_values():
    roles = {r.column: r.role for r in infer_roles(febrl("febrl1").drop(columns="rec_id"))}
    assert roles == {"given_name": "given_name", "surname": "surname", "street_number": "number",
                     "address_1": "street", "address_2": "street", "suburb": "city", "postcode": "postcode",
                     "state": "category", "date_of_birth": "date", "soc_sec_id": "national_id"}
    # names that say nothing: the values decide
    anonymous = pd.DataFrame({"c1": ["ann@x.org", "bob@y.com"] * 15, "c2": ["1990-01-02", "1985-03-04"] * 15})
    assert [r.role for r in infer_roles(anonymous)] == ["email", "date"]


def test_comparison_levels_follow_the_roles():
    roles = infer_roles(febrl("febrl1").drop(columns="rec_id"))
    partners = swap_partners(roles)
    labels = {r.column: [level.label for level in comparison_spec(r, swap_with=partners.get(r.column))]
              for r in roles}
    assert labels["given_name"][:3] == ["missing", "exact", "swapped with surname"]
    assert any("Jaro-Winkler" in label for label in labels["surname"])
    assert "day and month swapped" in labels["date_of_birth"]
    assert any("typo" in label for label in labels["soc_sec_id"])
    assert labels["state"] == ["missing", "exact", "different"]


# ---------------------------------------------------------------- bad input
def people(n: int = 30) -> pd.DataFrame:
    return pd.DataFrame({"rec_id": [f"r{i}" for i in range(n)], "given_name": ["ann", "bob", "cy"] * (n // 3),
                         "surname": ["lee", "kim", "roe"] * (n // 3)})


@pytest.mark.parametrize("change, words", [
    (lambda d: d.assign(rec_id="same"), "not unique: 'same' repeats in the records"),
    (lambda d: d.assign(rec_id=["a", "b", "c"] * 10), "not unique: 'a' and 2 more ids repeat"),
    (lambda d: d.head(5), "too few"),
    (lambda d: d.drop(columns="given_name").assign(surname=None), "No column is left"),
])
def test_bad_records_are_named(change, words):
    with pytest.raises(DataError, match=words):
        fit(change(people()))


def test_a_column_almost_always_empty_is_left_out_with_a_notice():
    from labcoat.tasks.match.data import prepare_records

    frame = people(60).assign(email=[None] * 59 + ["ann@x.org"])
    records = prepare_records(frame, id_column="rec_id")
    assert "email" not in [r.column for r in records.roles]
    assert "Column 'email' is empty on 98% of the records; it is left out of the matching." in records.notes


def test_two_tables_must_share_their_columns_or_be_mapped():
    first, second = people(), people().rename(columns={"surname": "family"}).assign(rec_id=lambda d: "s" + d.rec_id)
    with pytest.raises(DataError, match="different columns"):
        fit(first, second)


def test_settings_that_do_not_apply_are_refused():
    with pytest.raises(ConfigError, match="target"):
        labcoat.fit(people(), target="surname", task="match", track=False)
    with pytest.raises(ConfigError, match="Unknown matching setting"):
        fit(people(), settings={"blocks": []})
    with pytest.raises(ConfigError, match="merge=COST"):
        fit(people(), costs="cheap")


def test_the_cli_names_the_problem_and_exits_2(tmp_path):
    people().assign(rec_id="r1").to_csv(tmp_path / "people.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "labcoat", "match", "people.csv", "--id", "rec_id", "--no-track"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2
    assert "rec_id" in done.stderr and "not unique" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- against the true links
def test_febrl3_without_configuration_or_labels(model):
    evaluation = model.info["evaluation"]
    precision, recall, f1 = (evaluation["pairwise"][name] for name in ("precision", "recall", "f1"))
    assert f1[0] >= 0.99 and f1[1] <= f1[0] <= f1[2]
    assert precision[0] >= 0.98 and recall[0] >= 0.98
    assert evaluation["bcubed"]["f1"] >= 0.99
    # blocking loses a few true pairs at most, and they are counted
    assert 0 <= evaluation["blocking"]["lost"] <= 0.01 * evaluation["blocking"]["true_pairs"]
    # and the estimate made without the true links (capture-recapture across the rules) is near that count
    assert evaluation["blocking_estimate"]["lost"] == pytest.approx(evaluation["blocking"]["lost"], abs=10)
    # the prior estimated without labels is near the true share of matching pairs
    ids = model.records["unique_id"]
    true_pairs = quality.true_pair_count(quality.entities_from_ids(ids))
    true_prior = true_pairs / (len(ids) * (len(ids) - 1) / 2)
    assert model.info["prior"] == pytest.approx(true_prior, rel=0.25)
    assert set(model.info["curve"]) >= {"threshold", "precision", "recall", "f1"}


def test_pairs_and_clusters_agree(model):
    pairs, clusters = model.pairs(), model.clusters()
    assert list(pairs.columns) == ["id_a", "id_b", "match_probability", "match_weight"]
    assert (pairs["match_probability"] >= model.threshold).all()
    entity = clusters.set_index("id")["entity"]
    assert (entity[pairs["id_a"]].to_numpy() == entity[pairs["id_b"]].to_numpy()).all()
    assert len(model.pairs(threshold=0.99)) <= len(pairs) <= len(model.pairs(threshold=0.01))


def test_explain_gives_each_field_in_words(model):
    top = model.pairs().iloc[0]
    explained = model.explain(top["id_a"], top["id_b"])
    assert explained["field"].tolist() == ["(prior)", *[r.column for r in model.roles]]
    assert explained["weight"].iloc[1:].sum() > 0
    assert explained["words"].str.contains("evidence for a match").any()
    assert explained.loc[0, "weight"] < 0  # a random pair rarely matches
    far = model.records["unique_id"].iloc[[0, -1]].tolist()
    assert model.explain(*far)["weight"].sum() < model.explain(top["id_a"], top["id_b"])["weight"].sum()
    with pytest.raises(DataError, match="not among"):
        model.explain("nobody", top["id_b"])


def test_find_puts_the_true_record_first_for_held_out_duplicates(model, held_out):
    found = model.find(held_out, k=3)
    assert set(found.columns) == {"query", "rank", "id", "match_probability", "match_weight"}
    assert found.groupby("query")["rank"].max().max() <= 3
    best = found[found["rank"] == 1]
    entity = quality.entities_from_ids
    right = entity(best["query"].reset_index(drop=True)).to_numpy() == entity(best["id"].reset_index(drop=True)).to_numpy()
    assert right.sum() >= 0.9 * len(held_out)
    with pytest.raises(ConfigError, match="k must"):
        model.find(held_out, k=0)


def test_save_and_load_give_the_same_answers(model, held_out, tmp_path):
    loaded = MatchModel.load(model.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(loaded.pairs(), model.pairs())
    pd.testing.assert_frame_equal(loaded.find(held_out.head(5)), model.find(held_out.head(5)))
    saved = json.loads((tmp_path / "m" / "labcoat.json").read_text())
    assert saved["kind"] == "match" and saved["threshold"] == model.threshold


def test_a_settings_file_overrides_what_is_chosen(tmp_path):
    records = febrl("febrl3").head(800)
    (tmp_path / "match.yaml").write_text("roles: {street_number: text}\nexclude: [state]\n"
                                         "blocking: [[soc_sec_id], [surname, postcode]]\n")
    chosen = fit(records, settings=tmp_path / "match.yaml", budget="20s")
    roles = {r.column: r.role for r in chosen.roles}
    assert "state" not in roles and roles["street_number"] == "text"
    assert [rule.columns for rule in chosen.rules] == [("soc_sec_id",), ("surname", "postcode")]
    assert chosen.info["evaluation"]["pairwise"]["f1"][0] >= 0.95


def test_a_small_table_is_matched_even_when_a_training_session_fails():
    # 300 records: some sessions have too few pairs for EM (a level at m = 0, refused by Splink)
    with pytest.warns(LabcoatNotice, match="Expectation-maximisation"):
        small = labcoat.match(febrl("febrl3").head(300), id_column="rec_id", budget="20s", track=False, quiet=True)
    assert small.info["evaluation"]["pairwise"]["f1"][0] >= 0.9


def test_costs_and_a_given_threshold_set_the_cut():
    records = febrl("febrl3").head(600)
    assert fit(records, threshold=0.7, budget="20s").threshold == 0.7
    costly = fit(records, costs="merge=3,miss=1", budget="20s")
    assert costly.threshold == pytest.approx(0.75)
    assert "cost" in costly.info["threshold_chosen_by"]


@pytest.mark.slow
def test_linking_febrl4_two_tables():
    """The first 1,500 of A's 5,000 records (all at full size: ``simulation_size``), their
    duplicates in B and a quarter as many of B's others, which have no match in A."""
    a, b = febrl("febrl4a"), febrl("febrl4b")
    a = a.head(simulation_size(1500, len(a)))
    matched = b["rec_id"].str.replace("-dup-0", "-org").isin(a["rec_id"])
    b = pd.concat([b[matched], b[~matched].head(len(a) // 4)])
    linked = fit(a, b, budget="30s")
    assert linked.link and linked.info["evaluation"]["pairwise"]["f1"][0] >= 0.99
    pairs = linked.pairs()
    assert pairs["id_a"].isin(a["rec_id"]).all() and pairs["id_b"].isin(b["rec_id"]).all()


def test_cli_match_writes_pairs_clusters_model_and_info(tmp_path):
    febrl("febrl3").head(600).to_csv(tmp_path / "people.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "labcoat", "match", "people.csv", "--id", "rec_id", "-o", "pairs.csv",
                           "--clusters", "clusters.csv", "--budget", "20s", "--no-track"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Against the true links" in done.stdout
    pairs, clusters = pd.read_csv(tmp_path / "pairs.csv"), pd.read_csv(tmp_path / "clusters.csv")
    assert len(pairs) > 50 and len(clusters) == 600
    assert list((tmp_path / "labcoat-match-reports").glob("*.html"))
    info = subprocess.run([sys.executable, "-m", "labcoat", "info", "labcoat-match"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert "match" in info.stdout


def test_the_match_report_renders_offline_in_chromium(model, tmp_path, browser):
    from test_reports import open_offline

    from labcoat.reports.match_report import write_match_report

    path = write_match_report(model, tmp_path)
    errors, requests, state, plots, page = open_offline(browser, path, tmp_path / "match.png")
    text = page.inner_text("body")
    page.close()
    assert errors == [] and state == "ready" and requests == [], errors
    assert len(plots) == 2  # where the weights fall; precision and recall against the threshold
    assert all(p["svg"] and p["drawn"] and p["width"] > 100 for p in plots), plots
    assert "Against the true links" in text and "soc_sec_id" in text
