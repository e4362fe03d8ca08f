"""The built-in extractors (tasks/extract/builtin*) on planted values, and `labcoat extract --builtin`."""
import random
import subprocess
import sys

import pandas as pd
import pytest

from conftest import SHARED
from labcoat.errors import ConfigError, DataError, DataSourceError, LabcoatNotice
from labcoat.tasks.extract.builtin import KINDS, extract_builtin, extract_columns
from labcoat.tasks.extract.texts import read_texts

pytest.importorskip("phonenumbers", reason="the built-in extractors' phones need the 'text' extra")
pytest.importorskip("stdnum", reason="the built-in extractors' cards and IBANs need the 'text' extra")

REVIEWS = SHARED / "text" / "movie_reviews.csv"

#: (written, kind, normalised value), each planted in a sentence of its own.
PLANTED = [
    ("2024-03-14", "date", "2024-03-14"),
    ("2024-03-14T09:30:00Z", "date", "2024-03-14T09:30:00Z"),
    ("14 March 2024", "date", "2024-03-14"),
    ("March 14th, 2024", "date", "2024-03-14"),
    ("14th of Sept. 2023", "date", "2023-09-14"),
    ("February 1999", "date", "1999-02"),
    ("31/12/2023", "date", "2023-12-31"),
    ("12/31/98", "date", "1998-12-31"),
    ("$1,234.56", "money", "1234.56 USD"),
    ("1.234,56 €", "money", "1234.56 EUR"),
    ("£3.50", "money", "3.50 GBP"),
    ("¥5000", "money", "5000 JPY"),
    ("USD 2,500", "money", "2500 USD"),
    ("99 CHF", "money", "99 CHF"),
    ("€2.5bn", "money", "2500000000 EUR"),
    ("$10 million", "money", "10000000 USD"),
    ("C$ 100 MLN", "money", "100000000 CAD"),
    ("12.5%", "percent", "12.5%"),
    ("40 percent", "percent", "40%"),
    ("-3,2 %", "percent", "-3.2%"),
    ("ann.lee@Example.COM", "email", "ann.lee@example.com"),
    ("x_y+tag@mail.co.uk", "email", "x_y+tag@mail.co.uk"),
    ("(415) 555-2671", "phone", "+14155552671"),
    ("+44 20 7946 0958", "phone", "+442079460958"),
    ("+33 1 42 68 53 00", "phone", "+33142685300"),
    ("https://example.org/a?b=1", "url", "https://example.org/a?b=1"),
    ("www.python.org/doc", "url", "http://www.python.org/doc"),
    ("4111 1111 1111 1111", "card", "4111111111111111"),
    ("5555-5555-5555-4444", "card", "5555555555554444"),
    ("3782 822463 10005", "card", "378282246310005"),
    ("6011000990139424", "card", "6011000990139424"),
    ("GB82 WEST 1234 5698 7654 32", "iban", "GB82WEST12345698765432"),
    ("DE89370400440532013000", "iban", "DE89370400440532013000"),
    ("FR14 2004 1010 0505 0001 3M02 606", "iban", "FR1420041010050500013M02606"),
    ("5 kg", "quantity", "5 kg"),
    ("12.5 km", "quantity", "12.5 km"),
    ("-4 °C", "quantity", "-4 °C"),
    ("250ml", "quantity", "250 mL"),
    ("3 kilometres", "quantity", "3 km"),
    ("60 mph", "quantity", "60 mph"),
]


def test_every_planted_value_is_found_with_its_kind_and_normalised_value():
    texts = [f"On the form, {written} was written. Nothing else." for written, _, _ in PLANTED]
    found = extract_builtin(texts)
    assert list(found.columns) == ["document", "start", "end", "label", "text", "value", "confidence"]
    got = [tuple(r) for r in found[["document", "text", "label", "value"]].itertuples(index=False)]
    assert got == [(i, written, kind, value) for i, (written, kind, value) in enumerate(PLANTED)]
    assert (found["confidence"] == 1.0).all()
    assert all(texts[r.document][r.start:r.end] == r.text for r in found.itertuples())
    assert set(found["label"]) == set(KINDS)


