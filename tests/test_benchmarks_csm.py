"""Benchmark and CS-team marts on the generated company, recomputed independently in Python.

The benchmark of one metric (adoption rate at the as-of date) is rebuilt from the generator's
own ground truth (``account_usage_at_as_of.csv``) and the raw CRM export (segments): values,
peer level with the fallback rule, group size, median, quartiles, percentile rank and gap.
The CSM books are rebuilt from the raw CRM owners and the generator's month-end MRR, the
capacity view from the company's book and the raw roster.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections import defaultdict
from datetime import date, timedelta

import pytest

MIN_GROUP = 5  # var benchmark_min_peer_group_size
TARGET_BOOK_ARR = 500000  # var csm_target_book_arr (csm_capacity_basis: arr)
TREND_MONTHS = 6  # var csm_capacity_trend_months


@pytest.fixture(scope="module")
def raw_accounts(published_run):
    with (published_run.raw_dir / "crm" / "accounts.csv").open() as f:
        return {r["account_id"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def as_of(planted):
    return date.fromisoformat(planted["as_of"])


def percentile(values: list[float], p: float) -> float:
    """Continuous percentile (linear interpolation between ranks), as cs_percentile."""
    xs = sorted(values)
    pos = p * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def test_every_level_used_is_large_enough_except_all(marts):
    rows = marts.execute(
        "select peer_level, min(peer_group_size), count(*) from marts.fct_account_benchmarks group by peer_level"
    ).fetchall()
    levels = {level: (smallest, n) for level, smallest, n in rows}
    print("levels used:", levels)
    assert set(levels) == {"segment x lifecycle_stage", "segment", "all"}
    for level, (smallest, _) in levels.items():
        if level != "all":
            assert smallest >= MIN_GROUP
    # an account compared at a coarser level had no large enough finer group
    bad = marts.execute("""
        select count(*) from marts.fct_account_benchmarks f
        join marts.metrics_benchmarks g
          on g.month = f.month and g.metric = f.metric
         and g.peer_level_rank < f.peer_level_rank
         and g.peer_group_key = case g.peer_level_rank
               when 0 then f.segment || '|' || f.lifecycle_stage
               when 1 then f.segment end
        where g.peer_group_size >= 5""").fetchone()[0]
    assert bad == 0
    # every metric of the seed is benchmarked
    metrics = {m for (m,) in marts.execute("select distinct metric from marts.fct_account_benchmarks").fetchall()}
    assert metrics == {
        "adoption_rate",
        "license_utilization",
        "stickiness_dau_mau",
        "feature_breadth",
        "nps",
        "csat",
        "tickets_per_100_active_users",
        "time_to_first_value_days",
        "health_score",
    }


def test_adoption_rate_benchmark_recomputed_from_ground_truth(published_run, marts, raw_accounts, as_of):
    with (published_run.raw_dir / "_ground_truth" / "account_usage_at_as_of.csv").open() as f:
        usage = {r["account_id"]: r for r in csv.DictReader(f)}
    customers = {a for (a,) in marts.execute("select account_id from marts.dim_accounts where is_customer").fetchall()}
    stages = dict(marts.execute("select account_id, stage from marts.fct_lifecycle_stages where is_current").fetchall())
    values = {}
    for account in customers:
        provisioned = int(usage[account]["provisioned_users"])
        if provisioned > 0:
            values[account] = int(usage[account]["active_users_last_28_days"]) / provisioned
    levels = [
        ("segment x lifecycle_stage", lambda a: f"{raw_accounts[a]['segment']}|{stages.get(a, 'unknown')}"),
        ("segment", lambda a: raw_accounts[a]["segment"]),
        ("all", lambda a: "all"),
    ]
    groups = []
    for _, key in levels:
        g = defaultdict(list)
        for account, value in values.items():
            g[key(account)].append(value)
        groups.append(g)

    actual = {
        r[0]: r[1:]
        for r in marts.execute(
            """
            select account_id, metric_value, peer_level, peer_group_key, peer_group_size,
                   peer_median, peer_p25, peer_p75, percentile_rank, gap_to_median
            from marts.fct_account_benchmarks
            where metric = 'adoption_rate' and measured_on = ?""",
            [as_of],
        ).fetchall()
    }
    assert set(actual) == set(values)
    used_levels = set()
    for account, value in values.items():
        for i, (level, key) in enumerate(levels):
            peers = groups[i][key(account)]
            if len(peers) >= MIN_GROUP or level == "all":
                break
        below = sum(1 for v in peers if v < value - 1e-12)
        tied = sum(1 for v in peers if abs(v - value) <= 1e-12)
        median = statistics.median(peers)
        got = actual[account]
        used_levels.add(level)
        assert got[0] == pytest.approx(value, abs=1e-12)
        assert got[1:4] == (level, key(account), len(peers))
        assert got[4] == pytest.approx(median, abs=1e-9)
        assert got[5] == pytest.approx(percentile(peers, 0.25), abs=1e-9)
        assert got[6] == pytest.approx(percentile(peers, 0.75), abs=1e-9)
        assert got[7] == pytest.approx((below + tied / 2) / len(peers), abs=1e-12)
        assert got[8] == pytest.approx(value - median, abs=1e-9)
    print("adoption-rate levels used at the as-of date:", used_levels)
    assert len(used_levels) >= 2  # the fallback is exercised on this company


def test_health_score_benchmark_is_the_published_score(marts, as_of):
    pairs = marts.execute(
        """
        select b.metric_value, h.health_score
        from marts.fct_account_benchmarks b
        join marts.fct_account_health_daily h
          on h.account_id = b.account_id and h.snapshot_date = b.measured_on
        where b.metric = 'health_score' and b.measured_on = ?""",
        [as_of],
    ).fetchall()
    scored = marts.execute(
        "select count(*) from marts.fct_account_health_daily where snapshot_date = ? and health_score is not null",
        [as_of],
    ).fetchone()[0]
    assert len(pairs) == scored > 0
    for value, score in pairs:
        assert value == pytest.approx(score, abs=1e-9)


def test_csm_books_add_up_to_the_company(published_run, marts, raw_accounts, as_of):
    per_month = marts.execute("""
        select c.month, c.accounts, c.arr, m.accounts, m.arr
        from (select month, sum(accounts) accounts, sum(arr) arr
              from marts.metrics_csm group by month) c
        join (select month, count(*) accounts, sum(arr) arr
              from marts.fct_mrr_monthly where is_customer group by month) m
          on c.month = m.month""").fetchall()
    months = marts.execute("select count(distinct month) from marts.fct_mrr_monthly").fetchone()[0]
    assert len(per_month) == months
    for _, csm_accounts, csm_arr, accounts, arr in per_month:
        assert (csm_accounts, csm_arr) == (accounts, arr)

    # the as-of month's books from the raw CRM owners and the generator's MRR
    as_of_month = as_of.strftime("%Y-%m")
    with (published_run.raw_dir / "_ground_truth" / "account_month_mrr.csv").open() as f:
        mrr = {r["account_id"]: float(r["mrr_usd"]) for r in csv.DictReader(f) if r["month"] == as_of_month}
    expected_arr = defaultdict(float)
    for account, value in mrr.items():
        if value > 0:
            expected_arr[raw_accounts[account]["owner_csm_id"] or "unassigned"] += 12 * value
    actual = dict(
        marts.execute("select csm_id, arr from marts.metrics_csm where measured_on = ? and arr > 0", [as_of]).fetchall()
    )
    print("ARR per CSM at the as-of date:", actual)
    assert set(actual) == set(expected_arr)
    for csm, arr in actual.items():
        assert float(arr) == pytest.approx(expected_arr[csm], abs=0.01 * len(mrr))


def test_load_index_against_the_team_median(marts):
    rows = marts.execute(
        "select month, csm_id, arr, load_index from marts.metrics_csm where csm_id <> 'unassigned'"
    ).fetchall()
    by_month = defaultdict(list)
    for month, csm, arr, load in rows:
        by_month[month].append((csm, float(arr), load))
    odd_months = 0
    for team in by_month.values():
        median = statistics.median(arr for _, arr, _ in team)
        for _, arr, load in team:
            assert load == (None if median == 0 else pytest.approx(arr / median, rel=1e-12))
        if len(team) % 2 == 1 and median > 0:
            assert statistics.median(load for _, _, load in team) == pytest.approx(1.0)
            odd_months += 1
    assert odd_months > 0


def test_renewals_due_and_red_arr_at_the_as_of_date(marts, as_of):
    expected = dict(
        marts.execute(
            """
        select coalesce(owner_csm_id, 'unassigned'), count(*) from marts.fct_renewals
        where due_date > ? and due_date <= ? group by 1""",
            [as_of, as_of + timedelta(days=90)],
        ).fetchall()
    )
    upcoming = dict(
        marts.execute(
            "select coalesce(owner_csm_id, 'unassigned'), count(*) from marts.renewals_upcoming group by 1"
        ).fetchall()
    )
    actual = dict(
        marts.execute(
            "select csm_id, renewals_due from marts.metrics_csm where measured_on = ? and renewals_due > 0", [as_of]
        ).fetchall()
    )
    assert actual == expected == upcoming
    red = dict(
        marts.execute(
            """
        select coalesce(owner_csm_id, 'unassigned'), sum(arr) from marts.fct_account_health_daily
        where snapshot_date = ? and health_band = 'red' group by 1""",
            [as_of],
        ).fetchall()
    )
    actual_red = dict(
        marts.execute(
            "select csm_id, arr_in_red from marts.metrics_csm where measured_on = ? and arr_in_red > 0", [as_of]
        ).fetchall()
    )
    assert actual_red == red


def test_capacity_from_the_book_and_the_roster(published_run, marts, as_of):
    with (published_run.raw_dir / "crm" / "csm_roster.csv").open() as f:
        roster = list(csv.DictReader(f))
    employed = sum(
        1
        for r in roster
        if date.fromisoformat(r["start_date"]) <= as_of
        and (not r["end_date"] or date.fromisoformat(r["end_date"]) >= as_of)
    )
    book = dict(
        (m, float(a))
        for m, a in marts.execute(
            "select month, sum(arr) from marts.fct_mrr_monthly where is_customer group by month"
        ).fetchall()
    )
    month = date(as_of.year, as_of.month, 1)
    earlier_month = date(month.year - (month.month <= TREND_MONTHS), (month.month - TREND_MONTHS - 1) % 12 + 1, 1)
    now, earlier = book[month], book.get(earlier_month, 0.0)
    trend = (now - earlier) / TREND_MONTHS
    row = marts.execute(
        """
        select book_arr, csms_employed, net_new_arr_per_month, csms_needed_now,
               csms_needed_in_1_month, csms_needed_in_3_months, csm_gap_now
        from marts.metrics_csm_capacity where month = ?""",
        [month],
    ).fetchone()
    print("capacity at the as-of date:", row)
    assert float(row[0]) == pytest.approx(now, abs=0.005)
    assert row[1] == employed
    assert row[2] == pytest.approx(trend, abs=1e-6)
    assert row[3] == math.ceil(now / TARGET_BOOK_ARR)
    assert row[4] == math.ceil(max(now + trend, 0) / TARGET_BOOK_ARR)
    assert row[5] == math.ceil(max(now + 3 * trend, 0) / TARGET_BOOK_ARR)
    assert row[6] == row[3] - employed
