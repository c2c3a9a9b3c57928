"""The measured stages of the benchmark (``orchestration.lib.bench``), one process each.

The harness starts every stage as a fresh child process, so that its peak memory is its own,
and reads what the stage reports from a JSON file:

    python -m orchestration.lib.bench_stages floor --raw DIR --memory-limit 2.75GB --out FILE.json
    python -m orchestration.lib.bench_stages pipeline --out FILE.json [--dbt-select SELECT]

``floor``: one DuckDB pass over every export file: for each file one query that counts the rows
and touches every value of every column (sums numbers, lengths of text, epochs of timestamps).
No pipeline could read the files faster, so it is the yardstick the pipeline is measured by.

``pipeline``: the ``refresh`` job (extract, raw checks, dbt build, publish) run in process, as
``make run`` does, on the folders of ``CS_RAW_DIR`` / ``CS_WAREHOUSE_DIR`` and the Dagster
instance of ``DAGSTER_HOME``. It reports the time of each step (from the instance's step
statistics), the stage each step belongs to and the duration of every dbt node, so the harness
can split the run into start-up, extract, checks, dbt build, publish and orchestration.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from orchestration.lib.loader import DEFAULT_MEMORY_LIMIT, literal, quote

PROCESS_STARTED = time.time()

EXPORT_SUFFIXES = (".csv", ".parquet", ".json")


# ------------------------------------------------------------------------------------ floor


def _reader(path: Path) -> str:
    p = literal(str(path))
    if path.suffix == ".csv":
        return f"read_csv({p}, header=true)"
    if path.suffix == ".parquet":
        return f"read_parquet({p})"
    return f"read_json({p}, format='auto')"


def _touch(column: str, column_type: str) -> str:
    """An aggregate that reads every value of the column."""
    c = quote(column)
    t = column_type.upper()
    if t.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                     "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")):
        return f"sum({c})"
    if t == "BOOLEAN":
        return f"sum(cast({c} as integer))"
    if t.startswith(("TIMESTAMP", "DATE")):
        return f"sum(epoch({c}))"
    return f"sum(length(cast({c} as varchar)))"


def export_files(raw_dir: Path) -> list[Path]:
    """Every export file under the raw folder (not the generator's ``_ground_truth``)."""
    return sorted(
        p for p in Path(raw_dir).glob("*/*")
        if p.is_file() and p.suffix in EXPORT_SUFFIXES and not p.parent.name.startswith("_")
    )


def floor(raw_dir: Path, memory_limit: str) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"set memory_limit = '{memory_limit}'")
    started = time.perf_counter()
    files = []
    for path in export_files(raw_dir):
        t0 = time.perf_counter()
        reader = _reader(path)
        columns = con.execute(f"describe select * from {reader}").fetchall()
        aggregates = ", ".join(["count(*)"] + [_touch(name, ctype) for name, ctype, *_ in columns])
        rows = con.execute(f"select {aggregates} from {reader}").fetchone()[0]
        files.append({"file": str(path.relative_to(raw_dir)), "rows": rows,
                      "bytes": path.stat().st_size, "seconds": time.perf_counter() - t0})
    con.close()
    return {"work_seconds": time.perf_counter() - started, "files": files}


# --------------------------------------------------------------------------------- pipeline


def _stage_of_steps() -> dict[str, str]:
    """Step key -> stage (extract, checks, dbt_build, publish) from the code location."""
    from orchestration import definitions as d

    stages = {a.node_def.name: "extract" for a in d.extract_assets}
    stages.update({c.node_def.name: "checks" for c in d.defs.asset_checks or []})
    stages[d.cs_dbt_assets.node_def.name] = "dbt_build"
    stages[d.publish_asset.node_def.name] = "publish"
    return stages


def _dbt_node_seconds(result: Any, dbt_step: str) -> list[dict[str, Any]]:
    """Duration of every dbt model, seed and test of the run (dagster-dbt's "Execution
    Duration" metadata on the dbt step's materializations and check evaluations)."""
    nodes = []
    for event in result.all_events:
        if event.step_key != dbt_step:
            continue
        if event.event_type_value == "ASSET_MATERIALIZATION":
            data = event.event_specific_data.materialization
            name = "/".join(data.asset_key.path)
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            name = "/".join(data.asset_key.path) + ":" + data.check_name
        else:
            continue
        duration = data.metadata.get("Execution Duration")
        if duration is not None:
            nodes.append({"node": name, "seconds": float(duration.value)})
    return nodes


def _subset_job(defs: Any, dbt_select: str) -> Any:
    """The refresh job cut down to the dbt models of ``dbt_select`` (with their parents), for
    the harness's own tests: every extract with its checks, those models without their dbt
    tests (a test may also read models outside the subset), publish."""
    import dagster as dg
    from dagster_dbt import build_dbt_asset_selection

    from orchestration import definitions as d

    chosen = (
        dg.AssetSelection.assets(*d.extract_assets)
        | build_dbt_asset_selection([d.cs_dbt_assets], dbt_select=dbt_select).without_checks()
        | dg.AssetSelection.assets(d.publish_asset).without_checks()
    )
    job = dg.define_asset_job("refresh_subset", selection=chosen)
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("refresh_subset")


def pipeline(dbt_select: str | None) -> dict[str, Any]:
    import dagster as dg

    from orchestration.definitions import defs

    job = defs.resolve_job_def("refresh")
    stages = _stage_of_steps()
    if dbt_select:
        job = _subset_job(defs, dbt_select)
    try:
        instance = dg.DagsterInstance.get()  # $DAGSTER_HOME, as `make run`
    except dg.DagsterInvariantViolationError:
        instance = dg.DagsterInstance.ephemeral()
    ready = time.time()
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    finished = time.time()
    steps = []
    for stat in instance.get_run_step_stats(result.run_id):
        steps.append({
            "step": stat.step_key,
            "stage": stages.get(stat.step_key, "other"),
            "status": stat.status.value if stat.status else None,
            "start": stat.start_time,
            "end": stat.end_time,
        })
    failures = {
        e.step_key: e.event_specific_data.error.message.strip()
        for e in result.all_events if e.is_step_failure
    }
    dbt_step = next((k for k, v in stages.items() if v == "dbt_build"), "")
    return {
        "success": result.success,
        "run_id": result.run_id,
        "process_started": PROCESS_STARTED,
        "ready": ready,
        "job_end": finished,
        "steps": sorted(steps, key=lambda s: s["start"] or 0),
        "dbt_nodes": _dbt_node_seconds(result, dbt_step),
        "failures": failures,
    }


# ------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One measured stage of the benchmark.")
    sub = parser.add_subparsers(dest="stage", required=True)
    f = sub.add_parser("floor", help="one DuckDB pass over every export file")
    f.add_argument("--raw", required=True, type=Path)
    f.add_argument("--memory-limit", default=DEFAULT_MEMORY_LIMIT)
    f.add_argument("--out", required=True, type=Path)
    p = sub.add_parser("pipeline", help="the refresh job, in process")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--dbt-select", default=None)
    args = parser.parse_args(argv)

    if args.stage == "floor":
        report = floor(args.raw, args.memory_limit)
        ok = True
    else:
        report = pipeline(args.dbt_select)
        ok = report["success"]
    report["process_started"] = PROCESS_STARTED
    report["process_ended"] = time.time()
    args.out.write_text(json.dumps(report, indent=1, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
