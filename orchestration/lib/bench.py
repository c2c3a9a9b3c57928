"""The benchmark harness: how fast the pipeline is against what the data allows (issue 8).

    python -m benchmarks.bench --profile small --repeat 3      # or: make bench PROFILE=small
    python -m benchmarks.bench --profile small,medium           # and the growth between them
    python -m benchmarks.bench --report benchmarks/results/small-*.json benchmarks/results/medium-*.json

For each scale profile the sample company is generated once and cached under
``data/bench/<profile>/<key>/`` (the key names the generator version, a hash of its source, the
accounts, the usage scale and the seed), with a copy whose usage events gain one more day. Then,
``--repeat`` times, each stage runs as a fresh child process (one process tree per stage, so its
peak memory is its own) and the medians are reported:

1. ``floor``: one DuckDB pass over every export file (``bench_stages.floor``);
2. ``pipeline``: the ``refresh`` job into an empty warehouse, split by Dagster step timings into
   start-up, extract, checks, dbt build, publish and the rest;
3. ``pandas``: the notebook baseline (``benchmarks/notebook_baseline.py``); its figures are
   compared with the published marts and the harness fails on any difference;
4. ``incremental``: the next day's exports (one more day of usage events, ``CS_AS_OF_DATE`` one
   day later) run through the pipeline again, in the same warehouse and Dagster instance.

After each full and each daily run every published mart's checksum is taken
(``mart_checksums``): the repetitions run the same inputs, so their marts must be identical
(idempotence, README); the table says whether they were, and the command fails when not.

Peak memory is the resident set of the whole process tree (the pipeline and its dbt child),
sampled every 0.1 s, and never less than the largest single process's own peak (its ``VmHWM``,
read at each sample; not ``wait4``'s ``ru_maxrss``, which starts from the harness's own peak:
``tree_memory``).
Results go to ``benchmarks/results/<profile>-<date>.json`` and a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from orchestration.lib.bench_stages import export_files
from orchestration.lib.loader import DEFAULT_MEMORY_LIMIT, connect, literal, memory_limit_setting
from orchestration.lib.mart_checksums import fingerprint, mart_checksums
from orchestration.lib.warehouse import PUBLISHED_DB_NAME, REPO_ROOT

BENCH_DIR = REPO_ROOT / "benchmarks"
BASELINE_SCRIPT = BENCH_DIR / "notebook_baseline.py"
DEFAULT_DATA_DIR = REPO_ROOT / "data" / "bench"
DEFAULT_RESULTS_DIR = BENCH_DIR / "results"
SAMPLE_COMPANY_DIR = REPO_ROOT / "sample_company"
INSTANCE_SETTINGS = REPO_ROOT / "dagster.yaml"  # what `make run` copies to $DAGSTER_HOME
READY_FILE = "dataset.json"
NEXT_DAY_SUFFIX = "-next"
FULL_RUN_PUBLISHED_COPY = "published_full_run.duckdb"  # with --keep-runs

# The targets of issue 8 (2-core, 24 GB machine, profile medium).
TARGET_PIPELINE_FLOOR_FACTOR = 3.0
TARGET_STARTUP_SECONDS = 15.0
TARGET_PANDAS_FACTOR = 10.0
TARGET_INCREMENTAL_SHARE = 0.10
TARGET_PEAK_MB = 4096.0

# Equality of the baseline and the marts: money to the cent, ratios to 1e-9.
CENT = 0.005
RATIO_TOLERANCE = 1e-9

PIPELINE_STAGES = ("startup", "run_start", "extract", "checks", "dbt_build", "publish", "other")
STAGE_LABELS = {
    "startup": "start-up (interpreter, imports, code location)",
    "run_start": "run start (execution plan, run records; before the first step)",
    "extract": "extract (load + contract checks)",
    "checks": "raw checks (GX suites, foreign keys, volume)",
    "dbt_build": "dbt build (models + tests)",
    "publish": "publish (audit, copy, swap)",
    "other": "between steps, after the last one, process exit",
}


@dataclass(frozen=True)
class Profile:
    name: str
    accounts: int
    usage_scale: float = 1.0
    seed: int = 7
    about: str = ""


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("tiny", 30, 0.1, about="harness test (tests/test_bench.py), about 45 thousand events"),
        Profile("small", 1_000, about="about 10 million usage events"),
        Profile("medium", 5_000, about="about 50 million usage events"),
        Profile("large", 20_000, about="about 200 million usage events; not run in CI"),
    )
}


class BenchError(RuntimeError):
    """A stage failed or the baseline disagrees with the marts: the measurement is void."""


# ================================================================================= data


@dataclass(frozen=True)
class Dataset:
    profile: str
    key: str
    root: Path
    raw: Path
    raw_next_day: Path
    as_of: date
    next_day: date
    events: int
    next_day_events: int
    input_bytes: int
    files: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "root": str(self.root), "as_of": self.as_of.isoformat(),
            "next_day": self.next_day.isoformat(), "events": self.events,
            "next_day_events": self.next_day_events, "input_bytes": self.input_bytes,
            "files": self.files,
        }


def generator_fingerprint() -> str:
    """A short hash of the generator's source: a changed generator gets a new cache."""
    digest = hashlib.sha256()
    for path in sorted(SAMPLE_COMPANY_DIR.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def dataset_key(profile: Profile) -> str:
    from sample_company.generator import GENERATOR_VERSION

    return (f"v{GENERATOR_VERSION}-{generator_fingerprint()}-a{profile.accounts}"
            f"-u{profile.usage_scale:g}-s{profile.seed}")


def append_next_day(raw: Path, out: Path, memory_limit: str = DEFAULT_MEMORY_LIMIT) -> tuple[date, date, int]:
    """The next morning's exports in ``out``: every file of ``raw`` hard-linked, except the usage
    events, rewritten with one more day: the last day's events again, one day later, with new
    event ids. Returns (last day, new day, events added).

    DuckDB runs here in the harness's own process, under the pipeline's memory limit and spilling
    beside ``out``: unlimited, it took 4.5 GB for the ``large`` company's 165 million events."""
    if out.exists():
        shutil.rmtree(out)
    for path in export_files(raw):
        target = out / path.relative_to(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.name != "usage_events.parquet":
            # A hard link (or a copy): the loader refuses symlinks that lead out of the raw folder.
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)
    src = raw / "product" / "usage_events.parquet"
    dst = out / "product" / "usage_events.parquet"
    spill = out.parent / f"{out.name}.tmp"
    con = connect(None, memory_limit, temp_dir=spill)
    try:
        (last_day,) = con.execute(
            f"select max(cast(event_at as date)) from read_parquet({literal(str(src))})"
        ).fetchone()
        new_day = last_day + timedelta(days=1)
        con.execute(
            f"""
            copy (
                select * from read_parquet({literal(str(src))})
                union all
                select * replace (
                    event_id || '{NEXT_DAY_SUFFIX}' as event_id,
                    event_at + interval 1 day as event_at
                )
                from read_parquet({literal(str(src))})
                where event_at >= cast('{last_day}' as timestamp)
                    and event_at < cast('{new_day}' as timestamp)
            ) to {literal(str(dst))} (format parquet, compression zstd, row_group_size 1048576)
            """
        )
        (added,) = con.execute(
            f"select count(*) from read_parquet({literal(str(dst))}) "
            f"where cast(event_at as date) = cast('{new_day}' as date)"
        ).fetchone()
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    return last_day, new_day, added


def prepare_dataset(profile: Profile, data_dir: Path, log: Callable[[str], None] = print,
                    memory_limit: str = DEFAULT_MEMORY_LIMIT) -> Dataset:
    """The profile's generated company, from the cache when it is there (see the module doc)."""
    key = dataset_key(profile)
    base = Path(data_dir) / profile.name
    root = base / key
    ready = root / READY_FILE
    if not ready.exists():
        if base.exists():  # caches of older generators or other settings: ours, and stale
            for stale in base.iterdir():
                if stale.is_dir() and stale.name != key:
                    shutil.rmtree(stale)
        if root.exists():
            shutil.rmtree(root)
        log(f"[{profile.name}] generating the sample company ({profile.accounts:,} accounts, usage "
            f"scale {profile.usage_scale:g}, seed {profile.seed}) -> {root}")
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "sample_company", "--accounts", str(profile.accounts),
             "--seed", str(profile.seed), "--usage-scale", str(profile.usage_scale),
             "--out", str(root / "raw")],
            check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
        )
        last_day, new_day, added = append_next_day(root / "raw", root / "raw_next_day", memory_limit)
        manifest = json.loads((root / "raw" / "_ground_truth" / "manifest.json").read_text())
        files = export_files(root / "raw")
        ready.write_text(json.dumps({
            "profile": profile.name, "key": key, "accounts": profile.accounts,
            "usage_scale": profile.usage_scale, "seed": profile.seed,
            "as_of": manifest["as_of"], "last_event_day": last_day.isoformat(),
            "next_day": new_day.isoformat(), "events": manifest["usage_events"],
            "next_day_events": added, "input_bytes": sum(p.stat().st_size for p in files),
            "files": len(files), "generated_seconds": round(time.perf_counter() - started, 1),
        }, indent=1))
    facts = json.loads(ready.read_text())
    return Dataset(
        profile=profile.name, key=key, root=root, raw=root / "raw",
        raw_next_day=root / "raw_next_day", as_of=date.fromisoformat(facts["as_of"]),
        next_day=date.fromisoformat(facts["next_day"]), events=facts["events"],
        next_day_events=facts["next_day_events"], input_bytes=facts["input_bytes"],
        files=facts["files"],
    )


