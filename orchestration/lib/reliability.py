"""Run a case of the broken-exports corpus and say what the pipeline did with it.

A case is a folder with a full set of exports (``<case>/raw/``, or the folder ``case.json`` names)
and a ``case.json`` (see ``tests/reliability/make_corpus.py``, which writes the corpus).
``run_case`` loads the exports and runs the raw quality gate exactly as a refresh does, and
returns one ``CaseRow``: the inputs tried, the outcome, the rules behind it, the rows read /
loaded / quarantined (over all tables, and for the table the case is about), whether
``rows read = rows loaded + rows quarantined`` holds for every table, and, for the end-to-end
variant, whether the published file is intact. ``render_table`` prints rows as a table.

Outcomes, worst first (a case's outcome is the worst that happened):

* ``blocked``: an export cannot be loaded (``ExportError``) or a blocking check failed with
  ERROR. Nothing downstream runs and the published file stays as it was.
* ``quarantined``: rows went to ``raw.quarantine`` with file, line, column, rule and reason; the
  rest loaded and the run goes on (the ``rows_accounted`` check warns).
* ``accepted_with_warning``: everything loaded, but the load warned (extra or missing optional
  columns, no data rows, a stray file next to the exports) or a non-blocking check warned.
* ``accepted``: nothing to report.

Two variants:

* the fast one (default): the extract and quality-check layer only, no dbt: every contract table
  is loaded with ``load_table`` into ``<warehouse_dir>/build.duckdb`` and every raw check (the GX
  suites run by the SQL engine, which gives the same verdicts as GX on pandas; foreign keys;
  volume; overlaps; rows accounted) is invoked as Dagster would invoke it. With a ``Baseline``
  (the clean company, loaded and checked once), tables whose export is byte-identical to the
  baseline's are copied, not reloaded, and only the checks that read a changed table rerun: the
  same verdicts, a fraction of the time.
* ``full_pipeline=True``: the whole ``refresh`` job (extract, gate, dbt build, publish) into
  ``warehouse_dir``, starting from a copy of ``published_db`` when given; "published file
  intact" then says whether the published file afterwards is complete (it passes the publish
  audit) and, when the run was blocked, byte-identical to before.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb

from orchestration.lib.contract import TABLES
from orchestration.lib.loader import (
    ExportError,
    LoadResult,
    connect,
    file_sha256,
    find_export,
    load_table,
    quote,
    stray_files,
)

OUTCOMES = ("crashed", "blocked", "quarantined", "accepted_with_warning", "accepted")
LEVEL_OF_OUTCOME = {"crashed": "crashed", "blocked": "blocked", "quarantined": "quarantined",
                    "accepted_with_warning": "warning"}
QUARANTINE_SAMPLE = 50  # quarantine rows kept on a CaseRow


@dataclass(frozen=True)
class Finding:
    """One thing the pipeline reported: at what level, on which table, under which rule."""

    level: str  # crashed | blocked | quarantined | warning
    table: str
    rule: str
    message: str
    source: str  # "load", "quarantine", a check name, or a step of the full run


@dataclass
class CaseRow:
    """One row of the reliability table (``render_table``), with the detail behind it."""

    case: str
    inputs: str  # the export the case is about (mutated or added), relative to the raw folder
    description: str
    expected: str | None  # the documented outcome (case.json), if any
    expected_rule: str | None
    outcome: str
    rules: tuple[str, ...]  # the rules behind the outcome (its level's findings)
    message: str  # the first of them, in full
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    table: str | None
    table_read: int | None
    table_loaded: int | None
    table_quarantined: int | None
    balanced: bool  # rows read = loaded + quarantined for every table loaded
    published_intact: bool | None  # None in the fast variant
    seconds: float
    build_db: Path | None = None  # the case's build database, to look at what was loaded
    findings: list[Finding] = field(default_factory=list)
    quarantine: list[tuple] = field(default_factory=list)  # (table, file, line, column, rule, reason)
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # table -> read/loaded/q

    @property
    def as_expected(self) -> bool | None:
        if not self.expected:
            return None
        return self.outcome == self.expected and (not self.expected_rule
                                                  or self.expected_rule in self.rules)

    def findings_at(self, level: str) -> list[Finding]:
        return [f for f in self.findings if f.level == level]


@dataclass
class Baseline:
    """The clean company loaded and checked once, for the fast variant to start from."""

    raw_dir: Path
    build_db: Path
    sources: dict[str, tuple[str | None, str | None]]  # table -> (path in the raw dir, SHA-256)
    results: dict[str, LoadResult]
    findings: dict[tuple[str, str], list[Finding]]  # (table, check) -> what it reported
    row: CaseRow


def read_case(case_dir: Path) -> dict:
    path = Path(case_dir) / "case.json"
    return json.loads(path.read_text()) if path.exists() else {"name": Path(case_dir).name}


def case_raw_dir(case_dir: Path, case: dict | None = None) -> Path:
    case = case if case is not None else read_case(case_dir)
    return Path(case_dir) / case.get("raw_dir", "raw")


# ------------------------------------------------------------------------------ the raw gate


@lru_cache(maxsize=1)
def _gate_checks() -> dict[tuple[str, str], object]:
    """(table, check name) -> the Dagster check definition: the raw quality gate with the SQL
    engine for every suite, and the rows-accounted checks of the extract assets."""
    from orchestration.defs.extract.assets import build_accounting_checks
    from orchestration.defs.quality.checks import build_raw_quality_checks

    out = {}
    for check in [*build_raw_quality_checks(engine="sql"), *build_accounting_checks()]:
        (key,) = check.check_keys
        out[(key.asset_key.path[-1], key.name)] = check
    return out


def _parents(table: str) -> set[str]:
    spec = next(t for t in TABLES if t.name == table)
    return {c.references.split(".")[0] for c in spec.columns if c.references} - {table}


def _invoke(check, warehouse):
    import dagster as dg

    if check.node_def.compute_fn.has_context_arg():
        return check(dg.build_asset_check_context(resources={"warehouse": warehouse},
                                                  instance=_instance()))
    return check(warehouse=warehouse)


@lru_cache(maxsize=1)
def _instance():
    import dagster as dg

    return dg.DagsterInstance.ephemeral()


def _check_findings(table: str, name: str, passed: bool, severity: str, description: str,
                    metadata: dict) -> list[Finding]:
    """What one check evaluation reports, one finding per failed rule."""
    if passed:
        return []
    level = "blocked" if severity == "ERROR" else "warning"
    if name == "rows_accounted" and level == "warning":
        return []  # its WARN repeats the quarantine and the load warnings, reported as such
    failures = metadata.get("failures")
    failures = getattr(failures, "data", failures)
    if name == "expectations_suite" and isinstance(failures, dict) and failures:
        out = []
        for label, f in failures.items():
            level_f = level if f.get("severity") == "critical" else "warning"
            sample = ", ".join(str(v) for v in (f.get("sample_values") or [])[:3])
            rows = "; ".join(json.dumps(r) for r in (f.get("sample_rows") or [])[:2])
            out.append(Finding(
                level_f, table, f.get("rule") or "expectation",
                f"raw.{table}: {label.split(': ', 1)[-1]} failed for "
                f"{f.get('unexpected_count')} row(s)"
                + (f"; values: {sample}" if sample else "") + (f"; rows: {rows}" if rows else "")
                + (f"; error: {f['error']}" if f.get("error") else ""),
                name,
            ))
        return out
    if name == "foreign_keys" and isinstance(failures, dict) and failures:
        out = []
        for reference, f in failures.items():
            values = ", ".join(f"{v['value']} ({v['rows']} rows)" for v in f.get("sample_values", [])[:3])
            rows = "; ".join(json.dumps(r) for r in (f.get("sample_rows") or [])[:2])
            out.append(Finding(
                level, table, "foreign_key",
                f"raw.{table}: {reference}: " + (f["error"] if f.get("error") else
                f"{f.get('dangling_rows')} row(s) point to nothing; values: {values}; rows: {rows}"),
                name,
            ))
        return out
    rule = {"overlaps": "overlap", "volume": "volume"}.get(name, name)
    return [Finding(level, table, rule, f"raw.{table}: {description}", name)]


def _run_gate(raw: Path, warehouse_dir: Path, failed: set[str], reloaded: set[str] | None,
              baseline: Baseline | None) -> tuple[list[Finding], dict[tuple[str, str], list[Finding]]]:
    """Run the checks of every table that loaded. With a baseline, only the checks that read a
    table in ``reloaded`` run (a table's own checks, and the foreign keys of its children); the
    others keep the baseline's verdicts. Returns the findings and the findings per check."""
    from orchestration.lib.warehouse import Warehouse

    warehouse = Warehouse(raw_dir=str(raw), warehouse_dir=str(warehouse_dir))
    per_check: dict[tuple[str, str], list[Finding]] = {}
    disabled = logging.root.manager.disable
    logging.disable(logging.INFO)  # the checks' own progress lines: their results are returned
    try:
        for (table, name), check in _gate_checks().items():
            if table in failed or (name == "foreign_keys" and _parents(table) & failed):
                continue  # Dagster does not run the checks of an asset that failed, or wait on one
            reads_changed = table in reloaded if reloaded is not None else True
            if name == "foreign_keys" and reloaded is not None:
                reads_changed |= bool(_parents(table) & reloaded)
            if baseline is not None and not reads_changed:
                per_check[(table, name)] = baseline.findings.get((table, name), [])
                continue
            result = _invoke(check, warehouse)
            severity = getattr(result.severity, "value", str(result.severity))
            metadata = {k: v for k, v in (result.metadata or {}).items()}
            per_check[(table, name)] = _check_findings(
                table, name, result.passed, severity, result.description or "", metadata
            )
    finally:
        logging.disable(disabled)
    return [f for fs in per_check.values() for f in fs], per_check


# ----------------------------------------------------------------------------- the fast variant


def _unchanged(spec, raw: Path, baseline: Baseline, stray_tables: set[str]) -> bool:
    """The table would load exactly as in the baseline: same export path, same bytes, and no
    stray file for it to report."""
    if spec.name in stray_tables:
        return False
    try:
        path = find_export(spec, raw)
    except ExportError:
        return False
    rel = path.relative_to(raw).as_posix() if path else None
    base_rel, base_sha = baseline.sources[spec.name]
    return rel == base_rel and (path is None or file_sha256(path) == base_sha)


def _fast(raw: Path, warehouse_dir: Path, baseline: Baseline | None):
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    db = warehouse_dir / "build.duckdb"
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    if baseline is not None:
        shutil.copyfile(baseline.build_db, db)
    stray_tables = {s.table_name for s in stray_files(raw)}
    results: dict[str, LoadResult] = {}
    findings: list[Finding] = []
    failed: set[str] = set()
    reloaded: set[str] = set()
    con = connect(db)
    try:
        for spec in TABLES:
            if baseline is not None and _unchanged(spec, raw, baseline, stray_tables):
                base = baseline.results[spec.name]
                results[spec.name] = base
                if base.source_file:  # the audit names this case's file, not the baseline's
                    rel = baseline.sources[spec.name][0]
                    con.execute("update raw.load_audit set source_file = ? where table_name = ?",
                                [str(raw / rel), spec.name])
                continue
            reloaded.add(spec.name)
            try:
                results[spec.name] = load_table(con, spec, raw)
            except ExportError as exc:
                failed.add(spec.name)
                findings.append(Finding("blocked", spec.name, exc.rule, str(exc), "load"))
            except Exception as exc:  # noqa: BLE001 - a crash is what the corpus is looking for
                failed.add(spec.name)
                findings.append(Finding("crashed", spec.name, type(exc).__name__,
                                        f"{type(exc).__name__}: {exc}", "load"))
    finally:
        con.close()
    gate, per_check = _run_gate(raw, warehouse_dir, failed,
                                reloaded if baseline is not None else None, baseline)
    findings += gate
    for r in results.values():
        findings += [_warning_finding(r.table_name, w, r.source_file) for w in r.warnings]
    return findings, per_check, results, failed


def _warning_finding(table: str, warning: str, source: str | None) -> Finding:
    """A load warning ("<rule>: <message>") as a finding that names the file (or the table)."""
    rule, _, message = warning.partition(": ")
    if rule != "stray_file":  # a stray file's warning names it (relative to the raw folder)
        message = f"{source or 'raw.' + table}: {message}"
    return Finding("warning", table, rule, message, "load")


def _read_build(db: Path, failed: set[str]) -> tuple[list[tuple], dict[str, tuple[int, int, int]], bool]:
    """The quarantine, the counts per table and whether every table balances, read back from the
    build database (independently of what the loader returned)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        quarantine = con.execute(
            "select table_name, source_file, line_number, column_name, rule, reason "
            "from raw.quarantine order by table_name, line_number, column_name"
        ).fetchall()
        audit = con.execute(
            "select table_name, rows_read, rows_loaded, rows_quarantined from raw.load_audit "
            "order by table_name"
        ).fetchall()
        counts, balanced = {}, True
        for table, read, loaded, quarantined in audit:
            if table in failed:
                continue
            in_table = con.execute(f"select count(*) from raw.{quote(table)}").fetchone()[0]
            in_quarantine = con.execute(
                "select count(*) from raw.quarantine where table_name = ?", [table]).fetchone()[0]
            counts[table] = (read, loaded, quarantined)
            balanced &= read == loaded + quarantined and loaded == in_table \
                and quarantined == in_quarantine
        return quarantine, counts, balanced
    finally:
        con.close()


def _quarantine_findings(quarantine: list[tuple]) -> list[Finding]:
    out, seen = [], {}
    for table, source, line, column, rule, reason in quarantine:
        seen[(table, rule)] = seen.get((table, rule), 0) + 1
        if seen[(table, rule)] == 1:
            out.append(Finding("quarantined", table, rule,
                               f"{source}, line {line}, column {column}: {reason}", "quarantine"))
    return [Finding(f.level, f.table, f.rule, f.message + (
        f" (and {seen[(f.table, f.rule)] - 1} more)" if seen[(f.table, f.rule)] > 1 else ""),
        f.source) for f in out]


def prepare_baseline(raw_dir: Path, work_dir: Path) -> Baseline:
    """Load and check the clean exports in ``raw_dir`` once (into ``work_dir``)."""
    raw_dir, work_dir = Path(raw_dir), Path(work_dir)
    started = time.perf_counter()
    findings, per_check, results, failed = _fast(raw_dir, work_dir, None)
    sources = {}
    for spec in TABLES:
        r = results.get(spec.name)
        if r is None:
            raise ValueError(f"{raw_dir}: the baseline does not load: {findings}")
        rel = Path(r.source_file).relative_to(raw_dir).as_posix() if r.source_file else None
        sources[spec.name] = (rel, r.file_sha256)
    row = _row({"name": "baseline"}, raw_dir, findings, results, failed,
               work_dir / "build.duckdb", None, time.perf_counter() - started)
    return Baseline(raw_dir, work_dir / "build.duckdb", sources, results, per_check, row)


def _outcome(findings: list[Finding]) -> str:
    levels = {f.level for f in findings}
    for outcome in OUTCOMES[:-1]:
        if LEVEL_OF_OUTCOME[outcome] in levels:
            return outcome
    return "accepted"


def _row(case: dict, raw: Path, findings: list[Finding], results: dict[str, LoadResult],
         failed: set[str], db: Path, published_intact: bool | None, seconds: float) -> CaseRow:
    quarantine, counts, balanced = _read_build(db, failed)
    findings = findings + _quarantine_findings(quarantine)
    outcome = _outcome(findings)
    at_level = [f for f in findings if f.level == LEVEL_OF_OUTCOME.get(outcome)]
    table = case.get("table")
    t_counts = counts.get(table) if table else None
    return CaseRow(
        case=case.get("name", raw.parent.name),
        inputs=case.get("file", ""),
        description=case.get("description", ""),
        expected=case.get("outcome"),
        expected_rule=case.get("rule"),
        outcome=outcome,
        rules=tuple(dict.fromkeys(f.rule for f in at_level)),
        message=at_level[0].message if at_level else "",
        rows_read=sum(c[0] for c in counts.values()),
        rows_loaded=sum(c[1] for c in counts.values()),
        rows_quarantined=sum(c[2] for c in counts.values()),
        table=table,
        table_read=t_counts[0] if t_counts else None,
        table_loaded=t_counts[1] if t_counts else None,
        table_quarantined=t_counts[2] if t_counts else None,
        balanced=balanced,
        published_intact=published_intact,
        seconds=round(seconds, 2),
        build_db=db,
        findings=findings,
        quarantine=quarantine[:QUARANTINE_SAMPLE],
        counts=counts,
    )


# ----------------------------------------------------------------------- the end-to-end variant


@contextmanager
def _output_to(path: Path):
    """Send this process's standard output and error (file descriptors 1 and 2, so child
    processes' too) to ``path`` for the duration."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield path
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _full(raw: Path, warehouse_dir: Path, published_db: Path | None):
    """The whole refresh job; its findings, the load results, the tables that failed to load,
    and whether the published file is intact afterwards."""
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.lib.publish import AuditError, audit
    from orchestration.lib.warehouse import BUILD_DB_NAME, PUBLISHED_DB_NAME, pipeline_env

    warehouse_dir.mkdir(parents=True, exist_ok=True)
    published = warehouse_dir / PUBLISHED_DB_NAME
    if published_db is not None and not published.exists():
        shutil.copyfile(published_db, published)
    before = file_sha256(published) if published.exists() else None
    (warehouse_dir / BUILD_DB_NAME).unlink(missing_ok=True)
    # The run's own output (Dagster's events, dbt's lines) goes to <warehouse_dir>/run.log, not
    # between the table's progress lines: file descriptors 1 and 2, which dbt inherits.
    with pipeline_env(raw, warehouse_dir), _output_to(warehouse_dir / "run.log"):
        result = defs.resolve_job_def("refresh").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
        )
    findings: list[Finding] = []
    failed: set[str] = set()
    table_names = {t.name for t in TABLES}
    for e in result.all_events:
        if not e.is_step_failure:
            continue
        data = e.event_specific_data
        if data.error is not None and data.error.cls_name == "DagsterAssetCheckFailedError":
            continue  # a blocking check failed: its evaluation below says which and why
        user = data.user_failure_data
        meta = dict(user.metadata) if user and user.metadata else {}
        rule = meta.get("rule")
        rule = getattr(rule, "value", rule) or ("dbt" if "dbt" in e.step_key else e.step_key)
        table = next((t for t in table_names if e.step_key.endswith(t)), e.step_key)
        if table in table_names:
            failed.add(table)
        message = (user.description if user and user.description else data.error.message)
        findings.append(Finding("blocked", table, rule, message.strip(), e.step_key))
    for ev in result.get_asset_check_evaluations():
        meta = {k: v for k, v in ev.metadata.items()}
        severity = getattr(ev.severity, "value", str(ev.severity))
        findings += _check_findings(ev.asset_key.path[-1], ev.check_name, ev.passed, severity,
                                    ev.description or "", meta)
    results: dict[str, LoadResult] = {}
    build = warehouse_dir / BUILD_DB_NAME
    if build.exists():
        con = duckdb.connect(str(build), read_only=True)
        try:
            for table, source, warnings in con.execute(
                "select table_name, source_file, coalesce(warnings, '') from raw.load_audit"
            ).fetchall():
                findings += [_warning_finding(table, w, source) for w in warnings.splitlines() if w]
        finally:
            con.close()
    after = file_sha256(published) if published.exists() else None
    blocked = any(f.level == "blocked" for f in findings) or not result.success
    if blocked:
        intact = after == before
    else:
        try:
            audit(published)
            intact = after is not None
        except (AuditError, duckdb.Error):
            intact = False
    return findings, results, failed, intact


