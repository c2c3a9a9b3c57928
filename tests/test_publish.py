"""Write-audit-publish: readers are never blocked, runs are idempotent, failures publish nothing."""

from __future__ import annotations

import csv
import hashlib
import shutil

import duckdb

from orchestration.lib.dbt_project import incremental_partitions
from orchestration.lib.publish import INTERMEDIATE_SCHEMAS
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


# --- publishing from the previous published file ------------------------------------------------

def small_build(path):
    """A build database with what publish reads: a personal column, the quarantine, the load
    audit, an appended table, a mart and a view on it. Strings uncompressed, so that bytes show."""
    con = duckdb.connect(str(path))
    con.execute("pragma force_compression = 'uncompressed'")
    con.execute("create schema raw; create schema marts")
    con.execute("create table raw.crm_contacts as select 'c' || range as contact_id, "
                "'Person Name ' || range as full_name, 'person' || range || '@example.com' as email "
                "from range(500)")
    con.execute("create table raw.quarantine (table_name varchar, raw_record varchar)")
    con.execute("insert into raw.quarantine values ('crm_contacts', 'c9,Quarantined,q@example.com')")
    con.execute("create table raw.load_audit (table_name varchar primary key, rows_read bigint, "
                "rows_loaded bigint, rows_quarantined bigint)")
    con.execute("insert into raw.load_audit values ('crm_contacts', 501, 500, 1)")
    con.execute("create table raw.product_usage_events as select 'E' || range as event_id, "
                "range % 7 as duration_seconds from range(10000)")
    con.execute("create table marts.m as select range as x from range(10)")
    con.execute("create view marts.v as select sum(x) as total from marts.m")
    con.execute("create table marts.daily as select date '2024-01-01' + to_months(range // 100) "
                "as month, range as n, 0 as value from range(300)")
    con.execute("checkpoint")
    con.close()
    return path


def published_content(db, views=("marts.v",)) -> dict:
    """Every table of a published file (the manifest aside), and the views named."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute("select schema_name, table_name from duckdb_tables() "
                             "where table_name not in ('published_tables', 'published_partitions') "
                             "order by all").fetchall()
        content = {f"{s}.{t}": con.execute(f'select * from {s}."{t}" order by all').fetchall()
                   for s, t in tables}
        content.update({v: con.execute(f"select * from {v}").fetchall() for v in views})
        return content
    finally:
        con.close()


def materialization(outcome, *path) -> dict:
    """The metadata of the asset ``path``'s materialization in a pipeline run."""
    for event in outcome.result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            m = event.event_specific_data.materialization
            if list(m.asset_key.path) == list(path):
                return {k: getattr(v, "value", v) for k, v in m.metadata.items()}
    raise AssertionError(f"no materialization of {path}")


def test_a_second_run_keeps_what_did_not_change_and_publishes_what_a_new_file_would(
        two_runs, tmp_path):
    """The second of two runs into one warehouse (same exports, a later as-of date): the events
    export was loaded already, so no event is read again, and the publish starts from the first
    run's file; the result is what a full load and a new file give."""
    from orchestration.lib.publish import write_published_copy

    first, second = two_runs.first, two_runs.second
    assert materialization(first, "published", "cs_metrics")["started_from"] == "new file"
    published = materialization(second, "published", "cs_metrics")
    assert published["started_from"] == "previous published file"
    assert published["tables_kept"] > 0 and published["tables_written"] > 0  # the as-of date moved
    events = materialization(second, "raw", "product_usage_events")
    assert events["rows_kept_from_last_load"] == events["rows_read"] > 0
    assert materialization(first, "raw", "product_usage_events")["rows_kept_from_last_load"] == 0
    fresh = tmp_path / "fresh.duckdb"
    write_published_copy(second.build_db, fresh, include_personal=False)
    assert published_content(second.published_db, ()) == published_content(fresh, ())
    # Every published table publish rewrites by partition (incremental models and the models
    # whose meta names a partition column; the intermediate ones are not published) has its
    # partitions on record, and the later as-of date rewrote some of them in place.
    with duckdb.connect(str(second.published_db), read_only=True) as con:
        on_record = set(con.execute(
            "select distinct schema_name, table_name from raw.published_partitions").fetchall())
        assert con.execute("select count(*) from duckdb_tables() "
                           "where schema_name = 'intermediate'").fetchone() == (0,)
    assert on_record == {key for key in incremental_partitions()
                         if key[0] not in INTERMEDIATE_SCHEMAS}
    incremental = {key for key in on_record
                   if key[1] in {"fct_account_usage_daily", "fct_account_health_daily",
                                 "fct_alert_hits", "fct_alert_runs"}}
    assert len(incremental) == 4
    # more tables rewritten by partition than the incremental models: the declared ones too
    assert published["tables_rewritten_by_partition"] > len(incremental)