# ============================================================================ processes


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(c) for c in fh.read().split())
    except OSError:
        pass
    return out


def tree_memory(pid: int) -> tuple[int, dict[int, int]]:
    """A process and all its descendants, now: their resident memory together (bytes), and each
    one's own peak resident memory since it started its program (``VmHWM``, bytes, by pid).

    ``VmHWM`` and not ``wait4``'s ``ru_maxrss``: Linux carries the high-water mark of the memory
    a process leaves at ``exec`` into ``ru_maxrss``, and Python starts children with ``vfork``,
    so a child's ``ru_maxrss`` is at least the harness's own peak (4.5 GB once the harness had
    written the ``large`` company's next-day events with DuckDB: every stage of that run, the
    floor included, then "peaked" at 4,529 MB)."""
    total, peaks, todo, seen = 0, {}, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if line.startswith(("VmRSS", "VmHWM")))
        except (OSError, ValueError):
            continue
        if "VmRSS" in fields:  # a kernel thread or a zombie has neither
            total += int(fields["VmRSS"].split()[0]) * 1024
            peaks[p] = int(fields["VmHWM"].split()[0]) * 1024
        todo.extend(_children(p))
    return total, peaks


@dataclass
class StageRun:
    """One child process: its wall time, memory and what it reported."""

    name: str
    wall_seconds: float
    returncode: int
    spawned: float  # epoch seconds
    peak_rss_mb: float  # the whole tree, sampled; at least the largest process's own peak
    largest_process_rss_mb: float  # the largest single process's own peak (VmHWM, sampled)
    samples: list[tuple[float, float]] = field(repr=False)  # (epoch, tree MB)
    log: Path | None = None
    stopped: str | None = None  # "memory cap" / "timeout" when the harness killed it
    report: dict[str, Any] | None = None

    def peak_between(self, start: float, end: float) -> float | None:
        inside = [mb for t, mb in self.samples if start <= t <= end]
        return max(inside) if inside else None

    def log_tail(self, lines: int = 30) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def run_stage(
    name: str,
    argv: Sequence[str],
    env: dict[str, str],
    log_path: Path,
    report_path: Path | None = None,
    rss_cap_mb: float | None = None,
    timeout: float | None = None,
    interval: float = 0.1,
) -> StageRun:
    """Run ``argv`` as a new process group, sample its tree's memory, wait for it."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    samples: list[tuple[float, float]] = []
    process_peaks: dict[int, int] = {}  # pid -> its VmHWM at the last sample, bytes
    stopped: list[str] = []
    done = threading.Event()
    with open(log_path, "wb") as log:
        spawned = time.time()
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def sample() -> None:
            while not done.is_set():
                total, peaks = tree_memory(proc.pid)
                process_peaks.update(peaks)
                mb = total / 2**20
                now = time.time()
                samples.append((now, mb))
                reason = None
                if rss_cap_mb and mb > rss_cap_mb:
                    reason = f"memory cap ({mb:,.0f} MB > {rss_cap_mb:,.0f} MB)"
                elif timeout and now - spawned > timeout:
                    reason = f"timeout ({timeout:,.0f} s)"
                if reason:
                    stopped.append(reason)
                    _kill_group(proc.pid)
                    return
                done.wait(interval)

        sampler = threading.Thread(target=sample, name=f"rss-{name}", daemon=True)
        sampler.start()
        try:
            _, status = os.waitpid(proc.pid, 0)
        except BaseException:
            _kill_group(proc.pid)
            raise
        finally:
            done.set()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.join()
        _kill_group(proc.pid)  # nothing of the stage may outlive it
    largest = max(process_peaks.values(), default=0) / 2**20
    report = None
    if report_path is not None and report_path.exists():
        report = json.loads(report_path.read_text())
    return StageRun(
        name=name, wall_seconds=wall, returncode=proc.returncode, spawned=spawned,
        peak_rss_mb=max([largest] + [mb for _, mb in samples]), largest_process_rss_mb=largest,
        samples=samples, log=log_path, stopped=stopped[0] if stopped else None, report=report,
    )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ============================================================================== stages


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def stage_env(raw: Path, warehouse: Path, dagster_home: Path, memory_limit: str,
              as_of: date | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CS_AS_OF_DATE", None)
    env.update({
        "CS_RAW_DIR": str(raw),
        "CS_WAREHOUSE_DIR": str(warehouse),
        "DAGSTER_HOME": str(dagster_home),
        "CS_DUCKDB_MEMORY_LIMIT": memory_limit,
        "PYTHONUNBUFFERED": "1",
    })
    if as_of is not None:
        env["CS_AS_OF_DATE"] = as_of.isoformat()
    return env


def _require(run: StageRun, what: str) -> None:
    if run.returncode != 0 or run.report is None:
        raise BenchError(
            f"{what} failed (exit code {run.returncode}{', ' + run.stopped if run.stopped else ''}); "
            f"log {run.log}:\n{run.log_tail()}"
        )
    failures = run.report.get("failures")
    if failures:
        raise BenchError(f"{what}: failed steps {failures}")


def floor_figures(run: StageRun) -> dict[str, Any]:
    return {
        "seconds": run.report["work_seconds"],
        "process_seconds": run.wall_seconds,
        "peak_rss_mb": run.peak_rss_mb,
    }


def pipeline_figures(run: StageRun) -> dict[str, Any]:
    """Wall time of the pipeline process, split into its stages (they add up to the total),
    with the peak memory of each stage's time window."""
    report = run.report
    seconds = dict.fromkeys(PIPELINE_STAGES, 0.0)
    windows: dict[str, list[tuple[float, float]]] = {s: [] for s in PIPELINE_STAGES}
    seconds["startup"] = report["ready"] - run.spawned
    windows["startup"].append((run.spawned, report["ready"]))
    starts = [step["start"] for step in report["steps"] if step["start"] is not None]
    first_step = min(starts, default=report["job_end"])
    seconds["run_start"] = first_step - report["ready"]
    windows["run_start"].append((report["ready"], first_step))
    for step in report["steps"]:
        if step["start"] is None or step["end"] is None:
            continue
        stage = step["stage"] if step["stage"] in seconds else "other"
        seconds[stage] += step["end"] - step["start"]
        windows[stage].append((step["start"], step["end"]))
    seconds["other"] = run.wall_seconds - sum(v for k, v in seconds.items() if k != "other")
    peaks = {
        stage: max((p for a, b in spans if (p := run.peak_between(a, b)) is not None), default=None)
        for stage, spans in windows.items()
    }
    dbt_nodes = report.get("dbt_nodes", [])
    dbt_node_seconds = sum(n["seconds"] for n in dbt_nodes)
    return {
        "seconds": run.wall_seconds,
        "stages": seconds,
        "stage_peak_rss_mb": peaks,
        "peak_rss_mb": run.peak_rss_mb,
        "largest_process_rss_mb": run.largest_process_rss_mb,
        "dbt_node_seconds": dbt_node_seconds,
        "dbt_outside_nodes_seconds": seconds["dbt_build"] - dbt_node_seconds,
        "dbt_nodes": len(dbt_nodes),
        "slowest_dbt_nodes": sorted(dbt_nodes, key=lambda n: -n["seconds"])[:10],
        "steps": len(report["steps"]),
        "slowest_steps": sorted(
            ({"step": st["step"], "stage": st["stage"], "seconds": st["end"] - st["start"]}
             for st in report["steps"] if st["start"] is not None and st["end"] is not None),
            key=lambda st: -st["seconds"],
        )[:10],
    }


