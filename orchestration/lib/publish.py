"""Write-audit-publish: copy the audited build database over the published one, atomically.

Analysts open ``cs_metrics.duckdb`` read-only. The pipeline never opens that file for writing: it
builds into ``build.duckdb``, audits it, copies it to a temporary file in the same folder, audits
the copy, and ``os.replace``s it over the published file. A reader that has the old file open
keeps reading the old (complete) version; the next ``connect`` sees the new one. A run that fails
anywhere before the replace leaves the published file exactly as it was; so does a run killed
anywhere (the replace is atomic), and the temporary copy a run killed while publishing leaves
behind is removed by the next publish.

The published file holds the build's raw layer, staging views, seeds (``reference``) and
marts; the intermediate models stay in the build (``unpublished_schemas``;
``CS_PUBLISH_INTERMEDIATE=true`` publishes them too). The build database is never copied byte
for byte: the raw columns the export contract marks personal (customer contacts' names and
emails, product users' emails) are written as NULL, as are the raw lines of those tables'
quarantined rows, unless personal data is configured in (``CS_INCLUDE_CONTACT_PERSONAL_DATA=true``,
the same setting as the dbt var). The copy starts from one of two places:

- a new file, written table by table (the first publish, or whenever the previous one cannot be
  the start): it holds no freed blocks, so nothing removed can be read back from it;
- a byte copy of the *previous published file*, when its manifest (``raw.published_tables``:
  every table's rows and checksum as published, and whether personal data was in it) says it
  never held personal data (or it may now), its schemas, tables and views are those the build
  publishes, and at most half of it is freed blocks. Only the tables whose checksum changed are
  rewritten there; a table whose first rows (by row id) are exactly the published ones gets only
  its new rows (the appended usage events), a table dbt rewrites by partition (or whose model's
  meta names a partition column: ``dbt_project.incremental_partitions``) only its changed
  partitions (``raw.published_partitions``). Freed blocks of such a file hold only what an
  earlier published file held.

Either way the copy's tables are checksummed against the build's (masked) tables before the
swap, so both ways publish the same content.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.lib.contract import TABLES
from orchestration.lib.killpoints import pause_at
from orchestration.lib.loader import connect, env_flag, literal, memory_limit_setting, quote
from orchestration.lib.runlock import holds_lock, is_running

# Schemas analysts query; every table in them must be non-empty to publish.
PUBLISHED_SCHEMAS = ("marts",)
# Schemas of the build database the published file leaves out: the intermediate models are
# steps of the marts' computation (45 million rows at the benchmark's `medium`, more than the
# raw layer), not something analysts' queries should bind to, and writing them was 40-50% of
# every publish (DECISIONS.md, "The published file holds the marts, the raw layer, staging and
# the seeds"). CS_PUBLISH_INTERMEDIATE=true publishes them too.
INTERMEDIATE_SCHEMAS = ("intermediate",)
# DuckDB names a file's catalog after the file: dbt builds under this name (profiles.yml) so
# that its views, which name their catalog, resolve in the published file.
PUBLISHED_CATALOG = "cs_metrics"
# The published file's own record of what it holds (see the module doc); not in the build.
MANIFEST = "published_tables"
MANIFEST_DDL = f"""
create table raw.{MANIFEST} (
    schema_name varchar not null,
    table_name varchar not null,
    row_count bigint not null,
    checksum varchar not null,
    personal_data boolean not null,
    primary key (schema_name, table_name)
)
"""
# Per partition of the tables published by partition (incremental models, meta: month or day),
# with the column they were partitioned by: partitions of another column are not comparable.
PARTITIONS = "published_partitions"
PARTITIONS_DDL = f"""
create table raw.{PARTITIONS} (
    schema_name varchar not null,
    table_name varchar not null,
    partition_column varchar not null,
    partition_value varchar not null,
    row_count bigint not null,
    checksum varchar not null
)
"""
PUBLISH_RECORDS = (MANIFEST, PARTITIONS)
_RECORDS_IN = "(" + ", ".join(f"'{t}'" for t in PUBLISH_RECORDS) + ")"
# A previous published file with more freed blocks than this share is not reused: the next one
# is written anew, so the file does not keep growing.
MAX_FREE_SHARE = 0.5


def include_personal_data() -> bool:
    """Whether the published file keeps the personal columns (default: no)."""
    return env_flag("CS_INCLUDE_CONTACT_PERSONAL_DATA")


def unpublished_schemas() -> tuple[str, ...]:
    """The build's schemas left out of the published file (default: the intermediate models)."""
    return () if env_flag("CS_PUBLISH_INTERMEDIATE") else INTERMEDIATE_SCHEMAS


