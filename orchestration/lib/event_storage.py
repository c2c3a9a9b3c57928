"""Dagster's SQLite event log, with its connections kept open and commits not synced one by one.

Dagster's ``SqliteEventLogStorage`` (the default of a ``DAGSTER_HOME`` without a database server)
opens a new SQLAlchemy engine and SQLite connection for every event it stores and closes them
after the commit. In WAL mode, each commit syncs the log to disk (``synchronous=FULL``) and each
close of a database's last connection checkpoints the log into the database file and syncs that
too: two or more disk syncs per event, for the about 1,000 events of a run (a start, an output,
a materialization or a check evaluation and a success per step, plus the "planned" events).
Profiled, that was most of Dagster's own time in a daily run (benchmarks/README.md).

``KeptSqliteEventLogStorage`` is the same storage, with the same files, schema and migrations,
read by the same UI, with two differences:

* one engine per database file, kept while the process uses it (the index database and the
  eight run databases used last), so a connection is opened once, not once per event, and a
  checkpoint happens when SQLite's log reaches its size, not at every event;
* ``PRAGMA synchronous=NORMAL`` on its connections: in WAL mode, a commit is durable across a
  crash of the process (the log is written before the commit returns) but not across a power
  loss or operating-system crash, where the last commits of the log may be lost; the database stays
  consistent (SQLite's documentation, "WAL mode" and "PRAGMA synchronous"). The event log is the
  run history the UI shows, not the warehouse: the published file does not depend on it.

A run's live view in the UI watched the run database's file for changes (watchdog). Since
the file now changes at checkpoints only, watching polls the database instead, as Dagster does
for its PostgreSQL and MySQL storages (``SqlPollingEventWatcher``): every 0.25 s while events
arrive, backing off to 16 s when none do, so after a quiet spell a new event can show up to
16 s late; each watched run has a polling thread while its page is open.

``dagster.yaml`` selects it (``event_log_storage``), with the run databases where Dagster keeps
them by default, ``$DAGSTER_HOME/history/runs`` (``base_dir`` may say otherwise), so switching
to it or back keeps the history. A storage class is not told the instance's folder, so opening an
instance by its folder (``DagsterInstance.from_config``) needs ``DAGSTER_HOME`` set to it.
DECISIONS.md, "Dagster's event log".
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._config import Field, StringSource
from dagster._core.storage.event_log import SqliteEventLogStorage, SqlPollingEventWatcher
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

# Run databases whose engines stay open besides the index database's (a run writes to its own;
# the UI process reads the runs it shows).
KEPT_RUN_DATABASES = 8


def default_base_dir() -> str:
    """Where Dagster's default storage keeps the run databases: ``$DAGSTER_HOME/history/runs``."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise dg.DagsterInvariantViolationError(
            "KeptSqliteEventLogStorage (dagster.yaml, event_log_storage) needs DAGSTER_HOME "
            "or its base_dir setting to know where the run databases are"
        )
    return os.path.join(os.path.abspath(home), "history", "runs")


# Every storage of the process, so that their connections close (and their logs are
# checkpointed into the database files) when the process exits.
_OPEN_STORAGES: weakref.WeakSet[KeptSqliteEventLogStorage] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    for storage in list(_OPEN_STORAGES):
        storage.close_connections()


def _set_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class KeptSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one kept engine per database file and
    ``synchronous=NORMAL`` (module docstring)."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._engines_lock = threading.Lock()
        self._poller: SqlPollingEventWatcher | None = None
        super().__init__(base_dir, inst_data=inst_data)
        _OPEN_STORAGES.add(self)

    @classmethod
    def config_type(cls):
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> KeptSqliteEventLogStorage:
        base_dir = config_value.get("base_dir") or default_base_dir()
        return cls(base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            if self._engines_pid != os.getpid():
                self._drop_engines()
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=QueuePool,
                pool_size=2,  # has_table is asked while a write holds the first
                max_overflow=4,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            event.listen(engine, "connect", _set_pragmas)
            self._engines[shard] = engine
            runs = [name for name in self._engines if name != INDEX_SHARD_NAME]
            for name in runs[: max(0, len(runs) - KEPT_RUN_DATABASES)]:
                self._engines.pop(name).dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # As SqliteEventLogStorage._connect, with a kept engine instead of a new one each time.
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def has_table(self, table_name: str) -> bool:
        # Asked of the index database for every asset event and check evaluation (whether the
        # storage has the asset-check and tag tables); Dagster's answers it with a new engine.
        engine = self._engine(INDEX_SHARD_NAME)
        with engine.connect() as conn:
            return bool(engine.dialect.has_table(conn, table_name))

    def _drop_engines(self) -> None:
        """Dispose of every kept engine (the caller holds ``_engines_lock``). In a forked child
        they are its parent's connections: forgotten, not closed (SQLAlchemy, "Using Connection
        Pools with Multiprocessing")."""
        forked = self._engines_pid != os.getpid()
        for engine in self._engines.values():
            engine.dispose(close=not forked)
        self._engines.clear()
        self._engines_pid = os.getpid()

    def close_connections(self) -> None:
        """Close every kept connection (their logs are checkpointed as the last one closes)."""
        with self._engines_lock:
            self._drop_engines()

    def wipe(self) -> None:
        self.close_connections()
        super().wipe()

    def watch(self, run_id, cursor, callback) -> None:
        if self._poller is None:
            self._poller = SqlPollingEventWatcher(self)
        self._poller.watch_run(run_id, cursor, callback)

    def end_watch(self, run_id, handler) -> None:
        if self._poller is not None:
            self._poller.unwatch_run(run_id, handler)

    def dispose(self) -> None:
        if self._poller is not None:
            self._poller.close()
            self._poller = None
        super().dispose()
        self.close_connections()
