"""Write-audit-publish: readers are never blocked, runs are idempotent, failures publish nothing."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import sys
import textwrap

import duckdb

from tests.conftest import copy_company, run_pipeline

READER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    q = "select count(*), sum(end_mrr) from marts.fct_mrr_movements"
    print(con.execute(q).fetchone(), flush=True)
    sys.stdin.readline()          # hold the file open until the run has finished
    print(con.execute(q).fetchone(), flush=True)
    """
)


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


def test_rerun_with_a_reader_holding_the_published_file(published_run, tmp_path):
    warehouse = tmp_path / "warehouse"
    shutil.copytree(published_run.warehouse_dir, warehouse)
    before = mart_snapshot(warehouse / "cs_metrics.duckdb")
    old_inode = (warehouse / "cs_metrics.duckdb").stat().st_ino

    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(warehouse / "cs_metrics.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = reader.stdout.readline().strip()
        assert first.startswith("("), reader.stderr.read()
        outcome = run_pipeline(published_run.raw_dir, warehouse)   # the reader is still open
        assert outcome.success, outcome.failed_steps()
        second, err = reader.communicate("go\n", timeout=60)
    finally:
        reader.kill()
    assert reader.returncode == 0, err
    assert second.strip() == first, "the held connection kept a complete, consistent snapshot"
    assert (warehouse / "cs_metrics.duckdb").stat().st_ino != old_inode, "a new file was swapped in"
    # Idempotent: the same inputs give identical marts.
    assert mart_snapshot(warehouse / "cs_metrics.duckdb") == before
    assert not list(warehouse.glob(".cs_metrics.duckdb.*.tmp")), "no temporary file left behind"


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