# ================================================================== baseline == marts


BASELINE_DATE_COLUMNS = {"month", "period_start", "period_end"}
# figure -> (baseline file, mart query, key, {column: tolerance, None = exactly equal})
COMPARISONS = {
    "mrr_movements": (
        "mrr_movements.parquet",
        "select * from marts.fct_mrr_movements",
        ["account_id", "month"],
        {"movement": None, "start_mrr": CENT, "new_mrr": CENT, "reactivation_mrr": CENT,
         "expansion_mrr": CENT, "contraction_mrr": CENT, "churn_mrr": CENT, "end_mrr": CENT},
    ),
    "retention_quarterly": (
        "retention_quarterly.parquet",
        "select * from marts.metrics_retention where period_type = 'quarter' and slice_type = 'all'",
        ["period_start"],
        {"period_end": None, "starting_arr": CENT, "ending_arr": CENT, "grr": RATIO_TOLERANCE,
         "nrr": RATIO_TOLERANCE, "logo_churn_rate": RATIO_TOLERANCE},
    ),
    "dau_mau_monthly": (
        "dau_mau_monthly.parquet",
        "select *, mean_dau_last_28_days as mean_dau, stickiness_dau_mau as dau_mau "
        "from marts.fct_account_adoption_monthly where mau > 0",
        ["account_id", "month"],
        {"mau": None, "mean_dau": RATIO_TOLERANCE, "dau_mau": RATIO_TOLERANCE},
    ),
}


