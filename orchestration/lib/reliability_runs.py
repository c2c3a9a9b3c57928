"""Reliability scenarios run against the real pipeline: a refresh killed during extract, during
dbt and during publish; two refreshes started at once; ten analysts reading the published file
while a refresh runs. Each scenario returns a ``ScenarioRow`` (scenario, outcome, published
file intact, details) for the reliability report, and a result object the tests assert on
(tests/test_killed_runs.py).

Every refresh here is ``python -m orchestration.run`` (what ``make run`` executes) in a
subprocess, on an ephemeral Dagster instance, with ``CS_RAW_DIR`` and ``CS_WAREHOUSE_DIR``
pointing at a copy of a baseline warehouse (one uninterrupted run's ``build.duckdb`` and
``cs_metrics.duckdb``). A run is stopped at a point with the test hook ``CS_TEST_PAUSE_AT``
(``orchestration/lib/killpoints.py``) and killed there with SIGKILL (the Python process only,
as the out-of-memory killer would: a dbt it started lives on as an orphan).

"Same result as an uninterrupted run" compares every table of schema ``marts``: row count and
an order-independent checksum (the sum of the rows' hashes), computed in DuckDB. No mart column
depends on when the run happened (README, Idempotent), so no column is left out
(``RUN_DEPENDENT_COLUMNS`` in ``orchestration/lib/mart_checksums.py``).

Costly: a killed scenario is a partial run plus a full one. With 40 accounts a full run takes
1-2 minutes on a quiet 2-core machine.

    python -m orchestration.lib.reliability_runs [--work DIR] [--raw DIR] [--only kill_dbt,...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from orchestration.lib.killpoints import PAUSE_ENV, PAUSE_SECONDS_ENV, marker_path
from orchestration.lib.mart_checksums import fingerprint, mart_checksums
from orchestration.lib.runlock import LOCK_FILE_NAME, is_running, read_holder
from orchestration.lib.warehouse import BUILD_DB_NAME, PUBLISHED_DB_NAME, REPO_ROOT

RUN_TIMEOUT_SECONDS = float(os.environ.get("CS_RELIABILITY_RUN_TIMEOUT", "3600"))
PAUSE_TIMEOUT_SECONDS = float(os.environ.get("CS_RELIABILITY_PAUSE_TIMEOUT", "1800"))
EXIT_REFRESH_RUNNING = 75  # orchestration.run


@dataclass(frozen=True)
class ScenarioRow:
    scenario: str
    outcome: str
    published_intact: bool
    details: str

    def as_dict(self) -> dict[str, str]:
        return {"scenario": self.scenario, "outcome": self.outcome,
                "published intact": "yes" if self.published_intact else "no", "details": self.details}


# --- the published file ------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class PublishedState:
    """The published file as an analyst finds it."""

    sha256: str
    checksums: dict[str, tuple[int, str]]
    query_rows: int  # rows of the README's retention query (read-only connection)
    error: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.checksums)


def published_state(db: Path) -> PublishedState:
    try:
        sha = sha256_file(db)
        checksums = mart_checksums(db)
        con = duckdb.connect(str(db), read_only=True)
        try:
            rows = con.execute(
                "select period_start, grr, nrr, logo_churn_rate from marts.metrics_retention "
                "where period_type = 'month' and slice_type = 'all' order by period_start"
            ).fetchall()
        finally:
            con.close()
        return PublishedState(sha, checksums, len(rows))
    except Exception as exc:  # a broken file is the finding, not a crash of the report
        return PublishedState("", {}, 0, f"{type(exc).__name__}: {exc}")


def intact(before: PublishedState, after: PublishedState) -> bool:
    return (not after.error and after.sha256 == before.sha256
            and after.checksums == before.checksums and after.query_rows > 0)


def leftover_temporaries(warehouse_dir: Path) -> list[str]:
    return sorted(p.name for p in warehouse_dir.glob(f".{PUBLISHED_DB_NAME}.*.tmp"))


# --- refreshes in a subprocess -------------------------------------------------------------------

def refresh_env(raw_dir: Path, warehouse_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DAGSTER_HOME", PAUSE_ENV, PAUSE_SECONDS_ENV, "CS_RUN_LOCK_WAIT_SECONDS")}
    env.update(CS_RAW_DIR=str(raw_dir), CS_WAREHOUSE_DIR=str(warehouse_dir))
    env.update(extra or {})
    return env


def start_refresh(
    raw_dir: Path, warehouse_dir: Path, log_path: Path,
    pause_at: str | None = None, extra_env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """``python -m orchestration.run`` (``make run``) in the background, output to ``log_path``."""
    extra = dict(extra_env or {})
    if pause_at:
        extra[PAUSE_ENV] = pause_at
    log = open(log_path, "w")  # noqa: SIM115 (closed when the process is reaped, finish())
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestration.run"], cwd=REPO_ROOT,
        env=refresh_env(raw_dir, warehouse_dir, extra), stdout=log, stderr=subprocess.STDOUT,
    )
    proc.log_file = log  # type: ignore[attr-defined]
    proc.log_path = log_path  # type: ignore[attr-defined]
    proc.started = time.monotonic()  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen, timeout: float = RUN_TIMEOUT_SECONDS) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    finally:
        proc.ended = time.monotonic()  # type: ignore[attr-defined]
        proc.log_file.close()  # type: ignore[attr-defined]


def completed(proc: subprocess.Popen) -> CompletedRefresh:
    """A finished refresh: status, seconds from start to end, its log."""
    return CompletedRefresh(proc.returncode, proc.ended - proc.started, proc.log_path)  # type: ignore[attr-defined]


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_for_pause(proc: subprocess.Popen, warehouse_dir: Path, point: str,
                   timeout: float = PAUSE_TIMEOUT_SECONDS) -> float:
    """Seconds until the refresh reached ``point``; raises when it ended or never got there."""
    marker = marker_path(warehouse_dir, point)
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"the refresh ended (status {proc.returncode}) before reaching {point}:\n"
                               + log_tail(proc.log_path))  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError(f"the refresh did not reach {point} in {timeout:g} s")
        time.sleep(0.1)
    return time.monotonic() - proc.started  # type: ignore[attr-defined]


def kill9(proc: subprocess.Popen, warehouse_dir: Path | None = None) -> None:
    """SIGKILL the refresh process (only it: a dbt it started lives on). Removes the test
    hook's pause marker, which the killed process can no longer remove."""
    os.kill(proc.pid, signal.SIGKILL)
    finish(proc, timeout=60)
    if warehouse_dir is not None:
        for marker in Path(warehouse_dir).glob(".paused-at-*"):
            marker.unlink()


