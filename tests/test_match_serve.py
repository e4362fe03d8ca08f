"""A match model served: ``MatchModel.find``'s fast path gives Splink's ``predict_between``
weights, and ``labcoat serve`` (a real uvicorn process on 127.0.0.1) answers ``POST /match``
with what ``find`` gives in process, refuses unknown fields naming them, and logs each request."""
from __future__ import annotations

import json
import signal

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED
from test_serve import Server, call

import labcoat
from labcoat.serve.predlog import read_log
from labcoat.tasks.match.data import clean_few, clean_values
from labcoat.tasks.match.find import best_candidates, best_candidates_splink, scorer
from labcoat.tasks.match.model import MatchModel

FEBRL = SHARED / "matching" / "febrl3.csv"
FIELDS = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
          "date_of_birth", "soc_sec_id"]


def people() -> pd.DataFrame:
    """FEBRL-like records: ``make_people`` when labcoat has it, else FEBRL3's first 2,000 rows
    and the next 300 as new records."""
    try:
        from labcoat.datasets import make_people
    except ImportError:
        if not FEBRL.exists():
            pytest.skip(f"{FEBRL} is not available")
        return pd.read_csv(FEBRL, skipinitialspace=True, dtype=str).head(2300)
    return make_people(2300, seed=0)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("match-serve")
    frame = people()
    model = labcoat.match(frame.head(2000), id_column="rec_id", budget=15, track=False, quiet=True)
    model.save(folder / "model")
    return folder, MatchModel.load(folder / "model"), frame.iloc[2000:].reset_index(drop=True), frame.head(2000)


