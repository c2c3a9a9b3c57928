"""Collection marts on the generated company, checked against the planted truth and against an
independent recomputation from the billing export files.

The generator plants accounts that stop paying (planted.json ``overdue_over_30_days``: every
invoice still open at the as-of date whose due date is more than 30 days before it, for every
account; an exact list). Payments are the only record of when an invoice was paid, so the
month-end receivables are recomputed here from ``billing/payments.csv`` as well.
"""

from __future__ import annotations

import calendar
import csv
from collections import defaultdict
from datetime import date
from decimal import Decimal

import duckdb
import pytest


@pytest.fixture(scope="module")
def billing(published_run):
    """Invoices and succeeded payments straight from the export files."""
    def read(name):
        with open(published_run.raw_dir / "billing" / f"{name}.csv", newline="") as fh:
            return list(csv.DictReader(fh))
    customers = {r["customer_id"]: r["account_id"] for r in read("customers")}
    invoices = {
        r["invoice_id"]: {
            "account_id": customers[r["customer_id"]],
            "invoice_date": date.fromisoformat(r["invoice_date"]),
            "due_date": date.fromisoformat(r["due_date"]),
            "status": r["status"],
            "amount_due": Decimal(r["total_amount"]) + Decimal(r["tax_amount"] or "0"),
        }
        for r in read("invoices")
    }
    payments = defaultdict(list)
    for r in read("payments"):
        if r["status"] == "succeeded":
            payments[r["invoice_id"]].append((date.fromisoformat(r["payment_date"]), Decimal(r["amount"])))
    return invoices, payments


def month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def test_invoices_over_30_days_overdue_are_the_planted_ones(planted, marts):
    as_of = marts.execute("select max(as_of_date) from marts.fct_invoices").fetchone()[0]
    assert as_of.isoformat() == planted["as_of"]
    rows = marts.execute(
        "select account_id, invoice_id from marts.fct_invoices "
        "where days_overdue > 30 order by account_id, invoice_id").fetchall()
    actual = defaultdict(list)
    for account, invoice in rows:
        actual[account].append(invoice)
    expected = {a: sorted(ids) for a, ids in planted["overdue_over_30_days"].items()}
    print("planted:", expected, "fct_invoices:", dict(actual))
    assert expected, "the company should have an account more than 30 days overdue"
    assert dict(actual) == expected


def test_overdue_invoices_are_unpaid_open_invoices(marts):
    # over 30 days overdue = open at the as-of date with the whole amount still owed (the
    # generator's overdue invoices are never partly paid), aged past the 1-30 bucket
    rows = marts.execute(
        "select status, outstanding_amount = amount_due, age_bucket, is_paid_on_time "
        "from marts.fct_invoices where days_overdue > 30").fetchall()
    assert rows
    for status, all_owed, bucket, on_time in rows:
        assert status == "open"
        assert all_owed
        assert bucket in ("31-60", "61-90", "90+")
        assert on_time is False


def test_as_of_month_overdue_accounts_match_planted(planted, marts):
    accounts = {a for (a,) in marts.execute(
        "select account_id from marts.fct_account_collections_monthly "
        "where month = (select max(month) from marts.fct_account_collections_monthly) "
        "and overdue_amount_31_60 + overdue_amount_61_90 + overdue_amount_90_plus > 0").fetchall()}
    assert accounts == set(planted["overdue_over_30_days"])
    over_30_accounts, = marts.execute(
        "select overdue_accounts_31_60 + overdue_accounts_61_90 + overdue_accounts_90_plus "
        "from marts.metrics_collections where period_type = 'month' and slice_type = 'all' "
        "and period_start = (select max(period_start) from marts.metrics_collections)").fetchone()
    # the buckets are disjoint per invoice; an account's planted invoices may span two buckets
    assert len(accounts) <= over_30_accounts <= sum(
        len(ids) for ids in planted["overdue_over_30_days"].values())


