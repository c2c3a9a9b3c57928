"""Contract-checked loading of export files into the ``raw`` schema, all inside DuckDB.

For one ``TableSpec`` the loader:

1. finds ``<raw_dir>/<system>/<entity>.{csv,parquet,json}`` (exactly one may exist);
2. reads it with DuckDB's own reader, CSV as text (``all_varchar``) so that nothing is inferred;
3. fails with ``ExportError`` naming the file and column when a required column is missing;
4. casts every column to its declared type in SQL; a row with a missing required value or a
   value that does not parse goes to ``raw.quarantine`` with file, line, column, rule and reason;
5. replaces ``raw.<system>_<entity>`` with the conforming rows and records the file's checksum and
   the counts in ``raw.load_audit``; ``rows_read = rows_loaded + rows_quarantined`` is asserted.

A ``SourceMapping`` slots in front of step 4 for vendor exports (Salesforce, Stripe, Zendesk...):
it renames vendor columns to contract columns, maps vendor value codes and declares date formats.
The default mapping is the identity.

Loads are full refreshes keyed by the file's content, so running twice on the same files gives
identical tables. Nothing here loops over rows in Python.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.lib.contract import TABLES, TableSpec

QUARANTINE_DDL = """
create table if not exists raw.quarantine (
    table_name varchar not null,
    source_file varchar not null,
    line_number bigint not null,
    column_name varchar not null,
    rule varchar not null,
    reason varchar not null,
    raw_record varchar
)
"""

LOAD_AUDIT_DDL = """
create table if not exists raw.load_audit (
    table_name varchar primary key,
    source_file varchar,
    file_format varchar,
    file_sha256 varchar,
    file_bytes bigint,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    missing_optional_columns varchar
)
"""


class ExportError(ValueError):
    """An export file that cannot be loaded at all (missing file, missing column, unreadable)."""


@dataclass(frozen=True)
class SourceMapping:
    """Vendor layout -> contract layout for one table. The identity by default.

    ``columns`` maps a contract column to the vendor's column name; ``values`` maps a contract
    column to a {vendor code: contract value} dict; ``formats`` gives strptime formats for date
    and timestamp columns.
    """

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)

    def source_column(self, column: str) -> str:
        return self.columns.get(column, column)


@dataclass(frozen=True)
class LoadResult:
    table_name: str
    source_file: str | None
    file_format: str | None
    file_sha256: str | None
    file_bytes: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    missing_optional_columns: tuple[str, ...]
    quarantine_by_rule: dict[str, int]

    def as_metadata(self) -> dict:
        return {
            "source_file": self.source_file or "(no file: optional table loaded empty)",
            "file_sha256": self.file_sha256 or "",
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "missing_optional_columns": ", ".join(self.missing_optional_columns) or "none",
        }


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def find_export(spec: TableSpec, raw_dir: Path) -> Path | None:
    found = [
        raw_dir / spec.system / f"{spec.entity}.{ext}"
        for ext in ("csv", "parquet", "json")
        if (raw_dir / spec.system / f"{spec.entity}.{ext}").exists()
    ]
    if len(found) > 1:
        raise ExportError(
            f"{spec.system}/{spec.entity}: several exports found ({', '.join(p.name for p in found)}); "
            "keep exactly one"
        )
    return found[0] if found else None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _reader_sql(path: Path) -> tuple[str, str, int]:
    """DuckDB table function reading ``path``, its format, and the line offset of record 1."""
    p = literal(str(path))
    if path.suffix == ".csv":
        # Text only: the contract, not the data, decides every type. Line 1 is the header.
        return (
            f"read_csv({p}, header=true, all_varchar=true, delim=',', quote='\"', "
            f"escape='\"', strict_mode=false, null_padding=true)",
            "csv",
            1,
        )
    if path.suffix == ".parquet":
        return f"read_parquet({p})", "parquet", 0
    if path.suffix == ".json":
        return f"read_json({p}, format='auto', records=true)", "json", 0
    raise ExportError(f"{path}: unsupported file type {path.suffix!r}")


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    con.execute(QUARANTINE_DDL)
    con.execute(LOAD_AUDIT_DDL)


def create_empty_table(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> None:
    cols = ", ".join(f"{quote(c.name)} {c.duckdb_type}" for c in spec.columns)
    con.execute(f"create or replace table raw.{spec.name} ({cols})")


def load_table(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    raw_dir: Path,
    mapping: SourceMapping | None = None,
) -> LoadResult:
    """Load one export into ``raw.<spec.name>``; see the module docstring."""
    mapping = mapping or SourceMapping()
    raw_dir = Path(raw_dir)
    ensure_raw_schema(con)
    path = find_export(spec, raw_dir)
    con.execute("delete from raw.quarantine where table_name = ?", [spec.name])

    if path is None:
        if not spec.optional:
            raise ExportError(
                f"{spec.system}/{spec.entity}: required export missing: expected "
                f"{raw_dir / spec.system / spec.entity}.csv (or .parquet, .json)"
            )
        create_empty_table(con, spec)
        result = LoadResult(spec.name, None, None, None, 0, 0, 0, 0, (), {})
        _record_audit(con, result)
        return result

    reader, file_format, line_offset = _reader_sql(path)
    try:
        source_cols = {
            row[0]: row[1] for row in con.execute(f"describe select * from {reader}").fetchall()
        }
    except duckdb.Error as exc:
        raise ExportError(f"{path}: cannot be read as {file_format}: {exc}") from exc

    missing_required = [
        c.name for c in spec.columns
        if c.required and mapping.source_column(c.name) not in source_cols
    ]
    if missing_required:
        names = ", ".join(
            f"'{mapping.source_column(c)}'" + (f" (contract column '{c}')"
                                                 if mapping.source_column(c) != c else "")
            for c in missing_required
        )
        raise ExportError(
            f"{path}: missing required column {names} for {spec.system}/{spec.entity}; "
            f"the file has: {', '.join(source_cols) or 'no columns'}"
        )
    missing_optional = tuple(
        c.name for c in spec.columns if mapping.source_column(c.name) not in source_cols
    )

    # Per column: the trimmed text (NULL when empty), the typed value, and the violation.
    text_exprs, typed_exprs, checks = [], [], []
    for c in spec.columns:
        src = mapping.source_column(c.name)
        if src not in source_cols:
            text_exprs.append(f"cast(null as varchar) as {quote('t__' + c.name)}")
            typed_exprs.append(f"cast(null as {c.duckdb_type}) as {quote(c.name)}")
            continue
        is_text = source_cols[src] == "VARCHAR"
        s_col = quote("s__" + src)
        text = f"nullif(trim({s_col}), '')" if is_text else f"cast({s_col} as varchar)"
        if c.name in mapping.values:
            cases = " ".join(
                f"when {literal(k)} then {literal(v)}" for k, v in mapping.values[c.name].items()
            )
            text = f"(case {text} {cases} else {text} end)"
        t = quote("t__" + c.name)
        text_exprs.append(f"{text} as {t}")
        fmt = mapping.formats.get(c.name) or c.fmt
        if fmt and c.type in ("date", "timestamp"):
            typed = f"cast(try_strptime({t}, {literal(fmt)}) as {c.duckdb_type})"
        elif not is_text and source_cols[src].startswith(c.duckdb_type.split("(")[0]):
            typed = f"cast({s_col} as {c.duckdb_type})"
        else:
            typed = f"try_cast({t} as {c.duckdb_type})"
        typed_exprs.append(f"{typed} as {quote(c.name)}")
        expected = c.duckdb_type + (f" in format {fmt}" if fmt else "")
        if c.required:
            checks.append(
                f"case when {t} is null then struct_pack(col := {literal(c.name)}, "
                f"rule := 'missing_value', reason := {literal(f'{c.name}: required value is missing')}) end"
            )
        checks.append(
            f"case when {t} is not null and {quote(c.name)} is null then struct_pack("
            f"col := {literal(c.name)}, rule := 'bad_type', reason := {literal(c.name + ': ')} || "
            f"'''' || {t} || ''' is not a valid {expected}') end"
        )

    raw_record = "to_json(struct_pack(" + ", ".join(
        f"{quote(s)} := {quote('s__' + s)}" for s in source_cols
    ) + "))"
    source_select = ", ".join(f"{quote(s)} as {quote('s__' + s)}" for s in source_cols)
    con.execute(
        f"""
        create or replace temp view _load_checked as
        with source as (
            select row_number() over () + {line_offset} as _line_number, {source_select}
            from {reader}
        ),
        texts as (
            select *, {", ".join(text_exprs)}
            from source
        ),
        typed as (
            select *, {", ".join(typed_exprs)} from texts
        )
        select
            *,
            list_filter([{", ".join(checks) or "null"}], x -> x is not null) as _violations
        from typed
        """
    )
    cols = ", ".join(quote(c.name) for c in spec.columns)
    con.execute(
        f"create or replace table raw.{spec.name} as "
        f"select {cols} from _load_checked where len(_violations) = 0"
    )
    con.execute(
        f"""
        insert into raw.quarantine
        select ?, ?, _line_number, _violations[1].col, _violations[1].rule,
               array_to_string(list_transform(_violations, v -> v.reason), '; '), {raw_record}
        from _load_checked
        where len(_violations) > 0
        order by _line_number
        """,
        [spec.name, str(path)],
    )
    rows_read = con.execute(f"select count(*) from {reader}").fetchone()[0]
    rows_loaded = con.execute(f"select count(*) from raw.{spec.name}").fetchone()[0]
    rows_quarantined = con.execute(
        "select count(*) from raw.quarantine where table_name = ?", [spec.name]
    ).fetchone()[0]
    by_rule = dict(
        con.execute(
            "select rule, count(*) from raw.quarantine where table_name = ? group by rule "
            "order by rule",
            [spec.name],
        ).fetchall()
    )
    con.execute("drop view _load_checked")
    if rows_read != rows_loaded + rows_quarantined:  # pragma: no cover - an invariant
        raise AssertionError(
            f"{path}: rows read {rows_read} != loaded {rows_loaded} + quarantined {rows_quarantined}"
        )
    result = LoadResult(
        table_name=spec.name,
        source_file=str(path),
        file_format=file_format,
        file_sha256=file_sha256(path),
        file_bytes=path.stat().st_size,
        rows_read=rows_read,
        rows_loaded=rows_loaded,
        rows_quarantined=rows_quarantined,
        missing_optional_columns=missing_optional,
        quarantine_by_rule=by_rule,
    )
    _record_audit(con, result)
    return result


def _record_audit(con: duckdb.DuckDBPyConnection, r: LoadResult) -> None:
    con.execute("delete from raw.load_audit where table_name = ?", [r.table_name])
    con.execute(
        "insert into raw.load_audit values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [r.table_name, r.source_file, r.file_format, r.file_sha256, r.file_bytes, r.rows_read,
         r.rows_loaded, r.rows_quarantined, ", ".join(r.missing_optional_columns)],
    )


def connect(db_path: Path, memory_limit: str = "4GB") -> duckdb.DuckDBPyConnection:
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    con = duckdb.connect(str(db_path))
    con.execute(f"set memory_limit = {literal(memory_limit)}")
    con.execute(f"set temp_directory = {literal(str(tmp))}")
    return con


def load_all(db_path: Path, raw_dir: Path, memory_limit: str = "4GB") -> list[LoadResult]:
    """Load every table of the contract (used by tests and scripts; Dagster loads per asset)."""
    con = connect(db_path, memory_limit)
    try:
        return [load_table(con, spec, Path(raw_dir)) for spec in TABLES]
    finally:
        con.close()