def _outside(column: str, schemas: tuple[str, ...]) -> str:
    """SQL: true where ``column`` (a schema name) is none of ``schemas``."""
    if not schemas:
        return "true"
    return f"{column} not in ({', '.join(literal(s) for s in schemas)})"


def personal_columns() -> dict[str, tuple[str, ...]]:
    """``raw.<table>`` -> its personal columns, from the export contract."""
    found = {spec.name: tuple(c.name for c in spec.columns if c.personal) for spec in TABLES}
    return {table: cols for table, cols in found.items() if cols}


class AuditError(RuntimeError):
    """The build database is not fit to publish."""


@dataclass(frozen=True)
class PublishResult:
    published_db: Path
    bytes: int
    table_rows: dict[str, int]
    # Whether the copy started from the previous published file (else a new file), and what
    # was written (CopyReport).
    from_previous: bool = False
    report: CopyReport | None = None

    @property
    def tables(self) -> dict[str, int]:
        return self.report.counts if self.report else {}


def _open_as_published(db_path: Path) -> duckdb.DuckDBPyConnection:
    """Open a database file read-only under the catalog name analysts see (``cs_metrics``)."""
    con = duckdb.connect()
    con.execute(f"attach {literal(str(db_path))} as {PUBLISHED_CATALOG} (read_only)")
    con.execute(f"use {PUBLISHED_CATALOG}")
    return con


def audit(db_path: Path) -> dict[str, int]:
    """Row count of every published table; raises ``AuditError`` when something is off."""
    con = _open_as_published(db_path)
    try:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_catalog = '{PUBLISHED_CATALOG}' and table_type = 'BASE TABLE' "
            "and table_schema in (" + ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS) + ") "
            "order by 1"
        ).fetchall()
        if not tables:
            raise AuditError(f"{db_path}: no mart tables to publish")
        counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for (t,) in tables}
        empty = [t for t, n in counts.items() if n == 0]
        if empty:
            raise AuditError(f"{db_path}: empty mart tables: {', '.join(empty)}")
        views = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_catalog = '{PUBLISHED_CATALOG}' and table_type = 'VIEW' order by 1"
        ).fetchall()
        for (view,) in views:
            try:
                con.execute(f"select * from {view} limit 0")
            except duckdb.Error as exc:
                raise AuditError(f"{db_path}: view {view} does not resolve: {exc}") from exc
        unbalanced = con.execute(
            "select table_name from raw.load_audit "
            "where rows_read <> rows_loaded + rows_quarantined"
        ).fetchall()
        if unbalanced:
            raise AuditError(
                f"{db_path}: rows read != loaded + quarantined for "
                + ", ".join(r[0] for r in unbalanced)
            )
        return counts
    finally:
        con.close()


