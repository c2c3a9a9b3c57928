"""``cs-metrics``: the pipeline from the command line.

    cs-metrics generate [--accounts N] [--seed S] [--raw-dir DIR] [--force]
    cs-metrics validate [--raw-dir DIR] [--strict]
    cs-metrics run [--select SELECTION] [--as-of YYYY-MM-DD] [--no-publish]
    cs-metrics kpis [--db PATH] [--period month|quarter|year_to_date|all] [--closed]
    cs-metrics report [--open] [--db PATH]

Folders come from ``CS_RAW_DIR`` and ``CS_WAREHOUSE_DIR`` (default ``data/raw`` and
``data/warehouse``), the reporting date from ``CS_AS_OF_DATE`` (default: the latest day in the
exports), exactly as for ``make run`` and the Dagster UI. Progress and errors go to stderr,
results to stdout. Exit status: 0 success, 1 the data or the run failed, 2 a usage error.

``run --select``: which assets to refresh, in Dagster's asset selection syntax
(``key:marts/metrics_retention+``, ``group:marts_revenue``, ``kind:dbt``, ``+key:...``), where a
bare dbt model name stands for its asset (``metrics_retention+`` is
``key:"marts/metrics_retention"+``, as dbt's ``--select`` would read it). The gate is kept: a
selection with any dbt model first reloads and checks every export (all ``raw/*`` assets and
their blocking checks) in a run of its own, and only when that run passes are the selected models
built and, when they pass their dbt tests, the warehouse published (``--no-publish`` stops
before). Publishing alone, without a model, is refused: it would publish a build that nothing
in the run checked.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TextIO

PROG = "cs-metrics"
REPORT_FILE_NAME = "cs_kpi_report.html"
PERIOD_TYPES = ("month", "quarter", "year_to_date")
PROBLEMS_PER_FILE = 5


class CliError(Exception):
    """A failure to report in one plain sentence (exit status 1)."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cs-metrics")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
        return "0+unknown"


def _err(message: str = "") -> None:
    print(message, file=sys.stderr, flush=True)


def _warehouse():
    from orchestration.lib.warehouse import Warehouse

    return Warehouse()


def report_path(warehouse) -> Path:
    """Where the KPI report is written: ``Warehouse.report_path`` where it exists, otherwise
    beside the published file (the agreed name, ``<warehouse_dir>/cs_kpi_report.html``)."""
    path = getattr(warehouse, "report_path", None)
    return Path(path) if path is not None else warehouse.warehouse_path / REPORT_FILE_NAME


def _iso_date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in the form YYYY-MM-DD: {text!r}") from None


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return n


# ----------------------------------------------------------------------------------- generate


def cmd_generate(args: argparse.Namespace) -> int:
    from orchestration.lib.contract import TABLES
    from orchestration.lib.loader import find_export
    from orchestration.run import has_exports
    from sample_company.generator import generate

    raw_dir = Path(args.raw_dir) if args.raw_dir else _warehouse().raw_path
    if has_exports(raw_dir) and not args.force:
        raise CliError(
            f"{raw_dir} already holds exports; nothing was written. Use --force to replace them "
            "(only the files the generator writes are removed), or pick another --raw-dir."
        )
    _err(f"generating the sample company: {args.accounts} accounts, seed {args.seed} -> {raw_dir}")
    summary = generate(raw_dir, accounts=args.accounts, seed=args.seed)
    from tabulate import tabulate

    rows = []
    for spec in TABLES:
        path = find_export(spec, raw_dir)
        if path is not None:
            n = summary.rows.get(f"{spec.system}/{spec.entity}")
            rows.append([str(path.relative_to(raw_dir)), "" if n is None else f"{n:,}"])
    print(f"Wrote {len(rows)} export files to {raw_dir} in {summary.seconds:.1f} s "
          f"({summary.accounts} accounts, {summary.events:,} usage events):")
    print(tabulate(rows, headers=["file", "rows"], colalign=("left", "right")))
    print(f"Ground truth for the tests: {raw_dir / '_ground_truth'}")
    print(f"Next: {PROG} validate, then {PROG} run")
    return 0


# ----------------------------------------------------------------------------------- validate