@dataclass
class CompletedRefresh:
    returncode: int
    seconds: float
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def run_refresh(raw_dir: Path, warehouse_dir: Path, log_path: Path,
                extra_env: dict[str, str] | None = None) -> CompletedRefresh:
    proc = start_refresh(raw_dir, warehouse_dir, log_path, extra_env=extra_env)
    finish(proc)
    return completed(proc)


# --- the baseline --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Baseline:
    """One uninterrupted run: its warehouse folder (copied for each scenario) and its marts."""

    raw_dir: Path
    warehouse_dir: Path
    state: PublishedState

    @classmethod
    def from_warehouse(cls, raw_dir: Path, warehouse_dir: Path) -> Baseline:
        state = published_state(Path(warehouse_dir) / PUBLISHED_DB_NAME)
        if state.error:
            raise RuntimeError(f"baseline {warehouse_dir}: {state.error}")
        return cls(Path(raw_dir), Path(warehouse_dir), state)

    @classmethod
    def build(cls, raw_dir: Path, work_dir: Path) -> Baseline:
        warehouse = Path(work_dir) / "baseline"
        warehouse.mkdir(parents=True, exist_ok=True)
        done = run_refresh(raw_dir, warehouse, Path(work_dir) / "baseline.log")
        if done.returncode != 0:
            raise RuntimeError("the baseline refresh failed:\n" + log_tail(done.log_path))
        return cls.from_warehouse(raw_dir, warehouse)

    def copy_to(self, warehouse_dir: Path) -> Path:
        """The baseline's build and published files in a fresh folder, as the morning after."""
        warehouse_dir.mkdir(parents=True)
        for name in (BUILD_DB_NAME, PUBLISHED_DB_NAME):
            shutil.copy2(self.warehouse_dir / name, warehouse_dir / name)
        return warehouse_dir


