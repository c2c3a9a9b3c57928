"""Contract-checked loading of export files into the ``raw`` schema, all inside DuckDB.

For one ``TableSpec`` the loader:

1. finds ``<raw_dir>/<system>/<entity>.{csv,parquet,json}`` (exactly one may exist, and it must
   lie inside ``raw_dir``: a link pointing elsewhere is refused); other files in ``raw_dir`` are
   not read and are reported as warnings (``stray_files``);
2. reads it with DuckDB's own reader, CSV as text with the header and dialect fixed (UTF-8,
   comma-separated, ``"`` quotes, header row), so that nothing is inferred. The file is read
   once, into a temporary table;
3. fails with ``ExportError`` naming the file (and the column or line) when the file cannot be a
   load at all: empty, not UTF-8, unreadable, or missing a required column;
4. casts every column to its declared type in SQL; a record with the wrong number of fields, a
   malformed quote, a missing required value or a value that does not parse goes to
   ``raw.quarantine`` with file, line, column, rule and reason. A CSV whose last record has no
   line break was cut short: that record is quarantined (rule ``truncated``);
5. replaces ``raw.<system>_<entity>`` with the conforming rows and records the file's checksum,
   the counts and the warnings (extra or missing optional columns, no data rows, stray files) in
   ``raw.load_audit``; ``rows_read = rows_loaded + rows_quarantined`` is asserted.

Line numbers are lines of the file (the header is line 1), counting the line breaks inside
quoted values. File names and header names reach SQL only as escaped literals and identifiers,
and a path is escaped against DuckDB's glob expansion, so it names exactly one file.

A ``SourceMapping`` slots in front of step 4 for vendor exports (Salesforce, Stripe, Zendesk...):
it renames vendor columns to contract columns, maps vendor value codes and declares date formats.
The default mapping is the identity.

Loads are full refreshes keyed by the file's content, so running twice on the same files gives
identical tables, with two shortcuts that keep that true. A file that is byte for byte the one
the table's last load read (SHA-256), under the same contract and mapping, with the table and
its quarantine as that load left them, is not read again: its records are written again as a
full load would write them (the CRM, billing and support exports of a daily run). A Parquet
export whose first rows are exactly the rows the table's last load read (same values in the
same places, checked by a checksum over every row and its row number, ``raw.load_state``) and
that was loaded under the same contract and mapping is an *appended* export. Only its later rows are read, checked and
added; the earlier rows and their quarantine stay as they were, with the same lines. The table
then holds the same rows, the quarantine the same records and ``raw.load_audit`` the same counts
as a full load of the file would give (tests/test_loader.py). Any other change to the file (a
row changed, removed or moved, a column added) is a full load. The daily usage-events export,
history plus one new day, reads 41 million rows once for the checksum instead of loading them
(benchmarks/README.md). Nothing here loops over rows in Python.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.lib.contract import FILE_EXTENSIONS, SYSTEMS, TABLES, TableSpec

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
    missing_optional_columns varchar,
    warnings varchar
)
"""

LOAD_STATE_DDL = """
create table if not exists raw.load_state (
    table_name varchar primary key,
    signature varchar not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    source_hash varchar not null,
    -- an appended load: the load it continued (its source_hash) and the raw rows that load
    -- left, which are the first rows of the table now (``rowid`` below continued_rows_loaded);
    -- '' and 0 for a full load. The raw gate trusts checks passed on them (quality/checks.py).
    continued_from varchar default '',
    continued_rows_loaded bigint default 0
)
"""
# Bump when the loader changes how a source row becomes a raw row or a quarantine row: every
# stored state then stops matching and the next load of each table is a full one.
LOAD_STATE_VERSION = 1

# Quarantine rules of records the CSV reader itself rejects (DuckDB error type -> rule).
CSV_REJECT_RULES = {
    "MISSING COLUMNS": "column_count",
    "TOO MANY COLUMNS": "column_count",
    "UNQUOTED VALUE": "malformed_quotes",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
    "INVALID ENCODING": "encoding",
}
WHOLE_RECORD = "*"  # quarantine.column_name of a rule about the whole record
RAW_RECORD_MAX_COLUMNS = 200  # wider files keep only the contract's columns in raw_record
LIST_LIMIT = 10  # names listed in a warning or error before "and N more"
NAME_LIMIT = 60  # characters of one name shown in a warning or error


class ExportError(ValueError):
    """An export file that cannot be loaded at all (missing file, missing column, unreadable).

    ``rule`` names the kind of problem (``missing_file``, ``several_exports``,
    ``outside_raw_dir``, ``empty_file``, ``encoding``, ``unreadable``, ``missing_column``,
    ``wrong_delimiter``), as ``raw.quarantine.rule`` does for a row.
    """

    def __init__(self, message: str, rule: str = "unreadable"):
        super().__init__(message)
        self.rule = rule


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
    extra_columns: tuple[str, ...] = ()
    # What a person should look at although the load succeeded, each "<rule>: <message>" (rules:
    # extra_columns, missing_optional_columns, repeated_columns, no_rows, stray_file).
    warnings: tuple[str, ...] = ()
    # Rows at the start of the file that an earlier load had read exactly as they are now (an
    # appended Parquet export, or all of them for an unchanged file): kept as loaded then, with
    # their quarantine; 0 for a full load.
    rows_kept: int = 0

    def as_metadata(self) -> dict:
        return {
            "source_file": self.source_file or "(no file: optional table loaded empty)",
            "file_sha256": self.file_sha256 or "",
            "rows_read": self.rows_read,
            "rows_kept_from_last_load": self.rows_kept,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "missing_optional_columns": ", ".join(self.missing_optional_columns) or "none",
            "warnings": "\n".join(self.warnings) or "none",
        }