def _baseline_column(column: str) -> str:
    """pandas writes dates as timestamps: compare them as dates."""
    return f"cast(b.{column} as date)" if column in BASELINE_DATE_COLUMNS else f"b.{column}"


def compare_with_marts(baseline_dir: Path, published_db: Path) -> dict[str, Any]:
    """Row by row, the baseline's figures against the published marts. Returns, per figure,
    the rows on each side and the mismatches (rows on one side only, or a value that differs
    by more than a cent / 1e-9, or NULL on one side only), with a few examples."""
    con = duckdb.connect()
    out: dict[str, Any] = {}
    try:
        con.execute(f"attach {literal(str(published_db))} as published (read_only)")
        con.execute("use published")
        for name, (file, mart_sql, keys, columns) in COMPARISONS.items():
            base = f"read_parquet({literal(str(baseline_dir / file))})"
            on = " and ".join(f"{_baseline_column(k)} = m.{k}" for k in keys)
            differs = []
            for col, tol in columns.items():
                if tol is None:
                    differs.append(f"{_baseline_column(col)} is distinct from m.{col}")
                else:
                    differs.append(
                        f"((b.{col} is null) <> (m.{col} is null) "
                        f"or abs(cast(b.{col} as double) - cast(m.{col} as double)) > {tol})"
                    )
            diff_sql = " or ".join(differs)
            first_key = keys[0]
            row = con.execute(
                f"""
                with b as (select * from {base}), m as ({mart_sql}),
                joined as (
                    select b.{first_key} is not null as in_b, m.{first_key} is not null as in_m,
                        coalesce({diff_sql}, false) as differs,
                        {", ".join(f"coalesce(cast(m.{k} as varchar), cast(b.{k} as varchar)) as {k}"
                                   for k in keys)}
                    from b full outer join m on {on}
                )
                select
                    count(*) filter (where in_b),
                    count(*) filter (where in_m),
                    count(*) filter (where in_m and not in_b),
                    count(*) filter (where in_b and not in_m),
                    count(*) filter (where in_b and in_m and differs),
                    list({" || ' ' || ".join(keys)} order by {", ".join(keys)})
                        filter (where not (in_b and in_m) or differs)
                from joined
                """
            ).fetchone()
            out[name] = {
                "baseline_rows": row[0], "mart_rows": row[1], "missing_in_baseline": row[2],
                "missing_in_marts": row[3], "differing": row[4], "examples": (row[5] or [])[:5],
            }
    finally:
        con.close()
    return out


def comparison_ok(comparison: dict[str, Any]) -> bool:
    return all(
        c["missing_in_baseline"] == 0 and c["missing_in_marts"] == 0 and c["differing"] == 0
        and c["mart_rows"] > 0
        for c in comparison.values()
    )


def published_max_usage_date(published_db: Path) -> date | None:
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        return con.execute("select max(usage_date) from marts.fct_account_usage_daily").fetchone()[0]
    finally:
        con.close()


# ============================================================================= measure


@dataclass
class Options:
    repeat: int = 3
    data_dir: Path = DEFAULT_DATA_DIR
    results_dir: Path | None = DEFAULT_RESULTS_DIR
    work_dir: Path | None = None  # default: <data_dir>/_runs
    memory_limit: str = memory_limit_setting()
    pandas_memory_cap_mb: float | None = None  # default: 75% of the machine's memory
    pandas_timeout: float | None = 3600.0
    dbt_select: str | None = None  # a subset of the dbt project (harness tests only)
    keep_runs: bool = False  # keep each run's folder (warehouse, logs, baseline figures)
    parse_dbt: bool = True  # `dbt parse` first, as `make run` does (not measured)
    command: str = ""


def _summary(values: list[float | None]) -> dict[str, Any]:
    vals = [v for v in values if v is not None]
    return {
        "median": statistics.median(vals) if vals else None,
        "min": min(vals) if vals else None,
        "max": max(vals) if vals else None,
        "runs": values,
    }


