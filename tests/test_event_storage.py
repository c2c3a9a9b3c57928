"""The Dagster event log storage that ``dagster.yaml`` selects (orchestration/lib/event_storage.py).

It must be Dagster's SQLite event log in every way a reader can tell (the same files, read back
by Dagster's own storage), open the run's database once per run instead of once per event, and
still deliver a run's new events to a watcher (the UI's live run view)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy
from dagster._core.storage.event_log import SqliteEventLogStorage

from orchestration.lib.event_storage import KEPT_RUN_DATABASES, KeptSqliteEventLogStorage
from tests.conftest import REPO


@dg.asset
def source() -> int:
    return 1


@dg.asset
def target(source: int) -> int:
    return source + 1


@dg.asset_check(asset=target)
def target_is_two(target: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=target == 2, metadata={"value": target})


DEFS = dg.Definitions(assets=[source, target], asset_checks=[target_is_two])


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A DAGSTER_HOME with the repository's instance settings, as `make run` makes it."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def run_job(instance: dg.DagsterInstance) -> str:
    result = DEFS.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
    assert result.success
    return result.run_id


# A run of DEFS in a process of its own, on the DAGSTER_HOME of its environment; prints the run id.
RUN_IN_A_CHILD = ("from tests.test_event_storage import DEFS, run_job; import dagster as dg; "
                  "print(run_job(dg.DagsterInstance.get()))")


class Connects:
    """Counts the SQLite connections any SQLAlchemy engine of this process opens to the event
    log's databases (the files under ``history/runs``)."""

    def __init__(self):
        self.count = 0

    def __call__(self, dbapi_connection, _record) -> None:
        path = dbapi_connection.execute("PRAGMA database_list").fetchone()[2]
        if Path(path).parent.parts[-2:] == ("history", "runs"):
            self.count += 1

    def __enter__(self) -> Connects:
        sqlalchemy.event.listen(sqlalchemy.pool.Pool, "connect", self)
        return self

    def __exit__(self, *_exc) -> None:
        sqlalchemy.event.remove(sqlalchemy.pool.Pool, "connect", self)


def test_the_instance_settings_select_it_where_dagster_keeps_the_run_history(home):
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert type(storage) is KeptSqliteEventLogStorage
        assert Path(storage._base_dir) == home / "history" / "runs"  # Dagster's default place


def test_dagsters_own_storage_reads_what_it_wrote_and_the_other_way_round(home):
    with dg.DagsterInstance.get() as instance:
        kept_run = run_job(instance)
        kept_events = [e.dagster_event_type for e in instance.all_logs(kept_run)]
        kept_check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [target_is_two.check_key])[target_is_two.check_key]
    assert (home / "history" / "runs" / f"{kept_run}.db").exists()

    # The same DAGSTER_HOME without the setting: Dagster's default SqliteEventLogStorage.
    (home / "dagster.yaml").unlink()
    with dg.DagsterInstance.get() as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        assert [e.dagster_event_type for e in instance.all_logs(kept_run)] == kept_events
        assert dg.DagsterEventType.RUN_SUCCESS in kept_events
        materialization = instance.get_latest_materialization_event(dg.AssetKey("target"))
        assert materialization is not None and materialization.run_id == kept_run
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [target_is_two.check_key])[target_is_two.check_key]
        assert (check.run_id, check.status) == (kept_run, kept_check.status)
        default_run = run_job(instance)

    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.get() as instance:
        assert {r.run_id for r in instance.get_runs()} == {kept_run, default_run}
        assert instance.get_latest_materialization_event(dg.AssetKey("target")).run_id == default_run
        assert len(instance.all_logs(default_run)) == len(kept_events)