def _print_problems(reports, raw_dir: Path | None, limit: int, out: TextIO) -> None:
    from orchestration.lib.validation import display_path

    for report in reports:
        if not (report.error or report.problems):
            continue
        name = report.source_file or f"{report.spec.system}/{report.spec.entity}"
        print(f"\n{display_path(name, raw_dir)}:", file=out)
        if report.error:
            print(f"  cannot be loaded (blocking): {report.error}", file=out)
        for count in report.counts:
            col = f" on {count.column}" if count.column else ""
            kind = "blocking" if count.blocking else "not blocking"
            print(f"  {count.rows} row(s) break rule {count.rule}{col} ({kind}; {count.what})",
                  file=out)
        for problem in report.problems[:limit]:
            print(f"  - {problem.describe(raw_dir)}", file=out)
        if len(report.problems) > limit:
            print(f"  ... and more (first {limit} shown; --limit N shows more)", file=out)


def cmd_validate(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from orchestration.lib.validation import display_path, validate_exports
    from orchestration.run import has_exports

    raw_dir = Path(args.raw_dir) if args.raw_dir else _warehouse().raw_path
    if not raw_dir.is_dir() or not has_exports(raw_dir):
        raise CliError(f"no export files in {raw_dir}: run `{PROG} generate` for the sample "
                       "company, or point --raw-dir / CS_RAW_DIR at your exports")
    started = time.perf_counter()
    _err(f"validating the exports in {raw_dir} against the contract (nothing is built or published)")
    with tempfile.TemporaryDirectory(prefix="cs_validate_") as tmp:
        reports = validate_exports(raw_dir, Path(tmp) / "validate.duckdb", sample=args.limit,
                                   strict=args.strict)

    def n(x):
        return "" if x is None else f"{x:,}"

    rows = [
        [display_path(r.source_file, raw_dir) if r.source_file
         else f"{r.spec.system}/{r.spec.entity}.*",
         n(r.rows_read), n(r.rows_loaded), n(r.rows_quarantined), r.status]
        for r in reports
    ]
    print(tabulate(rows, headers=["file", "rows read", "loaded", "quarantined", "status"],
                   colalign=("left", "right", "right", "right", "left")))
    _print_problems(reports, raw_dir, args.limit, sys.stdout)
    blocking = [r for r in reports if r.blocking]
    warned = [r for r in reports if r.counts and not r.blocking]
    seconds = time.perf_counter() - started
    print()
    if blocking:
        print(f"FAILED: {len(blocking)} file(s) would stop the run at the quality gate: "
              f"{', '.join(r.spec.name for r in blocking)} ({seconds:.1f} s).")
        return 1
    extra = (f"; {len(warned)} file(s) with quarantined rows (these rows are left out, the run "
             "goes on; --strict fails on them)" if warned else "")
    print(f"OK: every export passes the quality gate{extra} ({seconds:.1f} s).")
    return 0


# ----------------------------------------------------------------------------------- run


class SelectionError(CliError):
    pass


_BARE_NAME = re.compile(r'(?<![\w:="/*.-])([A-Za-z_]\w*)(?![\w:("/*.=-])')
_KEYWORDS = {"and", "or", "not"}


def translate_selection(text: str, names: dict[str, str]) -> str:
    """dbt-style bare names -> ``key:"<asset key>"`` (``names``: last key part -> key)."""

    def repl(m: re.Match) -> str:
        word = m.group(1)
        if word.lower() in _KEYWORDS or word not in names:
            return word
        return f'key:"{names[word]}"'

    return _BARE_NAME.sub(repl, text)


@dataclass
class Phase:
    label: str
    keys: set | None  # None: the whole job
    dbt_models: int


def plan_phases(selections: list[str] | None, defs, publish: bool) -> list[Phase]:
    """The runs ``run`` makes for a selection (see the module docstring)."""
    import dagster as dg

    from orchestration.defs.dbt import cs_dbt_assets
    from orchestration.defs.publish.assets import PUBLISH_KEY

    job = defs.resolve_job_def("refresh")
    job_keys = set(job.asset_layer.executable_asset_keys)
    raw_keys = {k for k in job_keys if k.path[0] == "raw"}
    dbt_keys = set(cs_dbt_assets.keys) & job_keys
    after_keys = job_keys - raw_keys - dbt_keys  # publish and what follows it
    if not selections:
        if publish:
            return [Phase("refresh: every export, model and check, then publish", None,
                          len(dbt_keys))]
        return [Phase("refresh without publish", raw_keys | dbt_keys, len(dbt_keys))]

    graph = defs.resolve_asset_graph()
    names: dict[str, list[str]] = {}
    for key in job_keys:
        names.setdefault(key.path[-1], []).append(key.to_user_string())
    unique = {name: keys[0] for name, keys in names.items() if len(keys) == 1}
    selected: set = set()
    for text in selections:
        translated = translate_selection(text, unique)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                keys = dg.AssetSelection.from_string(translated).resolve(graph)
        except Exception as exc:  # noqa: BLE001 - Dagster raises several kinds; all mean "bad selection"
            detail = str(exc).strip().splitlines()[0][:300]
            unknown = re.search(r"AssetKey\(s\) (\[.*?\]) were selected", detail)
            if unknown:
                detail = f"no asset is called {unknown.group(1)}"
            raise SelectionError(
                f"--select {text!r} is not a selection of this pipeline ({detail}). Examples: "
                "metrics_retention+, key:marts/metrics_retention, group:marts_revenue, kind:dbt"
            ) from None
        matched = set(keys) & job_keys
        if not matched:
            raise SelectionError(f"--select {text!r} matches no asset the refresh job builds")
        selected |= matched

    dbt_selected = selected & dbt_keys
    if not publish:
        selected -= after_keys
    if not dbt_selected:
        if PUBLISH_KEY in selected:
            raise SelectionError(
                "publishing without building a model would publish a build that nothing in this "
                "run checked: select the models to rebuild (e.g. metrics_kpi_summary+) or run "
                "without --select"
            )
        if not selected:
            raise SelectionError("nothing left to run (--no-publish removed the whole selection)")
        return [Phase(f"selection: {len(selected)} asset(s), nothing published", selected, 0)]
    then = ", then publish" if publish else " (not published: --no-publish)"
    if dbt_selected == dbt_keys:
        keys = raw_keys | dbt_keys | (after_keys if publish else set())
        return [Phase(f"refresh: every export, model and check{then}", keys, len(dbt_keys))]
    build = (selected - raw_keys) | (after_keys if publish else set())
    return [
        Phase(f"gate: reload and check all {len(raw_keys)} exports", raw_keys, 0),
        Phase(f"build the {len(dbt_selected)} selected dbt model(s) and their tests{then}",
              build, len(dbt_selected)),
    ]




def _step_label(step_key: str) -> str:
    from orchestration.lib.contract import TABLES

    if step_key == "cs_dbt_assets":
        return "dbt build"
    if step_key == "published__cs_metrics":
        return "publish cs_metrics.duckdb"
    for spec in sorted(TABLES, key=lambda t: -len(t.name)):  # longest first: no prefix clash
        stem = f"raw__{spec.name}"
        if step_key == stem:
            return f"load {spec.system}/{spec.entity}"
        if step_key.startswith(stem + "_"):
            return f"check {spec.name}: {step_key[len(stem) + 1:]}"
    return step_key


@dataclass
class CheckFailure:
    asset: str
    check: str
    blocking: bool
    description: str


@dataclass
class RunProgress:
    """Turns the Dagster events of a run into progress lines on ``out`` (step started and
    finished, with the seconds each took; for dbt, how many models are built so far)."""

    out: TextIO
    dbt_total: int = 0
    planned: list[str] = field(default_factory=list)  # the run's steps
    quiet: bool = False
    started_at: float = field(default_factory=time.time)
    step_started: dict[str, float] = field(default_factory=dict)
    step_failures: dict[str, str] = field(default_factory=dict)
    succeeded: set = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)
    check_failures: list[CheckFailure] = field(default_factory=list)
    dbt_built: int = 0
    _next_dbt_report: int = 0
    _open_line: bool = False

    @property
    def tty(self) -> bool:
        return hasattr(self.out, "isatty") and self.out.isatty()

    def _print(self, text: str, final: bool = True) -> None:
        if self.quiet:
            return
        count = f"{len(self.step_started):>3}/{len(self.planned)} " if self.planned else ""
        stamp = f"[{count}{time.time() - self.started_at:6.1f}s] "
        if self.tty:
            end = "\n" if final else ""
            prefix = "\r\033[K" if self._open_line else ""
            self.out.write(prefix + stamp + text + end)
            self._open_line = not final
        else:
            self.out.write(stamp + text + "\n")
        self.out.flush()

    def __call__(self, entry: Any) -> None:
        event = entry.dagster_event
        if event is None:
            return
        kind = event.event_type_value
        step = event.step_key
        if kind == "STEP_START":
            self.step_started[step] = entry.timestamp
            extra = (f" ({self.dbt_total} models and seeds, with their tests)"
                     if step == "cs_dbt_assets" else "")
            self._print(f"start  {_step_label(step)}{extra}", final=False)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            took = entry.timestamp - self.step_started.get(step, entry.timestamp)
            if kind == "STEP_SUCCESS":
                self.succeeded.add(step)
                self._print(f"done   {_step_label(step)} ({took:.1f} s)")
            else:
                message = event.event_specific_data.error.message.strip()
                message = re.sub(r"^dagster\._core\.[\w.]+\.Failure: ", "", message)
                self.step_failures[step] = message
                self._print(f"FAILED {_step_label(step)} ({took:.1f} s)")
        elif kind == "STEP_SKIPPED":
            self.skipped.append(step)
        elif kind == "ASSET_MATERIALIZATION" and step == "cs_dbt_assets":
            self.dbt_built += 1
            total = max(self.dbt_total, self.dbt_built)
            if self.tty or self.dbt_built >= self._next_dbt_report or self.dbt_built == total:
                self._print(f"       dbt build: {self.dbt_built}/{total} built",
                            final=not self.tty)
                self._next_dbt_report = self.dbt_built + max(1, total // 10)
        elif kind == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data
            if not ev.passed:
                self.check_failures.append(CheckFailure(
                    asset=ev.asset_key.to_user_string(),
                    check=ev.check_name,
                    blocking=getattr(ev.severity, "value", str(ev.severity)) == "ERROR",
                    description=(ev.description or "").strip(),
                ))


def _dagster_instance():
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        try:
            return dg.DagsterInstance.get()  # the runs show in the UI (`make dev`)
        except dg.DagsterError as exc:
            _err(f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} is not usable ({exc}); "
                 "this run is not recorded there")
    return dg.DagsterInstance.ephemeral()


