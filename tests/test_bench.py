"""The benchmark harness (issue 8) on the tiny profile, so that it cannot rot.

One harness run (repeat 1) on 30 accounts, with the dbt project cut down to the marts the pandas
baseline is compared with (``--dbt-select``) to keep it fast; the stages, the split, the ratios,
the baseline's equality with the marts and the incremental day are then checked against what the
harness did not compute itself: the Dagster instance's step records, the generator's ground
truth and the files on disk.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest

from orchestration.lib import bench
from orchestration.lib.bench_stages import export_files

TEST_SELECT = "+fct_mrr_movements +metrics_retention +fct_account_adoption_monthly"


@pytest.fixture(scope="module")
def tiny(dbt_manifest, tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    opts = bench.Options(
        repeat=1, data_dir=root / "data", results_dir=root / "results", work_dir=root / "runs",
        dbt_select=TEST_SELECT, keep_runs=True, parse_dbt=False, command="pytest tests/test_bench.py",
    )
    started = time.perf_counter()
    result = bench.measure(bench.PROFILES["tiny"], opts, log=lambda message: None)
    seconds = time.perf_counter() - started
    print(f"benchmark harness on the tiny profile: {seconds:.1f} s")
    ds = bench.prepare_dataset(bench.PROFILES["tiny"], root / "data")
    return SimpleNamespace(
        result=result, table=bench.render([result]), root=root, seconds=seconds, dataset=ds,
        run_dir=root / "runs" / "tiny-1",
    )


def test_table_shows_every_stage_with_a_time(tiny):
    for label in bench.STAGE_LABELS.values():
        assert tiny.table.count(f"| - {label}") == 2, label  # full and incremental run
    for row in ("floor: one DuckDB pass over every file", "pipeline: full refresh",
                "pandas notebook baseline", "incremental: +1 day (2025-12-16)"):
        assert f"| {row}" in tiny.table
    r = tiny.result
    for kind in ("pipeline", "incremental"):
        for stage in ("startup", "run_start", "extract", "checks", "dbt_build", "publish"):
            assert r[kind]["stages"][stage]["median"] > 0, (kind, stage)
        assert r[kind]["peak_rss_mb"]["median"] > 100
    assert r["floor"]["seconds"]["median"] > 0
    assert r["pandas"]["seconds"]["median"] > 0


def test_stages_add_up_and_come_from_the_dagster_step_records(tiny, monkeypatch):
    """The split equals the step durations the Dagster instance recorded, classified here by
    step key (raw__<table> extract, cs_dbt_assets, published__cs_metrics, the rest checks)."""
    import dagster as dg

    from orchestration.lib.contract import TABLES

    extract_keys = {f"raw__{t.name}" for t in TABLES}
    # The bench's instance has make run's settings; their event log finds its runs by DAGSTER_HOME.
    monkeypatch.setenv("DAGSTER_HOME", str(tiny.run_dir / "dagster_home"))
    instance = dg.DagsterInstance.get()
    try:
        runs = sorted(instance.get_runs(), key=lambda run: instance.get_run_record_by_id(run.run_id).create_timestamp)
        assert len(runs) == 2  # the full refresh, then the daily run
        for kind, run in zip(("pipeline", "incremental"), runs, strict=True):
            expected = {"extract": 0.0, "checks": 0.0, "dbt_build": 0.0, "publish": 0.0}
            for stat in instance.get_run_step_stats(run.run_id):
                key = stat.step_key
                stage = ("extract" if key in extract_keys else "dbt_build" if key == "cs_dbt_assets"
                         else "publish" if key == "published__cs_metrics" else "checks")
                expected[stage] += stat.end_time - stat.start_time
            stages = tiny.result[kind]["stages"]
            for stage, seconds in expected.items():
                assert stages[stage]["median"] == pytest.approx(seconds, abs=1e-6), (kind, stage)
            total = tiny.result[kind]["seconds"]["median"]
            assert sum(s["median"] for s in stages.values()) == pytest.approx(total, abs=1e-6)
    finally:
        instance.dispose()


def test_ratios_are_computed_from_the_measured_medians(tiny):
    r = tiny.result
    floor = r["floor"]["seconds"]["median"]
    pipeline = r["pipeline"]["seconds"]["median"]
    pandas_s = r["pandas"]["seconds"]["median"]
    incremental = r["incremental"]["seconds"]["median"]
    q = r["ratios"]
    assert q["pipeline_over_floor"] == pytest.approx(pipeline / floor)
    assert q["pandas_over_pipeline"] == pytest.approx(pandas_s / pipeline)
    assert q["incremental_over_full"] == pytest.approx(incremental / pipeline)
    assert q["pipeline_budget_seconds"] == pytest.approx(3 * floor + 15)
    assert q["pipeline_target_met"] == (pipeline <= 3 * floor + 15)
    assert q["peak_rss_mb"] == max(r["pipeline"]["peak_rss_mb"]["max"], r["incremental"]["peak_rss_mb"]["max"])
    assert f"| pipeline / floor            | {pipeline / floor:.1f}x" in tiny.table
    assert f"{pandas_s / pipeline:.2f}x" in tiny.table
    assert f"| {incremental / pipeline:.2f}" in tiny.table


def test_pandas_baseline_equals_the_marts(tiny):
    pandas_result = tiny.result["pandas"]
    assert pandas_result["finished"] and pandas_result["equal_to_marts"]
    for name, c in pandas_result["comparison"].items():
        assert c["baseline_rows"] == c["mart_rows"] > 0, name
        assert c["differing"] == c["missing_in_baseline"] == c["missing_in_marts"] == 0, name
    assert "| pandas figures = marts      | equal" in tiny.table


def test_pandas_baseline_matches_the_generator_ground_truth(tiny):
    """The baseline's month-end MRR and movements are the generator's planted ones."""
    with open(tiny.dataset.raw / "_ground_truth" / "account_month_mrr.csv", newline="") as fh:
        expected = sorted((r["account_id"], r["month"], Decimal(r["mrr_usd"]), r["movement"])
                          for r in csv.DictReader(fh))
    movements = pd.read_parquet(tiny.run_dir / "baseline" / "mrr_movements.parquet")
    actual = sorted(
        (a, m.strftime("%Y-%m"), Decimal(f"{e:.2f}"), mv)
        for a, m, e, mv in movements[["account_id", "month", "end_mrr", "movement"]].itertuples(index=False)
    )
    assert actual == expected


def test_the_comparison_catches_every_kind_of_difference(tiny, tmp_path):
    published = tiny.run_dir / bench.FULL_RUN_PUBLISHED_COPY
    assert bench.comparison_ok(bench.compare_with_marts(tiny.run_dir / "baseline", published))
    tampered = tmp_path / "baseline"
    shutil.copytree(tiny.run_dir / "baseline", tampered)
    movements = pd.read_parquet(tampered / "mrr_movements.parquet")
    movements.loc[movements["end_mrr"] > 0, "end_mrr"] = movements["end_mrr"] + 0.01
    movements.to_parquet(tampered / "mrr_movements.parquet")
    retention = pd.read_parquet(tampered / "retention_quarterly.parquet")
    retention.iloc[1:].to_parquet(tampered / "retention_quarterly.parquet")
    dau_mau = pd.read_parquet(tampered / "dau_mau_monthly.parquet")
    dau_mau.loc[0, "dau_mau"] += 1e-7
    dau_mau.to_parquet(tampered / "dau_mau_monthly.parquet")

    c = bench.compare_with_marts(tampered, published)
    assert c["mrr_movements"]["differing"] == int((movements["end_mrr"] > 0).sum()) > 0
    assert c["retention_quarterly"]["missing_in_baseline"] == 1
    assert c["retention_quarterly"]["differing"] == 0
    assert c["dau_mau_monthly"]["differing"] == 1
    assert not bench.comparison_ok(c)


def test_incremental_run_publishes_the_appended_day(tiny):
    ds = tiny.dataset
    assert (ds.as_of, ds.next_day) == (date(2025, 12, 15), date(2025, 12, 16))
    original = ds.raw / "product" / "usage_events.parquet"
    appended = ds.raw_next_day / "product" / "usage_events.parquet"
    con = duckdb.connect()
    try:
        last_day = con.execute(
            f"select count(*) from read_parquet('{original}') where cast(event_at as date) = '2025-12-15'"
        ).fetchone()[0]
        total, distinct_ids, new_day = con.execute(
            f"select count(*), count(distinct event_id), "
            f"count(*) filter (where cast(event_at as date) = '2025-12-16') from read_parquet('{appended}')"
        ).fetchone()
    finally:
        con.close()
    assert new_day == last_day == ds.next_day_events > 0
    assert total == distinct_ids == ds.events + new_day
    # every other export of the next morning is the same file
    others = [p for p in export_files(ds.raw_next_day) if p.name != "usage_events.parquet"]
    assert others and all(p.samefile(ds.raw / p.relative_to(ds.raw_next_day)) for p in others)  # hard links
    con = duckdb.connect(str(tiny.run_dir / "warehouse" / "cs_metrics.duckdb"), read_only=True)
    try:
        latest, events = con.execute(
            "select max(usage_date), sum(events) filter (where usage_date = date '2025-12-16') "
            "from marts.fct_account_usage_daily"
        ).fetchone()
    finally:
        con.close()
    assert (latest, events) == (date(2025, 12, 16), new_day)


def test_floor_reads_every_row_of_every_file(tiny):
    report = json.loads((tiny.run_dir / "floor.json").read_text())
    manifest = json.loads((tiny.dataset.raw / "_ground_truth" / "manifest.json").read_text())
    rows = {f["file"].rsplit(".", 1)[0]: f["rows"] for f in report["files"]}
    assert rows == manifest["row_counts"]
    assert tiny.result["floor"]["seconds"]["median"] == pytest.approx(report["work_seconds"])


def test_results_file_and_report_command(tiny, capsys):
    path = Path(tiny.result["results_file"])
    assert path.parent == tiny.root / "results" and path.name.startswith("tiny-")
    saved = json.loads(path.read_text())
    assert saved["ratios"] == pytest.approx(tiny.result["ratios"])
    assert saved["machine"]["cores"] >= 1 and saved["machine"]["memory_gb"] > 0
    assert bench.main(["--report", str(path)]) == 0
    assert capsys.readouterr().out.strip() == tiny.table.strip()


def test_each_runs_marts_are_checksummed(tiny):
    across = tiny.result["marts_across_runs"]
    warehouse = tiny.run_dir / "warehouse"
    full = bench.mart_checksums(tiny.run_dir / bench.FULL_RUN_PUBLISHED_COPY)
    daily = bench.mart_checksums(warehouse / bench.PUBLISHED_DB_NAME)
    assert across["pipeline"]["fingerprints"] == [bench.fingerprint(full)]
    assert across["incremental"]["fingerprints"] == [bench.fingerprint(daily)]
    assert across["pipeline"]["tables"] == len(full) > 0
    assert full != daily  # the daily run's day is in its marts
    # one repetition: nothing to compare, and the table says so
    assert across["pipeline"]["identical"] is None and bench.marts_identical(tiny.result) is None
    assert "| marts across repetitions    | not compared (one repetition)" in tiny.table


def test_repetitions_that_publish_different_marts_fail_the_benchmark(tiny, monkeypatch, capsys):
    full = bench.mart_checksums(tiny.run_dir / bench.FULL_RUN_PUBLISHED_COPY)
    daily = bench.mart_checksums(tiny.run_dir / "warehouse" / bench.PUBLISHED_DB_NAME)
    same = bench.marts_across_runs([{"pipeline": full, "incremental": daily}] * 3)
    assert same["pipeline"]["identical"] and same["incremental"]["identical"]
    assert same["pipeline"]["runs"] == 3 and same["pipeline"]["differing_tables"] == []

    table = sorted(full)[0]
    changed = dict(full, **{table: (full[table][0], "0")})  # one mart's last bit, say
    missing = {t: v for t, v in daily.items() if t != table}
    differ = bench.marts_across_runs([{"pipeline": full, "incremental": daily},
                                      {"pipeline": changed, "incremental": missing}])
    assert differ["pipeline"]["identical"] is False and differ["pipeline"]["differing_tables"] == [table]
    assert differ["incremental"]["differing_tables"] == [table]

    result = json.loads(json.dumps(tiny.result))
    result["marts_across_runs"] = differ
    assert bench.marts_identical(result) is False
    assert f"| marts across repetitions    | DIFFERENT: pipeline {table}; incremental {table}" \
        in bench.render([result])
    monkeypatch.setattr(bench, "measure", lambda profile, opts, log: result)
    assert bench.main(["--profile", "tiny", "--repeat", "2"]) == 1
    assert "the repetitions published different marts" in capsys.readouterr().err
    result["marts_across_runs"] = same
    assert bench.main(["--profile", "tiny", "--repeat", "2"]) == 0
    assert "| marts across repetitions    | identical (" in capsys.readouterr().out


def test_generated_data_is_cached(tiny):
    ready = tiny.dataset.root / bench.READY_FILE
    before = ready.stat().st_mtime_ns
    again = bench.prepare_dataset(bench.PROFILES["tiny"], tiny.root / "data")
    assert again.root == tiny.dataset.root and ready.stat().st_mtime_ns == before
    assert tiny.dataset.key.startswith("v1.0-") and "-a30-u0.1-s7" in tiny.dataset.key


def test_next_day_is_written_under_the_memory_limit(tiny, tmp_path, monkeypatch):
    """The next morning's events come from DuckDB in the harness's own process: it runs under the
    limit given (unlimited, it took 4.5 GB at ``large``), spills beside the output, and leaves
    nothing behind."""
    settings = {}
    connect = bench.duckdb.connect

    class Recorded:
        def __init__(self, con):
            self.con = con

        def execute(self, *args, **kwargs):
            return self.con.execute(*args, **kwargs)

        def close(self):
            settings.update(zip(("memory_limit", "temp_directory"), self.con.execute(
                "select current_setting('memory_limit'), current_setting('temp_directory')"
            ).fetchone(), strict=True))
            self.con.close()

    monkeypatch.setattr(bench.duckdb, "connect", lambda *a, **k: Recorded(connect(*a, **k)))
    raw = tiny.dataset.root / "raw"
    out = tmp_path / "raw_next_day"
    last_day, new_day, added = bench.append_next_day(raw, out, "300MB")
    assert settings["memory_limit"] in ("286.1 MiB", "300.0 MB")
    assert Path(settings["temp_directory"]) == tmp_path / "raw_next_day.tmp"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw_next_day"]
    events = f"read_parquet('{raw / 'product' / 'usage_events.parquet'}')"
    (last_day_events,) = connect().execute(
        f"select count(*) from {events} where cast(event_at as date) = '{last_day}'").fetchone()
    assert new_day == last_day + timedelta(days=1) and added == last_day_events > 0


def test_growth_compares_time_with_data(tiny):
    bigger = json.loads(json.dumps(tiny.result))
    bigger["profile"] = "tiny-x2"
    bigger["data"]["events"] *= 2
    bigger["data"]["input_bytes"] *= 2
    bigger["pipeline"]["seconds"]["median"] *= 3
    bigger["floor"]["seconds"]["median"] *= 1.5
    rows = {g["stage"]: g for g in bench.growth([bigger, tiny.result])}
    assert rows["pipeline"]["time_ratio"] == pytest.approx(3) and not rows["pipeline"]["no_faster_than_data"]
    assert rows["floor"]["time_ratio"] == pytest.approx(1.5) and rows["floor"]["no_faster_than_data"]
    assert rows["pipeline"]["data_ratio"] == pytest.approx(2)
    assert rows["pandas"]["no_faster_than_data"] is not None
    assert "### growth" in bench.render([tiny.result, bigger])
    # a baseline stopped at the memory cap has no time to grow: its row says so
    bigger["pandas"]["finished"] = False
    bigger["pandas"]["status"] = ["did not finish: memory cap (18,280 MB > 18,079 MB)",
                                  "did not finish: memory cap (18,161 MB > 18,079 MB)", "finished"]
    rows = {g["stage"]: g for g in bench.growth([bigger, tiny.result])}
    assert rows["pandas"]["no_faster_than_data"] is None and rows["pipeline"]["no_faster_than_data"] is False
    table = bench.render([tiny.result, bigger])
    assert "| pandas notebook baseline (did not finish: memory cap, 2 of 3 runs) |" in table
    assert "| n/a (did not finish)" in table


def test_stage_memory_is_the_child_trees_peak(tmp_path):
    grow = ("import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
            "time.sleep(0.5)")
    run = bench.run_stage("alloc", [sys.executable, "-c", grow], {}, tmp_path / "alloc.log")
    assert run.returncode == 0 and run.stopped is None
    # at least the 300 MB, and not the sum of many samples (loose top: interpreter + page cache)
    assert 300 <= run.peak_rss_mb < 1200
    assert 300 <= run.largest_process_rss_mb < 1200
    capped = bench.run_stage("capped", [sys.executable, "-c", grow], {}, tmp_path / "capped.log",
                             rss_cap_mb=150)
    assert capped.returncode != 0 and capped.stopped.startswith("memory cap")


def test_a_stages_peak_is_its_own_not_the_harness(tmp_path):
    """A harness that once held 800 MB (as after writing the `large` company's next day) runs a
    small stage, then a stage whose grandchild holds 300 MB: the first peaks far below 800 MB
    (``wait4``'s ``ru_maxrss`` gave at least 800: Python's ``vfork`` hands the harness's
    high-water mark to the child), the second at its grandchild's 300 MB or more."""
    grandchild = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
                  "\"import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
                  "time.sleep(0.5)\"], check=True)")
    driver = f"""
import json, sys
from pathlib import Path
from orchestration.lib import bench
b = bytearray(800 * 2**20); b[::4096] = b"x" * len(b[::4096]); del b
out = Path({str(tmp_path)!r})
small = bench.run_stage("small", [sys.executable, "-c", "import time; time.sleep(0.5)"], {{}}, out / "small.log")
deep = bench.run_stage("deep", [sys.executable, "-c", {grandchild!r}], {{}}, out / "deep.log")
print(json.dumps([small.peak_rss_mb, small.largest_process_rss_mb, deep.peak_rss_mb, deep.largest_process_rss_mb,
                  deep.returncode]))
"""
    done = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True,
                          cwd=bench.REPO_ROOT, check=True)
    small_peak, small_largest, deep_peak, deep_largest, deep_rc = json.loads(done.stdout.splitlines()[-1])
    assert deep_rc == 0
    assert 0 < small_largest <= small_peak < 200
    assert 300 <= deep_largest <= deep_peak < 1200


def test_profile_load_times_every_statement_of_a_load(small_company, capsys, monkeypatch):
    from benchmarks import profile_load

    events = duckdb.connect().execute(
        "select count(*) from read_parquet(?)",
        [str(small_company / "product" / "usage_events.parquet")],
    ).fetchone()[0]
    monkeypatch.setattr(profile_load, "SHOWN_FROM_SECONDS", 0.0)  # every statement, however fast
    assert profile_load.main([str(small_company), "product_usage_events"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].endswith(f"total: {events:,} rows read, {events:,} loaded, 0 quarantined")
    assert any("create or replace table raw.product_usage_events" in line for line in out)
    assert any("read_parquet" in line for line in out)