def test_a_run_opens_its_database_once_not_once_per_event(home, tmp_path):
    with dg.DagsterInstance.get() as instance:
        run_job(instance)  # creates the index database and Dagster's other storages
        with Connects() as kept:
            run_id = run_job(instance)
        events = len(instance.all_logs(run_id))
    (tmp_path / "default").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "default")) as instance:
        run_job(instance)
        with Connects() as default:
            run_job(instance)
    # Dagster's own storage connects at least once per event; the kept one once to the run's
    # new database (and once more to create it) and not again to the index database.
    assert default.count > events > 30
    assert kept.count <= 2


def test_a_process_that_keeps_its_connections_sees_another_processs_runs(home):
    """The UI's process keeps its connections while runs write from their own processes."""
    with dg.DagsterInstance.get() as instance:
        first = run_job(instance)
        assert instance.get_latest_materialization_event(dg.AssetKey("target")).run_id == first
        other = subprocess.run([sys.executable, "-c", RUN_IN_A_CHILD], cwd=REPO, capture_output=True,
                               text=True, check=True).stdout.split()[-1]
        assert instance.get_latest_materialization_event(dg.AssetKey("target")).run_id == other
        assert len(instance.all_logs(other)) == len(instance.all_logs(first))
        last = run_job(instance)
        assert {r.run_id for r in instance.get_runs()} == {first, other, last}


def test_commits_are_synced_at_checkpoints_not_one_by_one(home):
    with dg.DagsterInstance.get() as instance:
        run_id = run_job(instance)
        storage = instance.event_log_storage
        with storage.run_connection(run_id) as conn:
            # 1 = NORMAL (SQLite's PRAGMA synchronous); the database stays in WAL mode.
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        # While the storage is open, the run's events are still in SQLite's log (no checkpoint
        # at each event), and another connection reads every one of them from there.
        db = home / "history" / "runs" / f"{run_id}.db"
        assert Path(f"{db}-wal").stat().st_size > 0
        with sqlite3.connect(db) as con:
            assert con.execute("select count(*) from event_logs").fetchone()[0] == len(instance.all_logs(run_id))


def test_a_process_checkpoints_its_logs_when_it_exits(home):
    run_id = subprocess.run([sys.executable, "-c", RUN_IN_A_CHILD], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.split()[-1]
    runs = home / "history" / "runs"
    assert (runs / f"{run_id}.db").exists()
    # SQLite removes a database's log as its last connection closes, after the checkpoint.
    assert not list(runs.glob("*.db-wal")), sorted(p.name for p in runs.iterdir())


def test_only_the_last_runs_databases_stay_open(home):
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        runs = [run_job(instance) for _ in range(KEPT_RUN_DATABASES + 2)]
        open_runs = [shard for shard in storage._engines if shard != "index"]
        assert open_runs == runs[-KEPT_RUN_DATABASES:]
        # An evicted run's database opens again when it is read.
        assert len(instance.all_logs(runs[0])) == len(instance.all_logs(runs[-1]))


def test_a_watcher_gets_the_runs_events_and_the_new_ones(home):
    with dg.DagsterInstance.get() as instance:
        run_id = run_job(instance)
        stored = len(instance.all_logs(run_id))
        seen: list[str] = []
        arrived = threading.Event()

        def callback(entry, _cursor):
            seen.append(entry.message)
            if entry.message == "after the run":
                arrived.set()

        instance.event_log_storage.watch(run_id, None, callback)
        try:
            instance.report_engine_event("after the run", instance.get_run_by_id(run_id))
            assert arrived.wait(timeout=20), f"the watcher got {len(seen)} events, not the new one: {seen[-3:]}"
        finally:
            instance.event_log_storage.end_watch(run_id, callback)
        assert len(seen) == stored + 1


def test_it_needs_dagster_home_or_a_base_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(dg.DagsterInvariantViolationError, match="DAGSTER_HOME"):
        KeptSqliteEventLogStorage.from_config_value(None, {})
    storage = KeptSqliteEventLogStorage.from_config_value(None, {"base_dir": str(tmp_path / "runs")})
    assert Path(storage._base_dir) == tmp_path / "runs"
    storage.dispose()
