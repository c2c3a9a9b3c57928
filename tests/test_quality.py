"""The raw quality gate: generated suites, both runners, and the Dagster checks on tiny exports.

Every count asserted here was worked out by hand from the CSV rows written in the test.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.quality.checks import (
    EXPECTATIONS_CHECK,
    FOREIGN_KEYS_CHECK,
    OVERLAPS_CHECK,
    VOLUME_CHECK,
    build_raw_quality_checks,
)
from orchestration.lib import expectations as ex
from orchestration.lib.contract import TABLES, get_table
from orchestration.lib.loader import connect, create_empty_table, ensure_raw_schema, load_table
from orchestration.lib.warehouse import Warehouse

ROSTER = "csm_id,csm_name,email,team,start_date,end_date\ncsm1,Ann,,pod1,2020-01-01,\ncsm2,Bob,,pod2,2020-01-01,\n"
ACCOUNTS_HEADER = "account_id,account_name,segment,industry,region,owner_csm_id,created_date\n"
ACCOUNTS = (
    ACCOUNTS_HEADER
    + "acc1,Acme,smb,Tech,NA,csm1,2021-01-01\n"
    + "acc2,Beta,enterprise,Retail,EMEA,csm2,2021-02-01\n"
    + "acc3,Gamma,mid_market,,APAC,,2021-03-01\n"
)
CONTACTS_HEADER = "contact_id,account_id,full_name,email,role,active_from,left_date\n"
CONTACTS = (
    CONTACTS_HEADER
    + "con1,acc1,Cat,,sponsor,2021-01-01,\n"
    + "con2,acc1,Dan,,champion,2021-01-01,2022-06-30\n"
    + "con3,acc2,Eve,,end_user,2021-02-01,\n"
    + "con4,acc3,Fay,,technical,2021-03-01,\n"
)
INVOICES_HEADER = (
    "invoice_id,customer_id,invoice_date,due_date,status,currency,total_amount,tax_amount\n"
)
INVOICES = (
    INVOICES_HEADER
    + "inv1,cus1,2024-01-01,2024-01-31,paid,USD,100.00,20.00\n"
    + "inv2,cus1,2024-02-01,2024-03-02,open,USD,100.00,\n"
    + "inv3,cus2,2024-01-15,2024-02-14,paid,EUR,250.50,0\n"
)
CUSTOMERS = (
    "customer_id,account_id,customer_name,currency,created_date\n"
    "cus1,acc1,Acme Inc,USD,2021-01-01\ncus2,acc2,Beta GmbH,EUR,2021-02-01\n"
)
QUOTAS_HEADER = "owner_id,quarter_start,quota_type,amount,currency\n"
QUOTAS = (
    QUOTAS_HEADER
    + "rep1,2024-01-01,renewal,1000,USD\n"
    + "rep1,2024-01-01,expansion,500,USD\n"
    + "rep1,2024-04-01,renewal,1000,USD\n"
    + "rep2,2024-01-01,renewal,800,USD\n"
)
USERS = (
    "user_id,account_id,email,provisioned_date,deactivated_date\n"
    "u1,acc1,,2021-01-01,\nu2,acc2,,2021-02-01,\n"
)
FEATURES = "feature_key,feature_name,is_key_feature,released_date\nf1,Reports,true,\nf2,Alerts,false,\n"
EVENTS_HEADER = "event_id,user_id,account_id,event_at,feature_key,duration_seconds\n"


def events_csv(days: list[str]) -> str:
    """Two events a day on each of ``days``."""
    rows = []
    for n, day in enumerate(days):
        rows.append(f"e{2 * n},u1,acc1,{day} 09:00:00,f1,30\n")
        rows.append(f"e{2 * n + 1},u2,acc2,{day} 17:30:00,f2,\n")
    return EVENTS_HEADER + "".join(rows)


CLEAN = {
    "crm_csm_roster": ROSTER,
    "crm_accounts": ACCOUNTS,
    "crm_contacts": CONTACTS,
    "billing_customers": CUSTOMERS,
    "billing_invoices": INVOICES,
    "crm_quotas": QUOTAS,
    "product_users": USERS,
    "product_features": FEATURES,
    "product_usage_events": events_csv([f"2024-03-{d:02d}" for d in range(1, 11)]),
}


def build_warehouse(tmp_path: Path, exports: dict[str, str]) -> Warehouse:
    """A build database whose ``raw`` schema holds ``exports`` (table name -> CSV text); every
    other contract table exists and is empty."""
    raw_dir, warehouse_dir = tmp_path / "raw", tmp_path / "warehouse"
    for table, text in exports.items():
        spec = get_table(table)
        path = raw_dir / spec.system / f"{spec.entity}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    warehouse = Warehouse(raw_dir=str(raw_dir), warehouse_dir=str(warehouse_dir))
    con = connect(warehouse.build_db)
    try:
        ensure_raw_schema(con)
        for spec in TABLES:
            if spec.name in exports:
                result = load_table(con, spec, raw_dir)
                assert result.rows_quarantined == 0, (spec.name, result)
            else:
                create_empty_table(con, spec)
    finally:
        con.close()
    return warehouse


@pytest.fixture(scope="module")
def checks() -> dict[tuple[str, str], dg.AssetChecksDefinition]:
    """Every quality check, by (table, check name)."""
    out = {}
    for check in build_raw_quality_checks():
        (key,) = check.check_keys
        out[(key.asset_key.path[-1], key.name)] = check
    return out


def run_check(checks, table: str, name: str, warehouse: Warehouse) -> dg.AssetCheckResult:
    """Invoke one check directly, with the warehouse resource, as Dagster would."""
    check = checks[(table, name)]
    if name == VOLUME_CHECK:  # takes no context
        return check(warehouse=warehouse)
    return check(
        dg.build_asset_check_context(resources={"warehouse": warehouse}, instance=_instance())
    )


@functools.cache
def _instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def failures(result: dg.AssetCheckResult) -> dict:
    return result.metadata["failures"].data


def unexpected_by_expectation(result: dg.AssetCheckResult) -> dict[str, int]:
    return {
        v["expectation"] + ":" + ",".join(
            v["kwargs"].get("column_list")
            or ([v["kwargs"]["column_A"], v["kwargs"]["column_B"]] if "column_A" in v["kwargs"]
                else [v["kwargs"].get("column", "")])
        ): v["unexpected_count"]
        for v in failures(result).values()
    }


# ------------------------------------------------------------------------------ the suites


def test_committed_suites_equal_the_generated_ones():
    """`python -m orchestration.lib.expectations` has been run after the last contract change."""
    for spec in TABLES:
        path = ex.suite_path(spec.name)
        assert path.exists(), f"missing {path}: run python -m orchestration.lib.expectations"
        assert path.read_text() == ex.render_suite(ex.build_suite(spec)), (
            f"{path} is stale: run python -m orchestration.lib.expectations"
        )
    on_disk = {p.stem for p in ex.EXPECTATIONS_DIR.glob("*.json")}
    assert on_disk == {spec.name for spec in TABLES}


def test_suite_contents_follow_the_contract():
    suite = ex.build_suite(get_table("billing_invoices"))
    got = [(e["type"], e["kwargs"]) for e in suite["expectations"]]
    assert ("expect_column_values_to_be_unique", {"column": "invoice_id"}) in got
    assert ("expect_column_values_to_not_be_null", {"column": "invoice_id"}) in got
    assert ("expect_column_values_to_not_be_null", {"column": "customer_id"}) in got
    assert ("expect_column_values_to_not_be_null", {"column": "tax_amount"}) not in got  # optional
    assert (
        "expect_column_values_to_be_between",
        {"column": "total_amount", "min_value": 0, "max_value": 10_000_000_000},
    ) in got
    assert (
        "expect_column_values_to_be_between",
        {"column": "invoice_date", "max_value": {"$PARAMETER": "latest_plausible_date"}},
    ) in got
    assert (
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "due_date", "column_B": "invoice_date", "or_equal": True,
         "ignore_row_if": "either_value_is_missing"},
    ) in got
    assert (
        "expect_column_values_to_be_in_set",
        {"column": "status", "value_set": ["draft", "open", "paid", "void", "uncollectible"]},
    ) in got
    assert (
        "expect_column_values_to_be_between",
        {"column": "invoice_date", "min_value": "2000-01-01", "max_value": "2100-12-31"},
    ) in got
    quotas = ex.build_suite(get_table("crm_quotas"))["expectations"]
    assert {
        "type": "expect_compound_columns_to_be_unique",
        "kwargs": {"column_list": ["owner_id", "quarter_start", "quota_type"]},
        "meta": {"rule": "key_unique", "source": "contract"},
        "severity": "critical",
    } in quotas
    tickets = ex.build_suite(get_table("support_tickets"))["expectations"]
    assert {
        "column": "created_at",
        "min_value": ex.TIMESTAMP_RANGE_MIN,
        "max_value": ex.TIMESTAMP_RANGE_MAX,
    } in [e["kwargs"] for e in tickets]
    nps = ex.build_suite(get_table("surveys_nps_responses"))["expectations"]
    assert {"column": "score", "min_value": 0, "max_value": 10} in [e["kwargs"] for e in nps]


def test_every_suite_loads_in_great_expectations():
    for spec in TABLES:
        gx_suite = ex.to_gx_suite(ex.load_suite(spec.name))
        assert len(gx_suite.expectations) == len(ex.load_suite(spec.name)["expectations"])


def test_overrides_are_appended(tmp_path):
    overrides = tmp_path / "overrides"
    overrides.mkdir()
    (overrides / "crm_accounts.json").write_text(
        json.dumps(
            [
                {
                    "type": "expect_column_values_to_be_in_set",
                    "kwargs": {"column": "region", "value_set": ["NA", "EMEA", "APAC", "LATAM"]},
                    "severity": "warning",
                }
            ]
        )
    )
    spec = get_table("crm_accounts")
    suite = ex.build_suite(spec, tmp_path)
    assert suite["expectations"][:-1] == ex.contract_expectations(spec)
    assert suite["expectations"][-1] == {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": {"column": "region", "value_set": ["NA", "EMEA", "APAC", "LATAM"]},
        "meta": {"rule": "override", "source": "override"},
        "severity": "warning",
    }
    ex.write_suites(tmp_path, (spec,))
    assert ex.load_suite("crm_accounts", tmp_path) == suite


# ---------------------------------------------------------------------------- the checks


def test_clean_tables_pass(tmp_path, checks):
    warehouse = build_warehouse(tmp_path, CLEAN)
    for table in CLEAN:
        result = run_check(checks, table, EXPECTATIONS_CHECK, warehouse)
        assert result.passed, (table, result.description)
        assert result.metadata["expectations_failed"].value == 0
        assert result.metadata["expectations_evaluated"].value == len(
            ex.load_suite(table)["expectations"]
        )
        if (table, FOREIGN_KEYS_CHECK) in checks:
            fk = run_check(checks, table, FOREIGN_KEYS_CHECK, warehouse)
            assert fk.passed, (table, fk.description)
            assert fk.metadata["dangling_rows"].value == 0
    accounts = run_check(checks, "crm_accounts", EXPECTATIONS_CHECK, warehouse)
    assert accounts.metadata["engine"].value == "great_expectations"
    assert accounts.metadata["rows_validated"].value == 3
    assert "| pass |" in accounts.metadata["summary"].value
    events = run_check(checks, "product_usage_events", EXPECTATIONS_CHECK, warehouse)
    assert events.metadata["engine"].value == "duckdb_sql"  # the large table never goes to pandas
    assert events.metadata["rows_validated"].value == 20


def test_duplicate_keys_fail_with_the_count_of_duplicated_rows(tmp_path, checks):
    accounts = (
        ACCOUNTS
        + "acc1,Acme again,smb,,,,2021-01-01\n"  # acc1 twice
        + "acc2,Beta again,smb,,,,2021-01-01\n"  # acc2 three times
        + "acc2,Beta thrice,smb,,,,2021-01-01\n"
    )
    quotas = QUOTAS + "rep1,2024-01-01,renewal,900,USD\n"  # (rep1, 2024-01-01, renewal) twice
    warehouse = build_warehouse(
        tmp_path, {"crm_csm_roster": ROSTER, "crm_accounts": accounts, "crm_quotas": quotas}
    )
    result = run_check(checks, "crm_accounts", EXPECTATIONS_CHECK, warehouse)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.ERROR
    # GX counts every row whose key occurs more than once: 2 (acc1) + 3 (acc2).
    assert unexpected_by_expectation(result) == {
        "expect_column_values_to_be_unique:account_id": 5
    }
    (failure,) = failures(result).values()
    assert set(failure["sample_values"]) == {"acc1", "acc2"}
    assert sorted(r["account_id"] for r in failure["sample_rows"]) == ["acc1"] * 2 + ["acc2"] * 3

    result = run_check(checks, "crm_quotas", EXPECTATIONS_CHECK, warehouse)
    assert not result.passed
    assert unexpected_by_expectation(result) == {
        "expect_compound_columns_to_be_unique:owner_id,quarter_start,quota_type": 2
    }


def test_values_outside_an_enum_fail(tmp_path, checks):
    contacts = (
        CONTACTS
        + "con5,acc1,Gus,,ceo,2021-01-01,\n"
        + "con6,acc2,Hal,,ceo,2021-01-01,\n"
        + "con7,acc2,Ida,,CHAMPION,2021-01-01,\n"  # case matters
    )
    warehouse = build_warehouse(
        tmp_path, {"crm_csm_roster": ROSTER, "crm_accounts": ACCOUNTS, "crm_contacts": contacts}
    )
    result = run_check(checks, "crm_contacts", EXPECTATIONS_CHECK, warehouse)
    assert not result.passed
    assert unexpected_by_expectation(result) == {"expect_column_values_to_be_in_set:role": 3}
    (failure,) = failures(result).values()
    assert sorted(failure["sample_values"]) == ["CHAMPION", "ceo"]
    assert sorted(r["contact_id"] for r in failure["sample_rows"]) == ["con5", "con6", "con7"]
    assert "FAIL" in result.metadata["summary"].value


def test_negative_amounts_and_implausible_dates_fail(tmp_path, checks):
    invoices = (
        INVOICES
        + "inv4,cus1,2024-03-01,2024-03-31,paid,USD,-10.00,0\n"  # negative total
        + "inv5,cus1,2024-03-01,2024-03-31,paid,USD,-0.01,-2.00\n"  # negative total and tax
        + "inv6,cus2,1999-12-31,2024-03-31,paid,USD,0,\n"  # invoice date too early
        + "inv7,cus2,2024-03-01,0202-03-31,paid,USD,5,\n"  # typo'd year: outside pandas' ns range
    )
    warehouse = build_warehouse(
        tmp_path,
        {
            "crm_csm_roster": ROSTER, "crm_accounts": ACCOUNTS,
            "billing_customers": CUSTOMERS, "billing_invoices": invoices,
        },
    )
    result = run_check(checks, "billing_invoices", EXPECTATIONS_CHECK, warehouse)
    assert not result.passed
    assert unexpected_by_expectation(result) == {
        "expect_column_values_to_be_between:total_amount": 2,
        "expect_column_values_to_be_between:tax_amount": 1,
        "expect_column_values_to_be_between:invoice_date": 1,
        "expect_column_values_to_be_between:due_date": 1,
        # inv7 is also due before it was issued
        "expect_column_pair_values_a_to_be_greater_than_b:due_date,invoice_date": 1,
    }
    assert result.metadata["unexpected_rows"].value == 6
    by_label = {k.split(": ", 1)[1]: v for k, v in failures(result).items()}
    assert sorted(by_label["expect_column_values_to_be_between(total_amount)"]["sample_values"]) == [
        -10.0, -0.01
    ]
    assert by_label["expect_column_values_to_be_between(due_date)"]["sample_rows"] == [
        {"invoice_id": "inv7", "due_date": "0202-03-31 00:00:00"}
    ]


def test_dangling_foreign_keys_fail(tmp_path, checks):
    accounts = ACCOUNTS + "acc4,Delta,smb,,,csm9,2021-04-01\n"  # owner not in the roster
    contacts = (
        CONTACTS
        + "con5,acc9,Gus,,sponsor,2021-01-01,\n"
        + "con6,acc9,Hal,,sponsor,2021-01-01,\n"
        + "con7,acc8,Ida,,sponsor,2021-01-01,\n"
    )
    warehouse = build_warehouse(
        tmp_path, {"crm_csm_roster": ROSTER, "crm_accounts": accounts, "crm_contacts": contacts}
    )
    result = run_check(checks, "crm_contacts", FOREIGN_KEYS_CHECK, warehouse)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["dangling_rows"].value == 3
    failure = failures(result)["account_id -> crm_accounts.account_id"]
    assert (failure["rows_checked"], failure["dangling_rows"], failure["dangling_values"]) == (7, 3, 2)
    assert failure["sample_values"] == [{"value": "acc9", "rows": 2}, {"value": "acc8", "rows": 1}]
    assert [r["contact_id"] for r in failure["sample_rows"]] == ["con5", "con6", "con7"]

    # A null reference is not dangling (acc3 has no owner); csm9 is.
    result = run_check(checks, "crm_accounts", FOREIGN_KEYS_CHECK, warehouse)
    assert not result.passed
    assert result.metadata["dangling_rows"].value == 1
    assert failures(result)["owner_csm_id -> crm_csm_roster.csm_id"]["sample_rows"] == [
        {"account_id": "acc4", "owner_csm_id": "csm9"}
    ]
    # The suites themselves are fine: references are the foreign-key check's job.
    assert run_check(checks, "crm_contacts", EXPECTATIONS_CHECK, warehouse).passed


def test_warning_override_warns_without_blocking(tmp_path):
    expectations_dir = tmp_path / "expectations"
    (expectations_dir / "overrides").mkdir(parents=True)
    (expectations_dir / "overrides" / "crm_accounts.json").write_text(
        json.dumps(
            {
                "expectations": [
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": "region", "value_set": ["NA", "EMEA", "LATAM"]},
                        "severity": "warning",
                    }
                ]
            }
        )
    )
    spec = get_table("crm_accounts")
    ex.write_suites(expectations_dir, (spec,))
    check, _foreign_keys = build_raw_quality_checks((spec,), expectations_dir)
    warehouse = build_warehouse(tmp_path, {"crm_csm_roster": ROSTER, "crm_accounts": ACCOUNTS})
    result = check(dg.build_asset_check_context(resources={"warehouse": warehouse}))
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN  # APAC is not in the override's set
    assert unexpected_by_expectation(result) == {"expect_column_values_to_be_in_set:region": 1}


def test_volume_warns_on_a_day_without_events(tmp_path, checks):
    days = [f"2024-03-{d:02d}" for d in range(1, 11) if d != 7]  # the 7th is missing
    warehouse = build_warehouse(
        tmp_path,
        {
            "crm_csm_roster": ROSTER, "crm_accounts": ACCOUNTS, "product_users": USERS,
            "product_features": FEATURES, "product_usage_events": events_csv(days),
        },
    )
    result = run_check(checks, "product_usage_events", VOLUME_CHECK, warehouse)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["zero_days"].data == ["2024-03-07"]
    assert result.metadata["row_count"].value == 18
    # Days before the first event (the 28-day window starts in February) do not count.
    assert result.metadata["days_checked"].value == 28
    assert result.metadata["last_day"].value == "2024-03-10"

    clean = build_warehouse(tmp_path / "clean", CLEAN)
    assert run_check(checks, "product_usage_events", VOLUME_CHECK, clean).passed


def test_volume_warns_on_an_empty_table(tmp_path, checks):
    warehouse = build_warehouse(tmp_path, {})
    result = run_check(checks, "product_usage_events", VOLUME_CHECK, warehouse)
    assert not result.passed
    assert result.metadata["row_count"].value == 0


# -------------------------------------------------------------------- GX and SQL agree


DIRTY = {
    "crm_csm_roster": ROSTER,
    "crm_accounts": ACCOUNTS + "acc1,Dup,smb,,,,2021-01-01\n" + "acc5,Bad,tiny,,,,1850-01-01\n",
    "crm_contacts": CONTACTS + "con5,acc1,Gus,,ceo,2021-01-01,3000-01-01\n",
    "billing_invoices": INVOICES
    + "inv4,cus1,2024-03-01,2024-03-31,void,XXX,-10.00,\n"
    + "inv4,cus1,2024-03-01,0202-03-31,paid,USD,7,-1\n",
    "crm_quotas": QUOTAS + "rep1,2024-01-01,renewal,-1,USD\n" + "rep9,2024-01-01,other,1,USD\n",
    "product_usage_events": events_csv(["2024-03-01", "2024-03-02"])
    + "e0,u1,acc1,2024-03-03 10:00:00,f1,-5\n"
    + "e99,u1,acc1,2101-01-01 00:00:00,f1,1\n"
    + "e98,u1,acc1,2100-12-31 23:59:59,f1,1\n",  # last instant in range: passes
}


def test_sql_runner_agrees_with_great_expectations(tmp_path):
    warehouse = build_warehouse(tmp_path, DIRTY)
    with duckdb.connect(str(warehouse.build_db), read_only=True) as con:
        for table in DIRTY:
            suite = ex.load_suite(table)
            df = con.execute(f"select * from raw.{table}").df()
            gx_result = ex.run_suite_on_dataframe(suite, df)
            sql_result = ex.run_suite_in_duckdb(con, suite)
            assert gx_result.engine == "great_expectations" and sql_result.engine == "duckdb_sql"
            assert gx_result.row_count == sql_result.row_count
            assert [r.label for r in gx_result.results] == [r.label for r in sql_result.results]
            for g, s in zip(gx_result.results, sql_result.results, strict=False):
                assert g.error is None and s.error is None, (table, g.label, g.error, s.error)
                assert (g.success, g.unexpected_count) == (s.success, s.unexpected_count), (
                    table, g.label
                )
                if g.type != "expect_compound_columns_to_be_unique":
                    assert {str(v)[:10] for v in g.sample_values} == {
                        str(v)[:10] for v in s.sample_values
                    }, (table, g.label)
            assert gx_result.success == sql_result.success
    counts = {}
    with duckdb.connect(str(warehouse.build_db), read_only=True) as con:
        for table in DIRTY:
            res = ex.run_suite_in_duckdb(con, ex.load_suite(table))
            counts[table] = {f"{r.label} {r.meta['rule']}": r.unexpected_count for r in res.failures}
    assert counts == {
        "crm_csm_roster": {},
        "crm_accounts": {
            "expect_column_values_to_be_unique(account_id) key_unique": 2,
            "expect_column_values_to_be_in_set(segment) enum": 1,
            "expect_column_values_to_be_between(created_date) date_range": 1,
        },
        "crm_contacts": {
            "expect_column_values_to_be_in_set(role) enum": 1,
            "expect_column_values_to_be_between(left_date) date_range": 1,
        },
        "billing_invoices": {
            "expect_column_values_to_be_unique(invoice_id) key_unique": 2,
            "expect_column_values_to_be_in_set(currency) enum": 1,
            "expect_column_values_to_be_between(total_amount) range": 1,
            "expect_column_values_to_be_between(tax_amount) range": 1,
            "expect_column_values_to_be_between(due_date) date_range": 1,
            "expect_column_pair_values_a_to_be_greater_than_b(due_date, invoice_date) date_order": 1,
        },
        "crm_quotas": {
            "expect_compound_columns_to_be_unique(owner_id, quarter_start, quota_type) key_unique": 2,
            "expect_column_values_to_be_in_set(quota_type) enum": 1,
            "expect_column_values_to_be_between(amount) range": 1,
        },
        "product_usage_events": {
            "expect_column_values_to_be_unique(event_id) key_unique": 2,
            "expect_column_values_to_be_between(event_at) date_range": 1,
            # the last instant of the range is in range, but it is in the future
            "expect_column_values_to_be_between(event_at) not_future": 2,
            "expect_column_values_to_be_between(duration_seconds) range": 1,
        },
    }


def test_sql_engine_for_every_table_gives_the_same_verdicts(tmp_path, checks):
    warehouse = build_warehouse(tmp_path, DIRTY)
    sql_checks = {}
    for check in build_raw_quality_checks(engine="sql"):
        (key,) = check.check_keys
        sql_checks[(key.asset_key.path[-1], key.name)] = check
    for table in DIRTY:
        gx = run_check(checks, table, EXPECTATIONS_CHECK, warehouse)
        sql = run_check(sql_checks, table, EXPECTATIONS_CHECK, warehouse)
        assert sql.metadata["engine"].value == "duckdb_sql"
        assert gx.passed == sql.passed
        assert unexpected_by_expectation(gx) == unexpected_by_expectation(sql)


def test_sql_runner_reports_unsupported_expectations():
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw.t as select 'a' as x union all select 'b'")
    suite = {
        "name": "t",
        "expectations": [
            {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "x", "regex": "a"}},
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
            {"type": "expect_column_values_to_be_in_set",
             "kwargs": {"column": "x", "value_set": ["a", "b"], "mostly": 0.5}},
        ],
        "meta": {},
    }
    result = ex.run_suite_in_duckdb(con, suite)
    assert [r.success for r in result.results] == [False, True, True]
    assert "no SQL translation" in result.results[0].error
    assert not result.success


# ------------------------------------------------------------------ blocking, in a real run


def loading_asset(table: str) -> dg.AssetsDefinition:
    """A minimal stand-in for the extract asset of ``table``: it loads the export."""

    @dg.asset(key=["raw", table])
    def _load(warehouse: Warehouse) -> None:
        con = warehouse.connect()
        try:
            load_table(con, get_table(table), warehouse.raw_path)
        finally:
            con.close()

    return _load


def test_a_failing_check_blocks_what_is_downstream(tmp_path):
    """Two exports are loaded in a run; their gate runs after them and stops what follows."""
    raw_dir = tmp_path / "raw"
    (raw_dir / "crm").mkdir(parents=True)
    (raw_dir / "crm" / "csm_roster.csv").write_text(ROSTER)
    (raw_dir / "crm" / "accounts.csv").write_text(ACCOUNTS + "acc1,Dup,smb,,,,2021-01-01\n")
    warehouse = Warehouse(raw_dir=str(raw_dir), warehouse_dir=str(tmp_path / "warehouse"))

    @dg.asset(deps=[dg.AssetKey(["raw", "crm_accounts"])])
    def downstream() -> None: ...

    loads = [loading_asset("crm_accounts"), loading_asset("crm_csm_roster")]
    gate = build_raw_quality_checks((get_table("crm_accounts"), get_table("crm_csm_roster")))
    result = dg.materialize(
        [*loads, downstream, *gate], resources={"warehouse": warehouse}, raise_on_error=False
    )
    evaluations = {
        (e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()
    }
    assert not evaluations[("crm_accounts", EXPECTATIONS_CHECK)].passed
    assert evaluations[("crm_accounts", FOREIGN_KEYS_CHECK)].passed  # the roster loaded first
    assert evaluations[("crm_csm_roster", EXPECTATIONS_CHECK)].passed
    failed = evaluations[("crm_accounts", EXPECTATIONS_CHECK)].metadata
    assert failed["expectations_failed"].value == 1
    assert failed["unexpected_rows"].value == 2
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert {dg.AssetKey(["raw", "crm_accounts"]), dg.AssetKey(["raw", "crm_csm_roster"])} <= (
        materialized
    )
    assert dg.AssetKey(["downstream"]) not in materialized
    assert not result.success


def test_every_table_gets_its_checks_and_they_load():
    from orchestration.defs.quality import defs as quality_defs
    from orchestration.defs.quality import raw_quality_checks

    defs = dg.Definitions(
        assets=[loading_asset(spec.name) for spec in TABLES],
        asset_checks=raw_quality_checks,
        resources={"warehouse": Warehouse()},
    )
    dg.Definitions.validate_loadable(defs)
    dg.Definitions.validate_loadable(
        dg.Definitions.merge(quality_defs, dg.Definitions(resources={"warehouse": Warehouse()}))
    )
    graph = defs.resolve_asset_graph()
    specs = {key: graph.get_check_spec(key) for key in graph.asset_check_keys}
    for spec in TABLES:
        raw = dg.AssetKey(["raw", spec.name])
        assert specs[dg.AssetCheckKey(raw, EXPECTATIONS_CHECK)].blocking
        fk = dg.AssetCheckKey(raw, FOREIGN_KEYS_CHECK)
        assert (fk in specs) == any(c.references for c in spec.columns)
        if fk in specs:
            assert specs[fk].blocking
    volume = specs[dg.AssetCheckKey(dg.AssetKey(["raw", "product_usage_events"]), VOLUME_CHECK)]
    assert not volume.blocking
    overlaps = {k.asset_key.path[-1] for k in specs if k.name == OVERLAPS_CHECK}
    assert overlaps == {"billing_subscriptions", "billing_invoice_lines"}
    assert not any(specs[k].blocking for k in specs if k.name == OVERLAPS_CHECK)
    assert len(specs) == len(raw_quality_checks) == 40


def test_great_expectations_context_is_built_once():
    first = ex._gx_batch_definition()
    assert ex._gx_batch_definition() is first


def test_empty_tables_pass(tmp_path, checks):
    """An optional export that is absent loads as an empty table: nothing to object to."""
    warehouse = build_warehouse(tmp_path, {})
    for table, name in checks:
        if name == VOLUME_CHECK:
            continue
        result = run_check(checks, table, name, warehouse)
        assert result.passed, (table, name, result.description)
        if name == EXPECTATIONS_CHECK:
            assert result.metadata["rows_validated"].value == 0


# -------------------------------------------- uniqueness of an appended export's earlier rows

def load_events_parquet(warehouse: Warehouse, csv_text: str):
    """Write the events export as Parquet (the format whose appended rows load on their own)
    and load it into the build database."""
    path = Path(warehouse.raw_dir) / "product" / "usage_events.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    source = path.with_suffix(".source.csv")
    source.write_text(csv_text)
    duckdb.execute(f"copy (select * from read_csv('{source}', all_varchar = true)) "
                   f"to '{path}' (format parquet)")
    source.unlink()
    con = connect(warehouse.build_db)
    try:
        return load_table(con, get_table("product_usage_events"), Path(warehouse.raw_dir))
    finally:
        con.close()


def event_id_unique(result: dg.AssetCheckResult) -> int | None:
    return unexpected_by_expectation(result).get("expect_column_values_to_be_unique:event_id")


def test_appended_events_are_checked_for_uniqueness_against_the_rows_before(tmp_path, checks):
    """The rows of the load before passed event_id uniqueness: the next run looks up only the
    appended rows (among themselves and among those rows), and a repeat fails with the same
    figures as a check of the whole table."""
    warehouse = build_warehouse(tmp_path, {k: v for k, v in CLEAN.items()
                                           if k != "product_usage_events"})
    ten_days = events_csv([f"2024-03-{d:02d}" for d in range(1, 11)])
    assert load_events_parquet(warehouse, ten_days).rows_kept == 0
    first = run_check(checks, "product_usage_events", EXPECTATIONS_CHECK, warehouse)
    assert first.passed and first.metadata["rows_known_unique"].value == 0

    # Same file: nothing new; every row is known to be unique.
    load_events_parquet(warehouse, ten_days)
    again = run_check(checks, "product_usage_events", EXPECTATIONS_CHECK, warehouse)
    assert again.passed and again.metadata["rows_known_unique"].value == 20

    # A day appended: 2 rows looked up against the 20 before.
    day = "e20,u1,acc1,2024-03-11 09:00:00,f1,30\ne21,u2,acc2,2024-03-11 17:30:00,f2,\n"
    assert load_events_parquet(warehouse, ten_days + day).rows_kept == 20
    appended = run_check(checks, "product_usage_events", EXPECTATIONS_CHECK, warehouse)
    assert appended.passed, appended.description
    assert appended.metadata["rows_known_unique"].value == 20
    assert appended.metadata["rows_validated"].value == 22

    # The next day repeats an event id of the first day (e3) and one of its own (e22 twice):
    # GX counts every row of a repeated value, the old e3 row included: 2 + 2.
    bad_day = ("e22,u1,acc1,2024-03-12 09:00:00,f1,30\ne3,u2,acc2,2024-03-12 10:00:00,f2,\n"
               "e22,u2,acc2,2024-03-12 17:30:00,f2,\n")
    assert load_events_parquet(warehouse, ten_days + day + bad_day).rows_kept == 22
    failed = run_check(checks, "product_usage_events", EXPECTATIONS_CHECK, warehouse)
    assert not failed.passed
    assert event_id_unique(failed) == 4
    (failure,) = failures(failed).values()
    assert set(failure["sample_values"]) == {"e3", "e22"}
    assert failed.metadata["rows_known_unique"].value == 0  # counted over the whole table

    # The run after the failure does not trust the failed rows: the same file, checked whole.
    load_events_parquet(warehouse, ten_days + day + bad_day)
    still = run_check(checks, "product_usage_events", EXPECTATIONS_CHECK, warehouse)
    assert event_id_unique(still) == 4

    # An export whose earlier rows changed is a full load: nothing is known of its rows.
    changed = ten_days.replace("e0,", "e99,") + day
    assert load_events_parquet(warehouse, changed).rows_kept == 0
    full = run_check(checks, "product_usage_events", EXPECTATIONS_CHECK, warehouse)
    assert full.passed and full.metadata["rows_known_unique"].value == 0


def test_rows_known_unique_are_not_looked_at_again(tmp_path):
    """What ``known_unique`` promises is taken as given (that is where the time goes): a repeat
    planted inside the known rows is not found; one between known and later rows is, with the
    rows whose values are equal, nulls included, as GROUP BY has them."""
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw.t as select * from (values ('a', 1), ('a', 1), ('b', null), "
                "('c', 3)) v(k, n)")
    suite = {"name": "t", "expectations": [
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "k"}},
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["k", "n"]}},
    ]}
    keys = [ex.uniqueness_key(e) for e in suite["expectations"]]
    whole = ex.run_suite_in_duckdb(con, suite, "raw.t")
    assert [r.unexpected_count for r in whole.results] == [2, 2]
    trusted = ex.run_suite_in_duckdb(con, suite, "raw.t", known_unique={k: 2 for k in keys})
    assert [(r.success, r.rows_known) for r in trusted.results] == [(True, 2), (True, 2)]
    con.execute("insert into raw.t values ('b', null), ('d', 4), ('d', 5)")
    later = ex.run_suite_in_duckdb(con, suite, "raw.t", known_unique={k: 4 for k in keys})
    # k: 'b' twice and 'd' twice; (k, n): ('b', null) twice, and the whole table's ('a', 1) pair
    assert [r.unexpected_count for r in later.results] == [2 + 2 + 2, 2 + 2]
    assert [r.rows_known for r in later.results] == [0, 0]
    assert ex.uniqueness_key({"type": "expect_column_values_to_not_be_null",
                              "kwargs": {"column": "k"}}) is None


def test_appended_events_look_up_their_references_while_the_parents_hold_them(tmp_path, checks):
    """Rows whose references resolved are not looked up again while the parent table holds
    the load they resolved in; a changed parent means every row is looked up again."""
    warehouse = build_warehouse(tmp_path, {k: v for k, v in CLEAN.items()
                                           if k != "product_usage_events"})
    ten_days = events_csv([f"2024-03-{d:02d}" for d in range(1, 11)])
    load_events_parquet(warehouse, ten_days)
    first = run_check(checks, "product_usage_events", FOREIGN_KEYS_CHECK, warehouse)
    assert first.passed and first.metadata["rows_known_to_resolve"].value == 0

    # A day with an event of a user who is not in the users export (u9).
    day = "e20,u1,acc1,2024-03-11 09:00:00,f1,30\ne21,u9,acc2,2024-03-11 17:30:00,f2,\n"
    load_events_parquet(warehouse, ten_days + day)
    appended = run_check(checks, "product_usage_events", FOREIGN_KEYS_CHECK, warehouse)
    assert not appended.passed
    assert appended.metadata["rows_known_to_resolve"].value == 20
    assert appended.metadata["dangling_rows"].value == 1
    (failure,) = failures(appended).values()
    assert failure["sample_values"] == [{"value": "u9", "rows": 1}]

    # The users export loses u2 (one event a day): the user references are all looked up again
    # (u2's 10 events and u9's), the account and feature references only after the 22 rows.
    users = Path(warehouse.raw_dir) / "product" / "users.csv"
    users.write_text(USERS.replace("u2,acc2,,2021-02-01,\n", ""))
    con = connect(warehouse.build_db)
    try:
        assert load_table(con, get_table("product_users"), Path(warehouse.raw_dir)).rows_kept == 0
    finally:
        con.close()
    load_events_parquet(warehouse, ten_days + day)
    again = run_check(checks, "product_usage_events", FOREIGN_KEYS_CHECK, warehouse)
    assert again.metadata["dangling_rows"].value == 11
    (failure,) = failures(again).values()
    assert failure["rows_known"] == 0
    assert failure["sample_values"] == [{"value": "u2", "rows": 10}, {"value": "u9", "rows": 1}]
    assert again.metadata["rows_known_to_resolve"].value == 22


# ------------------------------------------------- kept results of unchanged small tables

def _gx_must_not_run(*args, **kwargs):
    raise AssertionError("Great Expectations ran on a table whose result was kept")


def test_an_unchanged_table_keeps_its_validation_result(tmp_path, checks, monkeypatch):
    """The second run of the check on the same rows gives the first validation's result
    without running GX; a changed row, a changed suite file or CS_REVALIDATE_RAW run it."""
    from orchestration.defs.quality import checks as checks_module

    warehouse = build_warehouse(tmp_path, {"crm_csm_roster": ROSTER, "crm_accounts": ACCOUNTS})
    first = run_check(checks, "crm_accounts", EXPECTATIONS_CHECK, warehouse)
    assert first.passed and first.metadata["kept_from_validation_at"].value == ""
    kept_file = Path(warehouse.warehouse_dir) / "raw_suite_results" / "crm_accounts.json"
    validated_at = json.loads(kept_file.read_text())["validated_at"]
    run_suite = checks_module.run_suite_on_dataframe
    monkeypatch.setattr(checks_module, "run_suite_on_dataframe", _gx_must_not_run)

    again = run_check(checks, "crm_accounts", EXPECTATIONS_CHECK, warehouse)
    assert again.passed
    assert again.metadata["kept_from_validation_at"].value == validated_at
    assert again.metadata["rows_validated"].value == 3
    assert again.metadata["expectations_evaluated"].value == len(
        ex.load_suite("crm_accounts")["expectations"])
    assert again.metadata["summary"].value == first.metadata["summary"].value
    assert f"validation at {validated_at}: the same rows, the same suite)." in again.description

    # The next day: the latest plausible date moved one day later; no account was created
    # after the old bound, so the result stands, and says which bound it was validated with.
    before = ex.suite_parameters()[ex.LATEST_DATE_PARAMETER]
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    monkeypatch.setattr(checks_module, "suite_parameters",
                        lambda: ex.suite_parameters(tomorrow))
    next_day = run_check(checks, "crm_accounts", EXPECTATIONS_CHECK, warehouse)
    assert next_day.passed
    assert next_day.metadata["kept_from_validation_at"].value == validated_at
    assert (f"the same suite; {ex.LATEST_DATE_PARAMETER} then {before}, a bound no row was "
            "above)." in next_day.description)
    monkeypatch.setattr(checks_module, "suite_parameters", ex.suite_parameters)

    # The same row count, one value changed: GX runs and finds it.
    con = connect(warehouse.build_db)
    con.execute("update raw.crm_accounts set segment = 'giant' where account_id = 'acc1'")
    con.close()
    with pytest.raises(AssertionError, match="whose result was kept"):
        run_check(checks, "crm_accounts", EXPECTATIONS_CHECK, warehouse)
    monkeypatch.setattr(checks_module, "run_suite_on_dataframe", run_suite)
    failed = run_check(checks, "crm_accounts", EXPECTATIONS_CHECK, warehouse)
    assert unexpected_by_expectation(failed) == {"expect_column_values_to_be_in_set:segment": 1}
    assert not kept_file.exists()  # a failed validation is not kept
    con = connect(warehouse.build_db)
    con.execute("update raw.crm_accounts set segment = 'smb' where account_id = 'acc1'")
    con.close()
    assert run_check(checks, "crm_accounts", EXPECTATIONS_CHECK, warehouse).passed
    assert kept_file.exists()

    monkeypatch.setattr(checks_module, "run_suite_on_dataframe", _gx_must_not_run)
    monkeypatch.setenv("CS_REVALIDATE_RAW", "true")
    with pytest.raises(AssertionError, match="whose result was kept"):
        run_check(checks, "crm_accounts", EXPECTATIONS_CHECK, warehouse)


def _plausible_dates_suite() -> dict:
    return {
        "name": "t",
        "meta": {"primary_key": ["id"]},
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"},
             "meta": {"rule": "required"}, "severity": "critical"},
            {"type": "expect_column_values_to_be_between",
             "kwargs": {"column": "d", "max_value": {"$PARAMETER": ex.LATEST_DATE_PARAMETER}},
             "meta": {"rule": "not_future"}, "severity": "critical"},
        ],
    }


def test_a_kept_result_stands_while_only_an_upper_date_bound_moves_later():
    """2024-03-01 and 2024-03-05, validated with the plausible-date bound 2024-03-06: the
    result stands on 2024-03-06 (bound 03-07) and shows the new bound; a bound that moves
    earlier, another suite or other rows run the suite."""
    import pandas as pd

    suite = _plausible_dates_suite()
    df = pd.DataFrame({"id": ["a", "b"], "d": pd.to_datetime(["2024-03-01", "2024-03-05"])})
    on = {day: ex.suite_parameters(dt.date(2024, 3, day)) for day in (4, 5, 6)}
    result = ex.run_suite_on_dataframe(suite, df, parameters=on[5])
    assert not result.failures
    digest = ex.suite_digest(suite, "great_expectations")
    entry = ex.kept_entry(result, suite, "rows1", digest, on[5], "2024-03-05T06:00:00+00:00")
    assert entry["parameters"] == {ex.LATEST_DATE_PARAMETER: "2024-03-06"}

    kept = ex.kept_result(entry, suite, "rows1", digest, on[6])
    assert kept is not None and kept.kept_from == "2024-03-05T06:00:00+00:00"
    assert kept.kept_parameters_moved == {ex.LATEST_DATE_PARAMETER: "2024-03-06"}
    assert kept.results[1].kwargs["max_value"] == "2024-03-07"
    assert [(r.success, r.unexpected_count, r.element_count) for r in kept.results] == [
        (r.success, r.unexpected_count, r.element_count) for r in result.results]
    assert ex.kept_result(entry, suite, "rows1", digest, on[5]).kept_parameters_moved == {}
    assert ex.kept_result(entry, suite, "rows1", digest, on[4]) is None  # earlier bound
    assert ex.kept_result(entry, suite, "rows2", digest, on[6]) is None  # other rows
    changed = copy.deepcopy(suite)
    changed["expectations"][0]["severity"] = "warning"
    assert ex.suite_digest(changed, "great_expectations") != digest
    assert ex.kept_result(entry, changed, "rows1", ex.suite_digest(changed, "great_expectations"),
                          on[6]) is None  # the suite's expectations are not those kept
    # A file that is not what kept_entry writes runs the suite, and does not crash the check.
    for broken in ({**entry, "parameters": ["2024-03-06"]},
                   {**entry, "parameters": {ex.LATEST_DATE_PARAMETER: 20240306}},
                   {**entry, "validated_at": None},
                   {**entry, "result": {**entry["result"], "results": [
                       {**r, "success": "false"} for r in entry["result"]["results"]]}},
                   {**entry, "result": "nothing"}):
        assert ex.kept_result(broken, suite, "rows1", digest, on[6]) is None


def test_a_result_with_rows_above_a_bound_is_not_kept_as_the_bound_moves():
    """A `mostly` expectation that passed with a row above the bound: a later bound could let
    that row pass, so the kept result does not stand for it; a failed suite is not kept."""
    import pandas as pd

    suite = _plausible_dates_suite()
    suite["expectations"][1]["kwargs"]["mostly"] = 0.5
    df = pd.DataFrame({"id": ["a", "b"], "d": pd.to_datetime(["2024-03-01", "2024-03-09"])})
    on5, on6 = (ex.suite_parameters(dt.date(2024, 3, day)) for day in (5, 6))
    result = ex.run_suite_on_dataframe(suite, df, parameters=on5)
    assert not result.failures and result.results[1].unexpected_count == 1
    digest = ex.suite_digest(suite, "great_expectations")
    entry = ex.kept_entry(result, suite, "rows1", digest, on5, "t")
    assert ex.kept_result(entry, suite, "rows1", digest, on5) is not None
    assert ex.kept_result(entry, suite, "rows1", digest, on6) is None

    strict = _plausible_dates_suite()
    failed = ex.run_suite_on_dataframe(strict, df, parameters=on5)
    assert failed.failures
    assert ex.kept_entry(failed, strict, "rows1", digest, on5, "t") is None