def test_invalid_checksums_unknown_issuers_and_look_alikes_are_not_found():
    texts = [
        "card 4111 1111 1111 1112 (Luhn fails)",
        "card 1234 5678 9012 3452 (Luhn passes, no issuer starts with 1)",
        "card 4111 11 1111 111 1111 (digits not grouped as a card's)",
        "IBAN GB82 WEST 1234 5698 7654 33 (check digits wrong)",
        "IBAN DE89370400440532013001 and XX89370400440532013000 (no country XX)",
        "IBAN DE89 3704 0044 0532 0130 (too short for Germany)",
        "mail bob@localhost, ann@@x.org; visit example.com or www.nope",
        "score 7/10, version 1.2.3, dated 31/02/2024, the 1990s, 30/30/2020",
        "call 555-0000",
    ]
    found = extract_builtin(texts)
    assert found.empty, found


def test_overlapping_kinds_keep_the_more_specific_one():
    texts = ["Card 4111 1111 1111 1111 and account DE89 3704 0044 0532 0130 00.",
             "Budget $5m, see http://user@example.com/x, temperature 5 °C 12%."]
    found = extract_builtin(texts)
    assert found[["document", "label", "text"]].values.tolist() == [
        [0, "card", "4111 1111 1111 1111"], [0, "iban", "DE89 3704 0044 0532 0130 00"],
        [1, "money", "$5m"], [1, "url", "http://user@example.com/x"], [1, "quantity", "5 °C"],
        [1, "percent", "12%"]]
    # Each kind alone finds what another claims when both are asked for.
    assert extract_builtin(texts[:1], "phone").empty
    assert extract_builtin(texts[1:], "quantity")["text"].tolist() == ["5m", "5 °C"]


def test_numbers_in_both_conventions():
    found = extract_builtin(["$1,234,567.89 / 1.234.567,89 € / 1\u00a0234,5 € / €1,5 / $1.234 / $0.125"], "money")
    assert found["value"].tolist() == ["1234567.89 USD", "1234567.89 EUR", "1234.5 EUR", "1.5 EUR", "1234 USD",
                                       "0.125 USD"]


@pytest.mark.parametrize("texts, day_first, region, expected", [
    (["05/04/2024"], None, "US", ["2024-05-04"]),                          # the region's order
    (["05/04/2024"], None, "GB", ["2024-04-05"]),
    (["05/04/2024"], True, "US", ["2024-04-05"]),                          # stated
    (["05/04/2024", "25/12/2023"], None, "US", ["2024-04-05", "2023-12-25"]),  # inferred from the call
    (["05/04/2024", "12/25/2023"], None, "GB", ["2024-05-04", "2023-12-25"]),
    (["25/12/2023"], False, "US", ["2023-12-25"]),                         # only one reading
])
def test_ambiguous_numeric_dates_follow_a_stated_inferred_or_regional_order(texts, day_first, region, expected):
    found = extract_builtin(texts, "date", day_first=day_first, region=region)
    assert found["value"].tolist() == expected


def test_phone_numbers_are_read_in_the_region_given():
    assert extract_builtin(["020 7946 0958"], "phone", region="GB")["value"].tolist() == ["+442079460958"]
    assert extract_builtin(["(415) 555-2671"], "phone", region=None).empty  # only +country numbers then


def test_kinds_and_texts_are_checked():
    with pytest.raises(ConfigError, match="'mony'. Did you mean 'money'"):
        extract_builtin(["x"], "date,mony")
    with pytest.raises(DataError, match="list of texts"):
        extract_builtin("one text")
    found = extract_builtin(pd.Series([None, float("nan"), pd.NA, 5, "5 kg"], dtype=object), "quantity")
    assert found[["document", "value"]].values.tolist() == [[4, "5 kg"]]
    with pytest.raises(ConfigError, match="Unknown region 'UK'"):
        extract_builtin(["x"], "date", region="UK")


def test_without_the_text_extra_the_kinds_that_need_it_name_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "phonenumbers", None)  # `import phonenumbers` now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'labcoat\[text\]'"):
        extract_builtin(["+44 20 7946 0958"], "phone,date")
    assert extract_builtin(["2024-01-02"], "date,money")["value"].tolist() == ["2024-01-02"]


