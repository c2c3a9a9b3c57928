"""The build database a refresh run keeps open between its steps (``Warehouse.connect`` inside
``keep_build_database``, which ``RefreshLock`` holds for the run): opened once for the steps
before dbt, let go of before dbt and publish open the file, closed at the run's end."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from orchestration.defs.extract.assets import build_accounting_checks, build_extract_assets
from orchestration.lib.warehouse import _KEPT, RefreshLock, Warehouse, keep_build_database
from tests.conftest import copy_company

TABLES = ("billing_plans", "billing_customers", "crm_accounts")

# Another process opens the build file for writing and counts a table's rows: it can only when
# no process holds the file.
WRITE_FROM_ANOTHER_PROCESS = (
    "import sys, duckdb\n"
    "con = duckdb.connect(sys.argv[1])\n"
    "print(con.execute('select count(*) from t').fetchone()[0])\n"
    "con.close()\n"
)


def _other_process_can_write(db) -> bool:
    done = subprocess.run([sys.executable, "-c", WRITE_FROM_ANOTHER_PROCESS, str(db)],
                          capture_output=True, text=True, timeout=60)
    return done.returncode == 0


@pytest.fixture
def opens(monkeypatch):
    """The read_only flag of every time a Warehouse opens the build file itself."""
    calls: list[bool] = []
    original = Warehouse.open

    def counted(self, read_only: bool = False):
        calls.append(read_only)
        return original(self, read_only)

    monkeypatch.setattr(Warehouse, "open", counted)
    return calls


def test_outside_a_run_every_connection_is_its_own_and_lets_go_when_closed(tmp_path, opens):
    warehouse = Warehouse(warehouse_dir=str(tmp_path))
    con = warehouse.connect()
    con.execute("create table t as select 1 as a")
    con.close()
    assert _other_process_can_write(warehouse.build_db)
    warehouse.connect(read_only=True).close()
    assert opens == [False, True]


def test_a_run_opens_the_file_once_and_its_connections_share_it(tmp_path, opens):
    warehouse = Warehouse(warehouse_dir=str(tmp_path))
    with keep_build_database(warehouse.build_db):
        writer = warehouse.connect()
        writer.execute("create table t as select 1 as a")
        writer.close()
        for _ in range(5):
            with warehouse.connect(read_only=True) as reader:
                assert reader.execute("select count(*) from t").fetchone() == (1,)
        with warehouse.connect() as writer:
            writer.execute("insert into t values (2)")
        # one database for all seven, opened for writing by the first
        assert opens == [False]
        # held: another process cannot open the file
        assert not _other_process_can_write(warehouse.build_db)
    assert _KEPT == {}
    assert _other_process_can_write(warehouse.build_db)


def test_the_kept_database_is_found_under_another_spelling_of_its_path(tmp_path, opens):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    run_side = Warehouse(warehouse_dir=str(tmp_path / "link"))
    step_side = Warehouse(warehouse_dir=str(tmp_path / "real" / ".." / "real"))
    with keep_build_database(run_side.build_db):
        with step_side.connect() as con:
            con.execute("create table t as select 1 as a")
        with run_side.connect(read_only=True) as con:
            assert con.execute("select count(*) from t").fetchone() == (1,)
        assert opens == [False]
        step_side.release()
        assert _other_process_can_write(tmp_path / "real" / "build.duckdb")
    assert _KEPT == {}


def test_a_write_after_reads_reopens_the_database_for_writing(tmp_path, opens):
    warehouse = Warehouse(warehouse_dir=str(tmp_path))
    with warehouse.connect() as con:
        con.execute("create table t as select 1 as a")
    opens.clear()
    with keep_build_database(warehouse.build_db):
        with warehouse.connect(read_only=True) as reader:
            assert reader.execute("select count(*) from t").fetchone() == (1,)
        with warehouse.connect() as writer:
            writer.execute("insert into t values (2)")
        with warehouse.connect(read_only=True) as reader:
            assert reader.execute("select count(*) from t").fetchone() == (2,)
    # read-only first, then reopened for writing, and the last read served by the writer
    assert opens == [True, False]


def test_release_lets_another_process_open_the_file_and_the_next_connect_keeps_it_again(
        tmp_path, opens):
    warehouse = Warehouse(warehouse_dir=str(tmp_path))
    with keep_build_database(warehouse.build_db):
        con = warehouse.connect()
        con.execute("create table t as select 1 as a")
        # a connection not closed by its step is closed by the release
        warehouse.release()
        with pytest.raises(duckdb.ConnectionException):
            con.execute("select 1")
        assert _other_process_can_write(warehouse.build_db)
        with warehouse.connect(read_only=True) as again:
            assert again.execute("select count(*) from t").fetchone() == (1,)
        assert not _other_process_can_write(warehouse.build_db)
    assert opens == [False, True]


def test_the_file_is_let_go_when_the_run_fails(tmp_path):
    warehouse = Warehouse(warehouse_dir=str(tmp_path))
    with pytest.raises(RuntimeError), keep_build_database(warehouse.build_db):
        warehouse.connect().execute("create table t as select 1 as a")
        raise RuntimeError("a step failed")
    assert _KEPT == {}
    assert _other_process_can_write(warehouse.build_db)


def test_a_dagster_run_with_the_refresh_lock_opens_the_build_file_once(
        small_company, tmp_path, opens):
    """Three exports loaded and their row accounting checked (six steps) open the build file
    once when the run holds the refresh lock, and let go of it when the run ends."""
    raw = copy_company(small_company, tmp_path / "raw")
    warehouse = Warehouse(raw_dir=str(raw), warehouse_dir=str(tmp_path / "warehouse"))
    keys = [dg.AssetKey(["raw", t]) for t in TABLES]
    extract = [a for a in build_extract_assets() if set(a.keys) & set(keys)]
    checks = [c for c in build_accounting_checks() if {k.asset_key for k in c.check_keys} & set(keys)]

    @dg.asset(deps=keys)
    def holds_the_lock(refresh_lock: RefreshLock) -> None:
        """Stands for dbt and publish, the steps that need the refresh lock."""

    result = dg.materialize(
        [*extract, *checks, holds_the_lock],
        resources={"warehouse": warehouse, "refresh_lock": RefreshLock(warehouse=warehouse)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == len(TABLES) and all(e.passed for e in evaluations)
    assert opens == [False]
    assert _KEPT == {}
    con = duckdb.connect(str(warehouse.build_db))  # for writing, in this process: nothing holds it
    assert con.execute("select count(*) from raw.load_audit").fetchone() == (len(TABLES),)
    con.close()