def _published_values(con: duckdb.DuckDBPyConnection, catalog: str,
                      masked: dict[str, tuple[str, ...]], left_out: tuple[str, ...] = ()
                      ) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(schema, table) -> (column, the value published for it) for every base table of
    ``catalog`` outside the schemas ``left_out``: the column itself, or NULL for a masked
    personal column (and for a masked table's raw lines in the quarantine)."""
    tables: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column in con.execute(
        "select c.schema_name, c.table_name, c.column_name from duckdb_columns() c "
        "join duckdb_tables() t using (database_name, schema_name, table_name) "
        f"where c.database_name = ? and {_outside('c.schema_name', left_out)} "
        "order by c.schema_name, c.table_name, c.column_index",
        [catalog],
    ).fetchall():
        value = quote(column)
        if schema == "raw" and column in masked.get(table, ()):
            value = "null::varchar"
        elif schema == "raw" and table == "quarantine" and masked and column == "raw_record":
            names = ", ".join(literal(t) for t in masked)
            value = f"case when table_name in ({names}) then null else raw_record end"
        tables.setdefault((schema, table), []).append((column, value))
    return tables


def _checksums(con: duckdb.DuckDBPyConnection, source: str, values: list[str],
               first_rows: int = 0) -> tuple[int, str, int, str]:
    """(rows, checksum) of ``values`` over the table ``source``, and the same for its rows with
    a row id below ``first_rows``. The checksum is the sum of the rows' hashes: independent of
    order, it counts duplicates."""
    return con.execute(
        f"select count(*), coalesce(sum(h), 0)::varchar, count(*) filter (where rowid < {first_rows}), "
        f"coalesce(sum(h) filter (where rowid < {first_rows}), 0)::varchar "
        f"from (select rowid, hash({', '.join(values)})::hugeint as h from {source})"
    ).fetchone()


def _schema_of(con: duckdb.DuckDBPyConnection, catalog: str, left_out: tuple[str, ...] = ()
               ) -> list[tuple]:
    """Every schema, table and view of ``catalog`` outside the schemas ``left_out``, with its
    definition (publish's own records aside)."""
    outside = _outside("schema_name", left_out)
    return con.execute(
        "select 'schema', schema_name, '', '' from duckdb_schemas() where database_name = ? "
        f"and not internal and {outside} "
        "union all select 'table', schema_name, table_name, sql from duckdb_tables() "
        f"where database_name = ? and {outside} "
        f"and not (schema_name = 'raw' and table_name in {_RECORDS_IN}) "
        "union all select 'view', schema_name, view_name, sql from duckdb_views() "
        f"where database_name = ? and not internal and {outside} order by all",
        [catalog, catalog, catalog],
    ).fetchall()


@dataclass
class CopyReport:
    """What one publish wrote: tables kept, appended to, rewritten by partition and written
    whole, and the seconds each table took (checksum and writing), slowest first."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("kept", "appended", "partitions", "written"), 0))
    seconds: list[tuple[str, str, float]] = field(default_factory=list)  # (table, how, seconds)
    verify_seconds: float = 0.0


@dataclass(frozen=True)
class Previous:
    """What the previous published file holds, by its manifest: (schema, table) -> (rows,
    checksum), and the same per partition of the partitioned tables, by (schema, table,
    partition column)."""

    tables: dict[tuple[str, str], tuple[int, str]]
    partitions: dict[tuple[str, str, str], dict[str, tuple[int, str]]]


def reusable_manifest(build_db: Path, previous_db: Path, include_personal: bool,
                      left_out: tuple[str, ...] | None = None) -> Previous | None:
    """The manifest of ``previous_db`` when a byte copy of it can start the next published file
    (module doc), else None. ``left_out``: the build's schemas not published (default
    :func:`unpublished_schemas`); a previous file that holds one of them is not the start."""
    if not Path(previous_db).exists():
        return None
    left_out = unpublished_schemas() if left_out is None else tuple(left_out)
    con = duckdb.connect()
    try:
        con.execute(f"attach {literal(str(build_db))} as {PUBLISHED_CATALOG} (read_only)")
        con.execute(f"attach {literal(str(previous_db))} as previous (read_only)")
        records = con.execute(
            "select count(*) from duckdb_tables() where database_name = 'previous' "
            f"and schema_name = 'raw' and table_name in {_RECORDS_IN}").fetchone()[0]
        if records != len(PUBLISH_RECORDS):
            return None
        rows = con.execute(f"select schema_name, table_name, row_count, checksum, personal_data "
                           f"from previous.raw.{MANIFEST}").fetchall()
        if any(personal for *_, personal in rows) and not include_personal:
            return None
        total, free = con.execute("select total_blocks, free_blocks from pragma_database_size() "
                                  "where database_name = 'previous'").fetchone()
        if total and free / total > MAX_FREE_SHARE:
            return None
        if _schema_of(con, "previous") != _schema_of(con, PUBLISHED_CATALOG, left_out):
            return None
        partitions: dict[tuple[str, str, str], dict[str, tuple[int, str]]] = {}
        # (A file published before the column was recorded fails here: a new file is written.)
        for schema, table, column, value, n, checksum in con.execute(
                "select schema_name, table_name, partition_column, partition_value, row_count, "
                f"checksum from previous.raw.{PARTITIONS}").fetchall():
            partitions.setdefault((schema, table, column), {})[value] = (n, checksum)
        return Previous({(schema, table): (n, checksum) for schema, table, n, checksum, _ in rows},
                        partitions)
    except duckdb.Error:
        return None  # not a file we can start from: write a new one
    finally:
        con.close()


def _partition_checksums(con: duckdb.DuckDBPyConnection, source: str, values: list[str],
                         column: str) -> dict[str, tuple[int, str]]:
    """Partition value (as text) -> (rows, checksum) of ``values`` over ``source``."""
    return {value: (n, checksum) for value, n, checksum in con.execute(
        f"select {_partition_of(column)}, count(*), sum(hash({', '.join(values)})::hugeint)::varchar "
        f"from {source} group by 1"
    ).fetchall()}


def _in_partitions(con: duckdb.DuckDBPyConnection, source: str, column: str,
                   partitions: list[str]) -> str:
    """A filter for the rows of ``partitions`` (as :func:`_partition_of` names them): typed
    literals, so that DuckDB skips the row groups of other partitions."""
    (column_type,) = con.execute(f"select typeof({quote(column)}) from {source} limit 1").fetchone() \
        or ("VARCHAR",)
    values = [literal(v) + f"::{column_type}" for v in partitions if v != "(null)"]
    terms = [f"{quote(column)} in ({', '.join(values)})"] if values else []
    if "(null)" in partitions:
        terms.append(f"{quote(column)} is null")
    return "(" + (" or ".join(terms) or "false") + ")"


def _partition_of(column: str) -> str:
    """A row's partition as text (a NULL key is a partition too)."""
    return f"coalesce(cast({quote(column)} as varchar), '(null)')"