def _dbt_parse() -> None:
    from orchestration.lib.dbt_project import DBT_PROJECT_DIR, dbt_executable

    done = subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target", os.environ.get("DBT_TARGET", "duckdb")],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise CliError(f"dbt could not parse the project in {DBT_PROJECT_DIR}:\n{tail}")


def _timed(label: str, fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    _err(f"{label} ...")
    value = fn()
    _err(f"{label}: done ({time.perf_counter() - started:.1f} s)")
    return value


def _first_lines(text: str, n: int = 6) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    shown = "\n    ".join(lines[:n])
    return shown + ("\n    ..." if len(lines) > n else "")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_DBT_PROBLEM = re.compile(r"^(\d+ of \d+ )?(ERROR|FAIL)\b|^(Failure|Database Error|Compilation Error|"
                          r"Runtime Error) in |^Done\. PASS=")


def dbt_problem_lines(log: str, limit: int = 12) -> list[str]:
    """The lines of a dbt log that say what failed (and dbt's closing count)."""
    lines = [_ANSI.sub("", line).strip() for line in log.splitlines()]
    picked = [line for line in lines if _DBT_PROBLEM.search(line)]
    return picked[:limit - 1] + picked[-1:] if len(picked) > limit else picked


def _explain_failure(progress: RunProgress, warehouse, skipped_phases: list[Phase],
                     dbt_log: str = "") -> None:
    """A plain account of a failed run on stderr: what failed, where in which file, what did
    not run, and that the published file was left alone."""
    from orchestration.lib.validation import diagnose_build, quarantine_summary

    raw_dir = warehouse.raw_path
    _err("\nThe run failed.")
    for step, message in progress.step_failures.items():
        if "_expectations_suite" in step or "_foreign_keys" in step or "_rows_accounted" in step:
            continue  # explained below with the rows at fault
        _err(f"  {_step_label(step)} failed ({step}):\n    {_first_lines(message)}")
    blocking = [c for c in progress.check_failures if c.blocking]
    raw_tables = sorted({c.asset.split("/", 1)[1] for c in blocking if c.asset.startswith("raw/")})
    for c in blocking:
        if not c.asset.startswith("raw/"):
            _err(f"  dbt test {c.check} on {c.asset} failed: {_first_lines(c.description, 2)}")
    if "cs_dbt_assets" in progress.step_failures:
        for line in dbt_problem_lines(dbt_log):
            _err(f"    dbt: {line}")
    if raw_tables:
        _err(f"  The quality gate stopped the run: {', '.join(raw_tables)}")
        reports = diagnose_build(warehouse.build_db, raw_tables)
        for report in reports:
            shown = [p for p in report.problems if p.blocking][:PROBLEMS_PER_FILE]
            if not shown:
                for c in blocking:
                    if c.asset == f"raw/{report.spec.name}":
                        _err(f"  - {report.spec.name}: {c.check}: {_first_lines(c.description, 2)}")
            for problem in shown:
                _err(f"  - {problem.describe(raw_dir)}")
    quarantined = quarantine_summary(warehouse.build_db)
    if quarantined:
        _err("  Quarantined on load (left out of the marts; not what stopped the run):")
        for problem in quarantined:
            _err(f"  - {problem.describe(raw_dir)}")
    not_run = [_step_label(s) for s in progress.skipped]
    not_run += [_step_label(s) for s in progress.planned if s not in progress.step_started]
    if skipped_phases:
        not_run += [p.label for p in skipped_phases]
    if not_run:
        names = list(dict.fromkeys(not_run))
        checks = [n for n in names if n.startswith("check ")]
        others = [n for n in names if not n.startswith("check ")]
        shown = ", ".join(others + ([f"{len(checks)} check(s)"] if checks else []))
        _err(f"  Not run because of the failure: {shown}")
    if "published__cs_metrics" in progress.succeeded:
        _err(f"  The warehouse was published before the failure: {warehouse.published_db}")
    elif warehouse.published_db.exists():
        _err(f"  Nothing was published: {warehouse.published_db} is unchanged.")
    else:
        _err(f"  Nothing was published (there is no {warehouse.published_db} yet).")
    _err(f"  Check the exports without running anything: {PROG} validate")


def cmd_run(args: argparse.Namespace) -> int:
    from orchestration.run import has_exports

    if args.as_of:
        os.environ["CS_AS_OF_DATE"] = args.as_of  # restored by main()
    warehouse = _warehouse()
    if not has_exports(warehouse.raw_path):
        raise CliError(f"no export files in {warehouse.raw_path}: run `{PROG} generate` first, "
                       "or set CS_RAW_DIR to your exports")
    warehouse.warehouse_path.mkdir(parents=True, exist_ok=True)
    as_of = os.environ.get("CS_AS_OF_DATE") or "the latest day in the exports"
    _err(f"exports:   {warehouse.raw_path}\nwarehouse: {warehouse.warehouse_path}\n"
         f"as of:     {as_of}")
    started = time.perf_counter()
    if not args.no_parse:
        _timed("parsing the dbt project", _dbt_parse)

    def load_defs():
        from orchestration.definitions import defs

        return defs

    defs = _timed("loading the pipeline", load_defs)
    phases = plan_phases(args.select, defs, publish=not args.no_publish)
    if len(phases) > 1 and not warehouse.build_db.exists():
        raise SelectionError(f"there is no build yet in {warehouse.warehouse_path} for the "
                             "selected models to build on: run once without --select")
    job = defs.resolve_job_def("refresh")
    instance = _dagster_instance()
    level = "INFO" if args.verbose else "CRITICAL"
    for i, phase in enumerate(phases):
        _err(f"run {i + 1}/{len(phases)}: {phase.label}")
        planned = job if phase.keys is None else job.get_subset(asset_selection=set(phase.keys))
        progress = RunProgress(out=sys.stderr, dbt_total=phase.dbt_models, quiet=args.quiet,
                               planned=[n.name for n in planned.nodes_in_topological_order])
        run_id = str(uuid.uuid4())
        instance.add_event_listener(run_id, progress)
        # dagster-dbt echoes dbt's log to stdout; keep it for the failure account instead
        # (with --verbose it goes to stderr as it comes).
        dbt_log = io.StringIO()
        with contextlib.redirect_stdout(sys.stderr if args.verbose else dbt_log):
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_id=run_id,
                asset_selection=None if phase.keys is None else sorted(phase.keys, key=str),
                run_config={"loggers": {"console": {"config": {"log_level": level}}}},
                tags={"cs-metrics/command": "run " + " ".join(
                    f"--select {s}" for s in (args.select or []))},
            )
        if not result.success:
            _explain_failure(progress, warehouse, phases[i + 1:], dbt_log.getvalue())
            _err(f"Run id {run_id} ({time.perf_counter() - started:.0f} s).")
            return 1
    seconds = time.perf_counter() - started
    from orchestration.defs.publish.assets import PUBLISH_KEY
    from orchestration.lib.raw_parquet import is_spark_target

    if is_spark_target():
        print(f"Built on Spark (DBT_TARGET=spark) in {seconds:.0f} s; the marts are Spark tables "
              f"(docs/spark.md) and {warehouse.published_db} was left as it was.")
    elif any(p.keys is None or PUBLISH_KEY in p.keys for p in phases):
        print(f"Published {warehouse.published_db} in {seconds:.0f} s.")
        print(f"Next: {PROG} kpis, {PROG} report --open, or duckdb -readonly {warehouse.published_db}")
    else:
        print(f"Done in {seconds:.0f} s (nothing published: the selection does not publish).")
    return 0


