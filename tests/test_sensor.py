"""The file-arrival sensor: one run per new set of export files, none for files already seen."""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest

from orchestration.definitions import defs
from orchestration.lib.warehouse import Warehouse
from tests.conftest import copy_company

SENSOR = "refresh_on_new_exports"


def tick(raw_dir, warehouse_dir, cursor):
    """One sensor evaluation: (run requests, skip message, new cursor)."""
    sensor = defs.resolve_sensor_def(SENSOR)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"warehouse": Warehouse(raw_dir=str(raw_dir), warehouse_dir=str(warehouse_dir))},
        )
        data = sensor.evaluate_tick(context)
    return data.run_requests or [], data.skip_message, data.cursor


@pytest.fixture
def settled(monkeypatch):
    monkeypatch.setenv("CS_ARRIVAL_SETTLE_SECONDS", "0")


def test_a_new_export_requests_exactly_one_run(small_company, tmp_path, settled):
    raw = copy_company(small_company, tmp_path / "raw")
    warehouse = tmp_path / "warehouse"   # nothing published yet

    # First look: every file is new -> one run, for the whole set of files.
    requests, _, cursor = tick(raw, warehouse, None)
    assert len(requests) == 1
    first_key = requests[0].run_key
    assert defs.resolve_sensor_def(SENSOR).job_name == "refresh"
    assert requests[0].tags["cs/trigger"] == "new_exports"

    # Nothing changed -> no run; a touched but identical file is not a change either.
    os.utime(raw / "crm" / "accounts.csv")
    requests, skip, cursor = tick(raw, warehouse, cursor)
    assert requests == [] and "no new or changed exports" in skip

    # A new export lands (the day's tickets, one more row) -> exactly one run, for that file.
    tickets = raw / "support" / "tickets.csv"
    lines = tickets.read_text().splitlines(keepends=True)
    tickets.write_text("".join(lines) + lines[-1].replace(lines[-1].split(",")[0], "TCK-NEW", 1))
    requests, _, cursor = tick(raw, warehouse, cursor)
    assert len(requests) == 1
    assert requests[0].run_key != first_key
    assert requests[0].tags["cs/changed_files"] == "support/tickets.csv"

    # The next tick sees the same files: no second run.
    requests, skip, cursor = tick(raw, warehouse, cursor)
    assert requests == [] and skip


def test_a_file_still_being_written_waits(small_company, tmp_path, monkeypatch):
    raw = copy_company(small_company, tmp_path / "raw")
    past = time.time() - 7200
    for path in raw.rglob("*.*"):
        os.utime(path, (past, past))          # every export written two hours ago
    monkeypatch.setenv("CS_ARRIVAL_SETTLE_SECONDS", "600")
    _, _, cursor = tick(raw, tmp_path / "warehouse", None)

    (raw / "surveys" / "nps_responses.csv").write_text(
        (raw / "surveys" / "nps_responses.csv").read_text() + "\n")
    requests, skip, still = tick(raw, tmp_path / "warehouse", cursor)
    assert requests == [] and "still being written" in skip
    assert still == cursor, "the cursor waits for the file to settle"

    # Quiet now (last modified two hours ago): it counts, once.
    os.utime(raw / "surveys" / "nps_responses.csv", (past, past))
    requests, _, _ = tick(raw, tmp_path / "warehouse", cursor)
    assert len(requests) == 1
    assert requests[0].tags["cs/changed_files"] == "surveys/nps_responses.csv"


def test_exports_already_published_start_no_run(published_run, settled):
    """Without sensor state, the baseline is the published build's load audit: the files
    `make run` already published do not start a second refresh."""
    requests, skip, cursor = tick(published_run.raw_dir, published_run.warehouse_dir, None)
    assert requests == [], "the published exports are not new"
    assert "no new or changed exports" in skip
    assert cursor