@dataclass(frozen=True)
class StrayFile:
    """A file under the raw folder that is not an export of the contract: never read."""

    path: str  # relative to the raw folder
    table_name: str  # the table whose extract reports it (the one it most likely belongs to)
    reason: str

    @property
    def warning(self) -> str:
        return f"stray_file: {shown(self.path)}: {self.reason}"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_GLOB_ESCAPES = {"[": "[[]", "*": "[*]", "?": "[?]"}


def path_literal(path: Path | str) -> str:
    """A SQL literal naming exactly ``path`` for DuckDB's readers.

    DuckDB expands ``*``, ``?`` and ``[...]`` in a file name as a glob, so a folder called
    ``exports[1]`` or ``a*`` would read other files; each is written as a one-character class."""
    return literal("".join(_GLOB_ESCAPES.get(ch, ch) for ch in str(path)))


def shown(name: str) -> str:
    """A name as it appears in a message: quoted, escaped, and cut to ``NAME_LIMIT``."""
    text = repr(str(name))
    return text if len(text) <= NAME_LIMIT else text[: NAME_LIMIT - 4] + "...'"


def listing(names, limit: int = LIST_LIMIT) -> str:
    names = list(names)
    out = ", ".join(shown(n) for n in names[:limit])
    return out + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def contract_paths() -> dict[str, TableSpec]:
    """Relative path (``crm/accounts.csv``) -> table, for every file name the contract accepts."""
    return {
        f"{spec.system}/{spec.entity}.{ext}": spec for spec in TABLES for ext in FILE_EXTENSIONS
    }


def find_export(spec: TableSpec, raw_dir: Path) -> Path | None:
    found = [
        raw_dir / spec.system / f"{spec.entity}.{ext}"
        for ext in FILE_EXTENSIONS
        if (raw_dir / spec.system / f"{spec.entity}.{ext}").exists()
    ]
    if len(found) > 1:
        raise ExportError(
            f"{spec.system}/{spec.entity}: several exports found ({', '.join(str(p) for p in found)});"
            " keep exactly one",
            rule="several_exports",
        )
    if found and not _inside(found[0], raw_dir):
        raise ExportError(
            f"{found[0]}: resolves to {found[0].resolve()}, outside the raw folder {raw_dir}; "
            "exports are read only from inside it (copy the file in instead of linking to it)",
            rule="outside_raw_dir",
        )
    return found[0] if found else None


