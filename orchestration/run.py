"""`make run`: one refresh from the command line, ending with the headline retention figures.

    python -m orchestration.run [--accounts 200] [--seed 7]

1. When ``data/raw`` holds no exports, generate the built-in sample company there.
2. Parse the dbt project (the manifest Dagster builds its assets from).
3. Execute the ``refresh`` job (extract -> raw checks -> dbt build -> publish -> KPI report) on
   the Dagster instance in ``$DAGSTER_HOME``, so the run also shows in the UI (``make dev``).
4. Print the headline figures, read from the published marts, and the path of the KPI report
   (the ``kpi_report`` asset writes it from the published file).

One refresh at a time per warehouse folder: steps 1-3 hold ``<warehouse>/refresh.lock``
(``orchestration/lib/runlock.py``). A second ``make run`` waits up to
``CS_RUN_LOCK_WAIT_SECONDS`` (default 0) and then exits with status 75 and "another refresh is
running (pid N, started at T); try again later", leaving everything as it was.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from orchestration.lib.contract import FILE_EXTENSIONS, SYSTEMS
from orchestration.lib.dbt_project import DBT_PROJECT_DIR
from orchestration.lib.raw_parquet import is_spark_target
from orchestration.lib.runlock import RefreshRunning, refresh_lock
from orchestration.lib.warehouse import Warehouse

# Exit status when another refresh holds the lock (EX_TEMPFAIL: try again later).
EXIT_REFRESH_RUNNING = 75


def has_exports(raw_dir: Path) -> bool:
    return any(
        p.is_file()
        for system in SYSTEMS
        for ext in FILE_EXTENSIONS
        for p in (raw_dir / system).glob(f"*.{ext}")
    )


def generate_sample(raw_dir: Path, accounts: int, seed: int) -> None:
    print(f"data/raw holds no exports: generating the sample company ({accounts} accounts)")
    subprocess.run(
        [sys.executable, "-m", "sample_company", "--accounts", str(accounts), "--seed", str(seed),
         "--out", str(raw_dir)],
        check=True,
    )


def dbt_parse() -> None:
    dbt = Path(sys.executable).with_name("dbt")
    subprocess.run(
        [str(dbt), "parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
         str(DBT_PROJECT_DIR), "--quiet"],
        check=True,
    )


PUBLISHED = [False]


def run_refresh() -> bool:
    """Run the refresh job; True when every step succeeded. ``PUBLISHED`` tells, after a
    failure, whether the publish step had already succeeded (only the report failed)."""
    import dagster as dg

    from orchestration.definitions import defs

    # The instance of $DAGSTER_HOME (make run sets it), so the run shows in `make dev`; without
    # DAGSTER_HOME (python -m orchestration.run on its own), a throwaway one.
    if os.environ.get("DAGSTER_HOME"):
        instance = dg.DagsterInstance.get()
    else:
        instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("refresh").execute_in_process(
        instance=instance,
        raise_on_error=False,
        # Step-level progress only; every event is still in the instance for the UI.
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    PUBLISHED[0] = any(
        e.is_step_success and e.step_key == "published__cs_metrics" for e in result.all_events
    )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                print(f"FAILED {event.step_key}: {event.event_specific_data.error.message.strip()}",
                      file=sys.stderr)
        skipped = [e.step_key for e in result.all_events if e.is_step_skipped]
        if skipped:
            print(f"skipped: {', '.join(skipped)}", file=sys.stderr)
    return result.success


def headline(published_db: Path) -> str:
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        rows = con.execute(
            """
            select period_type, period_start, period_end, is_partial, starting_arr, ending_arr,
                   grr, nrr, logo_churn_rate, quick_ratio
            from marts.metrics_retention
            where slice_type = 'all'
              and period_type in ('month', 'quarter', 'trailing_12_months')
              and not is_partial
            qualify row_number() over (partition by period_type order by period_end desc) = 1
            order by case period_type when 'month' then 1 when 'quarter' then 2 else 3 end
            """
        ).fetchall()
        as_of = con.execute("select max(period_end) from marts.metrics_retention").fetchone()[0]
    finally:
        con.close()

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x * 100:.1f}%"

    def money(x: float | None) -> str:
        return "n/a" if x is None else f"${x:,.0f}"

    lines = [f"Headline retention (latest closed periods; data as of {as_of}):",
             f"  {'period':<42}{'start ARR':>14}{'end ARR':>14}{'GRR':>8}{'NRR':>8}"
             f"{'logo churn':>12}{'quick ratio':>13}"]
    for ptype, start, end, _, s_arr, e_arr, grr, nrr, churn, qr in rows:
        label = f"{ptype.replace('_', ' ')} {start}..{end}"
        lines.append(
            f"  {label:<42}{money(s_arr):>14}{money(e_arr):>14}{pct(grr):>8}{pct(nrr):>8}"
            f"{pct(churn):>12}{'n/a' if qr is None else f'{qr:.2f}':>13}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=200,
                        help="sample company size when data/raw is empty (default 200)")
    parser.add_argument("--seed", type=int, default=7, help="sample company seed (default 7)")
    args = parser.parse_args(argv)

    warehouse = Warehouse()
    try:
        with refresh_lock(warehouse.warehouse_path, log=lambda m: print(m, file=sys.stderr)):
            if not has_exports(warehouse.raw_path):
                generate_sample(warehouse.raw_path, args.accounts, args.seed)
            dbt_parse()
            succeeded = run_refresh()
    except RefreshRunning as exc:
        print(f"{exc} (lock file {exc.lock_path}); the published file was left as it was: "
              f"{warehouse.published_db}", file=sys.stderr)
        return EXIT_REFRESH_RUNNING
    if not succeeded:
        if PUBLISHED[0]:
            print(f"\nThe marts were published ({warehouse.published_db}), but a step after "
                  "publish failed (see above): the KPI report may be out of date.", file=sys.stderr)
        else:
            print(f"\nThe refresh failed; the published file was left as it was: "
                  f"{warehouse.published_db}", file=sys.stderr)
        return 1
    if is_spark_target():
        print("\nBuilt on Spark (DBT_TARGET=spark): the marts are Spark tables (docs/spark.md); "
              f"the DuckDB file was left as it was: {warehouse.published_db}")
        return 0
    print()
    print(headline(warehouse.published_db))
    print(f"\nPublished: {warehouse.published_db}")
    print(f"Query it:  duckdb -readonly {warehouse.published_db}")
    print(f"Report:    {warehouse.report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