def test_extract_columns_adds_a_column_per_kind_and_keeps_the_table():
    table = pd.DataFrame({"id": [7, 8, 9], "body": ["$5 and €6 on 2024-01-02", None, "12%"]})
    before = table.copy()
    out = extract_columns(table, "body")
    pd.testing.assert_frame_equal(table, before)
    assert list(out.columns) == ["id", "body", "body_date", "body_money", "body_percent"]
    pd.testing.assert_frame_equal(out[["id", "body"]], before)
    assert out["body_money"].tolist()[0] == "5 USD; 6 EUR"
    assert out["body_percent"].isna().tolist() == [True, True, False]
    assert list(extract_columns(table, "body", "email,date").columns) == ["id", "body", "body_email", "body_date"]
    with pytest.raises(DataError, match="'body_date'"):
        extract_columns(out, "body")


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "labcoat", *args], cwd=cwd, capture_output=True, text=True)


def test_cli_builtin_adds_columns_and_names_a_missing_column(tmp_path):
    table = pd.DataFrame({"id": ["a1", "b2", "c3"], "amount": [1.5, None, 3.0],
                          "body": ["Paid $1,234.56 on 14/03/2024 by 4111 1111 1111 1111", "mail ann@example.org",
                                   "nothing, twice: 3.5 kg and 2 kg"]})
    table.to_csv(tmp_path / "notes.csv", index=False)
    done = run("extract", "--builtin", "notes.csv", "--column", "body", "-o", "out.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert list(out.columns) == ["id", "amount", "body", "body_card", "body_email", "body_date", "body_money",
                                 "body_quantity"]
    pd.testing.assert_frame_equal(out[["id", "amount", "body"]], pd.read_csv(tmp_path / "notes.csv", dtype=str))
    assert out.loc[0, ["body_card", "body_date", "body_money"]].tolist() == ["4111111111111111", "2024-03-14",
                                                                            "1234.56 USD"]
    assert out.loc[2, "body_quantity"] == "3.5 kg; 2 kg"

    missing = run("extract", "--builtin", "notes.csv", "--column", "bdy", "-o", "x.csv", cwd=tmp_path)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "Column 'bdy' is not in the data. Did you mean 'body'?" in missing.stderr
    assert not (tmp_path / "x.csv").exists()


def test_cli_arguments_and_unreadable_files_are_named(tmp_path):
    from typer.testing import CliRunner

    from labcoat.cli import app

    for args in (["extract", "--builtin", "a.csv", "b.csv"], ["extract", "notes.csv"]):
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 2 and "Give DATA alone with --builtin" in done.output
    with pytest.raises(DataSourceError, match="notes.txt' does not exist"):
        read_texts(tmp_path / "notes.txt")
    (tmp_path / "two.csv").write_text("a,b\nx,y\n")
    with pytest.raises(DataError, match="Name the column of texts .* 2 columns: a, b"):
        read_texts(tmp_path / "two.csv")
    (tmp_path / "latin.txt").write_bytes("Paid 5 € in München\n".encode("cp1252"))
    with pytest.warns(LabcoatNotice, match="not UTF-8"):
        table, column = read_texts(tmp_path / "latin.txt", "note")
    assert table["note"].tolist() == ["Paid 5 € in München"]