# -------------------------------------------------------------------------------------- public


def run_case(case_dir: Path, warehouse_dir: Path, *, baseline: Baseline | None = None,
             full_pipeline: bool = False, published_db: Path | None = None) -> CaseRow:
    """Run one case (see the module docstring) with ``warehouse_dir`` as its warehouse."""
    case_dir, warehouse_dir = Path(case_dir), Path(warehouse_dir)
    case = read_case(case_dir)
    raw = case_raw_dir(case_dir, case)
    started = time.perf_counter()
    if full_pipeline:
        findings, results, failed, intact = _full(raw, warehouse_dir, published_db)
    else:
        findings, _, results, failed = _fast(raw, warehouse_dir, baseline)
        intact = None
    db = warehouse_dir / "build.duckdb"
    return _row(case, raw, findings, results, failed, db, intact, time.perf_counter() - started)


def case_dirs(corpus: Path) -> list[Path]:
    """The case folders of a corpus, in the order of its cases (``index`` in case.json)."""
    dirs = [p.parent for p in Path(corpus).glob("*/case.json")]
    return sorted(dirs, key=lambda d: (read_case(d).get("index", 1_000_000), d.name))


def run_corpus(corpus: Path, work_dir: Path, *, full_pipeline: bool = False,
               published_db: Path | None = None, base_raw: Path | None = None,
               log=None) -> list[CaseRow]:
    """Every case of ``corpus``, each in its own warehouse under ``work_dir``. The fast variant
    starts from a baseline of ``base_raw`` (default ``<corpus>/_base`` when it exists)."""
    corpus, work_dir = Path(corpus), Path(work_dir)
    base_raw = base_raw or (corpus / "_base" if (corpus / "_base").is_dir() else None)
    baseline = None
    if base_raw is not None and not full_pipeline:
        baseline = prepare_baseline(base_raw, work_dir / "_baseline")
    rows = []
    dirs = case_dirs(corpus)
    for i, d in enumerate(dirs, 1):
        rows.append(run_case(d, work_dir / d.name, baseline=baseline, full_pipeline=full_pipeline,
                             published_db=published_db))
        if log is not None:
            r = rows[-1]
            log(f"[{i}/{len(dirs)}] {r.case}: {r.outcome}, published intact "
                f"{_yes_no(r.published_intact)} ({r.seconds:.0f} s)")
    return rows