# ----------------------------------------------------------------------------------- kpis


def _reporting_currency() -> str:
    import yaml

    from orchestration.lib.dbt_project import DBT_PROJECT_DIR

    try:
        project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
        return str(project.get("vars", {}).get("reporting_currency", "USD"))
    except (OSError, yaml.YAMLError):  # pragma: no cover
        return "USD"


def format_kpi(value: float | None, unit: str, currency: str = "USD", change: bool = False) -> str:
    """A KPI value as a reader wants it: fractions as percentages (changes in points), money
    rounded to the unit with the currency, NPS in points."""
    if value is None:
        return "n/a"
    value = float(value)
    if unit == "fraction":
        return f"{value * 100:+.1f} pts" if change else f"{value * 100:.1f}%"
    if unit == "money":
        return f"{value:+,.0f} {currency}" if change else f"{value:,.0f} {currency}"
    return f"{value:+.1f}" if change else f"{value:.1f}"


def cmd_kpis(args: argparse.Namespace) -> int:
    import duckdb
    from tabulate import tabulate

    db = Path(args.db) if args.db else _warehouse().published_db
    if not db.exists():
        raise CliError(f"no published warehouse at {db}: run `{PROG} run` first")
    types = PERIOD_TYPES if args.period == "all" else (args.period,)
    which = "not is_partial" if args.closed else "is_current"
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            f"""
            select period_type, period_start, period_end, is_partial, kpi_label, unit, value,
                   prior_value, change_from_prior, is_better_than_prior, target, is_on_target,
                   indicator_type
            from marts.metrics_kpi_summary
            where {which} and period_type in ({", ".join("?" for _ in types)})
            qualify period_end = max(period_end) over (partition by period_type)
            order by case period_type when 'month' then 1 when 'quarter' then 2 else 3 end,
                     display_order
            """,
            list(types),
        ).fetchall()
    except duckdb.CatalogException as exc:
        raise CliError(f"{db} has no marts.metrics_kpi_summary ({exc}): is it the published "
                       "warehouse?") from None
    finally:
        con.close()
    if not rows:
        raise CliError(f"{db}: metrics_kpi_summary has no {'closed' if args.closed else 'current'} "
                       f"period of type {args.period}")
    currency = _reporting_currency()

    def yes_no(x):
        return "" if x is None else ("yes" if x else "no")

    print(f"KPI summary from {db}")
    for ptype in types:
        block = [r for r in rows if r[0] == ptype]
        if not block:
            continue
        _, start, end, partial, *_ = block[0]
        print(f"\n{ptype.replace('_', ' ')} {start} .. {end}" + (" (partial: still open)" if partial else ""))
        table = [
            [label, format_kpi(value, unit, currency), format_kpi(prior, unit, currency),
             format_kpi(chg, unit, currency, change=True),
             "" if better is None or chg is None else
             ("same" if chg == 0 else "better" if better else "worse"),
             format_kpi(target, unit, currency) if target is not None else "",
             yes_no(on_target), indicator]
            for (_, _, _, _, label, unit, value, prior, chg, better, target, on_target,
                 indicator) in block
        ]
        print(tabulate(table, headers=["KPI", "value", "prior period", "change", "vs prior", "target",
                                       "on target", "indicator"],
                       colalign=("left", "right", "right", "right", "left", "right", "left",
                                 "left")))
    return 0