def write_published_copy(build_db: Path, target: Path, include_personal: bool,
                         previous: Previous | None = None,
                         partitions: dict[tuple[str, str], str] | None = None,
                         left_out: tuple[str, ...] | None = None) -> CopyReport:
    """Write every schema, table and view of ``build_db`` outside the schemas ``left_out``
    (default :func:`unpublished_schemas`: the intermediate models) into ``target``, with
    personal columns as NULL unless ``include_personal``, and publish's records of what it
    wrote. ``target`` is a new file, or (with ``previous``, its manifest) a byte copy of the
    previous published file, in which only what changed is written. ``partitions``: (schema,
    table) -> the column by which the table is published by partition
    (``dbt_project.incremental_partitions``); their changed partitions are rewritten, not the
    whole table. Returns what it wrote (``CopyReport``)."""
    masked = {} if include_personal else personal_columns()
    left_out = unpublished_schemas() if left_out is None else tuple(left_out)
    partitions = partitions or {}
    # The pipeline's memory limit; what does not fit spills beside the published file.
    con = connect(None, memory_limit_setting(), temp_dir=Path(target).parent / "tmp")
    report = CopyReport()
    try:
        con.execute(f"attach {literal(str(build_db))} as {PUBLISHED_CATALOG} (read_only)")
        con.execute(f"attach {literal(str(target))} as published_copy")
        if previous is None:
            # Schemas, tables (with their constraints) and views, in dependency order.
            con.execute(f"copy from database {PUBLISHED_CATALOG} to published_copy (schema)")
            # The schemas left out go again, empty (nothing published reads them: a view that
            # did would fail the audit).
            for schema in left_out:
                con.execute(f"drop schema if exists published_copy.{quote(schema)} cascade")
            for ddl in (MANIFEST_DDL, PARTITIONS_DDL):
                con.execute(ddl.replace("raw.", "published_copy.raw.", 1))
        before_tables = previous.tables if previous else {}
        before_partitions = previous.partitions if previous else {}
        manifest, partition_rows, touched = [], [], []
        partial: dict[tuple[str, str], tuple[str, str, dict[str, tuple[int, str]]]] = {}
        for key, columns in _published_values(con, PUBLISHED_CATALOG, masked, left_out).items():
            schema, table = key
            started = time.perf_counter()
            source = f"{PUBLISHED_CATALOG}.{quote(schema)}.{quote(table)}"
            target_table = f"published_copy.{quote(schema)}.{quote(table)}"
            values = [v for _, v in columns]
            select = ", ".join(f"{v} as {quote(c)}" for c, v in columns)
            before_rows, before_checksum = before_tables.get(key, (0, ""))
            part = partitions.get(key)
            if part is not None and part in dict(columns):
                by_part = _partition_checksums(con, source, values, part)
                rows = sum(n for n, _ in by_part.values())
                checksum = str(sum(int(c) for _, c in by_part.values()))
                first, first_checksum = -1, ""
                partition_rows += [(schema, table, part, v, n, c) for v, (n, c) in by_part.items()]
            else:
                part, by_part = None, {}
                rows, checksum, first, first_checksum = _checksums(con, source, values, before_rows)
            if previous is not None and (rows, checksum) == (before_rows, before_checksum):
                how = "kept"
            elif previous is not None and part is not None and (*key, part) in before_partitions:
                # The partitions whose rows or checksum changed, and those gone from the build
                # (recorded by the same column: a table partitioned by another column before is
                # written whole).
                old = before_partitions[(*key, part)]
                changed = sorted(v for v in set(by_part) | set(old) if by_part.get(v) != old.get(v))
                where = _in_partitions(con, source, part, changed)
                con.execute(f"delete from {target_table} where {where}")
                con.execute(f"insert into {target_table} select {select} from {source} where {where}")
                how = "partitions"
                partial[key] = (part, where, {v: by_part[v] for v in changed if v in by_part})
            elif previous is not None and before_rows and (first, first_checksum) == (
                    before_rows, before_checksum):
                con.execute(f"insert into {target_table} select {select} from {source} "
                            f"where rowid >= {before_rows}")
                how = "appended"
            else:
                if previous is not None:
                    con.execute(f"delete from {target_table}")
                con.execute(f"insert into {target_table} select {select} from {source}")
                how = "written"
            report.counts[how] += 1
            if how != "kept":
                touched.append(key)
            manifest.append((schema, table, rows, checksum, include_personal))
            report.seconds.append((f"{schema}.{table}", how, time.perf_counter() - started))
        report.seconds.sort(key=lambda t: -t[2])
        started = time.perf_counter()
        # What this publish wrote, checksummed where it landed (a kept table was when it was
        # written, and the manifest it was kept by says so); of a table rewritten by partition,
        # its rewritten partitions and its row count.
        expected = {(s_, t): (n, c) for s_, t, n, c, _ in manifest}
        copied = _published_values(con, "published_copy", {})
        for key in touched:
            target_table = f"published_copy.{quote(key[0])}.{quote(key[1])}"
            values = [quote(c) for c, _ in copied[key]]
            if key in partial:
                part, where, want = partial[key]
                got = _partition_checksums(con, f"{target_table} where {where}", values, part)
                (rows,) = con.execute(f"select count(*) from {target_table}").fetchone()
                if got != want or rows != expected[key][0]:
                    raise AuditError(f"published copy: {key[0]}.{key[1]} differs from the build in "
                                     f"its rewritten partitions ({rows} rows)")
                continue
            found = tuple(_checksums(con, target_table, values)[:2])
            if found != expected[key]:
                raise AuditError(f"published copy: {key[0]}.{key[1]} has {found[0]} rows, "
                                 f"checksum {found[1]}; the build publishes {expected[key]}")
        report.verify_seconds = time.perf_counter() - started
        for record, rows_ in ((MANIFEST, manifest), (PARTITIONS, partition_rows)):
            con.execute(f"delete from published_copy.raw.{record}")
            if rows_:
                marks = ", ".join("?" * len(rows_[0]))
                con.execute(f"insert into published_copy.raw.{record} select * from "
                            f"(values {', '.join(f'({marks})' for _ in rows_)})",
                            [x for row in rows_ for x in row])
        con.execute("detach published_copy")
    finally:
        con.close()
    return report