def stray_files(raw_dir: Path) -> list[StrayFile]:
    """Every file under ``raw_dir`` that is not an export of the contract, with the table whose
    extract reports it. Names starting with ``.`` or ``_`` (``_ground_truth/``) are skipped.

    Stray files are never loaded. Each is attributed to the table of its system folder whose
    entity name its file name starts with (``support/tickets (1).csv`` -> ``support_tickets``),
    else to the first table of that folder, else to the first table of the contract. A stray file
    with the same bytes as an export is called out as a second copy of it.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        return []
    accepted = contract_paths()
    strays: list[tuple[str, Path]] = []
    for folder, dirs, files in os.walk(raw_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.startswith((".", "_")):
                continue
            path = Path(folder) / name
            rel = path.relative_to(raw_dir).as_posix()
            if rel not in accepted:
                strays.append((rel, path))
    if not strays:
        return []
    exports = {rel: raw_dir / rel for rel in accepted if (raw_dir / rel).is_file()}
    sizes: dict[int, list[str]] = {}
    for rel, path in exports.items():
        sizes.setdefault(path.stat().st_size, []).append(rel)
    hashes: dict[str, str] = {}
    out = []
    for rel, path in strays:
        reason = "not an export of the contract (<system>/<entity>.csv|parquet|json): not read"
        if not _inside(path, raw_dir):
            reason += "; it is a link to a file outside the raw folder"
        elif path.is_file():
            same = [
                other for other in sizes.get(path.stat().st_size, [])
                if hashes.setdefault(other, file_sha256(exports[other])) == file_sha256(path)
            ]
            if same:
                reason += f"; same content as {same[0]} (the same export dropped twice?)"
        out.append(StrayFile(rel, owner_table(rel), reason))
    return out


def owner_table(rel: str) -> str:
    """The table a file at ``rel`` (relative to the raw folder) belongs to, or is reported by: the
    table of its system folder whose entity its name starts with (the longest such), else the
    folder's first table, else the contract's first table."""
    parts = rel.split("/")
    if len(parts) == 2 and parts[0] in SYSTEMS:
        in_system = [t for t in TABLES if t.system == parts[0]]
        prefixed = [t for t in in_system if parts[1].lower().startswith(t.entity)]
        return (max(prefixed, key=lambda t: len(t.entity)) if prefixed else in_system[0]).name
    return TABLES[0].name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_csv_header(path: Path) -> tuple[list[str], int]:
    """The column names of a CSV export's first record, and the line breaks inside them.

    Read with Python's ``csv`` module (a few KB, not the file), so that the data is then read by
    DuckDB with the columns fixed instead of sniffed: a sniffer guesses, and a damaged file can
    make it guess wrong or give up."""
    if path.stat().st_size == 0:
        raise ExportError(f"{path}: the file is empty (0 bytes): no header row, no data",
                          rule="empty_file")
    try:
        # Undecodable bytes are kept as surrogates so that only the header's own bytes are judged
        # here; the data rows' encoding is DuckDB's to check, line by line.
        with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
            header = next(csv.reader(fh), None)
    except csv.Error as exc:
        raise ExportError(f"{path}: the header row cannot be read as CSV: {exc}",
                          rule="unreadable") from exc
    if not header or not any(name.strip() for name in header):
        raise ExportError(f"{path}: has no header row (the first line is empty)", rule="empty_file")
    undecodable = next((name for name in header if _has_surrogates(name)), None)
    if undecodable is not None:
        raise ExportError(
            f"{path}: is not UTF-8 text: the header holds bytes that are not UTF-8 (in "
            f"{shown(undecodable.encode('utf-8', 'surrogateescape').decode('latin-1'))}); "
            "exports must be UTF-8 CSV", rule="encoding"
        )
    return header, sum(name.count("\n") for name in header)


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _unique_names(header: list[str]) -> tuple[list[str], list[str]]:
    """Header names made unique (a repeated name gets ``__2``...; an empty one ``column<N>``)
    and the names that were repeated."""
    seen: set[str] = set()
    names, repeated = [], []
    for i, name in enumerate(header):
        candidate = name or f"column{i}"
        if candidate in seen:
            repeated.append(candidate)
            n = 2
            while f"{candidate}__{n}" in seen:
                n += 1
            candidate = f"{candidate}__{n}"
        seen.add(candidate)
        names.append(candidate)
    return names, repeated


def _ends_with_line_break(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) in (b"\n", b"\r")


def _reader_sql(path: Path, columns: list[str] | None = None, rejects: str | None = None
                ) -> tuple[str, str, int]:
    """DuckDB table function reading ``path``, its format, and the line offset of record 1.

    A CSV is read with the header's ``columns`` fixed (every one VARCHAR: the contract, not the
    data, decides every type) and records the reader rejects stored in the temp tables
    ``<rejects>_errors`` / ``<rejects>_scans``."""
    p = path_literal(path)
    if path.suffix == ".csv":
        cols = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in columns or []) + "}"
        return (
            f"read_csv({p}, header=true, auto_detect=false, columns={cols}, delim=',', "
            f"quote='\"', escape='\"', strict_mode=true, null_padding=false, ignore_errors=true, "
            f"store_rejects=true, rejects_table={literal(rejects + '_errors')}, "
            f"rejects_scan={literal(rejects + '_scans')})",
            "csv",
            1,
        )
    if path.suffix == ".parquet":
        return f"read_parquet({p})", "parquet", 0
    if path.suffix == ".json":
        return f"read_json({p}, format='auto', records=true)", "json", 0
    raise ExportError(f"{path}: unsupported file type {path.suffix!r}", rule="unreadable")


def trimmed_text(column: str) -> str:
    """SQL for a text value trimmed of spaces, NULL when nothing is left: ``nullif(trim(x), '')``,
    with DuckDB's ``trim`` only where it can change the value. ``trim`` removes spaces and
    Unicode space separators from either end; a value that starts with a byte above ``' '``,
    does not end with ``' '`` and is ASCII only (as many bytes as characters) has none, so it is
    kept as it is without a new string (the 41 M event ids, users, accounts and features of
    `medium`: 4.6 -> 1.5 s). ``tests/test_loader.py`` compares both over every code point."""
    return (f"case when {column} < '!' or ends_with({column}, ' ') "
            f"or strlen({column}) <> length({column}) then nullif(trim({column}), '') "
            f"else {column} end")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    con.execute(QUARANTINE_DDL)
    con.execute(LOAD_AUDIT_DDL)
    con.execute(LOAD_STATE_DDL)
    # A build database from before the columns existed.
    con.execute("alter table raw.load_audit add column if not exists warnings varchar")
    for column, definition in (("continued_from", "varchar default ''"),
                               ("continued_rows_loaded", "bigint default 0")):
        con.execute(f"alter table raw.load_state add column if not exists {column} {definition}")


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
    stray = [s.warning for s in stray_files(raw_dir) if s.table_name == spec.name]
    path = find_export(spec, raw_dir)

    if path is None:
        _forget_table(con, spec.name)
        if not spec.optional:
            raise ExportError(
                f"{spec.system}/{spec.entity}: required export missing: expected "
                f"{raw_dir / spec.system / spec.entity}.csv (or .parquet, .json)",
                rule="missing_file",
            )
        create_empty_table(con, spec)
        result = LoadResult(spec.name, None, None, None, 0, 0, 0, 0, (), {}, (), tuple(stray))
        _record_audit(con, result)
        return result

    tag = f"_load_{uuid.uuid4().hex[:12]}"
    try:
        return _load_file(con, spec, path, mapping, tag, stray)
    finally:
        _drop_temporaries(con, tag)


def _drop_temporaries(con: duckdb.DuckDBPyConnection, tag: str) -> None:
    """Drop the temporary views and tables of one load (views first: they read the tables)."""
    for kind, catalog in (("view", "duckdb_views()"), ("table", "duckdb_tables()")):
        names = con.execute(
            f"select {kind}_name from {catalog} where temporary and starts_with({kind}_name, ?)",
            [tag],
        ).fetchall()
        for (name,) in names:
            con.execute(f"drop {kind} if exists {quote(name)}")


def _load_file(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    path: Path,
    mapping: SourceMapping,
    tag: str,
    stray: list[str],
) -> LoadResult:
    warnings: list[str] = []
    header_breaks = 0
    if path.suffix == ".csv":
        header, header_breaks = read_csv_header(path)
        names, repeated = _unique_names(header)
        if repeated:
            warnings.append(f"repeated_columns: column name(s) repeated in the header, later "
                            f"copies ignored: {listing(dict.fromkeys(repeated))}")
        reader, file_format, line_offset = _reader_sql(path, names, tag)
        source_cols = dict.fromkeys(names, "VARCHAR")
    else:
        reader, file_format, line_offset = _reader_sql(path)
        try:
            source_cols = {
                row[0]: row[1] for row in con.execute(f"describe select * from {reader}").fetchall()
            }
        except duckdb.Error as exc:
            raise ExportError(f"{path}: cannot be read as {file_format}: {_first_line(exc)}",
                              rule="unreadable") from exc

    missing_required = [
        c.name for c in spec.columns
        if c.required and mapping.source_column(c.name) not in source_cols
    ]
    if missing_required:
        names_ = ", ".join(
            f"'{mapping.source_column(c)}'" + (f" (contract column '{c}')"
                                                 if mapping.source_column(c) != c else "")
            for c in missing_required
        )
        rule, hint = "missing_column", ""
        if len(source_cols) == 1:
            only = next(iter(source_cols))
            separator = next((s for s in (";", "\t", "|") if s in only), None)
            if separator:
                rule = "wrong_delimiter"
                hint = (f"; the header is one column that contains {separator!r}: the file looks "
                        f"{separator!r}-separated, and exports must be comma-separated")
        raise ExportError(
            f"{path}: missing required column {names_} for {spec.system}/{spec.entity}; "
            f"the file has: {listing(source_cols) or 'no columns'}{hint}",
            rule=rule,
        )
    missing_optional = tuple(
        c.name for c in spec.columns if mapping.source_column(c.name) not in source_cols
    )
    mapped = {mapping.source_column(c.name) for c in spec.columns}
    extra = tuple(s for s in source_cols if s not in mapped)
    if missing_optional:
        warnings.append(f"missing_optional_columns: optional column(s) not in the file, loaded as "
                        f"NULL: {listing(missing_optional)}")
    if extra:
        warnings.append(f"extra_columns: {len(extra)} column(s) not in the contract, ignored: "
                        f"{listing(extra)}")

    # The file is read once, into a temp table: record number, the columns the contract reads
    # (all of them when the file is not absurdly wide, for raw_record), line breaks inside values.
    kept = list(source_cols) if len(source_cols) <= RAW_RECORD_MAX_COLUMNS else [
        s for s in source_cols if s in mapped
    ]
    text_kept = [s for s in kept if source_cols[s] == "VARCHAR"]
    breaks = " + ".join(
        f"coalesce(length({quote(s)}) - length(replace({quote(s)}, chr(10), '')), 0)"
        for s in text_kept
    ) if file_format == "csv" and text_kept else "0"
    source_select = ", ".join(f"{quote(s)} as {quote('s__' + s)}" for s in kept)
    # A Parquet export is read where it is; when its first rows are exactly the rows the last
    # load of this table read (an appended export), only the rows after them are read below.
    in_place = file_format == "parquet" and "file_row_number" not in source_cols
    signature = _load_signature(spec, mapping, source_cols, kept)
    start, source_hash, continued = 0, "", ("", 0)
    digest = file_sha256(path)
    if not in_place:
        # Any other file is the same rows when it is the same bytes: a file the table's last
        # load read, under the same contract and mapping, is not read again.
        source_hash = f"sha256:{digest}"
        unchanged = _unchanged_load(con, spec, signature, source_hash)
        if unchanged is not None:
            return _keep_unchanged(con, spec, path, file_format, digest, signature, unchanged,
                                   missing_optional, extra, warnings, stray)
    try:
        if in_place:
            # Parquet is typed and numbered already: read it where it is (twice, below) rather
            # than copying millions of rows into a temporary table first.
            parquet = (f"select file_row_number + 1 as _k, 0 as _breaks, {source_select} "
                       f"from read_parquet({path_literal(path)}, file_row_number = true)")
            con.execute(f"create temp view {tag}_file as {parquet}")
            start, source_hash, continued = _already_loaded(con, spec, f"{tag}_file", signature,
                                                            kept)
            # On the row number itself, so that the reader skips the row groups before it.
            con.execute(f"create temp view {tag}_source as {parquet} "
                        f"where file_row_number >= {start}")
        else:
            con.execute(
                f"create temp table {tag}_source as select row_number() over () as _k, "
                f"{breaks} as _breaks, {source_select} from {reader}"
            )
    except duckdb.Error as exc:
        raise ExportError(f"{path}: cannot be read as {file_format}: {_first_line(exc)}",
                          rule="unreadable") from exc
    rows_valid = con.execute(f"select count(*) from {tag}_source").fetchone()[0]

    # Records the CSV reader rejected (wrong field count, bad quotes, not UTF-8): one per record.
    if file_format == "csv":
        con.execute(
            f"""
            create temp table {tag}_rejected as
            select
                line as _rec,
                arg_min(error_type::varchar, coalesce(column_idx, 0)) as error_type,
                arg_min(column_name, coalesce(column_idx, 0)) as column_name,
                arg_min(error_message, coalesce(column_idx, 0)) as error_message,
                any_value(csv_line) as csv_line,
                bool_or(error_type::varchar = 'INVALID ENCODING') as bad_encoding,
                length(trim(any_value(csv_line), chr(10) || chr(13)))
                    - length(replace(trim(any_value(csv_line), chr(10) || chr(13)), chr(10), ''))
                    as _breaks
            from {tag}_errors
            group by line
            """
        )
    else:
        con.execute(
            f"create temp table {tag}_rejected as select null::bigint as _rec, null as error_type, "
            "null as column_name, null as error_message, null as csv_line, false as bad_encoding, "
            "0 as _breaks where false"
        )
    rows_rejected = con.execute(f"select count(*) from {tag}_rejected").fetchone()[0]
    rows_read = start + rows_valid + rows_rejected

    # Record numbers (the reader's, header = 1: rejected records carry theirs, accepted records
    # take the others in order) and file lines (plus the line breaks inside earlier records).
    # A Parquet or JSON file has no header, rejected records or line breaks: its record number
    # and line are the row number, with no table to build (the events file has millions).
    numbered = file_format == "csv"
    if numbered:
        con.execute(
            f"""
            create temp table {tag}_lines as
            with numbers as (
                select rec as _rec, row_number() over (order by rec) as _k
                from range({line_offset + 1}, {rows_read + line_offset + 1}) t(rec)
                where rec not in (select _rec from {tag}_rejected)
            ),
            records as (
                select n._rec, s._k, s._breaks from numbers n join {tag}_source s using (_k)
                union all
                select _rec, null as _k, _breaks from {tag}_rejected
            )
            select
                _rec, _k,
                _rec + {header_breaks} + coalesce(sum(_breaks) over (
                    order by _rec rows between unbounded preceding and 1 preceding), 0) as _line
            from records
            """
        )
    else:
        con.execute(f"create temp view {tag}_lines as select _k as _rec, _k, _k as _line "
                    f"from {tag}_source")
    bad_encoding = con.execute(
        f"select l._line, r.column_name, r.csv_line from {tag}_rejected r join {tag}_lines l "
        f"on l._rec = r._rec and l._k is null where r.bad_encoding order by 1 limit 1"
    ).fetchone()
    if bad_encoding:
        line, column, text = bad_encoding
        raise ExportError(
            f"{path}: is not UTF-8 text: line {line}, column {shown(column or '?')} holds bytes "
            f"that are not UTF-8 (shown as ?: {shown(text.strip())}); the file looks Latin-1 or "
            "Windows-1252 encoded: export it as UTF-8",
            rule="encoding",
        )
    # A CSV must end with a line break: without one, its last record was cut short.
    truncated_rec = None
    if file_format == "csv" and rows_read and not _ends_with_line_break(path):
        truncated_rec = con.execute(f"select max(_rec) from {tag}_lines").fetchone()[0]
    truncated_reason = (
        "the file ends without a line break: its last record was cut short (truncated file?)"
    )

    # Per column: the trimmed text (NULL when empty), the typed value, and the violation.
    # A check is (the condition of a violation, the violation as a struct).
    text_exprs, typed_exprs, checks = [], [], []
    if truncated_rec is not None:
        checks.append((
            f"_rec = {int(truncated_rec)}",
            f"struct_pack(col := '{WHOLE_RECORD}', rule := 'truncated', "
            f"reason := {literal(truncated_reason)})",
        ))
    for c in spec.columns:
        src = mapping.source_column(c.name)
        if src not in source_cols:
            text_exprs.append(f"cast(null as varchar) as {quote('t__' + c.name)}")
            typed_exprs.append(f"cast(null as {c.duckdb_type}) as {quote(c.name)}")
            continue
        is_text = source_cols[src] == "VARCHAR"
        s_col = quote("s__" + src)
        text = trimmed_text(s_col) if is_text else f"cast({s_col} as varchar)"
        if c.name in mapping.values:
            cases = " ".join(
                f"when {literal(k)} then {literal(v)}" for k, v in mapping.values[c.name].items()
            )
            text = f"(case {text} {cases} else {text} end)"
        t = quote("t__" + c.name)
        text_exprs.append(f"{text} as {t}")
        fmt = mapping.formats.get(c.name) or c.fmt
        # Whether the conversion can fail (then a bad_type check), and the value whose absence
        # is a missing required value: a typed column read as its own type (values not mapped)
        # is cast as it is, and NULL is NULL before the cast; text into text converts nothing.
        can_fail, missing = True, t
        if fmt and c.type in ("date", "timestamp"):
            typed = f"cast(try_strptime({t}, {literal(fmt)}) as {c.duckdb_type})"
        elif not is_text and source_cols[src].startswith(c.duckdb_type.split("(")[0]):
            typed = f"cast({s_col} as {c.duckdb_type})"
            if c.name not in mapping.values:
                can_fail, missing = False, s_col
        elif c.duckdb_type == "VARCHAR":
            typed, can_fail = t, False
        else:
            typed = f"try_cast({t} as {c.duckdb_type})"
        typed_exprs.append(f"{typed} as {quote(c.name)}")
        expected = c.duckdb_type + (f" in format {fmt}" if fmt else "")
        if c.required:
            checks.append((
                f"{missing} is null",
                f"struct_pack(col := {literal(c.name)}, rule := 'missing_value', "
                f"reason := {literal(f'{c.name}: required value is missing')})",
            ))
        if not can_fail:
            continue
        not_valid = literal(f"' is not a valid {expected}")  # a format may hold any text
        checks.append((
            f"{t} is not null and {quote(c.name)} is null",
            f"struct_pack(col := {literal(c.name)}, rule := 'bad_type', "
            f"reason := {literal(c.name + ': ')} || '''' || {t} || {not_valid})",
        ))

    raw_record = "to_json(struct_pack(" + ", ".join(
        f"{quote(s)} := {quote('s__' + s)}" for s in kept
    ) + "))" if kept else "'{}'"
    # The typed rows, then the violations in one pass into a (small) table of the rows at fault;
    # the raw table is the typed rows without them, the quarantine those rows with their reasons.
    source = (f"select s.*, l._rec, l._line from {tag}_source s join {tag}_lines l using (_k)"
              if numbered else f"select s.*, s._k as _rec, s._k as _line from {tag}_source s")
    con.execute(
        f"""
        create temp view {tag}_typed as
        with source as ({source}),
        texts as (
            select *, {", ".join(text_exprs)}
            from source
        )
        select *, {", ".join(typed_exprs)} from texts
        """
    )
    # The list of violations is built for the rows at fault only: the pass filters on the
    # conditions first (with `trimmed_text`, the 41 M events of `medium`: 7.9 -> 1.9 s).
    violations = ", ".join(f"case when {when} then {what} end" for when, what in checks)
    sql_bad = (
        f"""
        create temp table {tag}_bad as
        select _k, _line,
               list_filter([{violations or "null"}], x -> x is not null) as _violations
        from {tag}_typed
        where {" or ".join(f"({when})" for when, _ in checks) or "false"}
        """
    )
    try:  # the first pass over every value: a Parquet file damaged inside fails here
        con.execute(sql_bad)
    except duckdb.Error as exc:
        raise ExportError(f"{path}: cannot be read as {file_format}: {_first_line(exc)}",
                          rule="unreadable") from exc
    has_bad = con.execute(f"select count(*) > 0 from {tag}_bad").fetchone()[0]
    cols = ", ".join(quote(c.name) for c in spec.columns)
    # An appended load changes the table, the quarantine and the records of the load together
    # or not at all (a full load forgets the table's state first: a failure leaves none).
    if start:
        con.execute("begin transaction")
    try:
        keep = f" where _k not in (select _k from {tag}_bad) order by _k" if has_bad or numbered else ""
        if start:
            # The earlier rows, their quarantine and the table stay; the new rows are added.
            con.execute(f"insert into raw.{spec.name} select {cols} from {tag}_typed{keep}")
            con.execute("update raw.quarantine set source_file = ? where table_name = ?",
                        [str(path), spec.name])
        else:  # without an order: a scan in the file's order, no sort of millions of rows
            _forget_table(con, spec.name)
            con.execute(f"create or replace table raw.{spec.name} as select {cols} from {tag}_typed{keep}")
        if has_bad:
            con.execute(
                f"""
                insert into raw.quarantine
                select ?, ?, b._line, b._violations[1].col, b._violations[1].rule,
                       array_to_string(list_transform(b._violations, v -> v.reason), '; '),
                       {raw_record}
                from {tag}_bad b join {tag}_source using (_k)
                order by b._line
                """,
                [spec.name, str(path)],
            )
        if rows_rejected:
            rules = " ".join(f"when {literal(k)} then {literal(v)}" for k, v in CSV_REJECT_RULES.items())
            counts = "r.error_message like 'Expected Number of Columns%'"
            con.execute(
                f"""
                insert into raw.quarantine
                select ?, ?, l._line, coalesce(r.column_name, '{WHOLE_RECORD}'),
                       case when l._rec = ? then 'truncated'
                            else coalesce(case r.error_type {rules} end, 'malformed') end,
                       case when l._rec = ? then ? || '; ' else '' end
                       || case when {counts}
                               then 'the record has '
                                    || regexp_extract(r.error_message, 'Found: ([0-9]+)', 1)
                                    || ' fields, the header has '
                                    || regexp_extract(r.error_message, 'Columns: ([0-9]+)', 1)
                               else coalesce(nullif(split_part(r.error_message, chr(10), 1), ''),
                                             r.error_type, 'malformed record') end,
                       to_json(struct_pack(csv_line := r.csv_line))
                from {tag}_rejected r join {tag}_lines l on l._rec = r._rec and l._k is null
                order by l._line
                """,
                [spec.name, str(path), truncated_rec, truncated_rec, truncated_reason],
            )
        rows_loaded = con.execute(f"select count(*) from raw.{spec.name}").fetchone()[0]
        rows_quarantined = con.execute(
            "select count(*) from raw.quarantine where table_name = ?", [spec.name]
        ).fetchone()[0]
        by_rule = _quarantine_by_rule(con, spec.name)
        if rows_read != rows_loaded + rows_quarantined:  # pragma: no cover - an invariant
            raise AssertionError(
                f"{path}: rows read {rows_read} != loaded {rows_loaded} + quarantined {rows_quarantined}"
            )
        if rows_read == 0:
            warnings.append(_no_rows_warning(file_format))
        result = LoadResult(
            table_name=spec.name,
            source_file=str(path),
            file_format=file_format,
            file_sha256=digest,
            file_bytes=path.stat().st_size,
            rows_read=rows_read,
            rows_loaded=rows_loaded,
            rows_quarantined=rows_quarantined,
            missing_optional_columns=missing_optional,
            quarantine_by_rule=by_rule,
            extra_columns=extra,
            warnings=tuple(warnings + stray),
            rows_kept=start,
        )
        _record_audit(con, result)
        _record_state(con, result, signature, source_hash, continued)
    except BaseException:
        if start:
            con.execute("rollback")
        raise
    if start:
        con.execute("commit")
    return result


def _unchanged_load(con: duckdb.DuckDBPyConnection, spec: TableSpec, signature: str,
                    source_hash: str) -> tuple[int, int, int] | None:
    """(rows read, loaded, quarantined) of the table's last load when it read a file with this
    checksum under this signature and the table and its quarantine still hold what it left."""
    state = con.execute(
        "select rows_read, rows_loaded, rows_quarantined from raw.load_state "
        "where table_name = ? and signature = ? and source_hash = ?",
        [spec.name, signature, source_hash],
    ).fetchone()
    return state if state and _holds(con, spec.name, state[1], state[2]) else None


def _holds(con: duckdb.DuckDBPyConnection, table: str, rows_loaded: int,
           rows_quarantined: int) -> bool:
    """Whether ``raw.<table>`` and its quarantine still hold as many rows as a load left."""
    if not con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'raw' and table_name = ?", [table]
    ).fetchone()[0]:
        return False
    return con.execute(
        f"select (select count(*) from raw.{quote(table)}), "
        "(select count(*) from raw.quarantine where table_name = ?)", [table]
    ).fetchone() == (rows_loaded, rows_quarantined)


def _no_rows_warning(file_format: str) -> str:
    return ("no_rows: the export has no data rows (a header only)" if file_format == "csv"
            else "no_rows: the export has no rows")


def _quarantine_by_rule(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    return dict(con.execute(
        "select rule, count(*) from raw.quarantine where table_name = ? group by rule "
        "order by rule", [table]).fetchall())


def _keep_unchanged(con: duckdb.DuckDBPyConnection, spec: TableSpec, path: Path,
                    file_format: str, digest: str, signature: str,
                    state: tuple[int, int, int], missing_optional: tuple[str, ...],
                    extra: tuple[str, ...], warnings: list[str], stray: list[str]
                    ) -> LoadResult:
    """The result of loading an unchanged file again, without reading it: the table and its
    quarantine stay (the quarantine names the file where it is now), the records are written
    as a full load would write them."""
    rows_read, rows_loaded, rows_quarantined = state
    if rows_read == 0:
        warnings = [*warnings, _no_rows_warning(file_format)]
    con.execute("begin transaction")
    try:
        con.execute("update raw.quarantine set source_file = ? where table_name = ?",
                    [str(path), spec.name])
        by_rule = _quarantine_by_rule(con, spec.name)
        result = LoadResult(
            table_name=spec.name, source_file=str(path), file_format=file_format,
            file_sha256=digest, file_bytes=path.stat().st_size, rows_read=rows_read,
            rows_loaded=rows_loaded, rows_quarantined=rows_quarantined,
            missing_optional_columns=missing_optional, quarantine_by_rule=by_rule,
            extra_columns=extra, warnings=tuple(warnings + stray), rows_kept=rows_read,
        )
        _record_audit(con, result)
        source_hash = f"sha256:{digest}"
        _record_state(con, result, signature, source_hash, (source_hash, rows_loaded))
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    return result


def _forget_table(con: duckdb.DuckDBPyConnection, table_name: str) -> None:
    """Before a full load: the table's quarantined rows and its stored load state go."""
    con.execute("delete from raw.quarantine where table_name = ?", [table_name])
    con.execute("delete from raw.load_state where table_name = ?", [table_name])


