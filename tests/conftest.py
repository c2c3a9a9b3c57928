"""Shared fixtures: a small generated company and whole-pipeline runs in temporary folders."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.lib.warehouse import pipeline_env, scoped_env

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"
DBT_DIR = REPO / "dbt_project"
BIN = Path(sys.executable).parent

SMALL_ACCOUNTS = 40
SMALL_SEED = 11


def generate_company(out: Path, accounts: int = SMALL_ACCOUNTS, seed: int = SMALL_SEED) -> Path:
    subprocess.run(
        [sys.executable, "-m", "sample_company", "--accounts", str(accounts), "--seed", str(seed),
         "--out", str(out)],
        check=True, capture_output=True, text=True,
    )
    return out


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """The manifest Dagster builds its dbt assets from (what `make dev` and `make run` parse)."""
    subprocess.run(
        [str(BIN / "dbt"), "parse", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
         "--quiet"],
        check=True,
    )
    return DBT_DIR / "target" / "manifest.json"


@pytest.fixture(scope="session")
def small_company(tmp_path_factory) -> Path:
    """A generated company (exports + ground truth); copy it before changing anything."""
    return generate_company(tmp_path_factory.mktemp("company") / "raw")


@dataclass
class RunOutcome:
    success: bool
    result: object  # dagster ExecuteInProcessResult
    raw_dir: Path
    warehouse_dir: Path

    @property
    def published_db(self) -> Path:
        return self.warehouse_dir / "cs_metrics.duckdb"

    @property
    def build_db(self) -> Path:
        return self.warehouse_dir / "build.duckdb"

    def failed_steps(self) -> dict[str, str]:
        return {
            e.step_key: e.event_specific_data.error.message
            for e in self.result.all_events
            if e.is_step_failure
        }

    def check_results(self) -> dict[tuple[str, str], object]:
        """(asset key path, check name) -> AssetCheckEvaluation of this run."""
        out = {}
        for e in self.result.all_events:
            if e.event_type_value == "ASSET_CHECK_EVALUATION":
                ev = e.event_specific_data
                out[("/".join(ev.asset_key.path), ev.check_name)] = ev
        return out


def run_pipeline(raw_dir: Path, warehouse_dir: Path) -> RunOutcome:
    """One `refresh` job run, exactly as `make run` executes it, in the given folders."""
    import dagster as dg

    from orchestration.definitions import defs

    warehouse_dir.mkdir(parents=True, exist_ok=True)
    with pipeline_env(raw_dir, warehouse_dir):
        result = defs.resolve_job_def("refresh").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
        )
    return RunOutcome(result.success, result, raw_dir, warehouse_dir)


@pytest.fixture(scope="session")
def published_run(dbt_manifest, small_company, tmp_path_factory) -> RunOutcome:
    """The small company run once through the whole pipeline."""
    outcome = run_pipeline(small_company, tmp_path_factory.mktemp("warehouse"))
    assert outcome.success, outcome.failed_steps()
    return outcome


def copy_company(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_ground_truth"))
    return dst


@dataclass
class TwoRuns:
    """The small company run twice into one warehouse: as of 7 days before its as-of date, then
    as of the as-of date (``CS_AS_OF_DATE``), as a daily schedule would. ``first_*`` are the
    history marts as the first run published them."""

    earlier: object  # datetime.date
    as_of: object
    first: RunOutcome
    second: RunOutcome
    first_health: list[tuple]
    first_alerts: list[tuple]
    # An analyst's read-only connection to the first run's published file, held open during the
    # second run (tests/test_publish.py): what it read before and after that run, its exit
    # status and stderr, and the published file's inode before the second run.
    reader_before: str
    reader_after: str
    reader_status: int
    reader_stderr: str
    first_inode: int


# The analyst: reads a mart, holds the file open until told to go on, reads again.
READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
q = "select count(*), sum(end_mrr) from marts.fct_mrr_movements"
print(con.execute(q).fetchone(), flush=True)
sys.stdin.readline()          # hold the file open until the run has finished
print(con.execute(q).fetchone(), flush=True)
"""


@pytest.fixture(scope="session")
def two_runs(dbt_manifest, small_company, tmp_path_factory) -> TwoRuns:
    import json
    from datetime import date, timedelta

    import duckdb

    planted = json.loads((small_company / "_ground_truth" / "planted.json").read_text())
    as_of = date.fromisoformat(planted["as_of"])
    earlier = as_of - timedelta(days=7)
    raw = copy_company(small_company, tmp_path_factory.mktemp("two_runs") / "raw")
    warehouse = tmp_path_factory.mktemp("two_runs_warehouse")
    with scoped_env({"CS_AS_OF_DATE": earlier.isoformat()}):
        first = run_pipeline(raw, warehouse)
    assert first.success, first.failed_steps()
    with duckdb.connect(str(first.published_db), read_only=True) as con:
        first_health = con.execute(
            "select * from marts.fct_account_health_daily order by account_id").fetchall()
        first_alerts = con.execute(
            "select alert_id, rule_id, account_id, first_seen, last_seen, closed_at "
            "from marts.fct_alerts").fetchall()
    first_inode = first.published_db.stat().st_ino
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(first.published_db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        reader_before = reader.stdout.readline().strip()
        with scoped_env({"CS_AS_OF_DATE": as_of.isoformat()}):
            second = run_pipeline(raw, warehouse)   # the reader holds the published file open
        reader_after, reader_stderr = reader.communicate("go\n", timeout=60)
    finally:
        reader.kill()
    assert second.success, second.failed_steps()
    return TwoRuns(earlier, as_of, first, second, first_health, first_alerts,
                   reader_before, reader_after.strip(), reader.returncode, reader_stderr, first_inode)


@pytest.fixture(scope="module")
def planted(published_run) -> dict:
    """The generator's planted ground truth for the small company (planted.json)."""
    import json

    return json.loads((published_run.raw_dir / "_ground_truth" / "planted.json").read_text())


@pytest.fixture(scope="module")
def build(published_run):
    """A read-only connection to the small company's build database (the intermediate models
    are not published)."""
    import duckdb

    con = duckdb.connect(str(published_run.build_db), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def marts(published_run):
    """A read-only connection to the small company's published file."""
    import duckdb

    con = duckdb.connect(str(published_run.published_db), read_only=True)
    yield con
    con.close()