def _temporary_path(published_db: Path, pid: int) -> Path:
    return published_db.with_name(f".{published_db.name}.{pid}.tmp")


def remove_stale_temporaries(published_db: Path) -> list[Path]:
    """Delete the temporary copies a killed publish left beside the published file
    (``.cs_metrics.duckdb.<pid>.tmp``): those of dead processes, or all but this process's own
    when this process holds the refresh lock (then no other publisher can be at work)."""
    removed = []
    locked = holds_lock(published_db.parent)
    for path in published_db.parent.glob(f".{published_db.name}.*.tmp"):
        pid_text = path.name[len(published_db.name) + 2:-len(".tmp")]
        pid = int(pid_text) if pid_text.isdigit() else None
        if pid == os.getpid():
            continue
        if locked or pid is None or not is_running(pid):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def publish(build_db: Path, published_db: Path,
            partitions: dict[tuple[str, str], str] | None = None) -> PublishResult:
    """Audit ``build_db`` and swap an audited copy of it (its intermediate models aside unless
    configured in: :func:`unpublished_schemas`) in as ``published_db`` (module doc);
    ``partitions`` as for :func:`write_published_copy`."""
    build_db, published_db = Path(build_db), Path(published_db)
    remove_stale_temporaries(published_db)
    wal = build_db.with_name(build_db.name + ".wal")
    if wal.exists():  # fold any write-ahead log into the file before copying it
        con = duckdb.connect(str(build_db))
        con.execute("checkpoint")
        con.close()
    counts = audit(build_db)
    tmp = _temporary_path(published_db, os.getpid())
    try:
        tmp.unlink(missing_ok=True)
        include_personal, left_out = include_personal_data(), unpublished_schemas()
        previous = reusable_manifest(build_db, published_db, include_personal, left_out)
        if previous is not None:
            shutil.copyfile(published_db, tmp)
        report = write_published_copy(build_db, tmp, include_personal, previous, partitions,
                                      left_out)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        pause_at("publish", published_db.parent)  # a test hook, inert in production
        copied = audit(tmp)
        if copied != counts:
            raise AuditError(f"{tmp}: copy differs from {build_db}")
        os.replace(tmp, published_db)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(published_db.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return PublishResult(published_db, published_db.stat().st_size, counts,
                         previous is not None, report)
