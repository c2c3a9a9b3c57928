"""Lifecycle and renewal marts on the generated company, checked against the planted truth.

The generator decides each contract's renewal outcome from its own state (planted.json
``renewals`` / ``renewal_details``) and writes a CRM stage history per account; the marts derive
both from the exports.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date

import duckdb
import pytest


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def test_every_planted_renewal_has_its_outcome(planted, marts):
    actual = dict(marts.execute(
        "select contract_opportunity_id, outcome from marts.fct_renewals").fetchall())
    expected = planted["renewals"]
    mismatches = {
        cid: (outcome, actual.get(cid)) for cid, outcome in expected.items()
        if actual.get(cid) != outcome
    }
    extra = sorted(set(actual) - set(expected))
    print("planted vs fct_renewals mismatches (planted, actual):", mismatches, "extra:", extra)
    assert not mismatches
    assert not extra
    assert len(actual) == len(expected)
    # the outcomes are not all alike on this company
    assert {"renewed", "churned", "pending"} <= set(actual.values())


def test_renewal_details_match(planted, marts):
    rows = {
        cid: (account, due.isoformat(), renewal_id)
        for cid, account, due, renewal_id in marts.execute(
            "select contract_opportunity_id, account_id, due_date, renewal_opportunity_id "
            "from marts.fct_renewals").fetchall()
    }
    for d in planted["renewal_details"]:
        account, due, renewal_id = rows[d["contract_opportunity_id"]]
        assert (account, due) == (d["account_id"], d["contract_end_date"])
        if d["renewal_stage"] in ("closed_won", "closed_lost"):
            assert renewal_id == d["renewal_opportunity_id"]


def test_logo_renewal_rate_matches_planted_truth(planted, marts):
    counts: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in planted["renewal_details"]:
        counts[quarter_start(date.fromisoformat(d["contract_end_date"]))][d["outcome"]] += 1
    rates = dict(marts.execute(
        "select quarter_start, logo_renewal_rate from marts.metrics_renewals "
        "where slice_type = 'all'").fetchall())
    checked = 0
    for quarter, c in counts.items():
        decided = c["renewed"] + c["churned"]
        if decided == 0:
            assert rates[quarter] is None
            continue
        assert rates[quarter] == pytest.approx(c["renewed"] / decided)
        checked += 1
    assert checked >= 1
    # at least one quarter with a churn, so the rate is not trivially 1
    assert any(c["churned"] for c in counts.values())


def test_renewals_due_add_up_per_quarter(marts):
    bad = marts.execute(
        "select m.quarter_start from marts.metrics_renewals m "
        "left join (select due_quarter, count(*) as n from marts.fct_renewals group by 1) f "
        "on m.quarter_start = f.due_quarter "
        "where m.slice_type = 'all' and m.renewals_due <> coalesce(f.n, 0)").fetchall()
    assert bad == []


def test_one_current_spell_per_account_with_history(published_run, marts):
    with open(published_run.raw_dir / "crm" / "lifecycle_stages.csv", newline="") as fh:
        with_history = {r["account_id"] for r in csv.DictReader(fh)}
    current = marts.execute(
        "select account_id, count(*) from marts.fct_lifecycle_stages "
        "where is_current group by account_id").fetchall()
    assert {a for a, _ in current} >= with_history
    assert all(n == 1 for _, n in current)
    sources = dict(marts.execute(
        "select account_id, min(stage_source) from marts.fct_lifecycle_stages "
        "group by account_id").fetchall())
    assert all(sources[a] == "crm_history" for a in with_history)


def test_spells_do_not_overlap(marts):
    spells = marts.execute(
        "select account_id, entered_date, left_date from marts.fct_lifecycle_stages "
        "order by account_id, entered_date").fetchall()
    by_account = defaultdict(list)
    for account, entered, left in spells:
        by_account[account].append((entered, left))
    for account, rows in by_account.items():
        for (entered, left), (next_entered, _) in zip(rows, rows[1:], strict=False):
            assert left == next_entered, account
            assert entered < left, account
        assert rows[-1][1] is None, account


def test_monthly_stage_matches_current_spell(published_run):
    # the as-of month's stage (the adoption marts' interface) is the current spell's stage
    con = duckdb.connect(str(published_run.build_db), read_only=True)
    try:
        diff = con.execute(
            "select s.account_id, s.stage, m.lifecycle_stage "
            "from marts.fct_lifecycle_stages s "
            "join intermediate.int_account_lifecycle_monthly m "
            "on s.account_id = m.account_id "
            "where s.is_current and m.lifecycle_stage <> s.stage "
            "and m.month = (select max(month) from intermediate.int_account_lifecycle_monthly)"
        ).fetchall()
    finally:
        con.close()
    assert diff == []


def test_upcoming_renewals_carry_the_health_band_of_the_as_of_date(marts):
    rows = marts.execute(
        "select u.account_id, u.health_band, h.health_band "
        "from marts.renewals_upcoming as u "
        "left join marts.fct_account_health_daily as h on u.account_id = h.account_id "
        "and h.snapshot_date = (select max(snapshot_date) from marts.fct_account_health_daily)"
    ).fetchall()
    assert rows, "the sample has renewals due in the next 90 days"
    assert all(upcoming == published for _, upcoming, published in rows), rows
    assert any(band is not None for _, band, _ in rows)