# --- killed runs ---------------------------------------------------------------------------------

@dataclass
class KilledRun:
    point: str
    killed_pid: int
    seconds_to_point: float
    before: PublishedState
    after_kill: PublishedState
    leftovers_after_kill: list[str]
    orphans_after_kill: list[int]  # children the killed run recorded that were still running
    rerun: CompletedRefresh
    after_rerun: PublishedState
    leftovers_after_rerun: list[str]
    orphans_after_rerun: list[int]
    uninterrupted: PublishedState
    kill_log: Path

    @property
    def published_intact(self) -> bool:
        return intact(self.before, self.after_kill)

    @property
    def rerun_matches_uninterrupted(self) -> bool:
        return (self.rerun.returncode == 0 and not self.after_rerun.error
                and self.after_rerun.checksums == self.uninterrupted.checksums)

    def row(self) -> ScenarioRow:
        if not self.published_intact:
            outcome = "PUBLISHED FILE CHANGED by the killed run"
        else:
            rerun = ("succeeded" if self.rerun.returncode == 0
                     else f"FAILED (status {self.rerun.returncode})")
            same = "identical to" if self.rerun_matches_uninterrupted else "DIFFERENT from"
            outcome = (f"published file unchanged; next run {rerun} in {self.rerun.seconds:.0f} s, "
                       f"marts {same} an uninterrupted run")
        details = [
            f"kill -9 of the refresh (pid {self.killed_pid}) {self.seconds_to_point:.0f} s after its start",
            f"sha256 {'unchanged' if self.after_kill.sha256 == self.before.sha256 else 'CHANGED'} "
            f"({self.before.sha256[:12]})",
            f"opens read-only, retention query {self.after_kill.query_rows} rows"
            if not self.after_kill.error else f"open failed: {self.after_kill.error}",
            f"{len(self.uninterrupted.checksums)} mart tables compared",
            "left behind: " + (", ".join(self.leftovers_after_kill) or "no temporary file")
            + "".join(f", orphaned dbt pid {p}" for p in self.orphans_after_kill),
            "after the next run: " + (", ".join(self.leftovers_after_rerun) or "no temporary file")
            + (", orphan still running" if self.orphans_after_rerun else ""),
        ]
        return ScenarioRow(f"killed during {self.point}", outcome, self.published_intact, "; ".join(details))


def _recorded_children(warehouse_dir: Path) -> list[int]:
    holder = read_holder(warehouse_dir / LOCK_FILE_NAME)
    return [c["pid"] for c in holder.get("children", []) if isinstance(c.get("pid"), int)]


def killed_run(baseline: Baseline, point: str, work_dir: Path,
               extra_env: dict[str, str] | None = None) -> KilledRun:
    """Kill a refresh at ``point`` (extract, dbt, publish), then run the next refresh."""
    warehouse = baseline.copy_to(Path(work_dir) / f"killed_{point}")
    published = warehouse / PUBLISHED_DB_NAME
    before = published_state(published)
    kill_log = Path(work_dir) / f"killed_{point}.log"
    proc = start_refresh(baseline.raw_dir, warehouse, kill_log, pause_at=point, extra_env=extra_env)
    seconds = wait_for_pause(proc, warehouse, point)
    children = _recorded_children(warehouse)
    kill9(proc, warehouse)
    after_kill = published_state(published)
    leftovers = leftover_temporaries(warehouse)
    orphans = [pid for pid in children if is_running(pid)]
    rerun = run_refresh(baseline.raw_dir, warehouse, Path(work_dir) / f"killed_{point}_rerun.log",
                        extra_env=extra_env)
    return KilledRun(
        point, proc.pid, seconds, before, after_kill, leftovers, orphans, rerun, published_state(published),
        leftover_temporaries(warehouse), [pid for pid in orphans if is_running(pid)],
        baseline.state, kill_log,
    )


