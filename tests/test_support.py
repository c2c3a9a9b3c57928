"""Support marts on the generated company, checked against the planted truth.

The generator marks each ticket it plants as an SLA breach (planted.json ``sla_breach_accounts``):
such a ticket misses both its first-response and its resolution target by 1.5x or more, and every
other ticket meets both with margin; one planted ticket is still open and already in breach at
the as-of date. ``ticket_spikes`` names the Monday of each planted burst of 6-10 tickets.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest


@pytest.fixture(scope="module")
def as_of(marts) -> date:
    return marts.execute("select max(as_of_date) from marts.fct_tickets").fetchone()[0]


def planted_tickets(planted) -> dict[str, str]:
    return {t: a for a, ids in planted["sla_breach_accounts"].items() for t in ids}


def test_breached_tickets_are_exactly_the_planted_ones(planted, marts):
    """Every ticket whose breach has shown by the end of the as-of date (it has waited longer
    than its first-response target) is breached; no other ticket is."""
    expected = planted_tickets(planted)
    assert expected, "the generator plants SLA breaches"
    rows = marts.execute(
        "select ticket_id, account_id, is_sla_breached, "
        "  datediff('second', created_at, cast(as_of_date + 1 as timestamp)) / 60.0 "
        "    > first_response_target_minutes as is_breach_visible "
        "from marts.fct_tickets").fetchall()
    breached = {t: a for t, a, b, _ in rows if b}
    visible = {t for t, _, _, v in rows if v}
    assert set(breached) <= set(expected), sorted(set(breached) - set(expected))
    missing = {t for t in expected if t in visible} - set(breached)
    assert not missing, sorted(missing)
    assert {t: expected[t] for t in breached} == breached  # right account
    # planted accounts with a visible breach are exactly the accounts with a breached ticket
    assert set(breached.values()) == {expected[t] for t in expected if t in visible}


def test_met_and_breached_are_on_the_right_side_of_the_target(planted, marts):
    expected = planted_tickets(planted)
    rows = marts.execute(
        "select ticket_id, first_response_minutes, first_response_target_minutes, "
        "  resolution_minutes, resolution_target_minutes, "
        "  first_response_sla_status, resolution_sla_status "
        "from marts.fct_tickets").fetchall()
    checked = 0
    for tid, fr, fr_t, res, res_t, fr_status, res_status in rows:
        if tid in expected:
            if fr is not None:
                assert fr >= 1.5 * fr_t and fr_status == "breached", tid
            if res is not None:
                assert res >= 1.5 * res_t and res_status == "breached", tid
        else:
            if fr is not None:
                assert fr <= 0.6 * fr_t and fr_status == "met", tid
                checked += 1
            if res is not None:
                assert res <= 0.6 * res_t and res_status == "met", tid
            assert fr_status in ("met", "pending") and res_status in ("met", "pending"), tid
    assert checked > 100


def test_open_ticket_already_in_breach_is_flagged(planted, marts, as_of):
    expected = planted_tickets(planted)
    open_breaching = dict(marts.execute(
        "select ticket_id, account_id from marts.fct_tickets where is_open_and_breaching"
    ).fetchall())
    # the generator plants at least one open ticket already in breach; every one is planted
    assert open_breaching
    assert set(open_breaching) <= set(expected)
    # ... and an open planted ticket is flagged once it has waited past a target
    open_planted = marts.execute(
        "select ticket_id from marts.fct_tickets where is_open_at_as_of and is_sla_breached"
    ).fetchall()
    assert {t for (t,) in open_planted} == set(open_breaching)
    # the monthly marts count the same tickets in the as-of month
    month = as_of.replace(day=1)
    per_account = dict(marts.execute(
        "select account_id, open_breaching_tickets from marts.fct_account_support_monthly "
        "where month = ? and open_breaching_tickets > 0", [month]).fetchall())
    counts: dict[str, int] = defaultdict(int)
    for account in open_breaching.values():
        counts[account] += 1
    assert per_account == dict(counts)
    total = marts.execute(
        "select open_breaching_tickets from marts.metrics_support "
        "where month = ? and slice_type = 'all'", [month]).fetchone()[0]
    assert total == len(open_breaching)


def test_planted_ticket_spikes_are_flagged(planted, marts):
    spikes = planted["ticket_spikes"]
    assert spikes, "the generator plants a ticket spike"
    for account, monday in spikes.items():
        week = date.fromisoformat(monday)
        row = marts.execute(
            "select tickets, spike_threshold_tickets, is_ticket_spike from marts.fct_ticket_weeks "
            "where scope = 'account' and account_id = ? and week_start = ?",
            [account, week]).fetchone()
        assert row is not None, (account, monday)
        tickets, threshold, is_spike = row
        assert is_spike, (account, monday, tickets, threshold)
        assert tickets >= 6
        month = week.replace(day=1)
        assert marts.execute(
            "select is_ticket_spike from marts.fct_account_support_monthly "
            "where account_id = ? and month = ?", [account, month]).fetchone()[0]
        assert marts.execute(
            "select accounts_with_ticket_spike from marts.metrics_support "
            "where slice_type = 'all' and month = ?", [month]).fetchone()[0] >= 1
    # the rule is strict and needs the minimum: every flagged week satisfies it
    bad = marts.execute(
        "select count(*) from marts.fct_ticket_weeks where is_ticket_spike "
        "and (tickets < 5 or tickets <= spike_threshold_tickets or not has_full_trailing_window)"
    ).fetchone()[0]
    assert bad == 0


def test_company_slice_adds_up_from_tickets(marts):
    by_month: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for month, csat, fr_status, _sla_breached in marts.execute(
            "select created_month, csat_status, first_response_sla_status, is_sla_breached "
            "from marts.fct_tickets").fetchall():
        c = by_month[month]
        c[0] += 1
        c[1] += csat != "unrated"
        c[2] += csat == "satisfied"
        c[3] += fr_status in ("met", "breached")
        c[4] += fr_status == "met"
    rows = marts.execute(
        "select month, tickets, csat, first_response_sla_attainment from marts.metrics_support "
        "where slice_type = 'all'").fetchall()
    seen = 0
    for month, tickets, csat, attainment in rows:
        c = by_month.get(month, [0, 0, 0, 0, 0])
        assert tickets == c[0], month
        assert csat == (pytest.approx(c[2] / c[1]) if c[1] else None), month
        assert attainment == (pytest.approx(c[4] / c[3]) if c[3] else None), month
        seen += c[0]
    assert seen == sum(c[0] for c in by_month.values())
    # every slice type partitions the company's tickets
    mismatched = marts.execute(
        "select s.month, s.slice_type from marts.metrics_support s "
        "join marts.metrics_support a on a.month = s.month and a.slice_type = 'all' "
        "group by s.month, s.slice_type, a.tickets, a.active_users "
        "having sum(s.tickets) <> a.tickets or sum(s.active_users) <> a.active_users"
    ).fetchall()
    assert not mismatched


def test_uptime_matches_merged_incidents(published_run, marts, as_of):
    """Uptime recomputed in Python from the incident export: merge overlapping incidents,
    clip to each month (the open month ends with the as-of date)."""
    end_of_as_of = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
    spans = []
    with open(published_run.raw_dir / "support" / "incidents.csv", newline="") as f:
        for r in csv.DictReader(f):
            start = datetime.fromisoformat(r["started_at"])
            end = datetime.fromisoformat(r["resolved_at"]) if r["resolved_at"] else end_of_as_of
            spans.append((start, min(end, end_of_as_of)))
    spans.sort()
    merged: list[list[datetime]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    rows = marts.execute(
        "select month, incident_minutes, minutes_in_period, uptime from marts.metrics_support "
        "where slice_type = 'all'").fetchall()
    assert rows
    with_incidents = 0
    for month, incident_minutes, minutes_in_period, uptime in rows:
        lo = datetime.combine(month, datetime.min.time())
        nxt = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        hi = min(datetime.combine(nxt, datetime.min.time()), end_of_as_of)
        down = sum(
            max(0.0, (min(e, hi) - max(s, lo)).total_seconds()) for s, e in merged
        ) / 60
        total = (hi - lo).total_seconds() / 60
        assert minutes_in_period == pytest.approx(total), month
        assert incident_minutes == pytest.approx(down), month
        assert uptime == pytest.approx(1 - down / total), month
        with_incidents += down > 0
    assert with_incidents > 0
