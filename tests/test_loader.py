"""The contract-checked loader on small hand-written exports."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.contract import TABLES, get_table, render_markdown
from orchestration.lib.loader import ExportError, SourceMapping, connect, load_table

ACCOUNTS_HEADER = "account_id,account_name,segment,industry,region,owner_csm_id,created_date\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


def test_bad_rows_are_quarantined_with_file_line_column_and_reason(tmp_path, con):
    write(
        tmp_path / "crm" / "accounts.csv",
        ACCOUNTS_HEADER
        + "A1,Acme,smb,Tech,NA,C1,2024-01-05\n"        # line 2: fine
        + "A2,Beta,enterprise,,EMEA,C1,2024-13-01\n"   # line 3: month 13
        + ",Gamma,smb,,NA,,2024-02-01\n"               # line 4: key missing
        + '"A4","Delta, Inc",mid_market,,,,2024-03-01\n'  # line 5: fine, quoted comma
        + "A5,Eps,smb,,,,\n",                          # line 6: required date missing
    )
    result = load_table(con, get_table("crm_accounts"), tmp_path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 2, 3)
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    assert con.execute("select account_id from raw.crm_accounts order by 1").fetchall() == [
        ("A1",), ("A4",)
    ]
    rows = con.execute(
        "select line_number, column_name, rule, reason, source_file from raw.quarantine "
        "order by line_number"
    ).fetchall()
    src = str(tmp_path / "crm" / "accounts.csv")
    assert rows == [
        (3, "created_date", "bad_type", "created_date: '2024-13-01' is not a valid DATE", src),
        (4, "account_id", "missing_value", "account_id: required value is missing", src),
        (6, "created_date", "missing_value", "created_date: required value is missing", src),
    ]
    raw_record = json.loads(
        con.execute("select raw_record from raw.quarantine where line_number = 3").fetchone()[0]
    )
    assert raw_record["account_name"] == "Beta"
    audit = con.execute(
        "select rows_read, rows_loaded, rows_quarantined, file_sha256 from raw.load_audit"
    ).fetchone()
    assert audit[:3] == (5, 2, 3) and len(audit[3]) == 64


def test_missing_required_column_names_file_and_column(tmp_path, con):
    path = write(tmp_path / "crm" / "accounts.csv",
                 "account_id,account_name,industry,created_date\nA1,Acme,Tech,2024-01-01\n")
    with pytest.raises(ExportError) as err:
        load_table(con, get_table("crm_accounts"), tmp_path)
    assert str(path) in str(err.value) and "'segment'" in str(err.value)


def test_missing_optional_column_loads_as_null(tmp_path, con):
    write(tmp_path / "crm" / "accounts.csv",
          "account_id,account_name,segment,created_date\nA1,Acme,smb,2024-01-01\n")
    result = load_table(con, get_table("crm_accounts"), tmp_path)
    assert result.missing_optional_columns == ("industry", "region", "owner_csm_id")
    assert con.execute("select region from raw.crm_accounts").fetchone() == (None,)


def test_required_file_missing_fails_optional_loads_empty(tmp_path, con):
    with pytest.raises(ExportError, match="required export missing"):
        load_table(con, get_table("crm_accounts"), tmp_path)
    result = load_table(con, get_table("crm_lifecycle_stages"), tmp_path)
    assert result.rows_read == 0
    assert con.execute("select count(*) from raw.crm_lifecycle_stages").fetchone() == (0,)
    types = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_name = 'crm_lifecycle_stages'").fetchall())
    assert types["entered_date"] == "DATE"


def test_types_are_declared_not_inferred(tmp_path, con):
    # "00123" would be inferred as an integer by a sniffer; the contract says varchar.
    write(tmp_path / "billing" / "payments.csv",
          "payment_id,invoice_id,payment_date,amount,currency,status\n"
          "00123,I1,2024-01-05,10.505,USD,succeeded\n"
          "00124,I1,2024-01-06,ten,USD,failed\n")
    result = load_table(con, get_table("billing_payments"), tmp_path)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert con.execute("select payment_id, amount from raw.billing_payments").fetchone() == (
        "00123", Decimal("10.51")
    )
    assert con.execute("select reason from raw.quarantine").fetchone()[0] == (
        "amount: 'ten' is not a valid DECIMAL(18,2)"
    )


def test_parquet_and_json_exports(tmp_path, con):
    (tmp_path / "product").mkdir()
    con.execute(
        f"copy (select 'E' || i as event_id, 'U1' as user_id, 'A1' as account_id, "
        f"timestamp '2024-01-01 00:00:00' + to_minutes(i) as event_at, 'search' as feature_key, "
        f"cast(i as integer) as duration_seconds from range(10) t(i)) "
        f"to '{tmp_path}/product/usage_events.parquet' (format parquet)"
    )
    result = load_table(con, get_table("product_usage_events"), tmp_path)
    assert (result.rows_read, result.rows_loaded, result.file_format) == (10, 10, "parquet")
    write(tmp_path / "surveys" / "nps_responses.json", json.dumps([
        {"response_id": "R1", "account_id": "A1", "responded_date": "2024-02-01", "score": 9,
         "comment": "great"},
        {"response_id": "R2", "account_id": "A1", "responded_date": "yesterday", "score": 3},
    ]))
    result = load_table(con, get_table("surveys_nps_responses"), tmp_path)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert con.execute("select line_number, column_name from raw.quarantine "
                       "where table_name = 'surveys_nps_responses'").fetchone() == (
        2, "responded_date")


def test_vendor_mapping_renames_recodes_and_parses_formats(tmp_path, con):
    # A Zendesk-like ticket export: other column names, good/bad ratings, US dates.
    write(tmp_path / "support" / "tickets.csv",
          "id,organization_id,priority,status,created,solved,satisfaction\n"
          "1,A1,urgent,solved,01/31/2024 10:00,02/01/2024 09:30,good\n"
          "2,A1,low,open,02/30/2024 10:00,,\n")
    mapping = SourceMapping(
        columns={"ticket_id": "id", "account_id": "organization_id", "created_at": "created",
                 "solved_at": "solved", "csat_score": "satisfaction"},
        values={"csat_score": {"good": "5", "bad": "1"}},
        formats={"created_at": "%m/%d/%Y %H:%M", "solved_at": "%m/%d/%Y %H:%M"},
    )
    result = load_table(con, get_table("support_tickets"), tmp_path, mapping)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert con.execute(
        "select ticket_id, csat_score, created_at, solved_at from raw.support_tickets"
    ).fetchone() == ("1", 5, *con.execute(
        "select timestamp '2024-01-31 10:00', timestamp '2024-02-01 09:30'").fetchone())
    assert "in format %m/%d/%Y %H:%M" in con.execute(
        "select reason from raw.quarantine").fetchone()[0]


def test_reload_is_idempotent(tmp_path, con):
    write(tmp_path / "crm" / "accounts.csv", ACCOUNTS_HEADER
          + "A1,Acme,smb,,,,2024-01-05\nA2,B,smb,,,,bad\n")
    first = load_table(con, get_table("crm_accounts"), tmp_path)
    snap = con.execute("select * from raw.crm_accounts union all "
                       "select table_name, source_file, cast(line_number as varchar), column_name, "
                       "rule, reason, null from raw.quarantine").fetchall()
    second = load_table(con, get_table("crm_accounts"), tmp_path)
    assert second.rows_kept == 2  # the same file: kept, not read again
    assert first == dataclasses.replace(second, rows_kept=0)
    assert snap == con.execute("select * from raw.crm_accounts union all "
                               "select table_name, source_file, cast(line_number as varchar), "
                               "column_name, rule, reason, null from raw.quarantine").fetchall()


def test_contract_is_consistent_and_documented():
    names = {t.name for t in TABLES}
    assert len(names) == len(TABLES) == 22
    for t in TABLES:
        assert set(t.primary_key) <= set(t.column_names), t.name
        for c in t.columns:
            if c.references:
                table, column = c.references.split(".")
                assert table in names and column in get_table(table).column_names, c.references
    doc = Path(__file__).resolve().parents[1] / "docs" / "exports.md"
    assert doc.read_text() == render_markdown(), "run `make docs` to regenerate docs/exports.md"


def test_loaded_columns_have_the_declared_types(tmp_path, con):
    write(tmp_path / "support" / "tickets.csv",
          "ticket_id,account_id,priority,status,created_at,csat_score\n"
          "T1,A1,low,open,not a time,4\n")
    load_table(con, get_table("support_tickets"), tmp_path)  # every row quarantined
    types = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_name = 'support_tickets'").fetchall())
    assert types == {c.name: c.duckdb_type for c in get_table("support_tickets").columns}


def test_records_that_do_not_fit_the_header_are_quarantined_at_their_file_line(tmp_path, con):
    write(
        tmp_path / "crm" / "accounts.csv",
        ACCOUNTS_HEADER
        + 'A1,"Acme\nHoldings",smb,,,,2024-01-05\n'   # lines 2-3: a quoted line break
        + "A2,Beta,smb,,,\n"                           # line 4: a field too few
        + "A3,Gamma,smb,,,,2024-01-05,surplus\n"       # line 5: a field too many
        + 'A4,"Delta\r\nInc",smb,,,,2024-13-01\n'      # lines 6-7: bad date, reported at 6
        + "A5,Eps,smb,,,,2024-01-0",                   # line 8: cut short, no final line break
    )
    result = load_table(con, get_table("crm_accounts"), tmp_path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 1, 4)
    assert con.execute("select account_name from raw.crm_accounts").fetchall() == [
        ("Acme\nHoldings",)]
    assert con.execute(
        "select line_number, column_name, rule, reason from raw.quarantine order by line_number"
    ).fetchall() == [
        (4, "created_date", "column_count", "the record has 6 fields, the header has 7"),
        (5, "*", "column_count", "the record has 8 fields, the header has 7"),
        (6, "created_date", "bad_type", "created_date: '2024-13-01' is not a valid DATE"),
        (8, "*", "truncated", "the file ends without a line break: its last record was cut "
         "short (truncated file?); created_date: '2024-01-0' is not a valid DATE"),
    ]
    raw_record = con.execute("select raw_record from raw.quarantine where line_number = 4").fetchone()
    assert json.loads(raw_record[0]) == {"csv_line": "A2,Beta,smb,,,"}


@pytest.mark.parametrize(
    ("content", "rule", "says"),
    [
        (b"", "empty_file", "empty (0 bytes)"),
        (b"\n\n", "empty_file", "no header row"),
        (ACCOUNTS_HEADER.encode() + "A1,Société,smb,,,,2024-01-05\n".encode("latin-1"),
         "encoding", "line 2, column 'account_name'"),
        (ACCOUNTS_HEADER.replace("region", "région").encode("latin-1"), "encoding", "the header"),
        (ACCOUNTS_HEADER.replace(",", ";").encode(), "wrong_delimiter", "';'-separated"),
        (b"\x00\xff" * 1000, "encoding", "not UTF-8"),
    ],
    ids=["empty", "blank", "latin1-row", "latin1-header", "semicolons", "binary"],
)
def test_files_that_cannot_be_loaded_are_refused_with_the_reason(tmp_path, con, content, rule, says):
    path = tmp_path / "crm" / "accounts.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(ExportError) as err:
        load_table(con, get_table("crm_accounts"), tmp_path)
    assert err.value.rule == rule
    assert str(path) in str(err.value) and says in str(err.value)


def test_header_differences_that_load_are_warnings(tmp_path, con):
    write(tmp_path / "crm" / "accounts.csv",
          "account_id,account_name,segment,created_date,notes,notes\n"
          "A1,Acme,smb,2024-01-05,x,y\n")
    write(tmp_path / "crm" / "accounts (1).csv", "whatever\n")
    result = load_table(con, get_table("crm_accounts"), tmp_path)
    assert result.rows_loaded == 1
    assert result.extra_columns == ("notes", "notes__2")
    assert [w.split(":")[0] for w in result.warnings] == [
        "repeated_columns", "missing_optional_columns", "extra_columns", "stray_file"]
    assert con.execute("select warnings from raw.load_audit").fetchone()[0] == "\n".join(
        result.warnings)


def test_a_build_database_from_before_the_warnings_column_still_loads(tmp_path):
    db = tmp_path / "build.duckdb"
    old = duckdb.connect(str(db))
    old.execute("create schema raw")
    old.execute("create table raw.load_audit (table_name varchar primary key, source_file varchar, "
                "file_format varchar, file_sha256 varchar, file_bytes bigint, rows_read bigint not "
                "null, rows_loaded bigint not null, rows_quarantined bigint not null, "
                "missing_optional_columns varchar)")
    old.close()
    write(tmp_path / "raw" / "crm" / "accounts.csv", ACCOUNTS_HEADER + "A1,Acme,smb,,,,2024-01-05\n")
    c = duckdb.connect(str(db))
    try:
        assert load_table(c, get_table("crm_accounts"), tmp_path / "raw").rows_loaded == 1
        assert c.execute("select rows_read, warnings from raw.load_audit").fetchone() == (1, "")
    finally:
        c.close()


EVENTS = get_table("product_usage_events")
DAY_ONE = [  # (event_id, user_id, event_at as text, duration): E3's time is bad, E4 has no user
    ("E1", "U1", "2024-01-01 09:00:00", 10), ("E2", "U2", "2024-01-01 10:00:00", 20),
    ("E3", "U1", "not a time", 30), ("E4", None, "2024-01-01 11:00:00", 40),
    ("E5", "U2", "2024-01-01 12:00:00", 50),
]
DAY_TWO = [("E6", "U1", "2024-01-02 09:00:00", 60), ("E7", "U2", "soon", 70),
           ("E8", "U1", "2024-01-02 10:00:00", 80)]


def write_events(folder: Path, rows) -> Path:
    """The usage-events export as Parquet (event_at as text, so that a bad value can be in it)."""
    path = folder / "product" / "usage_events.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    values = ", ".join(
        f"({i}, '{e}', {'NULL' if u is None else repr(u)}, 'A1', '{at}', 'search', {d})"
        for i, (e, u, at, d) in enumerate(rows)
    )
    duckdb.execute(
        f"copy (select * exclude (n) from (values {values}) t(n, event_id, user_id, account_id, "
        f"event_at, feature_key, duration_seconds) order by n) to '{path}' (format parquet)"
    )
    return path


def loaded_state(con, table: str = "product_usage_events") -> dict:
    """Everything a load leaves behind, order-independent (the appended rows come last)."""
    return {
        "rows": sorted(con.execute(f"select * from raw.{table}").fetchall()),
        "quarantine": sorted(con.execute(
            "select line_number, column_name, rule, reason, raw_record, source_file "
            "from raw.quarantine where table_name = ?", [table]).fetchall()),
        "audit": con.execute("select * exclude (table_name) from raw.load_audit "
                             "where table_name = ?", [table]).fetchall(),
        # an appended load also records the load it continued (a full load: none)
        "state": con.execute("select * exclude (continued_from, continued_rows_loaded) "
                             "from raw.load_state where table_name = ?", [table]).fetchall(),
    }


def full_load(folder: Path, spec=EVENTS) -> tuple:
    with duckdb.connect() as fresh:
        result = load_table(fresh, spec, folder)
        assert result.rows_kept == 0
        return result, loaded_state(fresh, spec.name)


def test_an_appended_parquet_export_reads_only_its_new_rows_and_equals_a_full_load(tmp_path, con):
    write_events(tmp_path, DAY_ONE)
    first = load_table(con, EVENTS, tmp_path)
    assert (first.rows_read, first.rows_loaded, first.rows_quarantined, first.rows_kept) == (5, 3, 2, 0)
    continuation = "select source_hash, continued_from, continued_rows_loaded from raw.load_state"
    first_hash, *continued = con.execute(continuation).fetchone()
    assert continued == ["", 0]  # a full load continues nothing

    # The next morning: yesterday's export again, plus a day (a good row, a bad one, a good one).
    write_events(tmp_path, DAY_ONE + DAY_TWO)
    second = load_table(con, EVENTS, tmp_path)
    assert second.rows_kept == 5  # read once for the checksum, not loaded again
    # the load it continued, and the raw rows that load left (the table's first rows)
    assert con.execute(continuation).fetchone()[1:] == (first_hash, 3)
    assert (second.rows_read, second.rows_loaded, second.rows_quarantined) == (8, 5, 3)
    assert second.quarantine_by_rule == {"bad_type": 2, "missing_value": 1}
    assert con.execute(
        "select line_number, column_name, rule from raw.quarantine order by line_number"
    ).fetchall() == [(3, "event_at", "bad_type"), (4, "user_id", "missing_value"),
                     (7, "event_at", "bad_type")]
    full, state = full_load(tmp_path)
    assert loaded_state(con) == state
    assert (second.rows_read, second.rows_loaded, second.rows_quarantined, second.file_sha256) == (
        full.rows_read, full.rows_loaded, full.rows_quarantined, full.file_sha256)

    # The same file again: nothing new, nothing changes.
    third = load_table(con, EVENTS, tmp_path)
    assert (third.rows_kept, third.rows_read, third.rows_loaded) == (8, 8, 5)
    assert loaded_state(con) == state


def test_an_export_moved_to_another_folder_keeps_its_rows_with_the_new_file_name(tmp_path, con):
    write_events(tmp_path / "monday", DAY_ONE)
    load_table(con, EVENTS, tmp_path / "monday")
    write_events(tmp_path / "tuesday", DAY_ONE + DAY_TWO)
    assert load_table(con, EVENTS, tmp_path / "tuesday").rows_kept == 5
    assert loaded_state(con) == full_load(tmp_path / "tuesday")[1]  # source_file included


@pytest.mark.parametrize("change", ["row_changed", "rows_moved", "row_removed", "table_changed",
                                    "mapping_changed", "column_added"])
def test_anything_but_new_rows_at_the_end_is_a_full_load(tmp_path, con, change):
    write_events(tmp_path, DAY_ONE)
    load_table(con, EVENTS, tmp_path)
    rows, mapping = DAY_ONE + DAY_TWO, None
    if change == "row_changed":
        rows = [DAY_ONE[0], ("E2", "U2", "2024-01-01 10:00:00", 21)] + rows[2:]
    elif change == "rows_moved":
        rows = [DAY_ONE[1], DAY_ONE[0]] + rows[2:]
    elif change == "row_removed":
        rows = rows[1:]
    elif change == "table_changed":  # someone deleted a loaded row in the build database
        con.execute("delete from raw.product_usage_events where event_id = 'E1'")
    elif change == "mapping_changed":
        mapping = SourceMapping(values={"feature_key": {"find": "search"}})
    path = write_events(tmp_path, rows)
    if change == "column_added":
        duckdb.execute(f"copy (select *, 'x' as browser from '{path}') to '{path}.new' (format parquet)")
        Path(f"{path}.new").replace(path)
    result = load_table(con, EVENTS, tmp_path, mapping)
    assert result.rows_kept == 0
    _, state = full_load(tmp_path) if mapping is None else (None, None)
    if state is not None:
        assert loaded_state(con) == state
    assert con.execute("select count(*) from raw.product_usage_events").fetchone()[0] == (
        result.rows_loaded)


def test_an_appended_load_that_fails_changes_nothing(tmp_path, con, monkeypatch):
    write_events(tmp_path, DAY_ONE)
    load_table(con, EVENTS, tmp_path)
    before = loaded_state(con)
    write_events(tmp_path, DAY_ONE + DAY_TWO)
    import orchestration.lib.loader as loader

    def fail(*args, **kwargs):
        raise RuntimeError("killed while recording the load")

    monkeypatch.setattr(loader, "_record_state", fail)
    with pytest.raises(RuntimeError, match="killed"):
        load_table(con, EVENTS, tmp_path)
    assert loaded_state(con) == before  # table, quarantine, audit and state as they were
    monkeypatch.undo()
    assert load_table(con, EVENTS, tmp_path).rows_kept == 5
    assert loaded_state(con) == full_load(tmp_path)[1]


ACCOUNTS = get_table("crm_accounts")
# A good record, a bad date, a record one field short: 1 loaded, 2 quarantined.
ACCOUNTS_CSV = (ACCOUNTS_HEADER + "A1,Acme,smb,,,,2024-01-05\nA2,Beta,smb,,,,not a date\n"
                "A3,Gamma,smb,,,\n")


@pytest.mark.parametrize("change", [None, "moved", "byte_changed", "table_changed",
                                    "mapping_changed"])
def test_an_unchanged_export_is_not_read_again_and_equals_a_full_load(tmp_path, con, monkeypatch,
                                                                     change):
    import orchestration.lib.loader as loader

    raw_dir = tmp_path / "monday"
    write(raw_dir / "crm" / "accounts.csv", ACCOUNTS_CSV)
    first = load_table(con, ACCOUNTS, raw_dir)
    assert (first.rows_read, first.rows_loaded, first.rows_quarantined, first.rows_kept) == (
        3, 1, 2, 0)
    mapping = None
    if change == "moved":
        raw_dir = tmp_path / "tuesday"
        write(raw_dir / "crm" / "accounts.csv", ACCOUNTS_CSV)
    elif change == "byte_changed":
        write(raw_dir / "crm" / "accounts.csv", ACCOUNTS_CSV.replace("Acme", "Acme "))
    elif change == "table_changed":  # someone deleted the loaded row in the build database
        con.execute("delete from raw.crm_accounts")
    elif change == "mapping_changed":
        mapping = SourceMapping(values={"segment": {"smb": "mid_market"}})
    full_loads: list[str] = []
    forget = loader._forget_table
    monkeypatch.setattr(loader, "_forget_table",
                        lambda c, name: (full_loads.append(name), forget(c, name)))
    again = load_table(con, ACCOUNTS, raw_dir, mapping)
    if change in (None, "moved"):
        assert full_loads == []  # not read: the table and its quarantine stay
        assert (again.rows_read, again.rows_loaded, again.rows_quarantined, again.rows_kept) == (
            3, 1, 2, 3)
        assert again.quarantine_by_rule == first.quarantine_by_rule
        assert again.source_file == str(raw_dir / "crm" / "accounts.csv")
    else:
        assert full_loads == ["crm_accounts"] and again.rows_kept == 0
    if mapping is None:  # the same table, quarantine (file names included), audit and state
        assert loaded_state(con, ACCOUNTS.name) == full_load(raw_dir, ACCOUNTS)[1]


def test_an_unchanged_header_only_export_keeps_its_warnings_in_order(tmp_path, con,
                                                                     monkeypatch):
    """The warnings of an unchanged export are a full load's, in the same order: the file's
    own (no rows) before the stray files of its folder."""
    import orchestration.lib.loader as loader

    write(tmp_path / "crm" / "accounts.csv", ACCOUNTS_HEADER)
    write(tmp_path / "crm" / "accounts (1).csv", ACCOUNTS_HEADER)
    first = load_table(con, ACCOUNTS, tmp_path)
    assert [w.split(":")[0] for w in first.warnings] == ["no_rows", "stray_file"]
    monkeypatch.setattr(loader, "_forget_table", lambda *a: pytest.fail("loaded again"))
    again = load_table(con, ACCOUNTS, tmp_path)
    monkeypatch.undo()
    assert again.rows_kept == 0 == again.rows_read  # kept: all of its no rows
    assert again.warnings == first.warnings
    assert loaded_state(con, ACCOUNTS.name) == full_load(tmp_path, ACCOUNTS)[1]


def test_trimmed_text_equals_nullif_trim_for_every_code_point():
    """The loader trims text only where DuckDB's ``trim`` can change it (``trimmed_text``): the
    result must be ``nullif(trim(x), '')`` for every value. Every Unicode code point (the
    removable ones are the space and the 16 other space separators, whatever this DuckDB's list)
    alone, at the start, at the end, on both sides and inside, plus the cases around the guard."""
    from orchestration.lib.loader import trimmed_text

    con = duckdb.connect()
    con.execute(
        "create table v as select x from ("
        "select unnest([c, c || 'a', 'a' || c, c || 'ab' || c, 'a' || c || 'b', c || c]) as x "
        "from (select chr(i::integer) as c from range(1, 1114112) t(i) "
        "where i < 55296 or i > 57343) "
        "union all select unnest([null, '', ' ', '  ', 'a', ' a', 'a ', ' a ', '!', '~', "
        "chr(13) || chr(10), 'a' || chr(13) || chr(10), 'é', 'é ', ' é', 'aé', 'éa'])::varchar)"
    )
    total, differ, trimmed = con.execute(
        f"select count(*), count(*) filter (where {trimmed_text('x')} is distinct from "
        "nullif(trim(x), '')), count(*) filter (where nullif(trim(x), '') is distinct from x) "
        "from v").fetchone()
    assert total == 6 * (1114111 - 2048) + 17
    assert differ == 0
    assert trimmed > 17 * 4  # the space separators were in it, and trimmed


def test_connect_sets_the_memory_limit_and_the_spill_folder(tmp_path):
    """A file connection spills to tmp beside the file; an in-memory one (publish, the bench's
    next-day writer) to the folder it is given, which it must be given."""
    def settings(con):
        try:
            limit, spill = con.execute(
                "select current_setting('memory_limit'), current_setting('temp_directory')"
            ).fetchone()
            return limit, Path(spill)
        finally:
            con.close()

    limit, spill = settings(connect(tmp_path / "w" / "build.duckdb", "300MB"))
    assert limit in ("286.1 MiB", "300.0 MB") and spill == tmp_path / "w" / "tmp"
    limit, spill = settings(connect(None, "300MB", temp_dir=tmp_path / "spill"))
    assert limit in ("286.1 MiB", "300.0 MB") and spill == tmp_path / "spill"
    assert (tmp_path / "spill").is_dir()
    with pytest.raises(ValueError, match="temp_dir"):
        connect(None, "300MB")