def _load_signature(spec: TableSpec, mapping: SourceMapping, source_cols: dict[str, str],
                    kept: list[str]) -> str:
    """What decides how a source row becomes a raw row or a quarantine row, as a digest: an
    appended load continues an earlier one only under the same contract, mapping and file
    columns (and the same loader)."""
    text = json.dumps(
        [LOAD_STATE_VERSION, repr(spec.columns), mapping.columns, mapping.values, mapping.formats,
         list(source_cols.items()), kept],
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _already_loaded(con: duckdb.DuckDBPyConnection, spec: TableSpec, source: str,
                    signature: str, kept: list[str]) -> tuple[int, str, tuple[str, int]]:
    """(rows at the start of the file that the table holds already, checksum of the whole file,
    (the continued load's checksum, the raw rows it left) or ('', 0) for a full load).

    The checksum is the sum of every row's hash with its row number, so it changes when any row
    changes or moves. The rows already loaded are the earlier load's ``rows_read`` when the
    first that many rows of this file have the earlier load's checksum, under the same
    signature, and the table and its quarantine still hold what that load left (else 0: a full
    load). One pass over the file, the same in both cases."""
    row_hash = "hash(" + ", ".join(["_k"] + [quote("s__" + s) for s in kept]) + ")::hugeint"
    done, done_hash, done_loaded = 0, "", 0
    state = con.execute(
        "select rows_read, rows_loaded, rows_quarantined, source_hash from raw.load_state "
        "where table_name = ? and signature = ? and rows_read > 0",
        [spec.name, signature],
    ).fetchone()
    if state and _holds(con, spec.name, state[1], state[2]):
        done, done_hash, done_loaded = state[0], state[3], state[1]
    prefix_rows, prefix_hash, whole_hash = con.execute(
        f"select count(*) filter (where _k <= {done}), "
        f"coalesce(sum({row_hash}) filter (where _k <= {done}), 0)::varchar, "
        f"coalesce(sum({row_hash}), 0)::varchar from {source}"
    ).fetchone()
    if done and (prefix_rows, prefix_hash) == (done, done_hash):
        return done, whole_hash, (done_hash, done_loaded)
    return 0, whole_hash, ("", 0)


def _record_state(con: duckdb.DuckDBPyConnection, r: LoadResult, signature: str,
                  source_hash: str, continued: tuple[str, int]) -> None:
    con.execute("delete from raw.load_state where table_name = ?", [r.table_name])
    con.execute(
        "insert into raw.load_state (table_name, signature, rows_read, rows_loaded, "
        "rows_quarantined, source_hash, continued_from, continued_rows_loaded) "
        "values (?, ?, ?, ?, ?, ?, ?, ?)",
        [r.table_name, signature, r.rows_read, r.rows_loaded, r.rows_quarantined, source_hash,
         *continued],
    )


def _record_audit(con: duckdb.DuckDBPyConnection, r: LoadResult) -> None:
    con.execute("delete from raw.load_audit where table_name = ?", [r.table_name])
    con.execute(
        "insert into raw.load_audit (table_name, source_file, file_format, file_sha256, file_bytes, "
        "rows_read, rows_loaded, rows_quarantined, missing_optional_columns, warnings) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [r.table_name, r.source_file, r.file_format, r.file_sha256, r.file_bytes, r.rows_read,
         r.rows_loaded, r.rows_quarantined, ", ".join(r.missing_optional_columns),
         "\n".join(r.warnings)],
    )


