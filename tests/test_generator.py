"""The sample company generator: contract conformance, determinism and its ground truth.

The ground-truth MRR (computed by the generator from its subscription state) is checked against
an independent recomputation in DuckDB from the invoice lines it wrote, under METRICS.md rules.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.lib.contract import TABLES
from orchestration.lib.loader import load_all
from sample_company import generate
from sample_company.__main__ import main

ACCOUNTS = 30
SEED = 5
AS_OF = date(2025, 12, 15)
SCALE = 0.3  # fewer usage events: the logic is the same, the test is faster


def _gen(out: Path, seed: int = SEED):
    return generate(out, accounts=ACCOUNTS, seed=seed, as_of=AS_OF, months=36, usage_scale=SCALE)


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "raw"
    _gen(out)
    return out


@pytest.fixture(scope="module")
def raw_db(company, tmp_path_factory) -> duckdb.DuckDBPyConnection:
    """The exports loaded by the pipeline's own contract-checked loader."""
    db = tmp_path_factory.mktemp("db") / "load.duckdb"
    results = load_all(db, company)
    bad = {r.table_name: r.quarantine_by_rule for r in results if r.rows_quarantined}
    assert not bad, f"rows quarantined: {bad}"
    con = duckdb.connect(str(db))
    yield con
    con.close()


@pytest.fixture(scope="module")
def truth(company) -> dict:
    gt = company / "_ground_truth"
    return {
        "manifest": json.loads((gt / "manifest.json").read_text()),
        "planted": json.loads((gt / "planted.json").read_text()),
    }


def _csv(path: Path) -> str:
    return f"read_csv('{path}', header=true, all_varchar=true)"


def _hashes(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _manifest_without_timing(root: Path) -> dict:
    m = json.loads((root / "_ground_truth" / "manifest.json").read_text())
    m.pop("generation_seconds")
    return m


# ---------------------------------------------------------------- determinism and layout
def test_same_seed_gives_identical_files_and_other_seed_differs(company, tmp_path):
    again = tmp_path / "again"
    _gen(again)
    assert _hashes(again) == _hashes(company)
    assert _manifest_without_timing(again) == _manifest_without_timing(company)
    other = tmp_path / "other"
    _gen(other, seed=SEED + 1)
    a, b = _hashes(company), _hashes(other)
    assert a.keys() == b.keys()
    assert a["billing/invoice_lines.csv"] != b["billing/invoice_lines.csv"]
    assert a["product/usage_events.parquet"] != b["product/usage_events.parquet"]


def test_previous_output_is_cleared_and_other_files_kept(tmp_path):
    out = tmp_path / "raw"
    (out / "crm").mkdir(parents=True)
    (out / "crm" / "accounts.json").write_text("[]")  # would clash with accounts.csv
    (out / "_ground_truth").mkdir()
    (out / "_ground_truth" / "stale.txt").write_text("old")
    (out / "notes.txt").write_text("mine")
    generate(out, accounts=3, seed=1, usage_scale=0.05)
    assert not (out / "crm" / "accounts.json").exists()
    assert not (out / "_ground_truth" / "stale.txt").exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "crm" / "accounts.csv").exists()


