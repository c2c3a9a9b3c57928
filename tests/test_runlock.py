"""One refresh at a time: the refresh lock (orchestration/lib/runlock.py) on its own, in `make run`
and in a Dagster run of the refresh job. Fast: no pipeline runs to the end here (the costly
scenarios are in test_killed_runs.py)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestration.lib.runlock import (
    REFRESH_RUN_TAG,
    RefreshRunning,
    process_start_ticks,
    read_holder,
    record_child,
    refresh_lock,
    wait_seconds_for_run,
)
from tests.conftest import REPO, pipeline_env

# A refresh stand-in in another process: takes the lock, optionally starts a child it records
# (as the dbt step records dbt), says so, then holds the lock for argv[2] seconds.
HOLDER = textwrap.dedent(
    """
    import subprocess, sys, time
    from orchestration.lib.runlock import record_child, refresh_lock
    with refresh_lock(sys.argv[1], wait_seconds=0, log=lambda m: None):
        child = None
        if sys.argv[3] == "child":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            record_child(sys.argv[1], child.pid, "dbt build")
        print("held", child.pid if child else "", flush=True)
        time.sleep(float(sys.argv[2]))
    print("released", flush=True)
    """
)

MESSAGE = re.compile(
    r"another refresh is running \(pid (\d+), started at (\S+?)(; waited [\d.]+ s)?\); try again later"
)


def hold(warehouse_dir: Path, seconds: float, child: bool = False) -> tuple[subprocess.Popen, int | None]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(warehouse_dir), str(seconds), "child" if child else "-"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline().split()
    assert line and line[0] == "held", "the holder did not take the lock"
    return proc, int(line[1]) if len(line) > 1 else None


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_a_second_refresh_refuses_at_once_naming_the_running_one(tmp_path):
    holder, _ = hold(tmp_path, 60)
    try:
        started = time.monotonic()
        with pytest.raises(RefreshRunning) as refused:
            with refresh_lock(tmp_path, wait_seconds=0):
                pytest.fail("took a lock another process holds")
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    match = MESSAGE.fullmatch(str(refused.value))
    assert match, str(refused.value)
    assert int(match.group(1)) == holder.pid
    started_at = datetime.fromisoformat(match.group(2))
    assert abs((datetime.now(UTC) - started_at).total_seconds()) < 120
    assert elapsed < 1.0  # CS_RUN_LOCK_WAIT_SECONDS defaults to 0: refuse at once


def test_a_waiting_refresh_gets_the_lock_when_the_first_ends(tmp_path):
    holder, _ = hold(tmp_path, 1.5)
    said = []
    try:
        started = time.monotonic()
        with refresh_lock(tmp_path, wait_seconds=60, log=said.append) as held:
            waited = time.monotonic() - started
            assert read_holder(held.lock_path)["pid"] == os.getpid()
        assert holder.stdout.readline().strip() == "released"
    finally:
        holder.wait(timeout=30)
    assert 0.5 < waited < 30
    assert len(said) == 1 and said[0].startswith("waiting up to 60 s for the refresh lock")
    assert f"(pid {holder.pid}," in said[0]
    assert read_holder(tmp_path / "refresh.lock") == {}, "released: the lock file names nobody"


def test_the_wait_is_bounded_by_cs_run_lock_wait_seconds(tmp_path, monkeypatch):
    monkeypatch.setenv("CS_RUN_LOCK_WAIT_SECONDS", "1")
    holder, _ = hold(tmp_path, 60)
    try:
        started = time.monotonic()
        with pytest.raises(RefreshRunning) as refused:
            with refresh_lock(tmp_path, log=lambda m: None):
                pass
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert 1.0 <= elapsed < 5
    assert "; waited 1" in str(refused.value) and MESSAGE.fullmatch(str(refused.value))


def test_runs_the_sensor_or_the_schedule_started_wait_longer(monkeypatch):
    monkeypatch.delenv("CS_RUN_LOCK_WAIT_SECONDS", raising=False)
    monkeypatch.delenv("CS_AUTOMATIC_RUN_LOCK_WAIT_SECONDS", raising=False)
    assert wait_seconds_for_run({}) == 0
    assert wait_seconds_for_run({"dagster/sensor_name": "refresh_on_new_exports"}) == 3600
    assert wait_seconds_for_run({"dagster/schedule_name": "refresh_every_morning"}) == 3600
    monkeypatch.setenv("CS_RUN_LOCK_WAIT_SECONDS", "20")
    monkeypatch.setenv("CS_AUTOMATIC_RUN_LOCK_WAIT_SECONDS", "600")
    assert wait_seconds_for_run({"cs/refresh": "warehouse"}) == 20
    assert wait_seconds_for_run({"dagster/sensor_name": "refresh_on_new_exports"}) == 600


def test_the_lock_of_a_killed_refresh_is_taken_over_and_its_orphaned_dbt_stopped(tmp_path):
    holder, child_pid = hold(tmp_path, 600, child=True)
    recorded = read_holder(tmp_path / "refresh.lock")
    assert recorded["pid"] == holder.pid
    assert recorded["children"] == [
        {"pid": child_pid, "start_ticks": process_start_ticks(child_pid), "what": "dbt build"}]
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert running(child_pid), "kill -9 of the parent leaves its child running"
    said = []
    with refresh_lock(tmp_path, wait_seconds=0, log=said.append) as held:
        assert held.taken_over == [f"killed orphaned dbt build pid {child_pid}"]
        assert not running(child_pid)
    assert said and f"(pid {child_pid}) running; killing it" in said[0]


def test_a_recorded_pid_now_used_by_another_process_is_left_alone(tmp_path):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "refresh.lock").write_text(json.dumps({
            "pid": 999_999_999, "started_at": "2026-01-01T06:00:00+00:00",
            "children": [{"pid": bystander.pid, "start_ticks": 1, "what": "dbt build"}],
        }))
        with refresh_lock(tmp_path, wait_seconds=0) as held:
            assert held.taken_over == []
        assert running(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


def test_the_lock_is_reentrant_in_its_thread_and_exclusive_across_threads(tmp_path):
    outcome = {}

    def other_thread():
        try:
            with refresh_lock(tmp_path, wait_seconds=0):
                outcome["other"] = "took it"
        except RefreshRunning as exc:
            outcome["other"] = str(exc)

    with refresh_lock(tmp_path, wait_seconds=0) as outer:
        with refresh_lock(tmp_path, wait_seconds=0) as inner:  # make run, then the job it runs
            assert inner is outer and outer.depth == 2
            record_child(tmp_path, os.getpid(), "itself")
        assert outer.depth == 1
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert outcome["other"].startswith(f"another refresh is running (pid {os.getpid()},")
    with refresh_lock(tmp_path, wait_seconds=0):  # released: free again
        pass


def test_make_run_refuses_while_a_refresh_runs_and_touches_nothing(tmp_path):
    raw, warehouse = tmp_path / "raw", tmp_path / "warehouse"
    raw.mkdir()
    holder, _ = hold(warehouse, 120)
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(CS_RAW_DIR=str(raw), CS_WAREHOUSE_DIR=str(warehouse))
    try:
        second = subprocess.run(
            [sys.executable, "-m", "orchestration.run"], cwd=REPO, env=env,
            capture_output=True, text=True, timeout=300,
        )
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode == 75, second.stderr
    assert f"another refresh is running (pid {holder.pid}, started at " in second.stderr
    assert "try again later" in second.stderr
    # Refused before anything: no sample company generated, no dbt parse, no build file.
    assert list(raw.iterdir()) == []
    assert sorted(p.name for p in warehouse.iterdir()) == ["refresh.lock"]


def test_a_dagster_run_of_the_refresh_job_refuses_before_its_first_step(tmp_path, monkeypatch):
    import dagster as dg

    from orchestration.definitions import defs

    monkeypatch.delenv("CS_RUN_LOCK_WAIT_SECONDS", raising=False)
    monkeypatch.setenv("CS_AUTOMATIC_RUN_LOCK_WAIT_SECONDS", "1.5")
    raw, warehouse = tmp_path / "raw", tmp_path / "warehouse"
    raw.mkdir()
    holder, _ = hold(warehouse, 120)
    results, seconds = {}, {}
    try:
        with pipeline_env(raw, warehouse):
            for who, tags in (("ui", {}), ("sensor", {"dagster/sensor_name": "refresh_on_new_exports"})):
                started = time.monotonic()
                results[who] = defs.resolve_job_def("refresh").execute_in_process(
                    instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, tags=tags)
                seconds[who] = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    for who, result in results.items():
        assert not result.success
        assert [e for e in result.all_events if e.event_type_value == "STEP_START"] == []
        failure = str(next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
                      .event_specific_data)
        assert f"another refresh is running (pid {holder.pid}, started at " in failure, failure
        assert bool(re.search(r"; waited [12](\.\d+)? s\)", failure)) == (who == "sensor")
    assert seconds["sensor"] >= 1.5
    assert not (warehouse / "build.duckdb").exists()


def test_queued_refresh_runs_wait_for_each_other(tmp_path, monkeypatch):
    """Runs the daemon starts (sensor, schedule, UI) queue on the cs/refresh tag."""
    import dagster as dg

    from orchestration.definitions import defs

    assert defs.resolve_job_def("refresh").tags[REFRESH_RUN_TAG] == "warehouse"
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert limits == [{"key": REFRESH_RUN_TAG, "limit": 1}]
    makefile = (REPO / "Makefile").read_text()
    assert "$(DAGSTER_HOME)/dagster.yaml: dagster.yaml" in makefile
    assert re.search(r"^run: .*\$\(DAGSTER_HOME\)/dagster\.yaml", makefile, re.M)
    assert re.search(r"^dev: .*\$\(DAGSTER_HOME\)/dagster\.yaml", makefile, re.M)


def test_publish_removes_the_temporary_copies_of_killed_publishes(tmp_path):
    from orchestration.lib.publish import remove_stale_temporaries

    published = tmp_path / "cs_metrics.duckdb"
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip()
        names = [f".cs_metrics.duckdb.{dead}.tmp", f".cs_metrics.duckdb.{alive.pid}.tmp",
                 f".cs_metrics.duckdb.{os.getpid()}.tmp"]
        for name in names:
            (tmp_path / name).write_bytes(b"half a copy")
        # Without the refresh lock: only a dead publisher's copy goes.
        assert [p.name for p in remove_stale_temporaries(published)] == [names[0]]
        # Holding it, no other publisher can be at work: every copy but this process's own goes.
        with refresh_lock(tmp_path, wait_seconds=0):
            assert [p.name for p in remove_stale_temporaries(published)] == [names[1]]
        assert sorted(p.name for p in tmp_path.glob(".cs_metrics.duckdb.*.tmp")) == [names[2]]
    finally:
        alive.kill()
        alive.wait()