def machine() -> dict[str, Any]:
    mem_kb = 0
    model = platform.processor()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "cpu": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "commit": commit,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _default_pandas_cap_mb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 * 0.75
    except OSError:
        pass
    return 16 * 1024.0


def _dbt_parse() -> None:
    from orchestration.run import dbt_parse

    dbt_parse()


def _baseline_failed_for_memory(run: StageRun) -> bool:
    return bool(run.stopped) or "MemoryError" in run.log_tail(50)


def measure(profile: Profile, opts: Options, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure one profile ``opts.repeat`` times; returns (and writes) the results dict."""
    ds = prepare_dataset(profile, opts.data_dir, log, opts.memory_limit)
    work = Path(opts.work_dir or Path(opts.data_dir) / "_runs")
    cap = opts.pandas_memory_cap_mb or _default_pandas_cap_mb()
    log(f"[{profile.name}] {ds.events:,} usage events, {ds.files} files, "
        f"{ds.input_bytes / 2**20:,.1f} MB; next day {ds.next_day} (+{ds.next_day_events:,} events)")
    host = machine()
    if host["load_average_at_start"][0] > (host["cores"] or 1) * 0.5:
        log(f"[{profile.name}] warning: load average {host['load_average_at_start']} on "
            f"{host['cores']} cores; the machine is not idle, timings will be inflated")
    if opts.parse_dbt:
        _dbt_parse()  # the manifest the code location loads (not measured, as in `make run`)

    runs = []
    for i in range(1, opts.repeat + 1):
        run_dir = work / f"{profile.name}-{i}"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        warehouse, dagster_home, logs = run_dir / "warehouse", run_dir / "dagster_home", run_dir / "logs"
        for d in (warehouse, dagster_home, logs):
            d.mkdir(parents=True)
        # The instance settings of `make run` (its Dagster event log storage among them).
        shutil.copyfile(INSTANCE_SETTINGS, dagster_home / "dagster.yaml")
        env = stage_env(ds.raw, warehouse, dagster_home, opts.memory_limit)
        tag = f"[{profile.name} {i}/{opts.repeat}]"

        floor = run_stage(
            "floor",
            _python("-m", "orchestration.lib.bench_stages", "floor", "--raw", str(ds.raw),
                    "--memory-limit", opts.memory_limit, "--out", str(run_dir / "floor.json")),
            env, logs / "floor.log", run_dir / "floor.json",
        )
        _require(floor, "floor")
        log(f"{tag} floor {floor.report['work_seconds']:.2f} s")

        pipeline_argv = _python("-m", "orchestration.lib.bench_stages", "pipeline")
        if opts.dbt_select:
            pipeline_argv += ["--dbt-select", opts.dbt_select]
        full = run_stage("pipeline", pipeline_argv + ["--out", str(run_dir / "pipeline.json")],
                         env, logs / "pipeline.log", run_dir / "pipeline.json")
        _require(full, "pipeline (full refresh)")
        log(f"{tag} pipeline {full.wall_seconds:.2f} s, peak {full.peak_rss_mb:,.0f} MB")
        full_marts = mart_checksums(warehouse / PUBLISHED_DB_NAME)  # not timed

        baseline_out = run_dir / "baseline"
        pandas = run_stage(
            "pandas",
            _python(str(BASELINE_SCRIPT), "--raw", str(ds.raw), "--out", str(baseline_out)),
            env, logs / "pandas.log", rss_cap_mb=cap, timeout=opts.pandas_timeout,
        )
        if pandas.returncode == 0:
            comparison = compare_with_marts(baseline_out, warehouse / PUBLISHED_DB_NAME)
            if not comparison_ok(comparison):
                raise BenchError(
                    f"{profile.name}: the pandas baseline differs from the published marts "
                    f"(kept in {run_dir}):\n{json.dumps(comparison, indent=1, default=str)}"
                )
            pandas_status = "finished"
            log(f"{tag} pandas {pandas.wall_seconds:.2f} s, peak {pandas.peak_rss_mb:,.0f} MB; "
                f"equal to the marts")
        elif _baseline_failed_for_memory(pandas):
            comparison = None
            pandas_status = f"did not finish: {pandas.stopped or 'MemoryError'}"
            log(f"{tag} pandas {pandas_status} after {pandas.wall_seconds:.1f} s")
        else:
            raise BenchError(f"pandas baseline failed (exit code {pandas.returncode}); "
                             f"log {pandas.log}:\n{pandas.log_tail()}")

        if opts.keep_runs:  # the full run's marts, before the daily run replaces them
            shutil.copyfile(warehouse / PUBLISHED_DB_NAME, run_dir / FULL_RUN_PUBLISHED_COPY)
        incr_env = stage_env(ds.raw_next_day, warehouse, dagster_home, opts.memory_limit, ds.next_day)
        incremental = run_stage(
            "incremental", pipeline_argv + ["--out", str(run_dir / "incremental.json")],
            incr_env, logs / "incremental.log", run_dir / "incremental.json",
        )
        _require(incremental, "pipeline (incremental daily run)")
        latest = published_max_usage_date(warehouse / PUBLISHED_DB_NAME)
        if latest != ds.next_day:
            raise BenchError(f"incremental run: marts end on {latest}, expected {ds.next_day}")
        log(f"{tag} incremental {incremental.wall_seconds:.2f} s, peak "
            f"{incremental.peak_rss_mb:,.0f} MB")
        incremental_marts = mart_checksums(warehouse / PUBLISHED_DB_NAME)

        runs.append({
            "floor": floor_figures(floor),
            "pipeline": pipeline_figures(full),
            "pandas": {"seconds": pandas.wall_seconds, "peak_rss_mb": pandas.peak_rss_mb,
                       "status": pandas_status, "comparison": comparison},
            "incremental": pipeline_figures(incremental),
            "marts": {"pipeline": full_marts, "incremental": incremental_marts},
        })
        if not opts.keep_runs:
            shutil.rmtree(run_dir)

    result = summarize(profile, ds, runs, opts, host)
    if opts.results_dir is not None:
        opts.results_dir.mkdir(parents=True, exist_ok=True)
        path = opts.results_dir / f"{profile.name}-{result['date']}.json"
        path.write_text(json.dumps(result, indent=1, default=str))
        result["results_file"] = str(path)
        log(f"[{profile.name}] results: {path}")
    return result


def summarize(profile: Profile, ds: Dataset, runs: list[dict[str, Any]], opts: Options,
              host: dict[str, Any]) -> dict[str, Any]:
    def pipeline_summary(kind: str) -> dict[str, Any]:
        figures = [r[kind] for r in runs]
        return {
            "seconds": _summary([f["seconds"] for f in figures]),
            "peak_rss_mb": _summary([f["peak_rss_mb"] for f in figures]),
            "stages": {s: _summary([f["stages"][s] for f in figures]) for s in PIPELINE_STAGES},
            "stage_peak_rss_mb": {
                s: _summary([f["stage_peak_rss_mb"][s] for f in figures]) for s in PIPELINE_STAGES
            },
            "dbt_node_seconds": _summary([f["dbt_node_seconds"] for f in figures]),
            "dbt_outside_nodes_seconds": _summary([f["dbt_outside_nodes_seconds"] for f in figures]),
            "dbt_nodes": figures[-1]["dbt_nodes"],
            "slowest_dbt_nodes": figures[-1]["slowest_dbt_nodes"],
            "slowest_steps": figures[-1]["slowest_steps"],
        }

    floor = {
        "seconds": _summary([r["floor"]["seconds"] for r in runs]),
        "process_seconds": _summary([r["floor"]["process_seconds"] for r in runs]),
        "peak_rss_mb": _summary([r["floor"]["peak_rss_mb"] for r in runs]),
    }
    pandas_finished = all(r["pandas"]["status"] == "finished" for r in runs)
    pandas = {
        "seconds": _summary([r["pandas"]["seconds"] for r in runs]),
        "peak_rss_mb": _summary([r["pandas"]["peak_rss_mb"] for r in runs]),
        "finished": pandas_finished,
        "status": [r["pandas"]["status"] for r in runs],
        "equal_to_marts": pandas_finished and all(comparison_ok(r["pandas"]["comparison"]) for r in runs),
        "comparison": runs[-1]["pandas"]["comparison"],
    }
    result = {
        "profile": profile.name,
        "accounts": profile.accounts,
        "usage_scale": profile.usage_scale,
        "seed": profile.seed,
        "date": datetime.now(UTC).date().isoformat(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": opts.command,
        "repeat": len(runs),
        "duckdb_memory_limit": opts.memory_limit,
        "dbt_select": opts.dbt_select,
        "machine": host,
        "data": ds.as_dict(),
        "floor": floor,
        "pipeline": pipeline_summary("pipeline"),
        "pandas": pandas,
        "incremental": pipeline_summary("incremental"),
    }
    result["marts_across_runs"] = marts_across_runs([r["marts"] for r in runs])
    result["ratios"] = ratios(result)
    return result


def marts_across_runs(marts: list[dict[str, dict[str, tuple[int, str]]]]) -> dict[str, Any]:
    """Whether the repetitions published identical marts, per kind of run (``pipeline``: the
    full refreshes, ``incremental``: the daily runs). Each item of ``marts`` is one repetition's
    ``{kind: mart_checksums(...)}``. ``identical`` is None with fewer than two repetitions;
    ``differing_tables`` names every mart whose rows or checksum are not the same in all."""
    out = {}
    for kind in ("pipeline", "incremental"):
        per_run = [m[kind] for m in marts]
        tables = sorted(set().union(*per_run))
        differing = [t for t in tables if len({tuple(m.get(t, ())) for m in per_run}) > 1]
        out[kind] = {
            "runs": len(per_run),
            "tables": len(tables),
            "identical": None if len(per_run) < 2 else not differing,
            "differing_tables": differing,
            "fingerprints": [fingerprint(m) for m in per_run],
        }
    return out


def marts_identical(result: dict[str, Any]) -> bool | None:
    """True when every kind of run published identical marts in every repetition, False when
    any differed, None when not compared (one repetition, or a results file from before)."""
    kinds = (result.get("marts_across_runs") or {}).values()
    verdicts = [k["identical"] for k in kinds if k["identical"] is not None]
    return None if not verdicts else all(verdicts)


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    """The ratios and the targets of issue 8, from the medians of the result."""
    floor = result["floor"]["seconds"]["median"]
    pipeline = result["pipeline"]["seconds"]["median"]
    pandas = result["pandas"]["seconds"]["median"]
    incremental = result["incremental"]["seconds"]["median"]
    peak = max(result["pipeline"]["peak_rss_mb"]["max"], result["incremental"]["peak_rss_mb"]["max"])
    pipeline_budget = TARGET_PIPELINE_FLOOR_FACTOR * floor + TARGET_STARTUP_SECONDS
    pandas_over = pandas / pipeline
    finished = result["pandas"]["finished"]
    return {
        "pipeline_over_floor": pipeline / floor,
        "pipeline_budget_seconds": pipeline_budget,
        "pipeline_target_met": pipeline <= pipeline_budget,
        "pandas_over_pipeline": pandas_over,
        "pandas_over_pipeline_is_lower_bound": not finished,
        "pandas_target_met": (not finished) or pandas_over >= TARGET_PANDAS_FACTOR,
        "incremental_over_full": incremental / pipeline,
        "incremental_target_met": incremental / pipeline <= TARGET_INCREMENTAL_SHARE,
        "peak_rss_mb": peak,
        "peak_target_met": peak <= TARGET_PEAK_MB,
    }


def growth(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Between consecutive profiles (by events): each stage's time ratio against the data
    ratio. Time grows no faster than the data when the time ratio is at most the data ratio."""
    ordered = sorted(results, key=lambda r: r["data"]["events"])
    rows = []
    for small, big in zip(ordered, ordered[1:], strict=False):
        data_ratio = big["data"]["events"] / small["data"]["events"]
        bytes_ratio = big["data"]["input_bytes"] / small["data"]["input_bytes"]
        for stage in ("floor", "pipeline", "pandas", "incremental"):
            a = small[stage]["seconds"]["median"]
            b = big[stage]["seconds"]["median"]
            # a baseline stopped at the memory cap or the timeout has no time to compare
            stopped = stage == "pandas" and not (small["pandas"]["finished"] and big["pandas"]["finished"])
            rows.append({
                "from": small["profile"], "to": big["profile"], "stage": stage,
                "seconds_from": a, "seconds_to": b, "time_ratio": b / a,
                "data_ratio": data_ratio, "bytes_ratio": bytes_ratio,
                "no_faster_than_data": None if stopped else b / a <= data_ratio,
            })
    return rows


# =============================================================================== table


def _s(x: float | None) -> str:
    if x is None:
        return ""
    return f"{x:,.2f}" if x < 100 else f"{x:,.0f}"


def _mb(x: float | None) -> str:
    return "" if x is None else f"{x:,.0f}"


def _spread(summary: dict[str, Any]) -> str:
    if summary["min"] is None or len([v for v in summary["runs"] if v is not None]) < 2:
        return ""
    return f"{_s(summary['min'])} - {_s(summary['max'])}"


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def _stopped_runs(statuses: list[str]) -> str:
    """'did not finish: memory cap, 3 of 3 runs' from the runs' statuses (their figures left
    out: each run stopped at a slightly different size; the results file keeps them)."""
    stopped = [st.split(" (")[0] for st in statuses if st != "finished"]
    kinds = "; ".join(sorted(set(stopped)))
    return f"{kinds}, {len(stopped)} of {len(statuses)} runs"


def _idempotence_row(r: dict[str, Any]) -> list[str]:
    across = r.get("marts_across_runs")
    verdict = marts_identical(r)
    if verdict is None:
        value = "not compared" + (" (one repetition)" if across else "")
    elif verdict:
        value = (f"identical ({across['pipeline']['tables']} marts, "
                 f"{across['pipeline']['runs']} full + {across['incremental']['runs']} daily runs)")
    else:
        value = "DIFFERENT: " + "; ".join(
            f"{kind} {', '.join(k['differing_tables'])}" for kind, k in across.items()
            if k["differing_tables"])
    return ["marts across repetitions", value, "identical (same inputs)",
            "" if verdict is None else _yes(verdict)]


def render(results: Sequence[dict[str, Any]]) -> str:
    """The Markdown tables: per profile the stages and the ratios, then the growth."""
    from tabulate import tabulate

    parts = []
    for r in results:
        d = r["data"]
        m = r["machine"]
        head = (
            f"### {r['profile']}: {r['accounts']:,} accounts, {d['events']:,} usage events, "
            f"{d['files']} files, {d['input_bytes'] / 2**20:,.1f} MB\n\n"
            f"{r['measured_at']}, {m['cores']} cores, {m['memory_gb']} GB ({m['cpu']}), "
            f"load average at start {m['load_average_at_start'][0]}; median of {r['repeat']}; "
            f"DuckDB memory limit {r['duckdb_memory_limit']}"
            + (f"; dbt subset `{r['dbt_select']}`" if r.get("dbt_select") else "")
            + (f"\n\n`{r['command']}`" if r.get("command") else "")
        )
        rows = []
        fl = r["floor"]
        rows.append(["floor: one DuckDB pass over every file", _s(fl["seconds"]["median"]),
                     _spread(fl["seconds"]), _mb(fl["peak_rss_mb"]["max"])])
        for kind, title in (("pipeline", "pipeline: full refresh"),
                            ("incremental", f"incremental: +1 day ({d['next_day']})")):
            p = r[kind]
            rows.append([title, _s(p["seconds"]["median"]), _spread(p["seconds"]),
                         _mb(p["peak_rss_mb"]["max"])])
            for stage in PIPELINE_STAGES:
                rows.append([f"- {STAGE_LABELS[stage]}", _s(p["stages"][stage]["median"]),
                             _spread(p["stages"][stage]), _mb(p["stage_peak_rss_mb"][stage]["max"])])
                if stage == "dbt_build":
                    rows.append(["- - of which outside any dbt node (dbt start-up, compile)",
                                 _s(p["dbt_outside_nodes_seconds"]["median"]),
                                 _spread(p["dbt_outside_nodes_seconds"]), ""])
            if kind == "pipeline":
                pd_ = r["pandas"]
                status = "" if pd_["finished"] else f" ({_stopped_runs(pd_['status'])})"
                rows.append([f"pandas notebook baseline{status}", _s(pd_["seconds"]["median"]),
                             _spread(pd_["seconds"]), _mb(pd_["peak_rss_mb"]["max"])])
        table = tabulate(rows, headers=["stage", "seconds", "min - max", "peak RSS MB"],
                         tablefmt="github", disable_numparse=True, colalign=("left", "right", "right", "right"))
        q = r["ratios"]
        lower = ">= " if q["pandas_over_pipeline_is_lower_bound"] else ""
        equal = r["pandas"]["equal_to_marts"]
        ratio_rows = [
            ["pipeline / floor", f"{q['pipeline_over_floor']:.1f}x",
             f"pipeline <= 3 x floor + 15 s = {_s(q['pipeline_budget_seconds'])} s",
             _yes(q["pipeline_target_met"])],
            ["pandas / pipeline", f"{lower}{q['pandas_over_pipeline']:.2f}x",
             ">= 10x (or out of memory)", _yes(q["pandas_target_met"])],
            ["incremental / full", f"{q['incremental_over_full']:.2f}",
             "<= 0.10", _yes(q["incremental_target_met"])],
            ["peak memory (pipeline runs)", f"{q['peak_rss_mb']:,.0f} MB", "<= 4,096 MB",
             _yes(q["peak_target_met"])],
            ["pandas figures = marts", "equal" if equal else
             ("not compared" if not r["pandas"]["finished"] else "DIFFERENT"),
             "MRR movements, quarterly GRR/NRR, DAU/MAU", _yes(equal or not r["pandas"]["finished"])],
            _idempotence_row(r),
        ]
        ratio_table = tabulate(ratio_rows, headers=["ratio", "value", "target (at medium)", "met"],
                               tablefmt="github", disable_numparse=True)
        inc = r["incremental"]
        steps = ", ".join(f"{st['step']} {st['seconds']:.1f} s" for st in inc.get("slowest_steps", [])[:5])
        nodes = ", ".join(f"{n['node'].split('/')[-1]} {n['seconds']:.1f} s"
                          for n in inc["slowest_dbt_nodes"][:5])
        parts.append(f"{head}\n\n{table}\n\n{ratio_table}\n\n"
                     f"Incremental run, slowest steps: {steps or 'n/a'}; "
                     f"slowest dbt nodes: {nodes or 'n/a'}.")
    rows = growth(results)
    if rows:
        grow = tabulate(
            [[f"{g['from']} -> {g['to']}", g["stage"], _s(g["seconds_from"]), _s(g["seconds_to"]),
              f"{g['time_ratio']:.2f}", f"{g['data_ratio']:.2f}",
              "n/a (did not finish)" if g["no_faster_than_data"] is None else _yes(g["no_faster_than_data"])]
             for g in rows],
            headers=["profiles", "stage", "seconds from", "seconds to", "time ratio",
                     "data ratio (events)", "time grows no faster"],
            tablefmt="github", disable_numparse=True,
        )
        parts.append("### growth\n\n" + grow)
    return "\n\n".join(parts)


# ================================================================================ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Benchmark the pipeline against a DuckDB floor and a pandas notebook, "
        "per scale profile (benchmarks/README.md).",
    )
    parser.add_argument("--profile", default="small",
                        help=f"profile or comma-separated profiles: {', '.join(PROFILES)} (default small)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage; the median is "
                        "reported (default 3)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="cache of generated companies (default data/bench)")
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS_DIR,
                        help="where <profile>-<date>.json is written (default benchmarks/results)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="warehouses of the runs (default <data-dir>/_runs; removed after "
                        "each run unless --keep-runs)")
    parser.add_argument("--memory-limit", default=Options.memory_limit,
                        help="DuckDB memory limit of the pipeline and the floor "
                        f"(default $CS_DUCKDB_MEMORY_LIMIT or {DEFAULT_MEMORY_LIMIT}, as the pipeline)")
    parser.add_argument("--pandas-memory-cap-gb", type=float, default=None,
                        help="stop the pandas baseline above this resident memory and report it "
                        "as unable to finish (default 75%% of the machine's memory)")
    parser.add_argument("--pandas-timeout", type=float, default=3600.0,
                        help="stop the pandas baseline after this many seconds (default 3600)")
    parser.add_argument("--dbt-select", default=None,
                        help="build only these dbt models and their parents (harness tests only; "
                        "the figures are then not the pipeline's)")
    parser.add_argument("--keep-runs", action="store_true", help="keep warehouses and logs")
    parser.add_argument("--report", nargs="+", type=Path, metavar="RESULTS_JSON",
                        help="print the tables of earlier results files instead of measuring")
    args = parser.parse_args(argv)

    if args.report:
        print(render([json.loads(p.read_text()) for p in args.report]))
        return 0
    names = [n.strip() for n in args.profile.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROFILES]
    if unknown:
        parser.error(f"unknown profile {', '.join(unknown)}; choose from {', '.join(PROFILES)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    opts = Options(
        repeat=args.repeat, data_dir=args.data_dir, results_dir=args.results_dir,
        work_dir=args.work_dir, memory_limit=args.memory_limit,
        pandas_memory_cap_mb=args.pandas_memory_cap_gb * 1024 if args.pandas_memory_cap_gb else None,
        pandas_timeout=args.pandas_timeout or None, dbt_select=args.dbt_select,
        keep_runs=args.keep_runs,
        command=shlex.join(["python", "-m", "benchmarks.bench",
                            *(argv if argv is not None else sys.argv[1:])]),
    )
    try:
        results = [measure(PROFILES[n], opts, log=lambda m: print(m, flush=True)) for n in names]
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print()
    print(render(results))
    differing = [r["profile"] for r in results if marts_identical(r) is False]
    if differing:
        print(f"benchmark failed: the repetitions published different marts from the same inputs "
              f"({', '.join(differing)}; marts_across_runs in the results file)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