def test_every_partition_column_publish_uses_is_a_column_of_its_model(dbt_manifest):
    """A partition column named in a model's meta (publish_partition_by) or as an incremental
    model's unique_key is one of the model's documented columns: a misspelt one would make
    publish write the table whole, silently."""
    import json

    nodes = json.loads(dbt_manifest.read_text())["nodes"].values()
    columns = {(n["schema"], n.get("alias") or n["name"]): set(n["columns"])
               for n in nodes if n["resource_type"] == "model"}
    partitions = incremental_partitions(dbt_manifest)
    assert {("marts", "fct_mrr_daily"), ("marts", "fct_account_benchmarks"),
            ("intermediate", "int_account_health_inputs"),
            ("intermediate", "int_user_activity_daily")} <= set(partitions)
    assert {key: column for key, column in partitions.items() if column not in columns[key]} == {}


BY_MONTH = {("marts", "daily"): "month"}


def test_publish_starts_from_the_previous_published_file_and_writes_only_what_changed(
        tmp_path, monkeypatch):
    from orchestration.lib import publish as pub

    monkeypatch.delenv("CS_INCLUDE_CONTACT_PERSONAL_DATA", raising=False)
    build = small_build(tmp_path / "build.duckdb")
    published = tmp_path / "out" / "cs_metrics.duckdb"
    published.parent.mkdir()

    first = pub.publish(build, published)
    assert (first.from_previous, first.tables) == (
        False, {"kept": 0, "appended": 0, "partitions": 0, "written": 6})
    again = pub.publish(build, published, BY_MONTH)
    assert (again.from_previous, again.tables) == (
        True, {"kept": 6, "appended": 0, "partitions": 0, "written": 0})

    # The next day: new events at the end of their table, a rebuilt mart, the last month of a
    # table rewritten by month (as dbt's incremental models do: delete the month, insert it)
    # and its first month gone.
    con = duckdb.connect(str(build))
    con.execute("insert into raw.product_usage_events select 'N' || range, 3 from range(250)")
    con.execute("create or replace table marts.m as select range * 2 as x from range(12)")
    con.execute("delete from marts.daily where month = date '2024-03-01'")
    con.execute("insert into marts.daily select date '2024-03-01', range, 1 from range(40)")
    con.execute("delete from marts.daily where month = date '2024-01-01'")  # a month gone
    con.close()
    daily = pub.publish(build, published, BY_MONTH)
    assert (daily.from_previous, daily.tables) == (
        True, {"kept": 3, "appended": 1, "partitions": 1, "written": 1})
    fresh = tmp_path / "fresh" / "cs_metrics.duckdb"
    fresh.parent.mkdir()
    assert pub.publish(build, fresh, BY_MONTH).from_previous is False
    assert published_content(published) == published_content(fresh)
    assert published_content(published)["marts.v"] == [(132,)]
    assert len(published_content(published)["raw.product_usage_events"]) == 10250
    assert len(published_content(published)["marts.daily"]) == 140
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(email), count(full_name) from raw.crm_contacts").fetchone() == (0, 0)
        assert con.execute("select row_count from raw.published_tables where table_name = "
                           "'product_usage_events'").fetchone() == (10250,)

    # Personal data configured in: the previous file (which held none) may start it.
    monkeypatch.setenv("CS_INCLUDE_CONTACT_PERSONAL_DATA", "true")
    with_personal = pub.publish(build, published)
    assert (with_personal.from_previous, with_personal.tables["written"]) == (True, 2)
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(email) from raw.crm_contacts").fetchone() == (500,)
    # ...and configured out again: that file held personal data, so a new file is written.
    monkeypatch.setenv("CS_INCLUDE_CONTACT_PERSONAL_DATA", "false")
    without = pub.publish(build, published)
    assert without.from_previous is False
    assert b"@example.com" not in published.read_bytes()
    assert published_content(published) == published_content(fresh)

    # A table now partitioned by another column (a model's publish_partition_by changed): the
    # partitions on record are of the old column, so it is written whole, then by partition.
    by_n = {("marts", "daily"): "n"}
    assert pub.publish(build, published, BY_MONTH).tables["kept"] == 6
    with duckdb.connect(str(build)) as con:
        con.execute("update marts.daily set value = 5 where n = 7")
    assert pub.publish(build, published, by_n).tables == {
        "kept": 5, "appended": 0, "partitions": 0, "written": 1}
    with duckdb.connect(str(build)) as con:
        con.execute("update marts.daily set value = 6 where n in (8, 9)")
    assert pub.publish(build, published, by_n).tables == {
        "kept": 5, "appended": 0, "partitions": 1, "written": 0}
    fresh_again = tmp_path / "fresh_again" / "cs_metrics.duckdb"
    fresh_again.parent.mkdir()
    pub.publish(build, fresh_again, by_n)
    assert published_content(published) == published_content(fresh_again)
    assert [(n, v) for _, n, v in published_content(published)["marts.daily"] if v > 1] == [
        (7, 5), (8, 6), (9, 6)]


