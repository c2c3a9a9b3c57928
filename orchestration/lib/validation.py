"""What is wrong with the exports, row by row: the raw gate's verdict with file, line and column.

Used by ``cs-metrics validate`` (the exports loaded into a throwaway DuckDB file, nothing else
run) and by ``cs-metrics run`` after a failed run (the build database, read-only). The verdict
is the raw quality gate's (``orchestration/defs/quality``), computed with the same pieces:

* an export that cannot be loaded (missing file, missing required column, unreadable, several
  files for one table): the loader's ``ExportError``, blocking;
* the table's expectation suite (``expectations/<table>.json``), critical expectations blocking,
  evaluated by the SQL runner for every table (the gate uses Great Expectations for the small
  ones; a test in tests/test_quality.py keeps both runners in agreement);
* foreign keys (``check_foreign_keys``), blocking;
* quarantined rows (missing required value, value that does not parse): the gate only warns
  (they never reach the marts), so they are not blocking unless ``strict``.

Where it points: the loader keeps the file line of every quarantined row (``raw.quarantine``).
Rows that loaded lose theirs, so a row that fails a check is located by position: the n-th
loaded row is the n-th record of the file that was not quarantined (the loader numbers records
in reading order and keeps that order; ``line`` is the file line for CSV, header = line 1, and
the record number for Parquet and JSON). The located rows are checked against the table first;
when the counts disagree, no line is given rather than a wrong one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.defs.quality.checks import check_foreign_keys
from orchestration.lib.contract import TABLES, TableSpec
from orchestration.lib.expectations import (
    CRITICAL,
    ExpectationResult,
    load_suite,
    run_suite_in_duckdb,
)
from orchestration.lib.loader import DEFAULT_MEMORY_LIMIT, ExportError, connect, find_export, load_table, quote

LINE = "_line_number"
DEFAULT_SAMPLE = 5


@dataclass(frozen=True)
class Problem:
    """One offending row (or a whole file, when ``line`` is None)."""

    table: str
    source_file: str | None
    line: int | None
    column: str | None
    rule: str
    detail: str
    blocking: bool
    file_format: str | None = "csv"

    def describe(self, raw_dir: Path | None = None) -> str:
        where = [display_path(self.source_file, raw_dir) if self.source_file else self.table]
        if self.line is not None:
            where.append(f"{'line' if self.file_format == 'csv' else 'record'} {self.line}")
        if self.column:
            where.append(f"column {self.column}")
        kind = "blocking" if self.blocking else "not blocking"
        return f"{', '.join(where)}: rule {self.rule} ({kind}): {self.detail}"


@dataclass(frozen=True)
class RuleCount:
    """How many rows break one rule of one table."""

    rule: str
    column: str | None
    rows: int
    blocking: bool
    what: str  # the expectation or check, for readers


@dataclass
class TableReport:
    spec: TableSpec
    source_file: str | None = None
    file_format: str | None = None
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_quarantined: int | None = None
    error: str | None = None  # the export could not be loaded at all
    counts: list[RuleCount] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # located samples, by line

    @property
    def blocking(self) -> bool:
        return self.error is not None or any(c.blocking for c in self.counts)

    @property
    def blocking_rows(self) -> int:
        return sum(c.rows for c in self.counts if c.blocking)

    @property
    def status(self) -> str:
        if self.error is not None:
            return "FAIL: cannot load"
        if self.blocking:
            return f"FAIL: {self.blocking_rows} row(s)"
        if self.counts:
            return f"warn: {sum(c.rows for c in self.counts)} row(s)"
        if self.source_file is None:
            return "ok (optional, absent)"
        return "ok"


def display_path(path: str | Path | None, raw_dir: Path | None) -> str:
    """``path`` relative to the export folder when it lies inside it."""
    if path is None:
        return ""
    if raw_dir is not None:
        try:
            return str(Path(path).resolve().relative_to(Path(raw_dir).resolve()))
        except ValueError:
            pass
    return str(path)


# ------------------------------------------------------------------------------- wording


def _bounds_text(kwargs: dict) -> str:
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    if lo is not None and hi is not None:
        return f"between {lo} and {hi}"
    if lo is not None:
        return f"at least {lo}"
    return f"at most {hi}"


def _value_text(value) -> str:
    return "(empty)" if value is None else repr(value)


def _expectation_detail(r: ExpectationResult, row: dict | None) -> str:
    cols = r.columns
    value = row.get(cols[0]) if row and cols else None
    if r.type == "expect_column_values_to_not_be_null":
        return f"{cols[0]} is missing"
    if r.type == "expect_column_values_to_be_unique":
        return f"{cols[0]} = {_value_text(value)} appears more than once"
    if r.type == "expect_compound_columns_to_be_unique":
        values = ", ".join(_value_text(row.get(c)) if row else "?" for c in cols)
        return f"({', '.join(cols)}) = ({values}) appears more than once"
    if r.type == "expect_column_values_to_be_in_set":
        allowed = ", ".join(str(v) for v in r.kwargs.get("value_set", []))
        return f"{cols[0]} = {_value_text(value)} is not one of: {allowed}"
    if r.type == "expect_column_values_to_be_between":
        return f"{cols[0]} = {_value_text(value)} must be {_bounds_text(r.kwargs)}"
    shown = f" ({cols[0]} = {_value_text(value)})" if cols and row else ""
    return f"{r.label} failed{shown}"


# ------------------------------------------------------------------------------- locating


def _lined_table(con: duckdb.DuckDBPyConnection, spec: TableSpec, file_format: str | None,
                 rows_read: int) -> str | None:
    """A temp table: ``raw.<table>`` plus the file line of each row (see the module docstring).

    None when the positions cannot be trusted (the row counts do not match)."""
    offset = 1 if file_format == "csv" else 0
    name = f"_lined_{spec.name}_{uuid.uuid4().hex[:8]}"
    con.execute(
        f"""
        create temp table {name} as
        with loaded as (
            select *, row_number() over () as _nth from raw.{quote(spec.name)}
        ),
        kept as (
            select line as {LINE}, row_number() over (order by line) as _nth
            from range({offset + 1}, {offset + rows_read + 1}) as r(line)
            where line not in (
                select line_number from raw.quarantine where table_name = {_lit(spec.name)}
            )
        )
        select loaded.* exclude (_nth), kept.{LINE}
        from loaded join kept using (_nth)
        """
    )
    lined = con.execute(f"select count(*) from {name}").fetchone()[0]
    loaded = con.execute(f"select count(*) from raw.{quote(spec.name)}").fetchone()[0]
    if lined != loaded:
        con.execute(f"drop table {name}")
        return None
    return name


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _rule(r: ExpectationResult) -> str:
    return str(r.meta.get("rule") or r.type)


def _check_table(con: duckdb.DuckDBPyConnection, report: TableReport, loaded: set[str],
                 sample: int, strict: bool) -> None:
    """Fill ``report.counts`` and ``report.problems`` for a table loaded into ``raw``."""
    spec = report.spec
    common = dict(table=spec.name, source_file=report.source_file, file_format=report.file_format)

    # Quarantine: the loader's own file/line/column/rule/reason.
    quarantined = con.execute(
        "select rule, column_name, count(*) from raw.quarantine where table_name = ? "
        "group by all order by 1, 2",
        [spec.name],
    ).fetchall()
    for rule, column, n in quarantined:
        report.counts.append(RuleCount(rule, column, n, strict, "quarantined on load"))
    for line, column, rule, reason in con.execute(
        "select line_number, column_name, rule, reason from raw.quarantine where table_name = ? "
        "order by line_number limit ?",
        [spec.name, sample],
    ).fetchall():
        report.problems.append(Problem(line=line, column=column, rule=rule,
                                       detail=f"{reason} (row quarantined)", blocking=strict,
                                       **common))

    # The expectation suite, on the loaded rows.
    suite = load_suite(spec.name)
    result = run_suite_in_duckdb(con, suite, f"raw.{quote(spec.name)}", sample_size=sample)
    failed = [r for r in result.results if not r.success]
    fk_failed = []
    if any(c.references for c in spec.columns):
        fk_failed = [
            f for f in check_foreign_keys(con, spec, sample)
            if f["references"].split(".")[0] in loaded and (f["error"] or f["dangling_rows"])
        ]
    if not failed and not fk_failed:
        return

    lined = (
        _lined_table(con, spec, report.file_format, report.rows_read or 0)
        if report.rows_read is not None
        else None
    )
    try:
        located: dict[int, ExpectationResult] = {}
        if lined and failed:
            again = run_suite_in_duckdb(
                con,
                {**suite, "expectations": [suite["expectations"][r.index] for r in failed]},
                lined,
                sample_size=sample,
                key_columns=[LINE],
            )
            for r, r_lined in zip(failed, again.results, strict=True):
                if r_lined.unexpected_count == r.unexpected_count:
                    located[r.index] = r_lined
        for r in failed:
            blocking = r.severity == CRITICAL
            column = ", ".join(r.columns) or None
            if r.error:
                report.counts.append(RuleCount(_rule(r), column, 0, blocking, r.label))
                report.problems.append(Problem(line=None, column=column, rule=_rule(r),
                                               detail=f"{r.label} could not be evaluated: {r.error}",
                                               blocking=blocking, **common))
                continue
            report.counts.append(
                RuleCount(_rule(r), column, r.unexpected_count or 0, blocking, r.label)
            )
            rows = located[r.index].sample_rows if r.index in located else []
            if rows:
                for row in rows[:sample]:
                    report.problems.append(Problem(line=row.get(LINE), column=column, rule=_rule(r),
                                                   detail=_expectation_detail(r, row),
                                                   blocking=blocking, **common))
            else:
                first = r.sample_rows[0] if r.sample_rows else None
                report.problems.append(Problem(
                    line=None, column=column, rule=_rule(r),
                    detail=f"{r.unexpected_count} row(s); e.g. {_expectation_detail(r, first)}",
                    blocking=blocking, **common))

        for f in fk_failed:
            column, target = f["column"], f["references"]
            report.counts.append(
                RuleCount("foreign_key", column, f["dangling_rows"] or 0, True,
                          f"{column} -> {target}")
            )
            if f["error"]:
                report.problems.append(Problem(line=None, column=column, rule="foreign_key",
                                               detail=f["error"], blocking=True, **common))
                continue
            parent, parent_column = target.split(".")
            relation = lined or f"raw.{quote(spec.name)}"
            line_expr = f"c.{LINE}" if lined else "null"
            rows = con.execute(
                f"select {line_expr}, c.{quote(column)} from {relation} c "
                f"where c.{quote(column)} is not null and not exists (select 1 from "
                f"raw.{quote(parent)} p where p.{quote(parent_column)} = c.{quote(column)}) "
                f"order by 1 nulls last limit {int(sample)}"
            ).fetchall()
            for line, value in rows:
                report.problems.append(Problem(
                    line=line, column=column, rule="foreign_key",
                    detail=f"{column} = {value!r} has no match in {parent}.{parent_column}",
                    blocking=True, **common))
    finally:
        if lined:
            con.execute(f"drop table if exists {lined}")


def _sort(report: TableReport) -> None:
    report.problems.sort(key=lambda p: (not p.blocking, p.line is None, p.line or 0, p.rule))


def _audit_row(con: duckdb.DuckDBPyConnection, report: TableReport) -> bool:
    row = con.execute(
        "select source_file, file_format, rows_read, rows_loaded, rows_quarantined "
        "from raw.load_audit where table_name = ?",
        [report.spec.name],
    ).fetchone()
    if row is None:
        return False
    (report.source_file, report.file_format, report.rows_read, report.rows_loaded,
     report.rows_quarantined) = row
    return True


# ------------------------------------------------------------------------------- entry points


def validate_exports(raw_dir: Path, work_db: Path, sample: int = DEFAULT_SAMPLE,
                     strict: bool = False, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> list[TableReport]:
    """Load every export of the contract into ``work_db`` (a throwaway file) and check it."""
    raw_dir = Path(raw_dir)
    reports = [TableReport(spec) for spec in TABLES]
    con = connect(work_db, memory_limit)
    try:
        loaded: set[str] = set()
        for report in reports:
            try:
                load_table(con, report.spec, raw_dir)
            except ExportError as exc:
                report.error = str(exc)
                try:
                    path = find_export(report.spec, raw_dir)
                except ExportError:
                    path = None
                report.source_file = None if path is None else str(path)
                continue
            loaded.add(report.spec.name)
            _audit_row(con, report)
        for report in reports:
            if report.spec.name in loaded:
                _check_table(con, report, loaded, sample, strict)
            _sort(report)
    finally:
        con.close()
    return reports


def diagnose_build(build_db: Path, tables: list[str], sample: int = DEFAULT_SAMPLE
                   ) -> list[TableReport]:
    """The located problems of ``tables`` in a build database (read-only), after a failed run."""
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        present = {
            name for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
        reports = []
        for name in tables:
            report = TableReport(next(s for s in TABLES if s.name == name))
            if name in present and _audit_row(con, report):
                _check_table(con, report, present, sample, strict=False)
            _sort(report)
            reports.append(report)
        return reports
    finally:
        con.close()


def quarantine_summary(build_db: Path, sample: int = DEFAULT_SAMPLE) -> list[Problem]:
    """The first quarantined rows of a build database (not blocking: the gate only warns)."""
    if not Path(build_db).exists():
        return []
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        try:
            rows = con.execute(
                "select q.table_name, q.source_file, coalesce(a.file_format, 'csv'), "
                "q.line_number, q.column_name, q.rule, q.reason "
                "from raw.quarantine q left join raw.load_audit a using (table_name) "
                "order by q.table_name, q.line_number limit ?",
                [sample],
            ).fetchall()
        except duckdb.CatalogException:
            return []
    finally:
        con.close()
    return [
        Problem(table=t, source_file=f, file_format=fmt, line=line, column=col, rule=rule,
                detail=f"{reason} (row quarantined)", blocking=False)
        for t, f, fmt, line, col, rule, reason in rows
    ]