def test_cli_builtin_reads_a_text_file_one_document_per_line(tmp_path):
    (tmp_path / "notes.txt").write_text("Call +44 20 7946 0958\n\nIBAN DE89 3704 0044 0532 0130 00\n")
    done = run("extract", "--builtin", "notes.txt", "--kinds", "phone,iban,money", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["text,text_iban,text_phone,text_money",
                                        "Call +44 20 7946 0958,,+442079460958,", ",,,",
                                        "IBAN DE89 3704 0044 0532 0130 00,DE89370400440532013000,,"]


def test_cli_extract_with_a_model_writes_the_entities_model_extract_finds(tmp_path):
    fit_extract = pytest.importorskip("labcoat.tasks.extract.fit", reason="the trainable extractor").fit_extract
    pytest.importorskip("sklearn_crfsuite", reason="the 'text' extra")
    names, cities = ["Ann", "Bob", "Carla", "Dmitri", "Eve", "Farid", "Gita", "Hugo"], ["Paris", "Oslo", "Rome", "Lima"]
    docs = [{"text": f"{n} visited {c} on Monday.", "entities": [[0, len(n), "PER"], [len(n) + 9, len(n) + 9 + len(c), "LOC"]]}
            for n in names for c in cities]
    model = fit_extract(pd.DataFrame(docs), budget=3, quiet=True)
    model.save(tmp_path / "model")
    texts = ["Carla visited Oslo.", "", "Hugo visited Rome on Monday."]
    pd.DataFrame({"id": [1, 2, 3], "body": texts}).to_csv(tmp_path / "notes.csv", index=False)
    done = run("extract", "model", "notes.csv", "--column", "body", "-o", "entities.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "entities.csv"), model.extract(texts), check_dtype=False)


# ----------------------------------------------------- the target on the movie reviews

def _luhn_digit(partial: str) -> str:
    """The check digit that makes ``partial + digit`` pass the Luhn check (written out here, not
    taken from the library under test)."""
    total = 0
    for i, d in enumerate(reversed(partial)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def _cards(rng, n):
    """``n`` valid card numbers of several issuers, written as cards are (value, written)."""
    issuers = [("4", 16, (4, 4, 4, 4)), ("51", 16, (4, 4, 4, 4)), ("2720", 16, (4, 4, 4, 4)), ("37", 15, (4, 6, 5)),
               ("6011", 16, (4, 4, 4, 4)), ("3530", 16, (16,)), ("62", 19, (4, 4, 4, 4, 3))]
    out = []
    for i in range(n):
        prefix, length, groups = issuers[i % len(issuers)]
        body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
        digits = body + _luhn_digit(body)
        parts, at = [], 0
        for g in groups:
            parts.append(digits[at:at + g])
            at += g
        out.append((digits, rng.choice([" ", "-"]).join(parts)))
    return out


#: Countries and their BBAN formats (n digits, a letters, c either), as ISO 13616's registry lists them.
BBANS = {"DE": "18n", "GB": "4a14n", "FR": "10n11c2n", "NL": "4a10n", "ES": "20n", "IT": "1a10n12c", "CH": "5n12c",
         "BE": "12n", "PL": "24n", "AT": "16n"}


def _ibans(rng, n):
    import re
    import string

    out = []
    for i in range(n):
        country = list(BBANS)[i % len(BBANS)]
        alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}
        bban = "".join(rng.choice(alphabet[kind]) for count, kind in re.findall(r"(\d+)([nac])", BBANS[country])
                       for _ in range(int(count)))
        numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
        iban = f"{country}{98 - int(numeric) % 97:02d}{bban}"
        written = " ".join(iban[j:j + 4] for j in range(0, len(iban), 4)) if i % 2 else iban
        out.append((iban, written))
    return out


@pytest.fixture(scope="module")
def reviews():
    if not REVIEWS.exists():
        pytest.skip(f"{REVIEWS} is not available")
    return pd.read_csv(REVIEWS)["text"].tolist()


def test_no_card_or_iban_on_the_movie_reviews_and_every_planted_one_is_found(reviews):
    assert extract_builtin(reviews, "card,iban").empty  # zero false positives on 2,000 reviews

    rng = random.Random(19)
    planted = [("card", *c) for c in _cards(rng, 50)] + [("iban", *b) for b in _ibans(rng, 50)]
    texts, where = list(reviews), {}
    for kind, value, written in planted:
        doc = rng.randrange(len(texts))
        spaces = [i for i, c in enumerate(texts[doc]) if c == " "]
        at = rng.choice(spaces)
        texts[doc] = f"{texts[doc][:at]} {written} {texts[doc][at:]}"
        where.setdefault(doc, []).append((kind, value))
    found = extract_builtin(texts, "card,iban")
    got = sorted((r.document, r.label, r.value) for r in found.itertuples())
    assert got == sorted((doc, kind, value) for doc, pairs in where.items() for kind, value in pairs)
