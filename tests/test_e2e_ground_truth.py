"""The whole pipeline on a generated company, checked against the generator's planted truth.

The generator computes MRR from its own subscription state, not from the invoice lines it writes,
so these comparisons are between two independent computations.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from decimal import Decimal

import pytest


@pytest.fixture(scope="module")
def truth(published_run):
    gt = published_run.raw_dir / "_ground_truth"
    with open(gt / "account_month_mrr.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {
        "rows": rows,
        "planted": json.loads((gt / "planted.json").read_text()),
        "manifest": json.loads((gt / "manifest.json").read_text()),
    }


def month_end_mrr(rows) -> dict[tuple[str, str], Decimal]:
    return {(r["account_id"], r["month"]): Decimal(r["mrr_usd"]) for r in rows}


def test_movements_match_ground_truth_row_for_row(truth, marts):
    expected = sorted(
        (r["account_id"], r["month"], Decimal(r["mrr_usd"]), r["movement"]) for r in truth["rows"]
    )
    actual = sorted(
        (a, m, e, mv) for a, m, e, mv in marts.execute(
            "select account_id, strftime(month, '%Y-%m'), end_mrr, movement "
            "from marts.fct_mrr_movements").fetchall()
    )
    assert len(actual) == len(expected)
    assert actual == expected


def test_planted_churn_reactivation_and_trials(truth, marts):
    planted = truth["planted"]
    churn = set(marts.execute(
        "select account_id || ' ' || strftime(month, '%Y-%m') from marts.fct_mrr_movements "
        "where movement = 'churn'").fetchall())
    expected_churn = {(f"{a} {m}",) for a, months in planted["churned"].items() for m in months}
    assert churn == expected_churn
    assert len({a for (a,) in {(c[0].split()[0],) for c in churn}}) == len(planted["churned"])
    reactivations = {r[0] for r in marts.execute(
        "select distinct account_id from marts.fct_mrr_movements "
        "where movement = 'reactivation'").fetchall()}
    assert reactivations == set(planted["reactivated"])
    # Trial-only accounts never pay: no movement rows, not paying, but known as accounts.
    for account in planted["trial_only"]:
        assert marts.execute("select count(*) from marts.fct_mrr_movements where account_id = ?",
                             [account]).fetchone()[0] == 0
        assert marts.execute("select is_paying from marts.dim_accounts where account_id = ?",
                             [account]).fetchone() == (False,)


def test_current_mrr_matches_ground_truth(truth, marts):
    as_of_month = truth["manifest"]["as_of"][:7]
    expected = {a: v for (a, m), v in month_end_mrr(truth["rows"]).items() if m == as_of_month}
    actual = dict(marts.execute(
        "select account_id, current_mrr from marts.dim_accounts where current_mrr > 0"
    ).fetchall())
    assert actual == {a: v for a, v in expected.items() if v > 0}
    assert truth["manifest"]["accounts"] == marts.execute(
        "select count(*) from marts.dim_accounts").fetchone()[0]


def test_trailing_twelve_month_retention_matches_ground_truth(truth, marts):
    mrr = month_end_mrr(truth["rows"])
    accounts = {a for a, _ in mrr}
    # The last closed trailing-12-month window: t0 = end of 2024-11, t1 = end of 2025-11.
    t0, t1 = "2024-11", "2025-11"
    base = {a: mrr.get((a, t0), Decimal(0)) for a in accounts}
    base = {a: v for a, v in base.items() if v > 0}
    end = {a: mrr.get((a, t1), Decimal(0)) for a in base}
    grr = sum(min(end[a], base[a]) for a in base) / sum(base.values())
    nrr = sum(end.values()) / sum(base.values())
    logo_churn = Decimal(sum(1 for a in base if end[a] == 0)) / len(base)
    row = marts.execute(
        """
        select grr, nrr, logo_churn_rate, starting_arr, starting_customers, is_partial
        from marts.metrics_retention
        where period_type = 'trailing_12_months' and slice_type = 'all'
          and period_end = date '2025-11-30'
        """
    ).fetchone()
    assert row[0] == pytest.approx(float(grr), abs=1e-9)
    assert row[1] == pytest.approx(float(nrr), abs=1e-9)
    assert row[2] == pytest.approx(float(logo_churn), abs=1e-9)
    assert row[3] == sum(base.values()) * 12
    assert row[4] == len(base)
    assert row[5] is False


def test_monthly_movement_totals_by_segment_add_up_to_all(marts):
    rows = marts.execute(
        """
        select period_start, slice_type, sum(new_mrr), sum(churn_mrr), sum(ending_arr)
        from marts.metrics_retention
        where period_type = 'month' and slice_type in ('all', 'segment')
        group by all
        """
    ).fetchall()
    by = defaultdict(dict)
    for start, slice_type, new, churn, ending in rows:
        by[start][slice_type] = (new, churn, ending)
    active = {k: v for k, v in by.items() if v["all"][2] > 0}
    assert active and all(v["all"] == v["segment"] for v in active.values())


def test_clean_company_loads_every_row(published_run, marts):
    assert marts.execute("select count(*) from raw.quarantine").fetchone() == (0,)
    for table, read, loaded in marts.execute(
            "select table_name, rows_read, rows_loaded from raw.load_audit").fetchall():
        assert read == loaded, table
    usage = marts.execute(
        "select rows_loaded from raw.load_audit where table_name = 'product_usage_events'"
    ).fetchone()[0]
    manifest = json.loads((published_run.raw_dir / "_ground_truth" / "manifest.json").read_text())
    assert usage == manifest["row_counts"]["product/usage_events"] > 0


def test_every_view_resolves_in_the_published_file(truth, marts):
    # dbt's views name their catalog; the published file's catalog is `cs_metrics`.
    views = marts.execute(
        "select schema_name || '.' || view_name from duckdb_views() where not internal"
    ).fetchall()
    assert len(views) >= 22
    for (view,) in views:
        marts.execute(f"select * from {view} limit 1").fetchall()
    assert marts.execute("select count(*) from staging.stg_crm__accounts").fetchone()[0] == (
        truth["manifest"]["accounts"]
    )
