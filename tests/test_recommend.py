"""Recommendation (task="recommend"): input checks, the splits' honesty, the metrics' intervals,
the search against the popularity baseline, cold start, the model's files and its speed."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from labcoat.datasets import make_interactions
from labcoat.errors import ConfigError, DataError, LabcoatNotice
from labcoat.tasks import pipeline_task
from labcoat.tasks.recommend import candidates as candidates_module
from labcoat.tasks.recommend.candidates import ALS, EASE, ItemKNN, MostPopular, Training
from labcoat.tasks.recommend.data import prepare
from labcoat.tasks.recommend.fit import fit_recommend
from labcoat.tasks.recommend.metrics import PER_USER, evaluate, paired
from labcoat.tasks.recommend.model import COLD_ITEM, COLD_USER, RecommendModel, is_recommend_folder
from labcoat.tasks.recommend.split import check_no_leak, split

MOVIELENS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "recsys"
FAST = ["most_popular", "item_knn", "ease"]


def _fit(rows: pd.DataFrame, **kwargs) -> RecommendModel:
    settings = {"user": "user_id", "item": "item_id", "time": "timestamp", "budget": 8, "quiet": True,
                "candidates": FAST, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        return fit_recommend(rows, **settings)


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows, items, users = make_interactions(n_users=800, n_items=300, n_interactions=30_000, seed=2, tables=True)
    # One item loses its interactions (a new item, known only from the items table) and one user
    # of the users table has none (a new user).
    cold_item = items["item_id"].iloc[5]
    cold_user = users["user_id"].iloc[7]
    rows = rows[(rows["item_id"] != cold_item) & (rows["user_id"] != cold_user)].reset_index(drop=True)
    return rows, items, users


@pytest.fixture(scope="module")
def model(tables) -> RecommendModel:
    rows, items, users = tables
    return _fit(rows, items=items, users=users, budget=15, candidates=None)


# ------------------------------------------------------------------------------ input
def test_absent_column_is_named():
    rows = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2]})
    with pytest.raises(DataError, match="'item_di' is not in the interactions.*Did you mean 'item_id'"):
        prepare(rows, user="user_id", item="item_di")


@pytest.mark.parametrize("column", ["user_id", "item_id"])
def test_a_single_user_or_item_is_refused(column):
    rows = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [5, 6, 7]})
    rows[column] = 1
    with pytest.raises(DataError, match=f"1 distinct (users|items) \\(column '{column}'\\).*at least 2"):
        prepare(rows, user="user_id", item="item_id")


def test_missing_ids_and_bad_times_are_named():
    rows = pd.DataFrame({"u": [1, None, 3], "i": [1, 2, 3], "t": ["2024-01-01", "2024-01-02", "soon"]})
    with pytest.raises(DataError, match="1 interactions have no 'u'"):
        prepare(rows, user="u", item="i")
    with pytest.raises(DataError, match="time column 't' cannot be read as times, e.g. 'soon'"):
        prepare(rows.fillna(2), user="u", item="i", time="t")


def test_duplicates_are_merged_with_a_notice():
    rows = pd.DataFrame({"u": [1, 1, 2, 2], "i": [1, 1, 1, 2], "stars": [2, 5, 4, 1], "t": [1, 2, 3, 4]})
    with pytest.warns(LabcoatNotice, match="1 repeated .* the latest rating of each pair is kept"):
        data = prepare(rows, user="u", item="i", rating="stars", time="t")
    assert len(data.user) == 3 and data.positive.tolist() == [True, True, False]
    with pytest.warns(LabcoatNotice, match="weights are summed"):
        implicit = prepare(rows, user="u", item="i")
    assert implicit.matrix().toarray().tolist() == [[2.0, 0.0], [1.0, 1.0]]


def test_a_weight_column_and_side_tables_without_the_id():
    rows = pd.DataFrame({"u": [1, 1, 2, 2], "i": [1, 2, 1, 2], "plays": [3.0, 0.0, 1.0, 2.0]})
    data = prepare(rows, user="u", item="i", rating="plays", threshold="weight")
    assert data.matrix().toarray().tolist() == [[3.0, 0.0], [1.0, 2.0]] and "weighted by 'plays'" in data.preference
    with pytest.raises(ConfigError, match="threshold=3 applies to a rating column"):
        prepare(rows, user="u", item="i", threshold=3)
    rows = make_interactions(n_users=60, n_items=20, n_interactions=600)
    with pytest.raises(DataError, match="The items table has no 'item_id' column"):
        fit_recommend(rows, user="user_id", item="item_id", items=pd.DataFrame({"sku": [1]}), quiet=True)


def test_a_user_whose_interactions_are_all_in_the_test_is_counted():
    rows = pd.DataFrame({"u": [1] * 5 + [2] * 5 + [3], "i": [1, 2, 3, 4, 5] * 2 + [1],
                         "t": [1, 2, 3, 4, 20, 1, 2, 3, 4, 21, 22]})
    holdout = split(prepare(rows, user="u", item="i", time="t"), "time")
    assert any("1 users have all their interactions in the test part" in n for n in holdout.notes)
    assert holdout.evaluable.tolist() == [0, 1]  # user 3 (code 2) cannot be scored
    everything_late = pd.DataFrame({"u": [1, 1, 2, 2, 3, 3, 4, 4], "i": [1, 2] * 4, "t": [1, 1, 1, 1, 1, 1, 2, 2]})
    with pytest.raises(DataError, match="No user can be evaluated"):
        split(prepare(everything_late, user="u", item="i", time="t"), "time")


def test_leave_last_and_the_random_holdout():
    rows = pd.DataFrame({"u": [1, 1, 1, 2, 2, 2], "i": [1, 2, 3, 1, 2, 3], "t": [3, 1, 2, 1, 2, 3]})
    data = prepare(rows, user="u", item="i", time="t")
    last = split(data, "leave_last")
    held = pd.DataFrame({"u": data.user_ids[data.user[last.test]], "i": data.item_ids[data.item[last.test]]})
    assert sorted(map(tuple, held.to_numpy().tolist())) == [(1, 1), (2, 3)]
    timeless = prepare(rows.drop(columns="t"), user="u", item="i")
    holdout = split(timeless, "time")
    assert holdout.test.sum() == 2 and any("no time column" in n for n in holdout.notes)


def test_explicit_ratings_state_their_preference_rule():
    rng = np.random.default_rng(0)
    rows = make_interactions(n_users=200, n_items=60, n_interactions=4000, seed=1)
    rows["stars"] = rng.integers(1, 6, len(rows))
    fitted = _fit(rows, rating="stars", budget=5, candidates=["most_popular", "item_knn"])
    assert fitted.info["preference"].startswith("a rating of 4 or more is a preference")
    custom = prepare(rows, user="user_id", item="item_id", rating="stars", threshold=5)
    assert custom.preference.startswith("a rating of 5 or more") and custom.positive.mean() < 0.3


def test_settings_that_do_not_apply_are_refused():
    rows = make_interactions(n_users=50, n_items=20, n_interactions=400)
    with pytest.raises(ConfigError, match="not supported for recommend yet"):
        fit_recommend(rows, user="user_id", item="item_id", executor="ray")
    with pytest.raises(ConfigError, match="target 'x' and rating 'y' differ"):
        fit_recommend(rows, "x", user="user_id", item="item_id", rating="y")
    assert pipeline_task("recommend") is not None


def test_leave_last_and_timeless_fits():
    rows = make_interactions(n_users=150, n_items=50, n_interactions=3000, seed=4)
    last = _fit(rows, split="leave_last", budget=4, candidates=["most_popular", "item_knn"])
    assert last.info["split"] == "leave_last" and last.info["test_users"] > 100
    with pytest.warns(LabcoatNotice, match="no time column: the test holds out a random 20%"):
        timeless = fit_recommend(rows.drop(columns="timestamp"), user="user_id", item="item_id", budget=4,
                                 quiet=True, candidates=["most_popular", "item_knn"])
    assert timeless.info["time"] is None and len(timeless.recommend(rows["user_id"].iloc[0], k=5)) == 5


# ------------------------------------------------------------------------------ honesty
def test_a_planted_leak_is_caught(tables):
    rows = tables[0]
    data = prepare(rows, user="user_id", item="item_id", time="timestamp")
    holdout = split(data, "time")
    train, test = data.seen(holdout.train), data.matrix(holdout.test)
    check_no_leak(train, test)  # the split itself does not leak
    leaky = data.seen(holdout.train | holdout.test)  # test interactions copied into training
    with pytest.raises(DataError, match="held-out .* pairs of the test are also in the training matrix"):
        check_no_leak(leaky, test)


def test_every_metric_has_an_interval_around_it(model):
    scored = model.leaderboard[model.leaderboard["status"] == "ok"]
    assert len(scored) >= 4
    for name in [*PER_USER, "coverage@10"]:
        value, low, high = scored[name], scored[f"{name}_low"], scored[f"{name}_high"]
        assert ((low <= value + 1e-12) & (value <= high + 1e-12)).all(), name


def test_the_chosen_recommender_beats_popularity_on_tastes(model):
    board = model.leaderboard.set_index("candidate")
    chosen = board[board["chosen"]].iloc[0]
    assert chosen["ndcg@10"] > board.loc["most_popular", "ndcg@10"]
    assert 0 <= board.loc["most_popular", "p_value_vs_chosen"] <= 1
    assert model.info["chosen"]["kind"] in ("single", "blend") and model.info["chosen"]["why"]


def test_paired_test_over_users():
    train = sp.csr_matrix(np.eye(4, dtype=np.float32))
    test = sp.csr_matrix(np.roll(np.eye(4, dtype=np.float32), 1, axis=1))
    users = np.arange(4)
    right = evaluate(lambda u: np.roll(np.eye(4), 1, axis=1)[u] + 0.01, train, test, users)
    assert right.value() == 1.0
    wrong = evaluate(lambda u: np.tile(np.arange(4.0), (len(u), 1)), train, test, users)
    assert paired(right.per_user["ndcg@10"], wrong.per_user["ndcg@10"]).difference > 0


# ------------------------------------------------------------------------------ the model
def test_seen_items_are_excluded_unless_asked(model, tables):
    rows = tables[0]
    someone = rows["user_id"].value_counts().index[0]
    seen = set(rows.loc[rows["user_id"] == someone, "item_id"])
    fresh = model.recommend(someone, k=20)
    assert len(fresh) == 20 and not seen & set(fresh["item"]) and fresh["rank"].tolist() == list(range(1, 21))
    assert fresh["reason"].str.startswith("personal").all()
    again = model.recommend(someone, k=20, exclude_seen=False)
    assert seen & set(again["item"])


def test_items_restrict_the_recommendations(model, tables):
    rows = tables[0]
    allowed = rows["item_id"].drop_duplicates().iloc[:15].tolist()
    out = model.recommend(rows["user_id"].iloc[:30].unique().tolist(), k=5, items=allowed)
    assert set(out["item"]) <= set(allowed) and len(out) > 0


def test_cold_start_users_get_popular_items(model, tables):
    rows, _, users = tables
    stranger = model.recommend(["nobody"], k=5)
    assert (stranger["reason"] == COLD_USER).all()
    top = rows["item_id"].value_counts()
    assert stranger["item"].iloc[0] == top.index[0]
    known_new = users["user_id"].iloc[7]  # in the users table, no interaction
    segment = users.loc[users["user_id"] == known_new, "segment"].iloc[0]
    out = model.recommend([known_new], k=5)
    assert out["reason"].str.startswith(COLD_USER).all() and out["reason"].iloc[0].endswith(f"segment={segment}")
    peers = rows[rows["user_id"].isin(users.loc[users["segment"] == segment, "user_id"])]
    assert out["item"].iloc[0] == peers["item_id"].value_counts().index[0]
    given = model.recommend(pd.DataFrame({"user_id": ["newcomer"], "segment": [segment]}), k=5)
    assert given["item"].tolist() == out["item"].tolist()


def test_similar_items_and_a_cold_item_through_its_features(model, tables):
    _, items, _ = tables
    known = model.similar_items(items["item_id"].iloc[0], k=5)
    assert len(known) == 5 and known["reason"].str.startswith("similar by").all()
    assert items["item_id"].iloc[0] not in set(known["similar_item"])
    cold = items.iloc[5]
    neighbours = model.similar_items(cold["item_id"], k=5)
    assert (neighbours["reason"] == COLD_ITEM).all() and len(neighbours) == 5
    categories = items.set_index("item_id").loc[neighbours["similar_item"], "category"]
    assert (categories == cold["category"]).all()  # the same category first
    with pytest.raises(DataError, match="neither in the interactions nor in the items table"):
        model.similar_items("no such item")


def test_save_and_load_give_the_same_recommendations(model, tables, tmp_path):
    users = tables[0]["user_id"].unique()[:50].tolist() + ["nobody"]
    folder = model.save(tmp_path / "rec")
    assert is_recommend_folder(folder) and not is_recommend_folder(tmp_path)
    meta = (folder / "labcoat.json").read_text()
    assert '"kind": "recommend"' in meta and '"format": 1' in meta
    again = RecommendModel.load(folder)
    pd.testing.assert_frame_equal(model.recommend(users, k=10), again.recommend(users, k=10))


# ------------------------------------------------------------------------------ candidates
def test_ease_is_skipped_when_its_matrix_would_not_fit(monkeypatch, tables):
    monkeypatch.setattr(candidates_module, "EASE_MEMORY_SHARE", 1e-9)
    with pytest.warns(LabcoatNotice, match=r"ease skipped: its 29\d × 29\d matrix needs"):
        fitted = fit_recommend(tables[0], user="user_id", item="item_id", time="timestamp", budget=5, quiet=True,
                               candidates=["most_popular", "ease"])
    assert "ease" not in set(fitted.leaderboard["candidate"])
    with pytest.raises(candidates_module.Skipped):
        EASE().fit(Training(sp.csr_matrix(np.eye(3, dtype=np.float32))))


def test_missing_implicit_skips_als_and_bpr_naming_the_extra(monkeypatch, tables):
    real = candidates_module.importlib.util.find_spec
    monkeypatch.setattr(candidates_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "implicit" else real(name, *a))
    with pytest.warns(LabcoatNotice, match=r"als and bpr skipped: implicit is not installed.*"
                                           r"pip install 'labcoat\[recommend\]'"):
        fitted = fit_recommend(tables[0], user="user_id", item="item_id", time="timestamp", budget=5, quiet=True,
                               candidates=["most_popular", "als", "bpr"])
    assert set(fitted.leaderboard["candidate"]) == {"most_popular"}


def test_candidates_score_every_item():
    x = sp.csr_matrix(make_matrix(50, 30))
    for model in (MostPopular(), ItemKNN(k=5), ItemKNN(weighting="bm25"), EASE(), ALS(factors=4, iterations=2)):
        scores = model.fit(Training(x)).score(np.arange(10))
        assert scores.shape == (10, 30) and np.isfinite(scores).all(), model.name


def test_the_reranker_when_chosen_scores_saves_and_loads(monkeypatch, tables, tmp_path):
    from labcoat.tasks.recommend import fit as fit_module

    monkeypatch.setattr(fit_module, "BLEND_MARGIN", -1.0)  # whatever it scores, the re-ranker is taken
    rows = tables[0]
    # 20 s: beside another test process, 12 s left the re-ranker too little time to be tried
    fitted = _fit(rows, budget=20, candidates=["most_popular", "item_knn", "ease", "rerank"])
    assert fitted.info["chosen"]["kind"] == "rerank" and fitted.info["rerank"]["chosen"]
    row = fitted.leaderboard[fitted.leaderboard["chosen"]].iloc[0]
    assert row["candidate"].startswith("rerank(") and row["ndcg@10_low"] <= row["ndcg@10"] <= row["ndcg@10_high"]
    users = rows["user_id"].unique()[:20].tolist()
    out = fitted.recommend(users, k=5)
    assert len(out) == 100
    again = RecommendModel.load(fitted.save(tmp_path / "rerank"))
    pd.testing.assert_frame_equal(out, again.recommend(users, k=5))


def make_matrix(n_users: int, n_items: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((n_users, n_items)) < 0.2).astype(np.float32)


def test_recommend_ranks_ten_thousand_items_by_their_factors(model):
    """1,000 users × 10,000 items from factors: each user's top 10 are the highest dot products
    among the items they have not met, in order (the latency is benchmarks/recommend_serving.py's)."""
    rng = np.random.default_rng(0)
    n_users, n_items = 1000, 10_000
    als = ALS()
    als.user_factors_ = rng.normal(size=(n_users, 64)).astype(np.float32)
    als.item_factors_ = rng.normal(size=(n_items, 64)).astype(np.float32)
    seen = sp.random(n_users, n_items, density=0.002, format="csr", random_state=0, dtype=np.float32)
    fast = RecommendModel(user_ids=np.arange(n_users), item_ids=np.arange(n_items), members=[als], weights=[1.0],
                          seen=seen, popularity=np.ones(n_items), leaderboard=pd.DataFrame())
    out = fast.recommend(np.arange(n_users), k=10)
    assert len(out) == 10 * n_users
    scores = als.user_factors_.astype(np.float64) @ als.item_factors_.T.astype(np.float64)
    scores[seen.toarray() > 0] = -np.inf
    for user in (0, 517, 999):  # the same scores, in order; float32 products may swap near-ties
        got = out.loc[out["user"] == user].sort_values("rank")["item"].to_numpy()
        np.testing.assert_allclose(scores[user, got], np.sort(scores[user])[::-1][:10], rtol=1e-4)


# ------------------------------------------------------------------------------ MovieLens
@pytest.mark.skipif(not (MOVIELENS / "movielens100k_ratings.csv").is_file(), reason="MovieLens 100K is not here")
def test_movielens_beats_popularity_leaving_each_users_last_out():
    """943 users each hold one rating out: enough to tell a real gain over popularity (the split
    in time leaves about 100 users to test on, too few to tell it in a test; the benchmark does)."""
    ratings = pd.read_csv(MOVIELENS / "movielens100k_ratings.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabcoatNotice)
        fitted = fit_recommend(ratings, user="user_id", item="item_id", rating="rating", time="timestamp",
                               split="leave_last", budget=15, candidates=FAST, quiet=True)
    board = fitted.leaderboard.set_index("candidate")
    chosen = board[board["chosen"]].iloc[0]
    popular = board.loc["most_popular"]
    assert chosen["ndcg@10"] > popular["ndcg@10"] and popular["p_value_vs_chosen"] < 0.05
    assert fitted.info["split"] == "leave_last" and "4 or more" in fitted.info["preference"]