DEFAULT_MEMORY_LIMIT = "2.75GB"
"""DuckDB's memory limit when ``CS_DUCKDB_MEMORY_LIMIT`` is not set. 2.75 GB, so that a run's whole
process tree stays within 4 GB: during dbt, dbt's process (DuckDB's buffers and dbt's Python) and
the Dagster process beside it (about 600 MB after the raw gate). At 3 GB the full run at
`medium` peaked at 3,848-3,997 MB; at 2.75 GB at 3,584-3,727 MB, in the same time (187 s,
median of 3 each). DuckDB spills to ``<warehouse>/tmp`` beyond it (benchmarks/README.md)."""


def env_flag(name: str, default: bool = False) -> bool:
    """A yes/no setting from the environment: ``1``, ``true`` or ``yes`` (any case) is on."""
    value = os.environ.get(name, "").strip().lower()
    return value in ("1", "true", "yes") if value else default


def memory_limit_setting() -> str:
    """``CS_DUCKDB_MEMORY_LIMIT``, else :data:`DEFAULT_MEMORY_LIMIT`."""
    return os.environ.get("CS_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_MEMORY_LIMIT


def connect(db_path: Path | None, memory_limit: str = DEFAULT_MEMORY_LIMIT,
            temp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection under ``memory_limit`` that spills what does not fit to ``temp_dir``
    (default: ``tmp`` beside ``db_path``). ``db_path`` None: an in-memory database (which
    attaches files itself), then ``temp_dir`` is required."""
    if db_path is None:
        if temp_dir is None:
            raise ValueError("an in-memory connection needs a temp_dir to spill to")
    else:
        db_path = Path(db_path)
        db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(temp_dir) if temp_dir is not None else db_path.parent / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:" if db_path is None else str(db_path))
    con.execute(f"set memory_limit = {literal(memory_limit)}")
    try:
        con.execute(f"set temp_directory = {literal(str(tmp))}")
    except duckdb.NotImplementedException:
        # Another connection of this process to the same file has spilled already, and DuckDB
        # keeps that spill folder ("Cannot switch temporary directory..."): fine if it is ours.
        (current,) = con.execute("select current_setting('temp_directory')").fetchone()
        if Path(current).resolve() != tmp.resolve():
            con.close()
            raise
    return con


def load_all(db_path: Path, raw_dir: Path, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> list[LoadResult]:
    """Load every table of the contract (used by tests and scripts; Dagster loads per asset)."""
    con = connect(db_path, memory_limit)
    try:
        return [load_table(con, spec, Path(raw_dir)) for spec in TABLES]
    finally:
        con.close()

