"""Write-audit-publish: copy the audited build database over the published one, atomically.

Analysts open ``cs_metrics.duckdb`` read-only. The pipeline never opens that file for writing: it
builds into ``build.duckdb``, audits it, copies it to a temporary file in the same folder, audits
the copy, and ``os.replace``s it over the published file. A reader that has the old file open
keeps reading the old (complete) version; the next ``connect`` sees the new one. A run that fails
anywhere before the replace leaves the published file exactly as it was; so does a run killed
anywhere (the replace is atomic), and the temporary copy a run killed while publishing leaves
behind is removed by the next publish.

The copy is written table by table into a new file, not copied byte for byte: the raw columns the
export contract marks personal (customer contacts' names and emails, product users' emails) are
written as NULL, as are the raw lines of those tables' quarantined rows, unless personal data is
configured in (``CS_INCLUDE_CONTACT_PERSONAL_DATA=true``, the same setting as the dbt var). A new
file holds no freed blocks, so nothing removed can be read back from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.lib.contract import TABLES
from orchestration.lib.killpoints import pause_at
from orchestration.lib.loader import env_flag, literal, memory_limit_setting, quote
from orchestration.lib.runlock import holds_lock, is_running

# Schemas analysts query; every table in them must be non-empty to publish.
PUBLISHED_SCHEMAS = ("marts",)
# DuckDB names a file's catalog after the file: dbt builds under this name (profiles.yml) so
# that its views, which name their catalog, resolve in the published file.
PUBLISHED_CATALOG = "cs_metrics"


def include_personal_data() -> bool:
    """Whether the published file keeps the personal columns (default: no)."""
    return env_flag("CS_INCLUDE_CONTACT_PERSONAL_DATA")


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


def write_published_copy(build_db: Path, target: Path, include_personal: bool) -> None:
    """Write every schema, table and view of ``build_db`` into the new file ``target``, with
    personal columns as NULL unless ``include_personal``."""
    masked = {} if include_personal else personal_columns()
    con = duckdb.connect()
    try:
        # The pipeline's memory limit; what does not fit spills beside the published file.
        con.execute(f"set memory_limit = {literal(memory_limit_setting())}")
        con.execute(f"set temp_directory = {literal(str(Path(target).parent / 'tmp'))}")
        con.execute(f"attach {literal(str(build_db))} as {PUBLISHED_CATALOG} (read_only)")
        con.execute(f"attach {literal(str(target))} as published_copy")
        # Schemas, tables (with their constraints) and views, in dependency order.
        con.execute(f"copy from database {PUBLISHED_CATALOG} to published_copy (schema)")
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            f"where database_name = '{PUBLISHED_CATALOG}' order by all").fetchall()
        for schema, table in tables:
            source = f"{PUBLISHED_CATALOG}.{quote(schema)}.{quote(table)}"
            replace = []
            if schema == "raw" and table in masked:
                replace = [f"null::varchar as {quote(c)}" for c in masked[table]]
            elif schema == "raw" and table == "quarantine" and masked:
                names = ", ".join(f"'{t}'" for t in masked)
                replace = [f"case when table_name in ({names}) then null else raw_record end as raw_record"]
            select = "*" + (f" replace ({', '.join(replace)})" if replace else "")
            con.execute(f"insert into published_copy.{quote(schema)}.{quote(table)} "
                        f"select {select} from {source}")
        con.execute("detach published_copy")
    finally:
        con.close()


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


def publish(build_db: Path, published_db: Path) -> PublishResult:
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
        write_published_copy(build_db, tmp, include_personal_data())
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
    return PublishResult(published_db, published_db.stat().st_size, counts)
