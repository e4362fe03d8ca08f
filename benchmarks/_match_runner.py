"""One system of ``benchmarks/matching.py``, run in that system's venv.

Usage (done by ``matching.py``)::

    python _match_runner.py task.json

The task names the ``system``, the ``records`` (a CSV file read as FEBRL's are, or a parquet
file), the ``other`` table to link them with (or null to deduplicate), the labcoat ``budget``
and the ``out`` file. The system writes the pairs it links (``out``: CSV ``id_a``, ``id_b``)
and a report beside it (``out`` + ``.json``): fit seconds (the fit and the prediction, reading
the data excluded), peak RSS of this process (VmHWM), the version and what the system chose.

The peers follow their own projects' FEBRL examples: Splink's ``febrl3`` notebook for
deduplication and its ``febrl4`` notebook (the detailed model) for linking; the Python Record
Linkage Toolkit's FEBRL indexing and comparisons (``examples/dedup_deterministic.py``) with its
ECM classifier (``examples/unsupervised_learning_prob.py``). Each links the pairs at its own
threshold: Splink's pairs of match probability 0.5 or more, the ECM classifier's ``predict``.
This module imports only the standard library, pandas and the system under test.
"""
from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

FIELDS = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
          "date_of_birth", "soc_sec_id"]


def read(path: str | None) -> pd.DataFrame | None:
    if path is None:
        return None
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    return pd.read_csv(path, skipinitialspace=True, dtype=str)


def run_labcoat(records: pd.DataFrame, other: pd.DataFrame | None, task: dict) -> tuple[pd.DataFrame, dict]:
    import labcoat

    warnings.simplefilter("ignore")
    on_spark = {"backend": "spark", "spark": "local[2]"} if task["system"] == "labcoat-spark" else {}
    model = labcoat.match(records, other, id_column="rec_id", budget=task.get("budget") or "2m", track=False,
                          quiet=True, **on_spark)
    pairs = model.pairs()[["id_a", "id_b"]]
    info = model.info
    return pairs, {"version": labcoat.__version__, "threshold": info["threshold"], "budget": info["budget_seconds"],
                   "over_budget": any(note.startswith("Matching took") for note in info["notes"]),
                   "blocking": [" & ".join(r["columns"]) for r in info["blocking"]],
                   "compared_pairs": info["compared_pairs"], "prior": info["prior"],
                   "own_f1": info["evaluation"].get("pairwise", {}).get("f1"),
                   "blocking_lost": info["evaluation"].get("blocking", {}).get("lost")}


def run_splink(records: pd.DataFrame, other: pd.DataFrame | None, task: dict) -> tuple[pd.DataFrame, dict]:
    import splink
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    link = other is not None
    db_api = DuckDBAPI()
    if link:
        tables = [db_api.register(records, dataset_display_name="a"), db_api.register(other, dataset_display_name="b")]
        # the febrl4 notebook's prediction rules and its detailed model
        rules = [block_on("given_name", "surname"), "l.given_name = r.surname and l.surname = r.given_name",
                 block_on("date_of_birth"), block_on("soc_sec_id"), block_on("state", "address_1"),
                 block_on("street_number", "address_1"), block_on("postcode")]
        comparisons = [
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d",
                                     invalid_dates_as_null=True),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True)]
        deterministic, recall = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")], 0.8
    else:
        tables = db_api.register(records, dataset_display_name="records")
        # the febrl3 notebook's prediction rules and comparisons
        rules = [block_on("soc_sec_id"), block_on("given_name"), block_on("surname"), block_on("date_of_birth"),
                 block_on("postcode")]
        comparisons = [
            cl.NameComparison("given_name"), cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True)]
        deterministic = [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth"),
                         "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth"]
        recall = 0.9
    settings = SettingsCreator(unique_id_column_name="rec_id", link_type="link_only" if link else "dedupe_only",
                               blocking_rules_to_generate_predictions=rules, comparisons=comparisons)
    linker = Linker(tables, settings)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
    for rule in (block_on("date_of_birth"), block_on("postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=link)
    predicted = linker.inference.predict(threshold_match_probability=THRESHOLD)
    frame = predicted.as_pandas_dataframe()
    pairs = pd.DataFrame({"id_a": frame["rec_id_l"].astype(str), "id_b": frame["rec_id_r"].astype(str)})
    return pairs, {"version": splink.__version__, "threshold": THRESHOLD,
                   "blocking": [r if isinstance(r, str) else r.get_blocking_rule("duckdb").blocking_rule_sql
                                for r in rules]}


def run_recordlinkage(records: pd.DataFrame, other: pd.DataFrame | None, task: dict) -> tuple[pd.DataFrame, dict]:
    import recordlinkage as rl
    from recordlinkage.compare import Exact, String
    from recordlinkage.index import Block

    a = records.set_index("rec_id")
    b = other.set_index("rec_id") if other is not None else None
    indexer = rl.Index()
    for column in ("given_name", "surname", "soc_sec_id"):  # the toolkit's FEBRL example's blocks
        indexer.add(Block(column))
    candidates = indexer.index(a) if b is None else indexer.index(a, b)
    compare = rl.Compare()
    compare.add(Exact("given_name", "given_name", label="given_name"))
    compare.add(String("surname", "surname", method="jarowinkler", threshold=0.85, label="surname"))
    compare.add(Exact("date_of_birth", "date_of_birth", label="date_of_birth"))
    compare.add(Exact("suburb", "suburb", label="suburb"))
    compare.add(Exact("state", "state", label="state"))
    compare.add(String("address_1", "address_1", threshold=0.85, label="address_1"))
    compare.add(String("address_2", "address_2", threshold=0.85, label="address_2"))
    features = compare.compute(candidates, a) if b is None else compare.compute(candidates, a, b)
    ecm = rl.ECMClassifier()
    links = ecm.fit_predict(features)
    pairs = pd.DataFrame({"id_a": links.get_level_values(0).astype(str), "id_b": links.get_level_values(1).astype(str)})
    return pairs, {"version": rl.__version__, "threshold": "ECM predict (0.5)",
                   "blocking": ["given_name", "surname", "soc_sec_id"], "compared_pairs": len(candidates),
                   "prior": float(ecm.p)}


THRESHOLD = 0.5
SYSTEMS = {"labcoat": run_labcoat, "labcoat-spark": run_labcoat, "splink": run_splink,
           "recordlinkage": run_recordlinkage}


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started (VmHWM: ``ru_maxrss`` would also count
    the parent's memory at the fork, kept across the exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(task_file: str) -> None:
    task = json.loads(Path(task_file).read_text())
    records, other = read(task["records"]), read(task.get("other"))
    assert records is not None
    started = time.monotonic()
    pairs, info = SYSTEMS[task["system"]](records, other, task)
    seconds = time.monotonic() - started
    pairs.to_csv(task["out"], index=False)
    peak = peak_rss_mb()
    Path(task["out"] + ".json").write_text(json.dumps(
        {**info, "fit_seconds": seconds, "peak_rss_mb": peak, "linked_pairs": len(pairs)}, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
