"""Generate the corpus of broken exports: one folder per case, each a full set of exports of the
built-in sample company with ONE thing wrong, and a ``case.json`` saying what is wrong and what
the pipeline must do about it.

    python -m tests.reliability.make_corpus OUT [--base RAW_DIR] [--seed 7] [--slow] [--case NAME]

Layout of ``OUT/<case>/``: ``raw/<system>/<entity>.<ext>`` (the exports; a case may name its raw
folder differently), ``outside/`` (files a case links to from inside ``raw/``), ``case.json``:

    {"name", "description", "file" (the export mutated or added, relative to the raw folder),
     "table", "outcome" (quarantined | blocked | accepted_with_warning | accepted), "rule",
     "why", "raw_dir", "expect" (what the test checks beyond the outcome: a line, a column,
     a key, text the message must contain)}

The base company is the test suite's small company (40 accounts, seed 11), generated into
``OUT/_base`` unless ``--base`` names one. Mutations are made with DuckDB (a row's values, a
column renamed, dropped or added; rewriting an untouched file gives the same bytes) and plain
file operations (bytes cut, re-encoded, prefixed; files copied or linked). Every choice of row
comes from ``random.Random("<seed>:<case>")``: the same seed gives the same corpus.

The outcomes and rules are documented in ``docs/reliability.md``; ``orchestration/lib/
reliability.py`` runs a case and ``tests/test_reliability_corpus.py`` checks each one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.lib.loader import literal, owner_table, path_literal, quote

BASE_ACCOUNTS = 40  # the test suite's small company (tests/conftest.py)
BASE_SEED = 11
DEFAULT_SEED = 7
RANDOM_BYTES_MB = 300
OUTCOMES = ("blocked", "quarantined", "accepted_with_warning", "accepted")

SQL_NAME = "tickets'; drop table raw.quarantine;--.csv"
QUOTE_NAME = 'a"b.csv'
SQL_RAW_DIR = "raw'; drop table raw.load_audit;--[x]*"
SQL_RAW_DIR_DECOY = "raw'; drop table raw.load_audit;--x"  # what the unescaped glob would match
SQL_VALUE = "Robert'); drop table raw.quarantine; --"
SQL_COLUMN = 'x"); drop table raw.load_audit; --'


class Mutation:
    """What a case's ``mutate`` gets: the case's folders, its random generator, and helpers that
    change one export through DuckDB."""

    def __init__(self, case_dir: Path, raw: Path, rng: random.Random):
        self.case_dir = case_dir
        self.raw = raw
        self.rng = rng
        self.con = duckdb.connect()

    def path(self, rel: str) -> Path:
        return self.raw / rel

    def view(self, rel: str) -> int:
        """``t``: the export as text, with ``_row`` (1 = the first data row); its row count."""
        self.con.execute(
            f"create or replace temp view t as select row_number() over () as _row, * "
            f"from read_csv({path_literal(self.path(rel))}, header=true, all_varchar=true, "
            f"delim=',', quote='\"', escape='\"')"
        )
        return self.con.execute("select count(*) from t").fetchone()[0]

    def columns(self) -> list[str]:
        return [r[0] for r in self.con.execute("describe t").fetchall() if r[0] != "_row"]

    def pick(self, rel: str, where: str = "true") -> tuple[int, dict]:
        """A row of ``rel`` (matching ``where``) chosen by the case's generator: (_row, values)."""
        self.view(rel)
        rows = [r[0] for r in self.con.execute(
            f"select _row from t where {where} order by _row").fetchall()]
        row = self.rng.choice(rows[len(rows) // 5: max(len(rows) // 5 + 1, 4 * len(rows) // 5)])
        cur = self.con.execute("select * exclude (_row) from t where _row = ?", [row])
        return row, dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))

    def write_select(self, rel: str, sql: str, dst: str | None = None, delimiter: str = ",",
                     fmt: str = "csv") -> Path:
        """Write the result of ``sql`` (over ``t``) to ``dst`` (default: ``rel`` itself)."""
        target = self.path(dst or rel)
        tmp = target.with_name(target.name + ".tmp")
        options = (f"header, delimiter {literal(delimiter)}, quote '\"', escape '\"'"
                   if fmt == "csv" else "format json, array true")
        self.con.execute(f"copy ({sql}) to {literal(str(tmp))} ({options})")
        os.replace(tmp, target)
        return target

    def replace_values(self, rel: str, row: int, **values: str | None) -> None:
        """Rewrite ``rel`` with ``values`` in data row ``row`` (everything else byte-identical)."""
        self.view(rel)
        replace = ", ".join(
            f"case when _row = {int(row)} then {'null' if v is None else literal(v)} "
            f"else {quote(c)} end as {quote(c)}"
            for c, v in values.items()
        )
        self.write_select(rel, f"select * exclude (_row) replace ({replace}) from t order by _row")

    def append_rows(self, rel: str, select: str) -> None:
        """Rewrite ``rel`` with the rows of ``select`` (same columns as ``t``) after the others."""
        self.view(rel)
        cols = ", ".join(quote(c) for c in self.columns())
        self.write_select(
            rel,
            f"select {cols} from (select *, 0 as _part from t union all "
            f"select *, 1 as _part from ({select})) order by _part, _row",
        )

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Replace ``rel`` with ``data`` (a new file: never written through a shared inode)."""
        self.path(rel).unlink(missing_ok=True)
        self.path(rel).write_bytes(data)

    def line_of(self, rel: str, record_start: str) -> int:
        """The file line on which the record starting with ``record_start`` begins, counted in
        the bytes (independently of the loader): line breaks before it, plus one."""
        data = self.path(rel).read_bytes()
        at = data.index(b"\n" + record_start.encode())
        return data[: at + 1].count(b"\n") + 1

    def close(self) -> None:
        self.con.close()


@dataclass(frozen=True)
class Case:
    name: str
    file: str  # the export mutated or added, relative to the raw folder
    outcome: str
    rule: str
    what: str  # what is wrong
    why: str  # why the pipeline does what it does
    mutate: Callable[[Mutation], dict | None]
    slow: bool = False
    raw_dir: str = "raw"

    @property
    def table(self) -> str:
        """The table whose extract reads (or, for a stray file, reports) ``file``."""
        return owner_table(self.file)


# --------------------------------------------------------------------------------- mutations


def _clean(m: Mutation) -> dict:
    return {}


def _truncated(m: Mutation) -> dict:
    rel = "support/tickets.csv"
    row, values = m.pick(rel)
    start = m.line_of(rel, values["ticket_id"] + ",")
    data = m.path(rel).read_bytes()
    at = data.index(b"\n" + values["ticket_id"].encode()) + 1
    end = data.index(b"\n", at)
    m.write_bytes(rel, data[: at + (end - at) // 2])  # cut in the middle of the record
    return {"line": start, "key": values["ticket_id"], "rows_read": row, "rows_quarantined": 1}


def _truncated_parquet(m: Mutation) -> dict:
    data = m.path("product/usage_events.parquet").read_bytes()
    m.write_bytes("product/usage_events.parquet", data[: len(data) // 2])
    return {"message_contains": ["usage_events.parquet", "cannot be read as parquet"]}


def _wrong_delimiter(m: Mutation) -> dict:
    m.view("crm/contacts.csv")
    m.write_select("crm/contacts.csv", "select * exclude (_row) from t order by _row",
                   delimiter=";")
    return {"message_contains": ["contacts.csv", "';'-separated", "'contact_id'"]}


def _bom(m: Mutation) -> dict:
    m.write_bytes("crm/accounts.csv", b"\xef\xbb\xbf" + m.path("crm/accounts.csv").read_bytes())
    return {}


def _latin1(m: Mutation) -> dict:
    rel = "crm/accounts.csv"
    row, values = m.pick(rel)
    m.replace_values(rel, row, account_name="Société Générale Müller & Søn")
    line = m.line_of(rel, values["account_id"] + ",")
    m.write_bytes(rel, m.path(rel).read_bytes().decode("utf-8").encode("latin-1", errors="replace"))
    return {"line": line, "column": "account_name",
            "message_contains": ["accounts.csv", f"line {line}", "'account_name'", "UTF-8"]}


NEWLINE_COMMENT = "Onboarding was great.\nSupport was slow, though.\n\nWould still recommend."


def _quoted_newlines(m: Mutation) -> dict:
    rel = "surveys/nps_responses.csv"
    row, values = m.pick(rel)
    m.replace_values(rel, row, comment=NEWLINE_COMMENT)
    return {"key": values["response_id"], "value": NEWLINE_COMMENT}


def _quoted_newline_then_bad_row(m: Mutation) -> dict:
    rel = "surveys/nps_responses.csv"
    n = m.view(rel)
    first = m.rng.randrange(2, n // 3)
    m.replace_values(rel, first, comment=NEWLINE_COMMENT)
    m.replace_values(rel, first + 3, comment="A\r\nB")
    bad, values = m.pick(rel, where=f"_row > {first + 5}")
    m.replace_values(rel, bad, responded_date="2024-13-45")
    line = m.line_of(rel, values["response_id"] + ",")
    assert line == bad + 1 + NEWLINE_COMMENT.count("\n") + 1, "the physical line is past the record"
    return {"line": line, "column": "responded_date", "key": values["response_id"],
            "rows_quarantined": 1}


def _renamed_column(m: Mutation) -> dict:
    m.view("support/tickets.csv")
    m.write_select("support/tickets.csv",
                   "select * exclude (_row) rename (priority as ticket_priority) from t order by _row")
    return {"message_contains": ["tickets.csv", "'priority'", "'ticket_priority'"]}


def _missing_column(m: Mutation) -> dict:
    m.view("billing/invoices.csv")
    m.write_select("billing/invoices.csv", "select * exclude (_row, currency) from t order by _row")
    return {"message_contains": ["invoices.csv", "'currency'"]}


def _missing_optional_column(m: Mutation) -> dict:
    m.view("support/tickets.csv")
    m.write_select("support/tickets.csv", "select * exclude (_row, csat_score) from t order by _row")
    return {"message_contains": ["'csat_score'"]}


def _extra_column(m: Mutation) -> dict:
    m.view("billing/payments.csv")
    m.write_select("billing/payments.csv",
                   "select * exclude (_row), 'n/a' as internal_note from t order by _row")
    return {"message_contains": ["'internal_note'"]}


def _empty(m: Mutation) -> dict:
    m.write_bytes("support/tickets.csv", b"")
    return {"message_contains": ["tickets.csv", "empty"]}


def _header_only(m: Mutation) -> dict:
    m.view("support/incidents.csv")
    m.write_select("support/incidents.csv", "select * exclude (_row) from t where false")
    return {"rows_read": 0}


def _duplicate_key(m: Mutation) -> dict:
    row, values = m.pick("crm/accounts.csv")
    m.append_rows("crm/accounts.csv", f"select * from t where _row = {row}")
    return {"key": values["account_id"], "sample_value": values["account_id"], "rows_added": 1}


def _two_names(m: Mutation) -> dict:
    shutil.copyfile(m.path("support/tickets.csv"), m.path("support/tickets (1).csv"))
    return {"message_contains": ["'support/tickets (1).csv'", "same content as support/tickets.csv"]}


def _two_formats(m: Mutation) -> dict:
    m.view("crm/csm_roster.csv")
    m.write_select("crm/csm_roster.csv", "select * exclude (_row) from t order by _row",
                   dst="crm/csm_roster.json", fmt="json")
    return {"message_contains": ["csm_roster.csv", "csm_roster.json", "keep exactly one"]}


def _orphan(m: Mutation) -> dict:
    row, values = m.pick("support/tickets.csv")
    m.replace_values("support/tickets.csv", row, account_id="ACC-99999")
    return {"key": values["ticket_id"], "sample_value": "ACC-99999"}


def _negative_amount(m: Mutation) -> dict:
    row, values = m.pick("billing/invoice_lines.csv", "line_type = 'recurring'")
    m.replace_values("billing/invoice_lines.csv", row, amount="-120.00")
    return {"key": values["invoice_line_id"], "sample_value": -120.0}


def _absurd_amount(m: Mutation) -> dict:
    row, values = m.pick("billing/payments.csv")
    m.replace_values("billing/payments.csv", row, amount="250000000000.00")
    return {"key": values["payment_id"], "sample_value": 250000000000.0}


def _overflow_amount(m: Mutation) -> dict:
    rel = "billing/payments.csv"
    row, values = m.pick(rel)
    m.replace_values(rel, row, amount="99999999999999999999.99")
    return {"key": values["payment_id"], "line": m.line_of(rel, values["payment_id"] + ","),
            "column": "amount", "rows_quarantined": 1}


def _unknown_currency(m: Mutation) -> dict:
    row, values = m.pick("billing/invoices.csv")
    m.replace_values("billing/invoices.csv", row, currency="XYZ")
    return {"key": values["invoice_id"], "sample_value": "XYZ"}


def _future_date(m: Mutation) -> dict:
    row, values = m.pick("billing/invoices.csv")
    m.replace_values("billing/invoices.csv", row, invoice_date="2099-06-01", due_date="2099-07-01")
    return {"key": values["invoice_id"], "sample_value": "2099-06-01"}


def _before_1990(m: Mutation) -> dict:
    row, values = m.pick("crm/accounts.csv")
    m.replace_values("crm/accounts.csv", row, created_date="1989-12-31")
    return {"key": values["account_id"], "sample_value": "1989-12-31"}


def _period_reversed(m: Mutation) -> dict:
    row, values = m.pick("billing/invoice_lines.csv", "line_type = 'recurring'")
    m.replace_values("billing/invoice_lines.csv", row,
                     service_period_start=values["service_period_end"],
                     service_period_end=values["service_period_start"])
    return {"key": values["invoice_line_id"]}


def _overlapping_subscriptions(m: Mutation) -> dict:
    rel = "billing/subscriptions.csv"
    row, values = m.pick(rel, "canceled_date is null")
    m.append_rows(
        rel,
        f"select * replace (subscription_id || '-B' as subscription_id, "
        f"strftime(start_date::date + 30, '%Y-%m-%d') as start_date, null as trial_end_date) "
        f"from t where _row = {row}",
    )
    return {"key": values["subscription_id"] + "-B", "rows_added": 1}


def _nps_11(m: Mutation) -> dict:
    row, values = m.pick("surveys/nps_responses.csv")
    m.replace_values("surveys/nps_responses.csv", row, score="11")
    return {"key": values["response_id"], "sample_value": 11}


def _ten_thousand_columns(m: Mutation) -> dict:
    m.view("support/tickets.csv")
    extra = 10_000 - len(m.columns())
    cols = ", ".join(f"'x' as extra_{i:05d}" for i in range(1, extra + 1))
    m.write_select("support/tickets.csv", f"select * exclude (_row), {cols} from t order by _row")
    return {"columns": 10_000, "message_contains": [f"{extra} column(s) not in the contract",
                                                    f"and {extra - 10} more"]}


def _random_bytes(m: Mutation, megabytes: int = RANDOM_BYTES_MB) -> dict:
    m.path("support/tickets.csv").unlink()
    with m.path("support/tickets.csv").open("wb") as fh:
        for _ in range(megabytes):
            fh.write(m.rng.randbytes(1 << 20))
    return {"message_contains": ["tickets.csv", "not UTF-8"]}


def _stray_sql_name(m: Mutation) -> dict:
    # If it were read, its ticket for an unknown account would block the run.
    row, _ = m.pick("support/tickets.csv")
    m.view("support/tickets.csv")
    m.write_select(
        "support/tickets.csv",
        f"select * exclude (_row) replace ('ACC-99999' as account_id) from t where _row = {row}",
        dst=f"support/{SQL_NAME}",
    )
    return {"message_contains": [repr(f"support/{SQL_NAME}")]}


def _stray_quote_name(m: Mutation) -> dict:
    shutil.copyfile(m.path("crm/accounts.csv"), m.path(f"crm/{QUOTE_NAME}"))
    return {"message_contains": [repr(f"crm/{QUOTE_NAME}")]}


def _link_outside(m: Mutation) -> dict:
    outside = m.case_dir / "outside"
    outside.mkdir(exist_ok=True)
    shutil.move(m.path("crm/accounts.csv"), outside / "accounts.csv")
    os.symlink("../../outside/accounts.csv", m.path("crm/accounts.csv"))
    return {"message_contains": ["accounts.csv", "outside the raw folder"]}


def _stray_link_outside(m: Mutation) -> dict:
    outside = m.case_dir / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.csv").write_text("never,read\n1,2\n")
    os.symlink("../../outside/secret.csv", m.path("support/notes.csv"))
    return {"message_contains": ["'support/notes.csv'", "link to a file outside"]}


def _sql_raw_dir(m: Mutation) -> dict:
    # A decoy next to it that DuckDB's glob expansion of the real name would read instead.
    decoy = m.case_dir / SQL_RAW_DIR_DECOY
    shutil.copytree(m.raw, decoy)
    row, _ = m.pick("crm/accounts.csv")
    mm = Mutation(m.case_dir, decoy, m.rng)
    try:
        mm.append_rows("crm/accounts.csv", f"select * from t where _row = {row}")
    finally:
        mm.close()
    return {}


def _sql_values(m: Mutation) -> dict:
    rel = "crm/accounts.csv"
    row, values = m.pick(rel)
    m.replace_values(rel, row, account_name=SQL_VALUE)
    m.view(rel)
    m.write_select(rel, f"select * exclude (_row), 'x' as {quote(SQL_COLUMN)} from t order by _row")
    return {"key": values["account_id"], "value": SQL_VALUE, "message_contains": [repr(SQL_COLUMN)]}


def _field_count(m: Mutation) -> dict:
    rel = "crm/activities.csv"
    n = m.view(rel)
    short, long_ = sorted(m.rng.sample(range(n // 5, 4 * n // 5), 2))
    keys = [r[0] for r in m.con.execute(
        f"select activity_id from t where _row in ({short}, {long_}) order by _row").fetchall()]
    data = m.path(rel).read_bytes()
    lines = data.split(b"\n")
    lines[short] = lines[short].rsplit(b",", 1)[0]  # one field fewer (line index = _row)
    lines[long_] = lines[long_] + b",surplus"  # one field more
    m.write_bytes(rel, b"\n".join(lines))
    return {"lines": [short + 1, long_ + 1], "keys": keys, "rows_quarantined": 2}


def _bad_date(m: Mutation) -> dict:
    rel = "crm/opportunities.csv"
    row, values = m.pick(rel, "close_date is not null")
    m.replace_values(rel, row, close_date="2024-02-30")
    return {"key": values["opportunity_id"], "line": m.line_of(rel, values["opportunity_id"] + ","),
            "column": "close_date", "rows_quarantined": 1}


def _parent_quarantined(m: Mutation) -> dict:
    rel = "crm/accounts.csv"
    row, values = m.pick(rel)
    m.replace_values(rel, row, created_date="yesterday")
    return {"key": values["account_id"], "line": m.line_of(rel, values["account_id"] + ","),
            "column": "created_date", "sample_value": values["account_id"], "rows_quarantined": 1,
            "quarantine_rule": "bad_type"}


CASES: tuple[Case, ...] = (
    Case("clean", "crm/accounts.csv", "accepted", "",
         "Nothing: the sample company as generated (the control).",
         "Every export follows the contract.", _clean),
    # --- the file itself
    Case("truncated_file", "support/tickets.csv", "quarantined", "truncated",
         "The file is cut in the middle of a record (no final line break).",
         "The rows before the cut are whole and load; the cut record cannot be trusted even "
         "when its fields still parse (an amount cut from 120.50 to 12 parses).", _truncated),
    Case("truncated_parquet", "product/usage_events.parquet", "blocked", "unreadable",
         "A Parquet export cut in half.",
         "Parquet has no readable part without its footer: the file cannot be loaded.",
         _truncated_parquet),
    Case("wrong_delimiter", "crm/contacts.csv", "blocked", "wrong_delimiter",
         "The export is semicolon-separated.",
         "The header reads as one column; the error says the file looks ';'-separated.",
         _wrong_delimiter),
    Case("utf8_bom", "crm/accounts.csv", "accepted", "",
         "The file starts with a UTF-8 byte order mark (as Excel writes it).",
         "A BOM is valid UTF-8 and is skipped; the first column is still `account_id`.", _bom),
    Case("latin1_text", "crm/accounts.csv", "blocked", "encoding",
         "The file is Latin-1: an account name has é, ü and ø as single bytes.",
         "Encoding is a property of the whole file: the run stops and names the first line "
         "and column with bytes that are not UTF-8, instead of loading mis-decoded names.",
         _latin1),
    Case("quoted_newlines", "surveys/nps_responses.csv", "accepted", "",
         "An NPS comment spans several lines inside quotes.",
         "Standard CSV: the comment loads with its line breaks.", _quoted_newlines),
    Case("quoted_newlines_then_bad_row", "surveys/nps_responses.csv", "quarantined", "bad_type",
         "Multi-line comments (LF and CRLF), then a row with the date 2024-13-45.",
         "The bad row is quarantined; its line number counts the line breaks inside the "
         "comments above it, so it is the line an editor shows.", _quoted_newline_then_bad_row),
    Case("empty_file", "support/tickets.csv", "blocked", "empty_file",
         "The export is 0 bytes.",
         "No header, no data: a failed export, not an empty table.", _empty),
    Case("header_only", "support/incidents.csv", "accepted_with_warning", "no_rows",
         "The export has its header and no rows.",
         "A month without incidents is possible; the load warns so that a broken export that "
         "lost its rows is seen.", _header_only),
    Case("random_bytes", "support/tickets.csv", "blocked", "encoding",
         f"{RANDOM_BYTES_MB} MB of random bytes in place of the tickets export (slow tier).",
         "The header is not UTF-8 text; only the first bytes are read before the run stops.",
         _random_bytes, slow=True),
    # --- columns
    Case("renamed_column", "support/tickets.csv", "blocked", "missing_column",
         "The required column `priority` is renamed `ticket_priority`.",
         "A required column is missing; the error lists the file's columns so the rename is "
         "visible (a vendor rename belongs in a SourceMapping).", _renamed_column),
    Case("missing_column", "billing/invoices.csv", "blocked", "missing_column",
         "The required column `currency` is dropped.",
         "Amounts without a currency cannot be converted: the file is refused.", _missing_column),
    Case("missing_optional_column", "support/tickets.csv", "accepted_with_warning",
         "missing_optional_columns", "The optional column `csat_score` is dropped.",
         "Optional columns may be absent and load as NULL, with a warning naming them.",
         _missing_optional_column),
    Case("extra_column", "billing/payments.csv", "accepted_with_warning", "extra_columns",
         "An extra column `internal_note`.",
         "Columns outside the contract are not loaded; the warning names them.", _extra_column),
    Case("ten_thousand_columns", "support/tickets.csv", "accepted_with_warning", "extra_columns",
         "The tickets export has 10,000 columns (9,991 of them junk).",
         "The contract's columns are all there and load; the rest are ignored with a warning "
         "that names ten and counts the others.", _ten_thousand_columns),
    Case("field_count", "crm/activities.csv", "quarantined", "column_count",
         "One record has a field too few, another a field too many.",
         "A record that does not match the header cannot be mapped to columns safely.",
         _field_count),
    # --- rows and values
    Case("duplicate_primary_key", "crm/accounts.csv", "blocked", "key_unique",
         "An account row appears twice.",
         "Which copy is right is unknown, and joins would double its revenue.", _duplicate_key),
    Case("orphan_foreign_key", "support/tickets.csv", "blocked", "foreign_key",
         "A ticket for account ACC-99999, which the CRM does not have.",
         "Its metrics would belong to no account.", _orphan),
    Case("negative_amount", "billing/invoice_lines.csv", "blocked", "range",
         "A recurring invoice line of -120.00.",
         "Credits are their own line type with positive amounts; a negative amount is a sign "
         "error that would turn MRR negative.", _negative_amount),
    Case("absurd_amount", "billing/payments.csv", "blocked", "range",
         "A payment of 250,000,000,000.00.",
         "No amount reaches 10 billion in any currency: a unit or separator error.",
         _absurd_amount),
    Case("amount_overflow", "billing/payments.csv", "quarantined", "bad_type",
         "A payment of 99999999999999999999.99 (does not fit DECIMAL(18,2)).",
         "The value is not a valid amount at all: the row is quarantined.", _overflow_amount),
    Case("unknown_currency", "billing/invoices.csv", "blocked", "enum",
         "An invoice in currency XYZ.", "It cannot be converted to the reporting currency.",
         _unknown_currency),
    Case("date_in_future", "billing/invoices.csv", "blocked", "not_future",
         "An invoice dated 2099-06-01.",
         "An export cannot hold an invoice issued after it was written, and the latest invoice "
         "date is the reporting date: one such row would move every period.", _future_date),
    Case("date_before_1990", "crm/accounts.csv", "blocked", "date_range",
         "An account created on 1989-12-31.",
         "Dates before 2000 are typos or sentinels (1900-01-01) that distort period metrics.",
         _before_1990),
    Case("service_period_reversed", "billing/invoice_lines.csv", "blocked", "date_order",
         "A recurring line whose service period ends before it starts.",
         "A negative period gives negative days and nonsense MRR.", _period_reversed),
    Case("overlapping_subscriptions", "billing/subscriptions.csv", "accepted_with_warning",
         "overlap", "A customer gets a second subscription to the plan it already has, "
         "active over the same days.",
         "Can be real (a second team) or a duplicate; MRR comes from invoice lines, so it is "
         "not double-counted by itself: a warning, for a person to look.",
         _overlapping_subscriptions),
    Case("nps_11", "surveys/nps_responses.csv", "blocked", "range",
         "An NPS score of 11.", "NPS is 0-10; 11 would count as a promoter.", _nps_11),
    Case("bad_date_value", "crm/opportunities.csv", "quarantined", "bad_type",
         "An opportunity closed on 2024-02-30.",
         "Not a date: the row is quarantined with file, line and column.", _bad_date),
    Case("parent_row_quarantined", "crm/accounts.csv", "blocked", "foreign_key",
         "An account's created date is 'yesterday'.",
         "The account row is quarantined, so its contacts, tickets, invoices... point to an "
         "account that is not loaded: their foreign-key checks block the run.",
         _parent_quarantined),
    # --- files next to the exports, and names that try to reach SQL or other folders
    Case("same_file_two_names", "support/tickets (1).csv", "accepted_with_warning", "stray_file",
         "The tickets export dropped twice: `tickets.csv` and `tickets (1).csv`.",
         "Only `<entity>.<ext>` is an export; the copy is not read, and the warning says it has "
         "the same content as `tickets.csv`.", _two_names),
    Case("same_export_two_formats", "crm/csm_roster.json", "blocked", "several_exports",
         "The roster exported twice, as CSV and as JSON.",
         "Two exports of one table: which is current is unknown.", _two_formats),
    Case("stray_sql_name", f"support/{SQL_NAME}", "accepted_with_warning", "stray_file",
         "A file named `tickets'; drop table raw.quarantine;--.csv` next to the tickets.",
         "Not an export name: never read, never in SQL; the warning quotes the name.",
         _stray_sql_name),
    Case("stray_quote_name", f"crm/{QUOTE_NAME}", "accepted_with_warning", "stray_file",
         'A file named `a"b.csv`.', "Not an export name: never read; the warning quotes it.",
         _stray_quote_name),
    Case("link_outside_raw", "crm/accounts.csv", "blocked", "outside_raw_dir",
         "The accounts export is a link to `../../outside/accounts.csv`.",
         "Exports are read only from inside the raw folder.", _link_outside),
    Case("stray_link_outside", "support/notes.csv", "accepted_with_warning", "stray_file",
         "A file `notes.csv` that links to `../../outside/secret.csv`.",
         "Not an export name: the link is reported and its target never opened.",
         _stray_link_outside),
    Case("raw_dir_with_sql_and_glob", "crm/accounts.csv", "accepted", "",
         f"The raw folder is named `{SQL_RAW_DIR}`, next to a folder `{SQL_RAW_DIR_DECOY}` "
         "holding a broken copy.",
         "Paths reach SQL escaped, glob characters included: the right folder is read.",
         _sql_raw_dir, raw_dir=SQL_RAW_DIR),
    Case("sql_in_values", "crm/accounts.csv", "accepted_with_warning", "extra_columns",
         f"An account named `{SQL_VALUE}` and an extra column named `{SQL_COLUMN}`.",
         "Values are data and column names quoted identifiers: the name loads as written, the "
         "column is ignored with a warning.", _sql_values),
)

CASES_BY_NAME = {c.name: c for c in CASES}


def docs_table() -> str:
    """The cases as the Markdown table of ``docs/reliability.md`` (a test keeps them equal)."""
    out = ["| case | export | what is wrong | outcome | rule | why |", "|---|---|---|---|---|---|"]
    for c in CASES:
        cells = [f"`{c.name}`", f"`{c.file}`", c.what, f"**{c.outcome}**",
                 f"`{c.rule}`" if c.rule else "", c.why]
        out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(out)


def generate_base(out: Path, accounts: int = BASE_ACCOUNTS, seed: int = BASE_SEED) -> Path:
    subprocess.run(
        [sys.executable, "-m", "sample_company", "--accounts", str(accounts), "--seed", str(seed),
         "--out", str(out)],
        check=True, capture_output=True, text=True,
    )
    return out


def write_case(case: Case, base: Path, out: Path, seed: int = DEFAULT_SEED) -> Path:
    """One case folder (replacing any earlier one): the base exports, mutated, and case.json."""
    case_dir = out / case.name
    if case_dir.exists():
        shutil.rmtree(case_dir)
    raw = case_dir / case.raw_dir
    shutil.copytree(base, raw, ignore=shutil.ignore_patterns("_*", ".*"))
    m = Mutation(case_dir, raw, random.Random(f"{seed}:{case.name}"))
    try:
        expect = case.mutate(m) or {}
    finally:
        m.close()
    (case_dir / "case.json").write_text(json.dumps({
        "name": case.name,
        "index": CASES.index(case),
        "description": case.what,
        "file": case.file,
        "table": case.table,
        "outcome": case.outcome,
        "rule": case.rule,
        "why": case.why,
        "raw_dir": case.raw_dir,
        "slow": case.slow,
        "seed": seed,
        "expect": expect,
    }, indent=2) + "\n")
    return case_dir


def generate(out: Path, base: Path | None = None, *, slow: bool = False, seed: int = DEFAULT_SEED,
             only: list[str] | None = None) -> list[Path]:
    """Write the corpus under ``out``; returns the case folders (``slow`` cases only if asked)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if base is None:
        base = out / "_base"
        if not (base / "crm" / "accounts.csv").exists():
            generate_base(base)
    cases = [CASES_BY_NAME[n] for n in only] if only else [c for c in CASES if slow or not c.slow]
    return [write_case(case, Path(base), out, seed) for case in cases]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the cases into")
    parser.add_argument("--base", type=Path, help="exports to start from (default: generate the "
                        f"{BASE_ACCOUNTS}-account company into OUT/_base)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="row choices")
    parser.add_argument("--slow", action="store_true",
                        help=f"also the slow cases ({RANDOM_BYTES_MB} MB of random bytes)")
    parser.add_argument("--case", action="append", choices=sorted(CASES_BY_NAME),
                        help="only this case (repeatable)")
    args = parser.parse_args(argv)
    for case_dir in generate(args.out, args.base, slow=args.slow, seed=args.seed, only=args.case):
        spec = json.loads((case_dir / "case.json").read_text())
        print(f"{spec['name']:32} {spec['outcome']:22} {spec['rule']:26} {spec['file']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
