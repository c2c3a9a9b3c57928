"""Write-audit-publish: readers are never blocked, runs are idempotent, failures publish nothing."""

from __future__ import annotations

import csv
import hashlib
import shutil

import duckdb

from tests.conftest import copy_company, run_pipeline


def read_csv(path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def write_csv(path, rows) -> None:
    with open(path, "w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mart_snapshot(db) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_type = 'BASE TABLE' order by 1").fetchall()]
        return {t: con.execute(f"select * from marts.{t} order by all").fetchall() for t in tables}
    finally:
        con.close()


# Marts that keep history across runs (snapshot dates, alert first_seen / closed_at, the runs of
# the alert rules): a warehouse with an earlier run in it differs there, by design.
HISTORY_MARTS = {"fct_account_health_daily", "metrics_health", "fct_alerts", "fct_alert_hits",
                 "fct_alert_runs"}


def test_a_run_publishes_while_a_reader_holds_the_published_file(two_runs):
    """The second of two runs into one warehouse, with an analyst's read-only connection to the
    first run's published file open from before the run to after it (tests/conftest.py)."""
    assert two_runs.reader_status == 0, two_runs.reader_stderr
    assert two_runs.reader_before.startswith("("), two_runs.reader_stderr
    assert two_runs.reader_after == two_runs.reader_before, \
        "the held connection kept a complete, consistent snapshot"
    published = two_runs.second.published_db
    assert published.stat().st_ino != two_runs.first_inode, "a new file was swapped in"
    assert not list(published.parent.glob(".cs_metrics.duckdb.*.tmp")), "no temporary file left behind"


def test_same_inputs_give_identical_marts(published_run, two_runs):
    """Idempotent: the second of the two runs has the inputs and the as-of date of
    ``published_run`` (another warehouse, another run): every mart is identical but those that
    keep history, and those are identical on the as-of date's own figures where no history
    enters. (The killed-run tests, ``make test-slow``, rerun into the same warehouse.)"""
    ours, theirs = mart_snapshot(two_runs.second.published_db), mart_snapshot(published_run.published_db)
    assert set(ours) == set(theirs) and len(ours) >= 30
    assert HISTORY_MARTS <= set(ours)
    differing = sorted(t for t in ours if ours[t] != theirs[t])
    assert set(differing) <= HISTORY_MARTS, differing
    for table in sorted(set(ours) - HISTORY_MARTS):
        assert ours[table] == theirs[table], table
    con = duckdb.connect(str(two_runs.second.published_db), read_only=True)
    con.execute(f"attach '{published_run.published_db}' as other (read_only)")
    columns = ("account_id, snapshot_date, adoption_score, support_score, health_score, coverage, "
               "health_band, top_drag")
    query = ("select {c} from {db}.marts.fct_account_health_daily where snapshot_date = ? "
             "order by all")
    mine = con.execute(query.format(c=columns, db="cs_metrics"), [two_runs.as_of]).fetchall()
    other = con.execute(query.format(c=columns, db="other"), [two_runs.as_of]).fetchall()
    con.close()
    assert mine and mine == other


def test_broken_exports_are_quarantined_and_block_publish(published_run, tmp_path):
    raw = copy_company(published_run.raw_dir, tmp_path / "raw")
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    shutil.copy(published_run.published_db, warehouse / "cs_metrics.duckdb")
    published_hash = sha256(warehouse / "cs_metrics.duckdb")

    # A duplicate key, a bad date and a negative amount.
    accounts = read_csv(raw / "crm" / "accounts.csv")
    write_csv(raw / "crm" / "accounts.csv", accounts + [accounts[1]])
    invoices = read_csv(raw / "billing" / "invoices.csv")
    invoices[2][invoices[0].index("invoice_date")] = "2024-02-30"   # file line 3
    write_csv(raw / "billing" / "invoices.csv", invoices)
    lines = read_csv(raw / "billing" / "invoice_lines.csv")
    lines[1][lines[0].index("amount")] = "-120.00"
    write_csv(raw / "billing" / "invoice_lines.csv", lines)

    outcome = run_pipeline(raw, warehouse)
    assert not outcome.success
    checks = outcome.check_results()
    assert checks[("raw/crm_accounts", "expectations_suite")].passed is False
    assert checks[("raw/billing_invoice_lines", "expectations_suite")].passed is False
    assert checks[("raw/billing_invoices", "rows_accounted")].passed is False  # WARN: quarantined
    # Nothing downstream of a failed blocking check ran, and the published file is untouched.
    materialized = {"/".join(e.asset_key.path) for e in outcome.result.get_asset_materialization_events()}
    assert "published/cs_metrics" not in materialized
    assert not any(k.startswith("marts/") for k in materialized)
    assert sha256(warehouse / "cs_metrics.duckdb") == published_hash

    con = duckdb.connect(str(outcome.build_db), read_only=True)
    try:
        q = con.execute(
            "select source_file, line_number, column_name, rule, reason from raw.quarantine "
            "where table_name = 'billing_invoices'").fetchall()
        audit = con.execute("select table_name, rows_read, rows_loaded, rows_quarantined "
                            "from raw.load_audit").fetchall()
        dupes = con.execute("select count(*) from raw.crm_accounts").fetchone()[0]
    finally:
        con.close()
    assert q == [(str(raw / "billing" / "invoices.csv"), 3, "invoice_date", "bad_type",
                  "invoice_date: '2024-02-30' is not a valid DATE")]
    for table, read, loaded, quarantined in audit:
        assert read == loaded + quarantined, table
    # The loader keeps the duplicate (it is well-typed); the blocking gate rejects it.
    assert dupes == len(accounts)


def test_missing_column_fails_the_extract_with_file_and_column(published_run, tmp_path):
    raw = copy_company(published_run.raw_dir, tmp_path / "raw")
    path = raw / "crm" / "accounts.csv"
    rows = read_csv(path)
    drop = rows[0].index("segment")
    write_csv(path, [r[:drop] + r[drop + 1:] for r in rows])
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    shutil.copy(published_run.published_db, warehouse / "cs_metrics.duckdb")
    published_hash = sha256(warehouse / "cs_metrics.duckdb")

    outcome = run_pipeline(raw, warehouse)
    assert not outcome.success
    failures = outcome.failed_steps()
    message = next(m for step, m in failures.items() if "crm_accounts" in step)
    assert str(path) in message and "'segment'" in message
    assert sha256(warehouse / "cs_metrics.duckdb") == published_hash