# --- two refreshes at once -----------------------------------------------------------------------

@dataclass
class TwoAtOnce:
    first_pid: int
    second: CompletedRefresh
    second_waited: bool
    before: PublishedState
    while_first_ran: PublishedState
    first_returncode: int | None  # None: the first was killed instead of finishing
    after: PublishedState
    uninterrupted: PublishedState
    build_opens: bool

    @property
    def second_refused(self) -> bool:
        return (self.second.returncode == EXIT_REFRESH_RUNNING
                and "another refresh is running (pid " in self.second.log and "try again later" in self.second.log)

    @property
    def published_intact(self) -> bool:
        return intact(self.before, self.while_first_ran)

    def row(self) -> ScenarioRow:
        message = next((line.strip() for line in self.second.log.splitlines()
                        if "another refresh is running" in line), "")
        if self.second_waited:
            outcome = ("second waited for the first, then ran: "
                       + ("both succeeded" if self.second.returncode == 0 and self.first_returncode == 0
                          else f"status first {self.first_returncode}, second {self.second.returncode}"))
        else:
            outcome = (f"second refused in {self.second.seconds:.0f} s (status {self.second.returncode})"
                       if self.second_refused else f"second NOT refused (status {self.second.returncode})")
            outcome += ("; first went on and succeeded" if self.first_returncode == 0
                        else "; first killed afterwards" if self.first_returncode is None
                        else f"; first FAILED (status {self.first_returncode})")
        same = self.after.checksums == self.uninterrupted.checksums
        details = [
            f"message: {message}" if message else "no refusal message",
            "published file unchanged while the first ran" if self.published_intact
            else "PUBLISHED FILE CHANGED while the first ran",
            "build.duckdb opens" if self.build_opens else "BUILD.DUCKDB DOES NOT OPEN",
            "final marts identical to an uninterrupted run" if same else "final marts DIFFER",
        ]
        return ScenarioRow("two refreshes at once" + (" (second waits)" if self.second_waited else ""),
                           outcome, self.published_intact and not self.after.error, "; ".join(details))


def two_at_once(baseline: Baseline, work_dir: Path, second_waits: bool = False,
                finish_first: bool = True) -> TwoAtOnce:
    """Start a refresh, and while it is loading start a second one on the same warehouse.

    ``second_waits``: the second waits for the lock (``CS_RUN_LOCK_WAIT_SECONDS``) instead of
    refusing at once. ``finish_first=False`` kills the first once the second has been refused
    (cheaper: no full run)."""
    name = "two_at_once_wait" if second_waits else "two_at_once"
    warehouse = baseline.copy_to(Path(work_dir) / name)
    published = warehouse / PUBLISHED_DB_NAME
    before = published_state(published)
    first = start_refresh(baseline.raw_dir, warehouse, Path(work_dir) / f"{name}_first.log", pause_at="extract")
    wait_for_pause(first, warehouse, "extract")
    extra = {"CS_RUN_LOCK_WAIT_SECONDS": str(RUN_TIMEOUT_SECONDS)} if second_waits else {}
    second_proc = start_refresh(baseline.raw_dir, warehouse, Path(work_dir) / f"{name}_second.log",
                                extra_env=extra)
    if second_waits:
        log = second_proc.log_path  # type: ignore[attr-defined]
        deadline = time.monotonic() + PAUSE_TIMEOUT_SECONDS
        while "waiting up to" not in log.read_text(errors="replace"):
            if second_proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    else:
        finish(second_proc)
    while_first_ran = published_state(published)
    if finish_first or second_waits:
        marker_path(warehouse, "extract").unlink()  # let the first go on
        first_code: int | None = finish(first)
    else:
        kill9(first, warehouse)
        first_code = None
    if second_waits:
        finish(second_proc)
    second = completed(second_proc)
    try:
        duckdb.connect(str(warehouse / BUILD_DB_NAME), read_only=True).close()
        build_opens = True
    except duckdb.Error:
        build_opens = False
    return TwoAtOnce(first.pid, second, second_waits, before, while_first_ran, first_code,
                     published_state(published), baseline.state, build_opens)


