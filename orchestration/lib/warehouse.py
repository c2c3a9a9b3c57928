"""Where the pipeline's files live, as one Dagster resource.

Paths default to the repository layout (``data/raw``, ``data/warehouse``) and can be moved with
environment variables (``CS_RAW_DIR``, ``CS_WAREHOUSE_DIR``) or resource config, which is how the
tests run the whole pipeline in a temporary directory. ``RefreshLock`` is the run's hold on the
warehouse folder (one refresh at a time, ``orchestration/lib/runlock.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.lib.loader import connect, memory_limit_setting
from orchestration.lib.runlock import record_child, refresh_lock, wait_seconds_for_run

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def scoped_env(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them as they were
    (unset again when they were unset)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def pipeline_env(raw_dir: Path, warehouse_dir: Path):
    """Run the pipeline on these folders (what CS_RAW_DIR and CS_WAREHOUSE_DIR say)."""
    return scoped_env({"CS_RAW_DIR": str(raw_dir), "CS_WAREHOUSE_DIR": str(warehouse_dir)})


BUILD_DB_NAME = "build.duckdb"
PUBLISHED_DB_NAME = "cs_metrics.duckdb"
REPORT_NAME = "cs_kpi_report.html"


def default_raw_dir() -> str:
    return os.environ.get("CS_RAW_DIR", str(REPO_ROOT / "data" / "raw"))


def default_warehouse_dir() -> str:
    return os.environ.get("CS_WAREHOUSE_DIR", str(REPO_ROOT / "data" / "warehouse"))


class Warehouse(dg.ConfigurableResource):
    """The export folder, the private build database and the published database."""

    raw_dir: str = ""
    warehouse_dir: str = ""
    memory_limit: str = memory_limit_setting()

    # Absolute: a relative CS_RAW_DIR / CS_WAREHOUSE_DIR means relative to where the command was
    # started, and dbt runs in dbt_project/ (CS_BUILD_DB would otherwise point inside it).
    @property
    def raw_path(self) -> Path:
        return Path(self.raw_dir or default_raw_dir()).absolute()

    @property
    def warehouse_path(self) -> Path:
        return Path(self.warehouse_dir or default_warehouse_dir()).absolute()

    @property
    def build_db(self) -> Path:
        return self.warehouse_path / BUILD_DB_NAME

    @property
    def published_db(self) -> Path:
        return self.warehouse_path / PUBLISHED_DB_NAME

    @property
    def report_path(self) -> Path:
        """The KPI report (asset ``kpi_report``), written from the published database."""
        return self.warehouse_path / REPORT_NAME

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A connection to the build database (the only writer while a run is on).

        While a refresh run holds the build database open (:func:`keep_build_database`, from
        the run's start to its end), each call returns a new connection (``cursor()``) to the
        kept database, which is opened by the first call: the steps before dbt (one per export
        and per raw check, about 85) then do not each open the file (about 40 ms: DuckDB reads
        the catalog of every table and view) and checkpoint it when they close. A read-only
        request is served by the kept database even when it was opened for writing (DuckDB
        refuses two configurations of one file in one process); a write request when it was
        opened read-only reopens it for writing. Outside such a run: a new database connection,
        closed with the returned connection."""
        kept = _KEPT.get(_kept_key(self.build_db))
        if kept is None:
            return self.open(read_only)
        return kept.connect(self, read_only)

    def open(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A new database connection to the build file, never kept: its own hold on the file
        for as long as it is open."""
        if read_only:
            return duckdb.connect(str(self.build_db), read_only=True)
        return connect(self.build_db, self.memory_limit)

    def release(self) -> None:
        """Close the kept build database, if any (and every connection :meth:`connect` returned
        from it: DuckDB closes a connection's cursors with it), so that it is checkpointed and
        another process or database can open the file: dbt's step and publish call it first.
        A later :meth:`connect` in the same run opens and keeps it again."""
        kept = _KEPT.get(_kept_key(self.build_db))
        if kept is not None:
            kept.close()


class _KeptDatabase:
    """The build database held open for one run (``keep_build_database``)."""

    def __init__(self) -> None:
        self.con: duckdb.DuckDBPyConnection | None = None
        self.read_only = False

    def connect(self, warehouse: Warehouse, read_only: bool) -> duckdb.DuckDBPyConnection:
        if self.con is not None and self.read_only and not read_only:
            self.close()
        if self.con is None:
            self.con, self.read_only = warehouse.open(read_only), read_only
        return self.con.cursor()

    def close(self) -> None:
        con, self.con = self.con, None
        if con is not None:
            con.close()


# build database path (resolved) -> the database a run keeps open (keep_build_database)
_KEPT: dict[Path, _KeptDatabase] = {}


def _kept_key(build_db: Path) -> Path:
    """One key per file, however its path is spelt (a symlinked folder, ``..``): DuckDB keeps
    one database instance per file in a process, so a connect under another spelling would
    otherwise open the file again beside the kept one."""
    return Path(build_db).resolve()


@contextmanager
def keep_build_database(build_db: Path) -> Iterator[None]:
    """For the block (a refresh run: ``RefreshLock``), :meth:`Warehouse.connect` keeps the build
    database open between steps; it is closed at the end whatever happened."""
    key = _kept_key(build_db)
    _KEPT[key] = kept = _KeptDatabase()
    try:
        yield
    finally:
        kept.close()
        if _KEPT.get(key) is kept:
            del _KEPT[key]


class RefreshLock(dg.ConfigurableResource):
    """The refresh lock of the run's warehouse folder, held from the moment Dagster sets the
    run's resources up (before the first step) until the run ends. Required by the steps that
    write the build database; see ``orchestration.lib.runlock``."""

    warehouse: Warehouse
    # None: by who started the run (runlock.wait_seconds_for_run)
    wait_seconds: float | None = None

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[RefreshLock]:
        def log(message: str) -> None:
            if context.log is not None:
                context.log.warning(message)

        wait = self.wait_seconds
        if wait is None:
            wait = wait_seconds_for_run(context.run.tags if context.run is not None else {})
        # The build database stays open between the run's steps until dbt's step or publish
        # releases it, and is closed before the lock is released.
        with refresh_lock(self.warehouse.warehouse_path, wait, log=log), \
                keep_build_database(self.warehouse.build_db):
            yield self

    def record_child(self, pid: int, what: str) -> None:
        record_child(self.warehouse.warehouse_path, pid, what)