def test_month_end_balances_match_payments_file(published_run, billing):
    """Receivables at every past month-end, recomputed from the payment dates in the files."""
    invoices, payments = billing
    con = duckdb.connect(str(published_run.build_db), read_only=True)
    try:
        rows = con.execute(
            "select invoice_id, measured_on, outstanding_amount, days_overdue "
            "from intermediate.int_invoice_balances_monthly").fetchall()
        as_of = con.execute("select as_of_date from intermediate.int_as_of_date").fetchone()[0]
    finally:
        con.close()
    actual = {(i, d): (amount, days) for i, d, amount, days in rows}

    expected = {}
    for invoice_id, inv in invoices.items():
        if inv["status"] in ("void", "draft") or inv["amount_due"] == 0 or inv["invoice_date"] > as_of:
            continue
        day = month_end(inv["invoice_date"])
        while True:
            measured = min(day, as_of)
            paid = sum((a for d, a in payments[invoice_id] if d <= measured), Decimal(0))
            owed = inv["amount_due"] - paid
            if owed > 0:
                expected[(invoice_id, measured)] = (owed, max((measured - inv["due_date"]).days, 0))
            if day >= as_of:
                break
            day = month_end(date(day.year + day.month // 12, day.month % 12 + 1, 1))
    assert actual == expected
    # history is not today's status: invoices paid late were overdue at an earlier month-end
    paid_late = [k for k, (_, days) in expected.items()
                 if days > 0 and invoices[k[0]]["status"] == "paid"]
    assert paid_late


def test_paid_on_time_rate_matches_files(marts, billing):
    invoices, payments = billing
    as_of = marts.execute("select max(as_of_date) from marts.fct_invoices").fetchone()[0]
    due = defaultdict(int)
    on_time = defaultdict(int)
    for invoice_id, inv in invoices.items():
        if inv["status"] in ("void", "draft") or inv["amount_due"] == 0:
            continue
        if inv["invoice_date"] > as_of or inv["due_date"] > as_of:
            continue
        month = inv["due_date"].replace(day=1)
        due[month] += 1
        paid = Decimal(0)
        for d, a in sorted(payments[invoice_id]):
            paid += a
            if paid >= inv["amount_due"]:
                on_time[month] += d <= inv["due_date"]
                break
    rows = marts.execute(
        "select period_start, invoices_due, invoices_paid_on_time, paid_on_time_rate "
        "from marts.metrics_collections where period_type = 'month' and slice_type = 'all'"
    ).fetchall()
    checked = 0
    for month, n_due, n_on_time, rate in rows:
        assert n_due == due.get(month, 0), month
        assert n_on_time == on_time.get(month, 0), month
        if n_due:
            assert rate == pytest.approx(n_on_time / n_due)
            checked += 1
        else:
            assert rate is None
    assert checked >= 6
    # some invoices are paid late on this company, so the rate is not trivially 1
    assert sum(on_time.values()) < sum(due.values())


def test_dso_follows_its_formula_and_slices_add_up(marts):
    rows = marts.execute(
        "select receivables_amount, billed_amount, days_in_period, dso_days "
        "from marts.metrics_collections").fetchall()
    assert any(d is not None for *_, d in rows)
    for receivables, billed, days, dso in rows:
        if billed == 0:
            assert dso is None
        else:
            assert dso == pytest.approx(float(receivables) * days / float(billed))
    # every slice type partitions the accounts: its sums equal the 'all' row
    diff = marts.execute(
        "select s.period_type, s.period_start, s.slice_type from ("
        "  select period_type, period_start, slice_type, sum(receivables_amount) as r,"
        "    sum(billed_amount) as b, sum(overdue_accounts) as o, sum(invoices_due) as d"
        "  from marts.metrics_collections group by 1, 2, 3) s "
        "join marts.metrics_collections a on a.period_type = s.period_type "
        "and a.period_start = s.period_start and a.slice_type = 'all' "
        "where s.r <> a.receivables_amount or s.b <> a.billed_amount "
        "or s.o <> a.overdue_accounts or s.d <> a.invoices_due").fetchall()
    assert diff == []


def test_quarter_rows_sum_months_and_take_the_last_month_end(marts):
    diff = marts.execute(
        "select q.period_start from marts.metrics_collections q "
        "join (select date_trunc('quarter', period_start) as quarter_start,"
        "        sum(invoices_due) as due, sum(billed_amount) as billed,"
        "        max(period_start) as last_month"
        "      from marts.metrics_collections"
        "      where period_type = 'month' and slice_type = 'all' group by 1) m"
        "  on q.period_start = m.quarter_start "
        "join marts.metrics_collections l on l.period_type = 'month' and l.slice_type = 'all'"
        "  and l.period_start = m.last_month "
        "where q.period_type = 'quarter' and q.slice_type = 'all' and ("
        "  q.invoices_due <> m.due or q.billed_amount <> m.billed"
        "  or q.receivables_amount <> l.receivables_amount or q.period_end <> l.period_end)"
    ).fetchall()
    assert diff == []
    assert marts.execute(
        "select count(*) from marts.metrics_collections "
        "where period_type = 'quarter' and slice_type = 'all'").fetchone()[0] >= 4