# --- analysts reading during a run ---------------------------------------------------------------

READER = textwrap.dedent(
    """
    import json, os, sys, time
    import duckdb
    from orchestration.lib.mart_checksums import fingerprint, read_checksums
    db, out, stop, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    with open(out, "w") as fh:
        while not os.path.exists(stop):
            started = time.time()
            try:
                con = duckdb.connect(db, read_only=True, config={"threads": 1})
                try:
                    state = fingerprint(read_checksums(con))
                finally:
                    con.close()
                fh.write(json.dumps({"t": started, "state": state}) + "\\n")
            except Exception as exc:
                fh.write(json.dumps({"t": started, "error": f"{type(exc).__name__}: {exc}"}) + "\\n")
            fh.flush()
            time.sleep(pause)
    """
)


@dataclass
class ReadersDuringRun:
    readers: int
    old: str
    new: str
    run: CompletedRefresh
    observations: list[list[dict]] = field(default_factory=list)  # per reader, in order
    before: PublishedState | None = None
    after: PublishedState | None = None

    @property
    def errors(self) -> list[str]:
        return [o["error"] for obs in self.observations for o in obs if "error" in o]

    @property
    def states(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for obs in self.observations:
            for o in obs:
                if "state" in o:
                    counts[o["state"]] = counts.get(o["state"], 0) + 1
        return counts

    @property
    def unknown_states(self) -> list[str]:
        return [s for s in self.states if s not in (self.old, self.new)]

    @property
    def went_back(self) -> int:
        """Readers that saw the new marts and then the old ones again."""
        back = 0
        for obs in self.observations:
            seen = [o["state"] for o in obs if "state" in o]
            if self.new in seen and self.old in seen[seen.index(self.new):]:
                back += 1
        return back

    def row(self) -> ScenarioRow:
        states = self.states
        ok = (not self.errors and not self.unknown_states and not self.went_back
              and self.run.returncode == 0 and self.old != self.new)
        outcome = (f"{self.readers} readers, {sum(states.values())} queries during a "
                   f"{self.run.seconds:.0f} s run: {len(self.errors)} errors, "
                   f"{len(self.unknown_states)} mixed or unknown states")
        details = (f"old marts seen {states.get(self.old, 0)} times, new marts {states.get(self.new, 0)} "
                   f"times; readers that went back from new to old: {self.went_back}; every query over "
                   f"all {len(self.before.checksums) if self.before else '?'} mart tables on a fresh "
                   "read-only connection; run status " + str(self.run.returncode))
        if self.errors:
            details += "; first error: " + self.errors[0][:200]
        return ScenarioRow(f"{self.readers} analysts reading during a run", outcome + ("" if ok else " (FAILED)"),
                           ok, details)


def readers_during_run(baseline: Baseline, work_dir: Path, readers: int = 10,
                       extra_env: dict[str, str] | None = None, pause_seconds: float = 1.0) -> ReadersDuringRun:
    """``readers`` processes query the published file in a loop while a refresh with different
    inputs (by default the reporting date a week earlier) runs and publishes. Each query opens
    a fresh read-only connection (one DuckDB thread) and checksums every mart table; a reader
    pauses ``pause_seconds`` between queries (ten readers without a pause would take the CPU
    from the run they watch)."""
    warehouse = baseline.copy_to(Path(work_dir) / "readers")
    published = warehouse / PUBLISHED_DB_NAME
    if extra_env is None:
        con = duckdb.connect(str(published), read_only=True)
        try:
            as_of: date = con.execute("select max(as_of_date) from marts.dim_accounts").fetchone()[0]
        finally:
            con.close()
        extra_env = {"CS_AS_OF_DATE": (as_of - timedelta(days=7)).isoformat()}
    before = published_state(published)
    stop = Path(work_dir) / "readers.stop"
    stop.unlink(missing_ok=True)
    outs = [Path(work_dir) / f"reader_{i}.jsonl" for i in range(readers)]
    procs = [subprocess.Popen([sys.executable, "-c", READER, str(published), str(out), str(stop),
                               str(pause_seconds)],
                              cwd=REPO_ROOT, stderr=subprocess.DEVNULL) for out in outs]
    try:
        deadline = time.monotonic() + 120
        while not all(out.exists() and out.stat().st_size for out in outs) and time.monotonic() < deadline:
            time.sleep(0.2)  # every reader has seen the old file
        run = run_refresh(baseline.raw_dir, warehouse, Path(work_dir) / "readers_run.log", extra_env=extra_env)
        time.sleep(5)  # and the new one
    finally:
        stop.touch()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    after = published_state(published)
    observations = [[json.loads(line) for line in out.read_text().splitlines() if line.strip()] for out in outs]
    return ReadersDuringRun(readers, before.fingerprint, after.fingerprint, run, observations, before, after)


# --- everything, for the report ------------------------------------------------------------------

SCENARIOS: dict[str, Callable[[Baseline, Path], ScenarioRow]] = {
    "kill_extract": lambda b, w: killed_run(b, "extract", w).row(),
    "kill_dbt": lambda b, w: killed_run(b, "dbt", w).row(),
    "kill_publish": lambda b, w: killed_run(b, "publish", w).row(),
    "two_at_once": lambda b, w: two_at_once(b, w).row(),
    "two_at_once_wait": lambda b, w: two_at_once(b, w, second_waits=True).row(),
    "readers": lambda b, w: readers_during_run(b, w).row(),
}


def run_scenarios(raw_dir: Path, work_dir: Path, only: list[str] | None = None,
                  baseline: Baseline | None = None) -> list[ScenarioRow]:
    """The rows of the reliability report. Builds the baseline (one uninterrupted run) unless
    given one; each scenario works in its own folder under ``work_dir``."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    baseline = baseline or Baseline.build(raw_dir, work_dir)
    rows = []
    for name in only or list(SCENARIOS):
        try:
            rows.append(SCENARIOS[name](baseline, work_dir))
        except Exception as exc:
            rows.append(ScenarioRow(name, f"scenario did not complete: {type(exc).__name__}", False,
                                    str(exc)[:500]))
    return rows


def format_rows(rows: list[ScenarioRow]) -> str:
    lines = ["| scenario | outcome | published intact | details |", "|---|---|---|---|"]
    lines += [f"| {r.scenario} | {r.outcome} | {'yes' if r.published_intact else 'no'} | {r.details} |"
              for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=REPO_ROOT / "build" / "reliability",
                        help="scratch folder (default build/reliability; emptied first)")
    parser.add_argument("--raw", type=Path, default=None,
                        help="exports to run on (default: a generated 40-account company)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    raw = args.raw
    if raw is None:
        raw = args.work / "raw"
        subprocess.run([sys.executable, "-m", "sample_company", "--accounts", "40", "--seed", "11",
                        "--out", str(raw)], check=True, cwd=REPO_ROOT, capture_output=True)
    rows = run_scenarios(raw, args.work, [s for s in args.only.split(",") if s] or None)
    print(format_rows(rows))
    return 0 if all(r.published_intact for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