def queries(new: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """New records made harder: fields missing, names swapped, typos, unseen surnames."""
    rng = np.random.default_rng(seed)
    out = new.copy()
    out["rec_id"] = [f"q{i}" for i in range(len(out))]
    fields = [c for c in FIELDS if c in out.columns]
    for column in fields:
        out.loc[rng.random(len(out)) < 0.12, column] = None
    swap = rng.random(len(out)) < 0.1
    out.loc[swap, ["given_name", "surname"]] = out.loc[swap, ["surname", "given_name"]].to_numpy()
    typo = (rng.random(len(out)) < 0.2) & out["surname"].notna()
    out.loc[typo, "surname"] = [s[1:] + s[0] for s in out.loc[typo, "surname"]]
    out.loc[rng.random(len(out)) < 0.05, "surname"] = "zzyzx"
    return out


def test_find_gives_splinks_weights_for_hundreds_of_new_records(fitted):
    _, model, new, _ = fitted
    cleaned = model._clean_new(queries(new), None)
    fast = best_candidates(model, cleaned, 1000).set_index(["query", "id"])["match_weight"]
    reference = best_candidates_splink(model, cleaned, 1000).set_index(["query", "id"])["match_weight"]
    assert len(fast) > 300 and set(fast.index) == set(reference.index)
    assert np.abs(fast - reference.reindex(fast.index)).max() <= 1e-6
    # The pairs include term-frequency-adjusted levels (exact surnames) and missing fields
    found = scorer(model)
    values = {c: cleaned[c].to_numpy(dtype=object) for c in found.columns}
    rows, records = found.candidates(values, len(cleaned))
    gammas = found.gammas(values, rows, records)
    adjusted = {level.column: level.gamma for c in found.comparisons for level in c.adjusted}
    assert "surname" in adjusted and (gammas["surname"] == adjusted["surname"]).sum() > 50
    assert (gammas["surname"] == -1).sum() > 10 and (gammas["date_of_birth"] == -1).sum() > 10


def test_find_gives_splinks_weights_when_linking_two_tables(fitted):
    frame = people().head(2000)
    first = np.arange(len(frame)) % 2 == 0
    model = labcoat.match(frame[first], frame[~first], id_column="rec_id", budget=10, track=False, quiet=True)
    cleaned = model._clean_new(queries(fitted[2].head(150), seed=1), None)
    fast = best_candidates(model, cleaned, 1000).set_index(["query", "id"])["match_weight"]
    reference = best_candidates_splink(model, cleaned, 1000).set_index(["query", "id"])["match_weight"]
    assert len(fast) > 100 and set(fast.index) == set(reference.index)
    assert np.abs(fast - reference.reindex(fast.index)).max() <= 1e-6


@pytest.mark.parametrize("role", ["given_name", "surname", "city", "street", "phone", "postcode", "national_id",
                                  "date", "number", "email", "category"])
def test_few_records_are_cleaned_as_pandas_cleans_them(role):
    tricky = ["", "  O'Brien-Smith ", "A.B.", "x\ty", "José", "19900230", "1990-02-28", "02/01/1990", "nan",
              "12", "-", "\u00a0", "+44 (20) 7946-0958", "ann@example.com", 12, 3.5]
    for value in tricky:
        for other in (None, "19561231", "1956-12-31", "abc"):
            for values in ([value], [value, other], [other, value, None], [None, None, value]):
                series = pd.Series(values, dtype=object)
                assert clean_few(series, role) == clean_values(series, role).tolist(), values


@pytest.fixture(scope="module")
def server(fitted):
    folder = fitted[0]
    running = Server(str(folder / "model"), folder, "--max-batch", "50")
    yield running
    running.stop()


def test_the_service_answers_what_find_gives_in_process(fitted, server):
    _, model, new, known = fitted
    mixed = pd.concat([new.head(20), known.sample(20, random_state=0)], ignore_index=True)
    mixed = mixed.sample(frac=1, random_state=1)  # new records and records like the fitted ones
    asked = json.loads(queries(mixed, seed=2).to_json(orient="records"))
    answers = []
    for record in asked[:30]:  # one record a request, with its id or without
        body = {"record": record if len(answers) % 2 else {f: v for f, v in record.items() if f != "rec_id"},
                "k": 3}
        status, answer = call(server.port, "/match", body)
        assert status == 200, answer
        answers.append((body["record"], answer))
    assert sum(bool(a["matches"][0]["candidates"]) for _, a in answers) >= 20
    status, batch = call(server.port, "/match", {"records": asked[30:], "k": 5})
    assert status == 200 and [m["query"] for m in batch["matches"]] == [r["rec_id"] for r in asked[30:]]
    for records, answer, k in [([r], a, 3) for r, a in answers] + [(asked[30:], batch, 5)]:
        expected = model.find(pd.DataFrame(records), k=k)
        served = [dict(c, query=m["query"]) for m in answer["matches"] for c in m["candidates"]]
        got = pd.DataFrame(served, columns=["query", "rank", "id", "match_probability", "match_weight"])
        merged = expected.merge(got, on=["query", "rank"], how="outer", suffixes=("", "_served"))
        assert len(merged) == len(expected) == len(got)
        assert (merged["id"] == merged["id_served"]).all()
        assert np.allclose(merged["match_weight"].to_numpy(float), merged["match_weight_served"].to_numpy(float),
                           rtol=0, atol=1e-9)
        for match in answer["matches"]:
            best = match["candidates"][0]["match_probability"] if match["candidates"] else 0.0
            assert match["match"] == (bool(match["candidates"]) and best >= model.threshold)
    assert answer["threshold"] == model.threshold and answer["model"] == {"name": "model", "version": "local"}


def test_the_service_refuses_what_it_cannot_answer_naming_the_field(fitted, server):
    status, answer = call(server.port, "/match", {"record": {"surname": "smith", "colour": "red"}})
    assert status == 422 and answer["detail"][0]["loc"] == ["body", "records", 0, "colour"]
    assert "colour" in answer["detail"][0]["msg"]
    status, answer = call(server.port, "/match", {"records": [{"surname": ["a"]}]})
    assert status == 422 and answer["detail"][0]["loc"] == ["body", "records", 0, "surname"]
    for body, words in [({"record": {"surname": "smith"}, "k": 0}, "k must be"),
                        ({"record": {}, "records": []}, "not both"), ({"k": 3}, "neither"),
                        ({"records": "smith"}, "list of objects"), ({"record": {}, "colour": 1}, "colour"),
                        ({"records": [{"rec_id": "a"}, {"rec_id": "a"}]}, "repeat"),
                        ({"records": [{"rec_id": "a"}, {"surname": "x"}]}, "every record its id")]:
        status, answer = call(server.port, "/match", body)
        assert status == 422 and words in json.dumps(answer), (body, answer)
    assert call(server.port, "/match", {"records": [{"surname": "x"}] * 51})[0] == 413
    status, schema = call(server.port, "/schema")
    assert status == 200 and schema["task"] == "match" and [f["name"] for f in schema["fields"]] == \
        [r.column for r in fitted[1].roles]
    assert call(server.port, "/ready")[1]["model"] == "model" and call(server.port, "/docs")[0] == 200


def test_every_answered_request_is_in_the_prediction_log(fitted, server):
    _, model, new, _ = fitted
    records = json.loads(queries(new, seed=3).head(3).to_json(orient="records"))
    status, answer = call(server.port, "/match", {"records": records, "k": 2})
    assert status == 200
    server.stop(signal.SIGTERM)
    logged = {e["request_id"]: e for e in read_log(server.log)}
    entry = logged[answer["request_id"]]
    assert entry["endpoint"] == "/match" and entry["rows"] == 3 and entry["version"] == "local"
    assert entry["outputs"] == answer["matches"] and [i["rec_id"] for i in entry["inputs"]] == ["q0", "q1", "q2"]
    assert all(e["endpoint"] == "/match" and e["model"] == "model" for e in logged.values())
