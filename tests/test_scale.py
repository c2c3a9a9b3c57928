"""The 1,000-account company (about 10 million usage events): `make test-slow`."""

from __future__ import annotations

import csv
import json
import time
from decimal import Decimal

import duckdb
import pytest

from tests.conftest import generate_company, run_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_company(tmp_path_factory):
    out = tmp_path_factory.mktemp("big") / "raw"
    started = time.perf_counter()
    generate_company(out, accounts=1000, seed=7)
    return out, time.perf_counter() - started


def test_generator_makes_ten_million_events_in_under_a_minute(big_company):
    raw, seconds = big_company
    manifest = json.loads((raw / "_ground_truth" / "manifest.json").read_text())
    assert 9_000_000 <= manifest["usage_events"] <= 11_000_000
    assert seconds < 60, f"generation took {seconds:.1f}s"


def test_pipeline_on_the_big_company_matches_ground_truth(dbt_manifest, big_company, tmp_path):
    raw, _ = big_company
    started = time.perf_counter()
    outcome = run_pipeline(raw, tmp_path / "warehouse")
    elapsed = time.perf_counter() - started
    assert outcome.success, outcome.failed_steps()
    print(f"refresh of 1,000 accounts: {elapsed:.1f}s")
    with open(raw / "_ground_truth" / "account_month_mrr.csv", newline="") as fh:
        expected = sorted((r["account_id"], r["month"], Decimal(r["mrr_usd"]), r["movement"])
                          for r in csv.DictReader(fh))
    con = duckdb.connect(str(outcome.published_db), read_only=True)
    try:
        actual = sorted(con.execute(
            "select account_id, strftime(month, '%Y-%m'), end_mrr, movement "
            "from marts.fct_mrr_movements").fetchall())
    finally:
        con.close()
    assert actual == expected