def test_publish_writes_a_new_file_when_the_previous_one_cannot_start_it(tmp_path, monkeypatch):
    from orchestration.lib import publish as pub

    monkeypatch.delenv("CS_INCLUDE_CONTACT_PERSONAL_DATA", raising=False)
    build = small_build(tmp_path / "build.duckdb")
    published = tmp_path / "out" / "cs_metrics.duckdb"
    published.parent.mkdir()
    pub.publish(build, published)

    # A schema changed (a mart gained a column).
    con = duckdb.connect(str(build))
    con.execute("create or replace table marts.m as select range as x, 1 as y from range(10)")
    con.close()
    assert pub.publish(build, published).from_previous is False
    assert pub.publish(build, published).from_previous is True

    # More than the allowed share of freed blocks.
    monkeypatch.setattr(pub, "MAX_FREE_SHARE", -1.0)
    assert pub.publish(build, published).from_previous is False
    monkeypatch.undo()
    monkeypatch.delenv("CS_INCLUDE_CONTACT_PERSONAL_DATA", raising=False)

    # A file without a manifest (published before it existed).
    with duckdb.connect(str(published)) as con:
        con.execute("drop table raw.published_tables")
    assert pub.publish(build, published).from_previous is False


def test_the_published_file_leaves_the_intermediate_models_out_unless_configured_in(
        tmp_path, monkeypatch):
    """The intermediate models stay in the build (DECISIONS.md): a new file and a file started
    from the previous one both lack them; CS_PUBLISH_INTERMEDIATE=true publishes them, and each
    switch of the setting writes a new file (the previous one's schemas are not the build's)."""
    from orchestration.lib import publish as pub

    monkeypatch.delenv("CS_INCLUDE_CONTACT_PERSONAL_DATA", raising=False)
    monkeypatch.delenv("CS_PUBLISH_INTERMEDIATE", raising=False)
    build = small_build(tmp_path / "build.duckdb")
    with duckdb.connect(str(build)) as con:
        con.execute("create schema intermediate")
        con.execute("create table intermediate.int_steps as select range as step from range(7)")
        con.execute("create view intermediate.int_view as select count(*) as n from intermediate.int_steps")
    published = tmp_path / "out" / "cs_metrics.duckdb"
    published.parent.mkdir()

    def schemas_and_tables() -> tuple[set, set]:
        with duckdb.connect(str(published), read_only=True) as con:
            return ({r[0] for r in con.execute("select schema_name from duckdb_schemas() "
                                               "where not internal").fetchall()},
                    {r[0] for r in con.execute("select schema_name || '.' || table_name "
                                               "from duckdb_tables()").fetchall()})

    first = pub.publish(build, published)
    schemas, tables = schemas_and_tables()
    assert first.tables["written"] == 6 and "intermediate" not in schemas
    assert tables == {"raw.crm_contacts", "raw.quarantine", "raw.load_audit",
                      "raw.product_usage_events", "marts.m", "marts.daily",
                      "raw.published_tables", "raw.published_partitions"}
    with duckdb.connect(str(build)) as con:  # a changed intermediate model changes nothing
        con.execute("insert into intermediate.int_steps values (99)")
    assert pub.publish(build, published).tables == {
        "kept": 6, "appended": 0, "partitions": 0, "written": 0}

    monkeypatch.setenv("CS_PUBLISH_INTERMEDIATE", "true")
    configured_in = pub.publish(build, published)
    assert (configured_in.from_previous, configured_in.tables["written"]) == (False, 7)
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select n from intermediate.int_view").fetchone() == (8,)
    assert pub.publish(build, published).from_previous is True

    monkeypatch.setenv("CS_PUBLISH_INTERMEDIATE", "false")
    assert pub.publish(build, published).from_previous is False
    assert "intermediate" not in schemas_and_tables()[0]

    # A published view that reads an intermediate model would not resolve: the audit stops it.
    with duckdb.connect(str(build)) as con:
        con.execute("create view marts.steps as select * from intermediate.int_steps")
    before = sha256(published)
    try:
        pub.publish(build, published)
    except pub.AuditError as exc:
        assert "marts.steps" in str(exc)
    else:
        raise AssertionError("a view over an unpublished schema was published")
    assert sha256(published) == before
