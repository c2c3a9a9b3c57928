"""Killed runs and concurrency, on the real pipeline (``python -m orchestration.run`` in a
subprocess, as ``make run``), with the scenarios of orchestration/lib/reliability_runs.py.

All marked ``slow`` (``make test-slow``; ``make reliability`` runs the same scenarios and prints
their table): killed during dbt (with canary credentials in the environment, which must reach no
log), during extract and during publish, each followed by the next run; two refreshes at once,
the second refusing or waiting for the first; ten analysts reading during a run. Each costs one
or two more pipeline runs, which the default suite cannot afford within CI's 15 minutes; it
keeps the run lock's own tests (tests/test_runlock.py) and a reader held open during a run
(tests/test_publish.py).

Each scenario starts from a copy of one baseline warehouse: the session's ``published_run`` (an
uninterrupted run of the small company), whose marts are also the expected result."""

from __future__ import annotations

import re
import time

import duckdb
import pytest

from orchestration.lib.reliability_runs import (
    EXIT_REFRESH_RUNNING,
    Baseline,
    killed_run,
    readers_during_run,
    two_at_once,
)
from tests.conftest import REPO
from tests.test_security import find_secrets

# Secrets a run may have in its environment; none may reach its output or dbt's logs.
CANARIES = {
    "DBT_SPARK_TOKEN": "canary-dbt-spark-token-5f2c9a",
    "MOTHERDUCK_TOKEN": "canary-motherduck-token-81d0e7",
    "AWS_SECRET_ACCESS_KEY": "canary-aws-secret-3b6e44",
}


@pytest.fixture(scope="module")
def baseline(published_run) -> Baseline:
    return Baseline.from_warehouse(published_run.raw_dir, published_run.warehouse_dir)


def retention_rows(db) -> list[tuple]:
    """The README's retention query, on its own read-only connection."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select period_start, grr, nrr from marts.metrics_retention "
            "where period_type = 'month' and slice_type = 'all' order by period_start").fetchall()
    finally:
        con.close()


def assert_killed_run_recovers(run, baseline: Baseline, published) -> None:
    # Right after the kill: the previous file, byte for byte, opens read-only and answers.
    assert run.after_kill.error == ""
    assert run.after_kill.sha256 == run.before.sha256 == baseline.state.sha256
    assert run.after_kill.checksums == baseline.state.checksums
    assert run.after_kill.query_rows == len(retention_rows(baseline.warehouse_dir / "cs_metrics.duckdb")) > 0
    # The next run completes and publishes what an uninterrupted run published, table by table.
    assert run.rerun.returncode == 0, run.rerun.log[-3000:]
    assert run.after_rerun.checksums == baseline.state.checksums
    assert len(run.after_rerun.checksums) >= 30
    assert retention_rows(published) == retention_rows(baseline.warehouse_dir / "cs_metrics.duckdb")
    # Nothing left behind for the run after.
    assert run.leftovers_after_rerun == [] and run.orphans_after_rerun == []
    row = run.row()
    assert row.published_intact and "identical to an uninterrupted run" in row.outcome


def assert_no_secrets_in(*texts: str) -> None:
    for text in texts:
        for value in CANARIES.values():
            assert value not in text
        assert find_secrets(text) == []


def dbt_logs_since(started: float) -> list[str]:
    paths = [p for folder in (REPO / "dbt_project" / "target", REPO / "dbt_project" / "logs")
             if folder.exists() for p in folder.rglob("*.log") if p.stat().st_mtime >= started]
    return [p.read_text(errors="replace") for p in paths]


@pytest.mark.slow
def test_a_refresh_killed_during_dbt_leaves_the_published_file_and_the_next_run_recovers(baseline, tmp_path):
    started = time.time()
    run = killed_run(baseline, "dbt", tmp_path, extra_env=CANARIES)
    published = tmp_path / "killed_dbt" / "cs_metrics.duckdb"
    killed_log = run.kill_log.read_text()
    # It was killed during dbt: dbt build had started and the publish step had not.
    assert "Running dbt command" in killed_log or "dbt build" in killed_log
    assert "published__cs_metrics" not in killed_log
    assert run.leftovers_after_kill == []
    assert_killed_run_recovers(run, baseline, published)
    # A dbt left running by the killed parent is stopped by the next run, which says so.
    for pid in run.orphans_after_kill:
        assert re.search(rf"left dbt build \(pid {pid}\) running; killing it", run.rerun.log)
    # No credentials in either run's output nor in the dbt logs they wrote.
    assert_no_secrets_in(killed_log, run.rerun.log, *dbt_logs_since(started))


@pytest.mark.slow
def test_two_refreshes_at_once_the_second_refuses_and_nothing_is_corrupted(baseline, tmp_path):
    result = two_at_once(baseline, tmp_path, finish_first=False)
    assert result.second.returncode == EXIT_REFRESH_RUNNING, result.second.log[-2000:]
    message = re.search(r"another refresh is running \(pid (\d+), started at (\S+)\); try again later",
                        result.second.log)
    assert message and int(message.group(1)) == result.first_pid
    assert result.second.seconds < 120  # refused at once (the time is Python's start-up)
    assert "Running dbt command" not in result.second.log  # it did nothing
    assert result.published_intact and result.while_first_ran.sha256 == baseline.state.sha256
    assert result.after.checksums == baseline.state.checksums
    assert result.build_opens
    assert result.row().published_intact


@pytest.mark.slow
@pytest.mark.parametrize("point", ["extract", "publish"])
def test_a_refresh_killed_during_extract_or_publish_recovers(baseline, tmp_path, point):
    run = killed_run(baseline, point, tmp_path)
    published = tmp_path / f"killed_{point}" / "cs_metrics.duckdb"
    if point == "publish":
        # Killed with its temporary copy written beside the published file, not yet swapped in.
        assert run.leftovers_after_kill == [f".cs_metrics.duckdb.{run.killed_pid}.tmp"]
    else:
        assert run.leftovers_after_kill == []
    assert_killed_run_recovers(run, baseline, published)


@pytest.mark.slow
def test_two_refreshes_at_once_the_second_can_wait_for_the_first(baseline, tmp_path):
    result = two_at_once(baseline, tmp_path, second_waits=True)
    assert result.first_returncode == 0
    assert result.second.returncode == 0, result.second.log[-2000:]
    assert f"waiting up to 3600 s for the refresh lock: another refresh is running (pid {result.first_pid}," \
        in result.second.log
    assert result.published_intact
    assert result.after.checksums == baseline.state.checksums
    assert result.build_opens


@pytest.mark.slow
def test_ten_analysts_reading_during_a_run_see_the_old_or_the_new_marts(baseline, tmp_path):
    result = readers_during_run(baseline, tmp_path, readers=10)
    assert result.run.returncode == 0, result.run.log[-2000:]
    assert result.old == baseline.state.fingerprint
    assert result.new != result.old  # the run published other marts (a week earlier)
    assert result.errors == []
    assert result.unknown_states == []  # never a mix, never a half-written file
    assert result.went_back == 0  # once a reader saw the new marts, it never saw the old again
    states = result.states
    assert states.get(result.old, 0) >= 10 and states.get(result.new, 0) >= 10
    for observations in result.observations:
        assert len(observations) >= 3
    assert result.row().published_intact