def _yes_no(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "NO")


def render_table(rows: list[CaseRow], markdown: bool = False) -> str:
    """The reliability table: one line per input tried."""
    header = ["case", "input", "expected", "outcome", "rule", "read", "loaded", "quarantined",
              "table r/l/q", "r=l+q", "published intact", "s"]
    lines = []
    for r in rows:
        table = ("-" if r.table_read is None
                 else f"{r.table_read}/{r.table_loaded}/{r.table_quarantined}")
        lines.append([
            r.case, r.inputs, (r.expected or "") + ("" if r.as_expected in (None, True) else " (!)"),
            r.outcome, ", ".join(r.rules[:2]) + (" ..." if len(r.rules) > 2 else ""),
            f"{r.rows_read:,}", f"{r.rows_loaded:,}", f"{r.rows_quarantined:,}", table,
            "yes" if r.balanced else "NO", _yes_no(r.published_intact), f"{r.seconds:.1f}",
        ])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in lines]
        return "\n".join(out)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    numeric = {5, 6, 7, 8, 11}
    fmt = [(lambda s, w=w, i=i: s.rjust(w) if i in numeric else s.ljust(w))
           for i, w in enumerate(widths)]
    out = ["  ".join(f(h) for f, h in zip(fmt, header, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(f(c) for f, c in zip(fmt, line, strict=True)).rstrip() for line in lines]
    failing = [r.case for r in rows if r.as_expected is False]
    out.append(f"{len(rows)} inputs, {len(rows) - len(failing)} as documented"
               + (f"; NOT as documented: {', '.join(failing)}" if failing else ""))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """``python -m orchestration.lib.reliability CORPUS WORK_DIR [--full] [--published DB]``"""
    import argparse

    parser = argparse.ArgumentParser(description="Run a broken-exports corpus, print the table.")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--full", action="store_true", help="the whole refresh job per case")
    parser.add_argument("--published", type=Path, help="published file each full run starts from")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    rows = run_corpus(args.corpus, args.work_dir, full_pipeline=args.full,
                      published_db=args.published,
                      log=(lambda m: print(m, file=sys.stderr, flush=True)) if args.full else None)
    print(render_table(rows, markdown=args.markdown))
    return 0 if all(r.as_expected is not False for r in rows) else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