def test_cli_help_and_summary(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "--accounts" in capsys.readouterr().out
    assert (
        main(
            [
                "--accounts",
                "2",
                "--seed",
                "3",
                "--out",
                str(tmp_path / "r"),
                "--usage-scale",
                "0.05",
            ]
        )
        == 0
    )
    line = capsys.readouterr().out.strip()
    assert line.startswith("sample_company: 2 accounts,") and str(tmp_path / "r") in line


def test_every_contract_table_written_with_exact_columns(company):
    for spec in TABLES:
        if (spec.system, spec.entity) == ("product", "usage_events"):
            path = company / "product" / "usage_events.parquet"
            assert path.exists()
            assert pq.read_schema(path).names == spec.column_names
            continue
        path = company / spec.system / f"{spec.entity}.csv"
        assert path.exists(), path
        header = path.read_text().splitlines()[0].split(",")
        assert header == spec.column_names, spec.name
        others = [p for p in (company / spec.system).glob(f"{spec.entity}.*") if p != path]
        assert not others


def test_usage_events_parquet_types(company):
    schema = pq.read_schema(company / "product" / "usage_events.parquet")
    types = {f.name: str(f.type) for f in schema}
    assert types == {
        "event_id": "string",
        "user_id": "string",
        "account_id": "string",
        "event_at": "timestamp[us]",
        "feature_key": "string",
        "duration_seconds": "int32",
    }


def test_text_formats(company):
    lines = (company / "billing" / "invoice_lines.csv").read_text().splitlines()
    header = lines[0].split(",")
    row = dict(zip(header, lines[1].split(","), strict=False))
    assert len(row["amount"].split(".")[1]) == 2
    date.fromisoformat(row["service_period_start"])
    ticket = (company / "support" / "tickets.csv").read_text().splitlines()[1].split(",")
    assert len(ticket[5]) == 19 and ticket[5][10] == " "  # YYYY-MM-DD HH:MM:SS


# ---------------------------------------------------------------- contract rules
def test_loader_quarantines_nothing_and_rules_hold(raw_db):
    con = raw_db
    for spec in TABLES:
        t = f"raw.{spec.name}"
        assert con.execute(f"select count(*) from {t}").fetchone()[0] > 0, spec.name
        key = ", ".join(spec.primary_key)
        dupes = con.execute(
            f"select count(*) from (select {key} from {t} group by all having count(*) > 1)"
        ).fetchone()[0]
        assert dupes == 0, f"{spec.name}: duplicate keys"
        for c in spec.columns:
            col = f'"{c.name}"'
            checks = []
            if c.required:
                checks.append(f"{col} is null")
            if c.enum:
                values = ", ".join(f"'{v}'" for v in c.enum)
                checks.append(f"{col} is not null and {col} not in ({values})")
            if c.min_value is not None:
                checks.append(f"{col} < {c.min_value}")
            if c.max_value is not None:
                checks.append(f"{col} > {c.max_value}")
            for cond in checks:
                n = con.execute(f"select count(*) from {t} where {cond}").fetchone()[0]
                assert n == 0, f"{spec.name}: {n} rows where {cond}"
            if c.references:
                ref_table, ref_col = c.references.split(".")
                n = con.execute(
                    f"select count(*) from {t} where {col} is not null and {col} not in "
                    f"(select {ref_col} from raw.{ref_table})"
                ).fetchone()[0]
                assert n == 0, f"{spec.name}.{c.name}: {n} unresolved references"


def test_nothing_happens_after_the_as_of_date(raw_db):
    con = raw_db
    end = f"timestamp '{AS_OF} 23:59:59'"
    for table, col in [
        ("billing_invoices", "invoice_date"),
        ("billing_payments", "payment_date"),
        ("crm_activities", "activity_date"),
        ("crm_contacts", "left_date"),
        ("crm_opportunities", "created_date"),
        ("crm_opportunities", "close_date"),
        ("product_users", "deactivated_date"),
        ("product_usage_events", "event_at"),
        ("support_tickets", "solved_at"),
        ("surveys_nps_responses", "responded_date"),
        ("crm_lifecycle_stages", "entered_date"),
        ("crm_csm_pulse", "pulse_date"),
    ]:
        n = con.execute(f"select count(*) from raw.{table} where {col} > {end}").fetchone()[0]
        assert n == 0, f"{table}.{col} after the as-of date"
    latest = con.execute("select max(invoice_date) from raw.billing_invoices").fetchone()[0]
    assert latest == AS_OF


def test_billing_consistency(raw_db):
    con = raw_db
    # one recurring line per invoice; totals = lines - discounts - credits; customers keep
    # one currency; payments never exceed what is due
    assert (
        con.execute("""
        select count(*) from (select invoice_id from raw.billing_invoice_lines
        where line_type = 'recurring' group by 1 having count(*) > 1)""").fetchone()[0]
        == 0
    )
    assert (
        con.execute("""
        with t as (
            select invoice_id, sum(case when line_type = 'credit' then -amount
                                        else amount - discount_amount end) as total
            from raw.billing_invoice_lines group by 1)
        select count(*) from raw.billing_invoices i join t using (invoice_id)
        where t.total <> i.total_amount""").fetchone()[0]
        == 0
    )
    assert (
        con.execute("""
        select count(*) from raw.billing_invoice_lines l join raw.billing_customers c
        using (customer_id) where l.currency <> c.currency""").fetchone()[0]
        == 0
    )
    assert (
        con.execute("""
        select count(*) from raw.billing_subscriptions s
        join raw.billing_plans p using (plan_id) join raw.billing_customers c using (customer_id)
        where p.currency <> c.currency""").fetchone()[0]
        == 0
    )
    # non-recurring lines never carry a plan; recurring lines always do
    assert (
        con.execute("""
        select count(*) from raw.billing_invoice_lines
        where (line_type = 'recurring') <> (plan_id is not null)""").fetchone()[0]
        == 0
    )
    # fx: one rate per currency per month, USD = 1
    assert (
        con.execute(
            "select count(*) from raw.billing_fx_rates where currency = 'USD' "
            "and rate_to_reporting <> 1"
        ).fetchone()[0]
        == 0
    )
    # paid invoices with something due have a succeeded payment; open ones have none
    assert (
        con.execute("""
        select count(*) from raw.billing_invoices i where status = 'paid' and total_amount > 0
        and not exists (select 1 from raw.billing_payments p
                        where p.invoice_id = i.invoice_id and p.status = 'succeeded')
    """).fetchone()[0]
        == 0
    )
    assert (
        con.execute("""
        select count(*) from raw.billing_invoices i where status = 'open'
        and exists (select 1 from raw.billing_payments p
                    where p.invoice_id = i.invoice_id and p.status = 'succeeded')
    """).fetchone()[0]
        == 0
    )


def test_dates_are_in_order(raw_db):
    con = raw_db
    for sql in [
        (
            "select count(*) from raw.crm_opportunities o join raw.crm_accounts a"
            " using (account_id) where o.created_date < a.created_date"
        ),
        "select count(*) from raw.crm_opportunities where close_date < created_date",
        "select count(*) from raw.crm_opportunities where contract_end_date < contract_start_date",
        "select count(*) from raw.crm_contacts where left_date <= active_from",
        "select count(*) from raw.product_users where deactivated_date <= provisioned_date",
        (
            "select count(*) from raw.support_tickets where first_response_at < created_at"
            " or solved_at < first_response_at"
        ),
        "select count(*) from raw.billing_invoices where due_date < invoice_date",
        (
            "select count(*) from raw.billing_invoice_lines"
            " where service_period_end <= service_period_start"
        ),
        (
            "select count(*) from raw.billing_payments p join raw.billing_invoices i"
            " using (invoice_id) where p.payment_date < i.invoice_date"
        ),
        "select count(*) from raw.support_incidents where resolved_at < started_at",
        (
            "select count(*) from raw.product_usage_events e join raw.product_users u"
            " using (user_id) where cast(e.event_at as date) < u.provisioned_date"
            " or cast(e.event_at as date) >= u.deactivated_date or e.account_id <> u.account_id"
        ),
    ]:
        assert con.execute(sql).fetchone()[0] == 0, sql


# ---------------------------------------------------------------- ground truth: MRR
MRR_FROM_INVOICES = """
with lines as (
    select
        c.account_id,
        l.currency,
        cast(l.service_period_start as date) as period_start,
        cast(l.service_period_end as date) as period_end,
        cast(l.amount as decimal(18, 2)) - coalesce(cast(l.discount_amount as decimal(18, 2)), 0)
            as net_amount,
        p.billing_interval,
        cast(p.interval_count as integer) as interval_count
    from {lines} l
    join {plans} p on p.plan_id = l.plan_id
    join {customers} c on c.customer_id = l.customer_id
    where l.line_type = 'recurring'
),
normalised as (
    select *,
        net_amount / case billing_interval
            when 'month' then interval_count
            when 'quarter' then 3 * interval_count
            when 'year' then 12 * interval_count
            when 'week' then interval_count * 12.0 / 52
        end as monthly_amount
    from lines
),
fx as (
    select currency, cast(rate_month as date) as rate_month,
           cast(rate_to_reporting as double) as rate
    from {fx}
),
months as (
    select cast(m as date) as month_start
    from generate_series(date '{first}', date '{as_of}', interval 1 month) as g(m)
),
evaluation as (
    select strftime(month_start, '%Y-%m') as month,
           least(last_day(month_start), date '{as_of}') as day
    from months
)
select n.account_id, e.month, round(sum(n.monthly_amount * fx.rate), 2) as mrr_usd
from normalised n
join evaluation e on n.period_start <= e.day and e.day < n.period_end
join fx on fx.currency = n.currency and fx.rate_month = date_trunc('month', n.period_start)
group by all
having sum(n.monthly_amount) > 0
"""


def _cents(x) -> int:
    return int((Decimal(str(x)) * 100).to_integral_value())


def test_ground_truth_mrr_equals_recomputation_from_invoice_lines(company, truth):
    m = truth["manifest"]
    first = date.fromisoformat(m["history_start"])
    sql = MRR_FROM_INVOICES.format(
        lines=_csv(company / "billing" / "invoice_lines.csv"),
        plans=_csv(company / "billing" / "plans.csv"),
        customers=_csv(company / "billing" / "customers.csv"),
        fx=_csv(company / "billing" / "fx_rates.csv"),
        first=first,
        as_of=m["as_of"],
    )
    recomputed = {(a, mo): _cents(v) for a, mo, v in duckdb.sql(sql).fetchall()}
    gt_file = _csv(company / "_ground_truth" / "account_month_mrr.csv")
    gt = duckdb.sql(f"select account_id, month, mrr_usd from {gt_file}").fetchall()
    expected = {(a, mo): _cents(v) for a, mo, v in gt if _cents(v) > 0}
    assert recomputed == expected
    assert len(expected) > 100


def test_movements_reconcile_and_follow_the_definitions(company):
    rows = duckdb.sql(
        f"select * from {_csv(company / '_ground_truth' / 'account_month_mrr.csv')} "
        "order by account_id, month"
    ).fetchall()
    cols = [
        "account_id",
        "month",
        "currency",
        "mrr_local",
        "mrr_usd",
        "previous_mrr_usd",
        "movement",
        "movement_mrr_usd",
    ]
    by_account: dict[str, list[dict]] = {}
    for r in rows:
        by_account.setdefault(r[0], []).append(dict(zip(cols, r, strict=False)))
    kinds = set()
    for account, rs in by_account.items():
        last_month, last_end, ever = None, 0, False
        total = {k: 0 for k in ("new", "reactivation", "expansion", "contraction", "churn")}
        for r in rs:
            start, end = _cents(r["previous_mrr_usd"]), _cents(r["mrr_usd"])
            assert start > 0 or end > 0
            y, mo = map(int, r["month"].split("-"))
            prev_label = f"{y - (mo == 1)}-{12 if mo == 1 else mo - 1:02d}"
            assert start == (last_end if last_month == prev_label else 0), (account, r)
            mv = r["movement"]
            kinds.add(mv)
            expected = (
                "new"
                if start == 0 and not ever
                else "reactivation"
                if start == 0
                else "churn"
                if end == 0
                else "expansion"
                if end > start
                else "contraction"
                if end < start
                else "unchanged"
            )
            assert mv == expected, (account, r)
            amount = abs(end - start)
            if mv != "unchanged":
                total[mv] += amount
            # per row: start + new + reactivation + expansion - contraction - churn = end
            signed = {
                "new": amount,
                "reactivation": amount,
                "expansion": amount,
                "contraction": -amount,
                "churn": -amount,
                "unchanged": 0,
            }[mv]
            assert start + signed == end
            assert _cents(r["movement_mrr_usd"]) == end - start
            ever = ever or end > 0
            last_month, last_end = r["month"], end
        # per account over the whole history (the first start is 0)
        assert (
            total["new"]
            + total["reactivation"]
            + total["expansion"]
            - total["contraction"]
            - total["churn"]
        ) == last_end
    assert {"new", "expansion", "contraction", "churn", "unchanged"} <= kinds


# ---------------------------------------------------------------- ground truth: scenarios
def test_planted_billing_scenarios_show_in_the_movements(company, truth):
    p = truth["planted"]
    mv = {
        (a, mo): m
        for a, mo, m in duckdb.sql(
            f"select account_id, month, movement from "
            f"{_csv(company / '_ground_truth' / 'account_month_mrr.csv')}"
        ).fetchall()
    }
    assert p["churned"] and p["reactivated"] and p["expanded"] and p["contracted"]
    assert p["trial_only"]
    for account, months in p["churned"].items():
        for month in months:
            assert mv[(account, month)] == "churn"
    for account, months in p["reactivated"].items():
        for month in months:
            assert mv[(account, month)] == "reactivation"
    accounts_with_mrr = {a for a, _ in mv}
    assert not set(p["trial_only"]) & accounts_with_mrr
    for account, month in p["usage_decay_before_churn"].items():
        assert month in p["churned"][account]
    currencies = dict(
        duckdb.sql(
            f"select account_id, currency from {_csv(company / 'billing' / 'customers.csv')}"
        ).fetchall()
    )
    assert p["currency_by_account"] == currencies
    assert set(currencies.values()) >= {"USD"}


def test_planted_trials_are_zero_mrr_customers(raw_db, truth):
    con = raw_db
    for account in truth["planted"]["trial_only"]:
        status, trial_end = con.execute(
            """
            select s.status, s.trial_end_date from raw.billing_subscriptions s
            join raw.billing_customers c using (customer_id) where c.account_id = ?""",
            [account],
        ).fetchone()
        assert status in ("trialing", "canceled") and trial_end is not None
        net = con.execute(
            """
            select sum(amount - discount_amount) from raw.billing_invoice_lines l
            join raw.billing_customers c using (customer_id)
            where c.account_id = ? and line_type = 'recurring'""",
            [account],
        ).fetchone()[0]
        assert net == 0


def test_planted_usage_drop_matches_the_events(raw_db, truth, company):
    con = raw_db
    a = AS_OF
    last_start, prev_start, prev_end = a - timedelta(27), a - timedelta(55), a - timedelta(28)
    usage = {
        r[0]: r[1:]
        for r in con.execute(f"""
        select account_id,
            count(distinct user_id) filter (where cast(event_at as date) >= date '{last_start}'),
            count(distinct user_id) filter (where cast(event_at as date) between
                date '{prev_start}' and date '{prev_end}'),
            count(*) filter (where cast(event_at as date) >= date '{last_start}'),
            count(*) filter (where cast(event_at as date) between
                date '{prev_start}' and date '{prev_end}')
        from raw.product_usage_events group by 1""").fetchall()
    }
    gt = duckdb.sql(
        f"select * from {_csv(company / '_ground_truth' / 'account_usage_at_as_of.csv')}"
    ).fetchall()
    for account, _seats, _provisioned, u_last, u_prev, e_last, e_prev in gt:
        got = usage.get(account, (0, 0, 0, 0))
        assert tuple(map(int, (u_last, u_prev, e_last, e_prev))) == got, account
    planted = truth["planted"]["adoption_drop"]
    assert planted
    for account in planted:
        u_last, u_prev, e_last, e_prev = usage[account]
        assert u_last <= 0.7 * u_prev and e_last <= 0.7 * e_prev
    provisioned = dict(
        con.execute(f"""
        select account_id, count(*) from raw.product_users
        where provisioned_date <= date '{a}' and deactivated_date is null group by 1""").fetchall()
    )
    for account, _seats, prov, *_ in gt:
        assert int(prov) == provisioned.get(account, 0)


def test_planted_support_voice_and_relationship_signals(raw_db, truth):
    con = raw_db
    p = truth["planted"]
    breached = [t for ts in p["sla_breach_accounts"].values() for t in ts]
    assert breached
    met_both = con.execute(f"""
        select count(*) from raw.support_tickets t join raw.support_sla_policies s using (priority)
        where ticket_id in ({", ".join(f"'{t}'" for t in breached)})
          and coalesce(first_response_at, timestamp '{AS_OF} 23:59:59')
              <= created_at + to_minutes(s.first_response_target_minutes)""").fetchone()[0]
    assert met_both == 0
    others_breach = con.execute(f"""
        select count(*) from raw.support_tickets t join raw.support_sla_policies s using (priority)
        where ticket_id not in ({", ".join(f"'{t}'" for t in breached)})
          and (coalesce(first_response_at, timestamp '{AS_OF} 23:59:59')
                > created_at + to_minutes(s.first_response_target_minutes)
               or coalesce(solved_at, timestamp '{AS_OF} 23:59:59')
                > created_at + to_minutes(s.resolution_target_minutes))""").fetchone()[0]
    assert others_breach == 0
    detractors = {
        r[0]
        for r in con.execute(f"""
        select distinct account_id from raw.surveys_nps_responses
        where score <= 6 and responded_date > date '{AS_OF}' - 30""").fetchall()
    }
    assert detractors == set(p["detractor_accounts"]) and detractors
    left = dict(
        con.execute(f"""
        select account_id, max(left_date) from raw.crm_contacts
        where role in ('sponsor', 'champion') and left_date > date '{AS_OF}' - 90
        group by 1""").fetchall()
    )
    assert {a: str(d) for a, d in left.items()} == p["champion_left"] and left
    for cid, outcome in p["renewals"].items():
        assert outcome in ("renewed", "churned", "pending")
        stage = con.execute(
            "select stage, contract_end_date from raw.crm_opportunities where opportunity_id = ?",
            [cid],
        ).fetchone()
        assert stage[0] == "closed_won" and stage[1] is not None
    assert set(p["renewals"].values()) >= {"renewed", "pending"}
