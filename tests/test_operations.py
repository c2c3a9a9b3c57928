"""Operating it every day: freshness policies, export arrivals, retries with backoff, and the
run metadata a person reads in the UI (owners, headline figures of the metrics marts)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import defs
from orchestration.defs.extract import build_extract_assets
from orchestration.lib.contract import TABLES
from orchestration.lib.retry import backoff_seconds, is_transient
from orchestration.lib.warehouse import Warehouse
from tests.conftest import copy_company

PLANS = dg.AssetKey(["raw", "billing_plans"])
PLANS_EXPORT = dg.AssetKey(["exports", "billing", "plans"])


def _node(key: dg.AssetKey):
    return defs.resolve_asset_graph().get(key)


# --- definitions -------------------------------------------------------------------------------

def test_every_raw_and_export_asset_has_a_freshness_policy_and_owners():
    for spec in TABLES:
        raw = _node(dg.AssetKey(["raw", spec.name]))
        export = _node(dg.AssetKey(["exports", spec.system, spec.entity]))
        assert raw.freshness_policy.fail_window.to_timedelta().total_seconds() == 36 * 3600
        assert raw.freshness_policy.warn_window.to_timedelta().total_seconds() == 26 * 3600
        assert export.freshness_policy.fail_window.to_timedelta().total_seconds() == 48 * 3600
        assert raw.owners == ["team:data-engineering"] and export.owners == ["team:data-engineering"]


def test_every_asset_has_a_description_and_an_owner():
    graph = defs.resolve_asset_graph()
    missing = [
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if not graph.get(key).description or not graph.get(key).owners
    ]
    assert missing == []
    assert _node(dg.AssetKey(["marts", "metrics_retention"])).owners == ["team:cs-analytics"]
    assert _node(dg.AssetKey(["reference", "seed_health_bands"])).owners == ["team:cs-ops"]


# --- retries -----------------------------------------------------------------------------------

def test_transient_errors_are_told_apart_from_deterministic_ones():
    lock = duckdb.IOException('IO Error: Could not set lock on file "build.duckdb": Conflicting lock is held')
    assert is_transient(lock)
    assert is_transient(OSError(errno.EBUSY, "Device or resource busy"))
    wrapped = RuntimeError("load failed")
    wrapped.__cause__ = lock
    assert is_transient(wrapped)
    assert not is_transient(ValueError("billing/plans.csv line 3, column price: not a number"))
    assert not is_transient(dg.Failure(description="audit failed: metrics_retention is empty"))


def test_backoff_doubles_from_the_configured_base(monkeypatch):
    monkeypatch.setenv("CS_RETRY_BASE_SECONDS", "2")
    assert [backoff_seconds(a) for a in range(4)] == [2, 4, 8, 16]
    monkeypatch.setenv("CS_RETRY_BASE_SECONDS", "100")
    assert backoff_seconds(5) == 300  # capped


def _materialize_plans(raw, warehouse_dir, instance):
    extract = next(a for a in build_extract_assets() if PLANS in a.keys)
    return dg.materialize(
        [extract],
        instance=instance,
        resources={"warehouse": Warehouse(raw_dir=str(raw), warehouse_dir=str(warehouse_dir))},
        raise_on_error=False,
        selection=[PLANS],
    )


def _events(result, event_type: str):
    return [e for e in result.all_events if e.event_type_value == event_type]


HOLD_LOCK = textwrap.dedent(
    """
    import os, sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
        time.sleep(0.05)
    con.close()
    print("released", flush=True)
    """
)


def test_a_locked_build_file_is_retried_with_backoff_and_then_loads(small_company, tmp_path, monkeypatch):
    import orchestration.lib.retry as retry

    raw = copy_company(small_company, tmp_path / "raw")
    warehouse_dir = tmp_path / "warehouse"
    warehouse_dir.mkdir()
    release = tmp_path / "release"
    waits = []

    def backoff(attempt: int) -> float:
        # The step hit the lock and asks how long to wait: let the other process go now.
        waits.append(attempt)
        release.touch()
        return 2.0

    monkeypatch.setattr(retry, "backoff_seconds", backoff)
    # Another process (an analyst's notebook, a stuck run) holds the build file for writing.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(warehouse_dir / "build.duckdb"), str(release)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with dg.instance_for_test() as instance:
            result = _materialize_plans(raw, warehouse_dir, instance)
    finally:
        release.touch()
        holder.wait(timeout=60)
    assert result.success
    assert waits == [0]  # failed once on the lock, then loaded on the first retry
    assert len(_events(result, "STEP_UP_FOR_RETRY")) == 1
    rows = duckdb.connect(str(warehouse_dir / "build.duckdb"), read_only=True).execute(
        "select count(*) from raw.billing_plans").fetchone()[0]
    expected = sum(1 for _ in open(raw / "billing" / "plans.csv", encoding="utf-8")) - 1
    assert rows == expected


def test_an_export_that_breaks_the_contract_fails_at_once_without_retries(small_company, tmp_path, monkeypatch):
    monkeypatch.setenv("CS_RETRY_BASE_SECONDS", "1")
    raw = copy_company(small_company, tmp_path / "raw")
    (raw / "billing" / "plans.csv").write_text("no_such_column\n1\n", encoding="utf-8")
    with dg.instance_for_test() as instance:
        result = _materialize_plans(raw, tmp_path / "warehouse", instance)
    assert not result.success
    assert _events(result, "STEP_UP_FOR_RETRY") == []
    failure = [e for e in result.all_events if e.is_step_failure][0]
    assert "plans" in failure.event_specific_data.error.message


# --- export arrivals and freshness ---------------------------------------------------------------

def test_an_export_counts_as_arrived_only_when_a_new_file_is_there(small_company, tmp_path):
    raw = copy_company(small_company, tmp_path / "raw")
    warehouse_dir = tmp_path / "warehouse"
    plans = raw / "billing" / "plans.csv"
    with dg.instance_for_test() as instance:
        def arrivals():
            assert _materialize_plans(raw, warehouse_dir, instance).success
            records = instance.fetch_materializations(PLANS_EXPORT, limit=100).records
            return len(records), records[0].asset_materialization.metadata if records else {}

        first, meta = arrivals()
        assert first == 1
        assert meta["file_sha256"].value and meta["rows_read"].value == sum(1 for _ in open(plans)) - 1
        # The same file again: the refresh reloads it, but nothing new arrived.
        assert arrivals()[0] == 1
        # The source system writes the file anew (same content, a new modification time).
        stat = plans.stat()
        os.utime(plans, (stat.st_atime, stat.st_mtime + 3600))
        assert arrivals()[0] == 2
        # The raw table itself was materialized every time (its own freshness: the refresh ran).
        assert len(instance.fetch_materializations(PLANS, limit=100).records) == 3


# --- headline figures in the run metadata -------------------------------------------------------

def _materialization(outcome, key: dg.AssetKey):
    found = [
        e.event_specific_data.materialization
        for e in outcome.result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
        and e.event_specific_data.materialization.asset_key == key
    ]
    assert found, f"{key.to_user_string()} was not materialized"
    return found[-1]


def test_metrics_marts_carry_their_headline_figures(published_run):
    mat = _materialization(published_run, dg.AssetKey(["marts", "metrics_retention"]))
    meta = {k: v.value for k, v in mat.metadata.items()}
    con = duckdb.connect(str(published_run.published_db), read_only=True)
    try:
        start, grr, nrr, ending = con.execute(
            "select period_start, grr, nrr, ending_arr from marts.metrics_retention "
            "where slice_type = 'all' and period_type = 'quarter' and not is_partial "
            "order by period_start desc limit 1"
        ).fetchone()
        total = con.execute("select count(*) from marts.metrics_retention").fetchone()[0]
        kpis = con.execute(
            "select count(*), count(case when is_on_target then 1 end) from marts.metrics_kpi_summary "
            "where period_type = 'quarter' and is_current"
        ).fetchone()
    finally:
        con.close()
    assert meta["headline/quarter_start"] == start.isoformat()
    assert meta["headline/grr"] == pytest.approx(float(grr), abs=1e-12)
    assert meta["headline/nrr"] == pytest.approx(float(nrr), abs=1e-12)
    assert meta["headline/ending_arr"] == pytest.approx(float(ending), abs=0.005)
    assert meta["dagster/row_count"] == total
    assert "grr" in meta["headline"]

    kpi_meta = {k: v.value for k, v in
                _materialization(published_run, dg.AssetKey(["marts", "metrics_kpi_summary"])).metadata.items()}
    assert (kpi_meta["headline/kpis"], kpi_meta["headline/kpis_on_target"]) == kpis


def test_every_metrics_mart_has_headline_figures(published_run):
    graph = defs.resolve_asset_graph()
    marts = [k for k in graph.get_all_asset_keys() if k.path[0] == "marts" and k.path[-1].startswith("metrics_")]
    assert len(marts) >= 13
    for key in marts:
        meta = _materialization(published_run, key).metadata
        figures = [k for k in meta if k.startswith("headline/")]
        assert figures, f"{key.to_user_string()} has no headline figures"


def test_relative_folders_are_taken_from_where_the_command_started(tmp_path, monkeypatch):
    """dbt runs in dbt_project/: the build database it is given must not be relative."""
    from orchestration.lib.warehouse import Warehouse, pipeline_env

    monkeypatch.chdir(tmp_path)
    with pipeline_env("exports", "wh"):
        warehouse = Warehouse()
        assert warehouse.raw_path == tmp_path / "exports"
        assert warehouse.build_db == tmp_path / "wh" / "build.duckdb"