# ----------------------------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace) -> int:
    path = Path(args.db).parent / REPORT_FILE_NAME if args.db else report_path(_warehouse())
    if not path.exists():
        raise CliError(f"no KPI report at {path}: run `{PROG} run` first (the run writes it "
                       "beside the published warehouse)")
    print(path)
    if args.open:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            _err(f"could not start a browser; open {path} yourself")
    return 0


# ----------------------------------------------------------------------------------- parser

ENVIRONMENT = """\
environment:
  CS_RAW_DIR        export folder (default data/raw)
  CS_WAREHOUSE_DIR  build and published DuckDB files, the KPI report (default data/warehouse)
  CS_AS_OF_DATE     reporting date YYYY-MM-DD (default: the latest day in the exports)
  DAGSTER_HOME      when set, runs are recorded there and show in the Dagster UI (make dev)
"""

EXAMPLES = {
    None: f"""\
examples:
  {PROG} generate --accounts 200            the sample company into data/raw
  {PROG} validate                           check the exports, build nothing
  {PROG} run                                load, check, build, test, publish
  {PROG} run --select metrics_retention+    rebuild one mart and what uses it, then publish
  {PROG} kpis                               the headline KPIs of the current month
  {PROG} report --open                      the KPI report in a browser

{ENVIRONMENT}""",
    "generate": f"""\
examples:
  {PROG} generate
  {PROG} generate --accounts 1000 --seed 3 --force
  {PROG} generate --accounts 40 --raw-dir /tmp/company

Refuses to write over existing exports without --force; with --force it removes only the files
the generator writes (other files in the folder are left alone).
""",
    "validate": f"""\
examples:
  {PROG} validate
  {PROG} validate --raw-dir ~/exports/2025-12-01 --limit 20
  {PROG} validate --strict          quarantined rows fail too

Loads every export into a throwaway DuckDB file with the pipeline's own loader and runs the raw
quality gate on it (expectation suites, foreign keys). Blocking: a missing or unreadable file, a
missing column, a failed critical expectation (duplicate key, value outside its list or range,
implausible date), a dangling reference. Rows quarantined on load (a value that does not parse,
a required value missing) are reported but do not block, as in a run; --strict makes them block.
Exit status 1 when something blocks, else 0.
""",
    "run": f"""\
examples:
  {PROG} run
  {PROG} run --as-of 2025-12-08                        backfill a missed morning
  {PROG} run --select metrics_kpi_summary              one mart, then publish
  {PROG} run --select metrics_retention+               a mart and everything downstream of it
  {PROG} run --select +metrics_retention --no-publish  a mart and its upstream, not published
  {PROG} run --select 'group:marts_revenue'            Dagster asset selection syntax
  {PROG} run --select 'key:raw/*'                      reload and check the exports only

--select takes Dagster's asset selection syntax (key:, group:, kind:, +upstream, downstream+,
and, or, not); a bare dbt model name means that model. Any selection with a dbt model first
reloads and checks every export, in a run of its own: nothing is built or published unless the
quality gate passes. --select may be given more than once (the union).

{ENVIRONMENT}""",
    "kpis": f"""\
examples:
  {PROG} kpis
  {PROG} kpis --period all
  {PROG} kpis --period quarter --closed
  {PROG} kpis --db /path/to/cs_metrics.duckdb
""",
    "report": f"""\
examples:
  {PROG} report                 print the path of the KPI report
  {PROG} report --open          open it in the default browser
""",
}


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=79)


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=_wrap("Customer-success metrics pipeline: exports in, gated and published DuckDB "
                    "marts out."),
        epilog=EXAMPLES[None],
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("generate", help="write the sample company's exports",
                       description=_wrap("Write a deterministic sample SaaS company (every export of "
                                   "the contract) into the export folder."),
                       epilog=EXAMPLES["generate"], formatter_class=fmt)
    p.add_argument("--accounts", type=_positive, default=200, help="CRM accounts (default 200)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--raw-dir", help="export folder (default $CS_RAW_DIR or data/raw)")
    p.add_argument("--force", action="store_true", help="replace exports already there")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("validate", help="check the exports against the contract, build nothing",
                       description=_wrap("Check every export file against the contract and the raw "
                                   "quality gate without running dbt or publishing."),
                       epilog=EXAMPLES["validate"], formatter_class=fmt)
    p.add_argument("--raw-dir", help="export folder (default $CS_RAW_DIR or data/raw)")
    p.add_argument("--limit", type=_positive, default=PROBLEMS_PER_FILE,
                   help=f"offending rows shown per file (default {PROBLEMS_PER_FILE})")
    p.add_argument("--strict", action="store_true", help="quarantined rows block too")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run the pipeline (all or a selection)",
                       description=_wrap("Run the refresh job in this process: load and check the "
                                   "exports, build and test the marts, publish. Progress on stderr."),
                       epilog=EXAMPLES["run"], formatter_class=fmt)
    p.add_argument("--select", action="append", metavar="SELECTION",
                   help="assets to refresh (Dagster selection syntax or a dbt model name)")
    p.add_argument("--as-of", type=_iso_date, metavar="YYYY-MM-DD",
                   help="reporting date (sets CS_AS_OF_DATE for this run)")
    p.add_argument("--no-publish", action="store_true", help="build and test, do not publish")
    p.add_argument("--no-parse", action="store_true",
                   help="skip `dbt parse` (use the manifest as it is; faster)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("-v", "--verbose", action="store_true", help="Dagster's own log as well")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("kpis", help="print the KPI summary of the latest period",
                       description=_wrap("Print the headline KPIs (marts.metrics_kpi_summary) of the "
                                   "latest period from the published warehouse, read-only."),
                       epilog=EXAMPLES["kpis"], formatter_class=fmt)
    p.add_argument("--db", help="published DuckDB file (default $CS_WAREHOUSE_DIR/cs_metrics.duckdb)")
    p.add_argument("--period", choices=[*PERIOD_TYPES, "all"], default="month",
                   help="period type (default month)")
    p.add_argument("--closed", action="store_true",
                   help="the latest complete period instead of the current (possibly partial) one")
    p.set_defaults(func=cmd_kpis)

    p = sub.add_parser("report", help="print the KPI report's path, or open it",
                       description=_wrap("Print the path of the KPI report (cs_kpi_report.html beside "
                                   "the published warehouse); --open shows it in a browser."),
                       epilog=EXAMPLES["report"], formatter_class=fmt)
    p.add_argument("--open", action="store_true", help="open the report in the default browser")
    p.add_argument("--db", help="published DuckDB file; the report is looked for beside it")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("bench", help="benchmark: DuckDB floor, pipeline, pandas notebook, daily run",
                       description=_wrap("The benchmark of benchmarks/README.md (what `make bench` "
                                   "runs); every option after `bench` goes to it, e.g. "
                                   "`cs-metrics bench --profile small --repeat 3`."),
                       formatter_class=fmt, add_help=False)
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="options of the benchmark (--help)")
    p.set_defaults(func=cmd_bench)
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    from orchestration.lib.bench import main as bench_main

    return bench_main(args.bench_args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # every option after `bench` belongs to the benchmark
        return cmd_bench(argparse.Namespace(bench_args=argv[1:]))
    args = build_parser().parse_args(argv)
    saved_as_of = os.environ.get("CS_AS_OF_DATE")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="dagster")
            warnings.filterwarnings("ignore", module="dagster_dbt")
            return args.func(args)
    except CliError as exc:
        _err(f"{PROG} {args.command}: {exc}")
        return 1
    except KeyboardInterrupt:
        _err(f"{PROG} {args.command}: interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("CS_CLI_DEBUG"):
            raise
        import traceback

        where = traceback.extract_tb(exc.__traceback__)[-1]
        _err(f"{PROG} {args.command}: unexpected error: {type(exc).__name__}: {exc}\n"
             f"  (at {where.filename}:{where.lineno}; CS_CLI_DEBUG=1 shows the traceback)")
        return 1
    finally:
        if saved_as_of is None:
            os.environ.pop("CS_AS_OF_DATE", None)
        else:
            os.environ["CS_AS_OF_DATE"] = saved_as_of


if __name__ == "__main__":
    sys.exit(main())
