"""The raw data-quality gate: blocking asset checks on every ``raw/<system>_<entity>`` asset.

Per contract table, made by one factory:

* ``expectations_suite`` (blocking): the table's Great Expectations suite from
  ``expectations/<table>.json``. Small tables are read into pandas and validated by GX itself,
  unless an earlier validation of the same rows by the same suite passed: its result is given
  again (``KEPT_RESULTS_DIR``; the rows are compared by a fingerprint computed in DuckDB);
  ``large`` tables (``product_usage_events``) are validated by the same suite translated to SQL
  and run in DuckDB, never pulled into pandas; their uniqueness expectations look up only the
  rows an appended export added when the rows before them held the expectation in an earlier
  run (``CheckedRows``). A failed ``critical`` expectation fails the check
  with ERROR, which stops everything downstream of the table; a failed ``warning`` one (a
  hand-added override) only warns.
* ``foreign_keys`` (blocking, tables with ``references`` columns): in SQL, the rows whose
  non-null reference does not resolve in the parent raw table; rows whose references resolved
  in an earlier run, in a parent load the parent still holds whole, are not looked up again
  (``CheckedRows``). The parent raw assets are
  ``additional_deps``, so in one run the check waits for them to load.
* ``volume`` (WARN, not blocking; ``product_usage_events``): the table is not empty, and no day
  in the 28 days up to the last event day is without events once events have started (an
  export that silently lost a day).
* ``overlaps`` (WARN, not blocking; ``billing_subscriptions``, ``billing_invoice_lines``): two
  subscriptions of one customer to the same plan active on the same day, or two recurring lines
  of one subscription paying for the same day. Both can be legitimate (a second team on the same
  plan, a proration) and both can be a duplicated record that double-counts MRR: a person looks.

Every result carries the counts, a sample of offending values and rows (JSON) and a Markdown
summary, so the UI answers "what is wrong and where" without a query.
"""

# No ``from __future__ import annotations`` here: Dagster checks the ``context`` annotation of an
# asset check against the class itself, and a string annotation fails that check.
import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetCheckExecutionContext

from orchestration.lib.contract import TABLES, TableSpec
from orchestration.lib.expectations import (
    EXPECTATIONS_DIR,
    REPO_ROOT,
    SAMPLE_SIZE,
    UNIQUENESS_TYPES,
    KeptResults,
    SuiteResult,
    json_safe,
    kept_entry,
    kept_result,
    load_suite,
    run_suite_in_duckdb,
    run_suite_on_dataframe,
    suite_digest,
    suite_parameters,
    suite_path,
    table_fingerprint,
    uniqueness_key,
)
from orchestration.lib.loader import env_flag, quote
from orchestration.lib.warehouse import Warehouse

EXPECTATIONS_CHECK = "expectations_suite"
FOREIGN_KEYS_CHECK = "foreign_keys"
VOLUME_CHECK = "volume"
OVERLAPS_CHECK = "overlaps"

# Tables with a volume check, and the timestamp column their days are counted on.
VOLUME_COLUMNS: dict[str, str] = {"product_usage_events": "event_at"}
VOLUME_LOOKBACK_DAYS = 28


@dataclass(frozen=True)
class OverlapRule:
    """Rows sharing ``partition`` values whose ``[start, end)`` periods must not overlap (an empty
    ``end`` is open-ended); only rows matching ``where`` (SQL on the raw table) count."""

    partition: tuple[str, ...]
    start: str
    end: str
    what: str
    where: str = "true"


OVERLAP_RULES: dict[str, OverlapRule] = {
    "billing_subscriptions": OverlapRule(
        ("customer_id", "plan_id"), "start_date", "canceled_date",
        "subscriptions of one customer to the same plan active on the same day",
    ),
    "billing_invoice_lines": OverlapRule(
        ("subscription_id",), "service_period_start", "service_period_end",
        "recurring lines of one subscription paying for the same day",
        where="line_type = 'recurring'",
    ),
}


def raw_key(spec: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["raw", spec.name])


def _relation(table: str) -> str:
    return f"raw.{quote(table)}"


def _table_exists(con, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'raw' and table_name = ?",
            [table],
        ).fetchone()[0]
    )


def _md(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")[:120]


# ------------------------------------------------------------------------- expectations_suite


def suite_check_metadata(result: SuiteResult, suite_file: str) -> dict:
    failures = result.failures
    return {
        "engine": result.engine,
        "suite_file": suite_file,
        "rows_validated": result.row_count,
        "rows_known_unique": max((r.rows_known for r in result.results), default=0),
        "expectations_evaluated": len(result.results),
        "expectations_failed": len(failures),
        "unexpected_rows": sum(r.unexpected_count or 0 for r in failures),
        "duration_seconds": round(result.seconds, 3),
        # Set when the result is an earlier validation's, of the same rows by the same suite.
        "kept_from_validation_at": result.kept_from or "",
        "failures": dg.MetadataValue.json(
            {f"{r.index}: {r.label}": r.as_dict() for r in failures}
        ),
        "summary": dg.MetadataValue.md(result.markdown()),
    }


def _build_expectations_check(
    spec: TableSpec, expectations_dir: Path, engine: str
) -> dg.AssetChecksDefinition:
    suite = load_suite(spec.name, expectations_dir)  # fails the code location if missing
    path = suite_path(spec.name, expectations_dir)
    try:
        suite_file = str(path.relative_to(REPO_ROOT))
    except ValueError:
        suite_file = str(path)
    use_sql = engine == "sql" or (engine == "auto" and spec.large)
    how = (
        "translated to SQL and run in DuckDB (large table)"
        if use_sql
        else "run by Great Expectations on a pandas DataFrame (a passing result is kept while "
        "the rows and the suite stay the same)"
    )

    @dg.asset_check(
        asset=raw_key(spec),
        name=EXPECTATIONS_CHECK,
        blocking=True,
        description=(
            f"The {len(suite['expectations'])} expectations of `{suite_file}` (keys, required "
            f"values, enumerations, ranges, plausible dates), {how}."
        ),
    )
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            if use_sql:
                ledger = CheckedRows(warehouse.warehouse_path / CHECKED_ROWS_NAME)
                lineage = load_lineage(con, spec.name)
                result = run_suite_in_duckdb(con, suite, _relation(spec.name),
                                             known_unique=known_unique(ledger, spec.name, lineage))
                record_unique(ledger, spec.name, lineage, result)
            else:
                kept = KeptResults(warehouse.warehouse_path / KEPT_RESULTS_DIR)
                result = _validate_small_table(con, spec.name, suite, kept, context.log.warning)
        known = max((r.rows_known for r in result.results), default=0)
        context.log.info(
            f"{spec.name}: {len(result.results)} expectations, {len(result.failures)} failed, "
            f"{result.row_count} rows, {result.engine}, {result.seconds:.2f}s"
            + (f"; uniqueness looked up for the {result.row_count - known} rows after the "
               f"{known} that held it in an earlier run" if known else "")
            + (f"; {_kept_note(result)}" if result.kept_from else "")
        )
        blocking_failed = [r for r in result.failures if r.blocking]
        failed_labels = ", ".join(
            f"{r.label} [{r.meta.get('rule', '')}]: "
            f"{r.unexpected_count if r.error is None else 'error'}"
            for r in result.failures
        )
        return dg.AssetCheckResult(
            passed=not result.failures,
            severity=(
                dg.AssetCheckSeverity.ERROR
                if blocking_failed or not result.failures
                else dg.AssetCheckSeverity.WARN
            ),
            description=(
                f"{len(result.failures)} of {len(result.results)} expectations failed: "
                f"{failed_labels}"
                if result.failures
                else f"All {len(result.results)} expectations passed"
                + (f" ({_kept_note(result)})." if result.kept_from else ".")
            )[:1000],
            metadata=suite_check_metadata(result, suite_file),
        )

    return _check


# Kept Great Expectations results of the small tables, one file per table, beside the build
# database (expectations.kept_result); ``CS_REVALIDATE_RAW=true`` validates every table anyway.
KEPT_RESULTS_DIR = "raw_suite_results"
REVALIDATE_ENV = "CS_REVALIDATE_RAW"


def _kept_note(result: SuiteResult) -> str:
    """Where a kept result comes from, and how its parameters differ from those it was
    validated with (for the check's description and log)."""
    moved = "".join(f"; {name} then {before}, a bound no row was above"
                    for name, before in sorted(result.kept_parameters_moved.items()))
    return f"the result of the validation at {result.kept_from}: the same rows, the same suite{moved}"


def _validate_small_table(con, table: str, suite: dict, kept: KeptResults,
                          warn: Callable[[str], Any]) -> SuiteResult:
    """The table's suite run by Great Expectations on a pandas DataFrame, or the result of an
    earlier validation of the same rows by the same suite (``kept_result``), which reads the
    table once in DuckDB for its fingerprint and does not import GX."""
    started = time.perf_counter()
    parameters = suite_parameters()
    fingerprint = table_fingerprint(con, "raw", table)
    digest = suite_digest(suite, "great_expectations")
    if not env_flag(REVALIDATE_ENV):
        result = kept_result(kept.get(table), suite, fingerprint, digest, parameters)
        if result is not None:
            result.seconds = time.perf_counter() - started
            return result
    validated_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    df = con.execute(f"select * from {_relation(table)}").df()
    result = run_suite_on_dataframe(suite, df, parameters=parameters)
    failed = kept.put(table, kept_entry(result, suite, fingerprint, digest, parameters,
                                        validated_at))
    if failed:
        warn(f"{table}: the validation's result could not be kept ({failed}); the next run "
             "validates the table again")
    return result


# What an earlier run found to hold over a large table's rows (checks that can then look at the
# rows an appended export added, and only those).
CHECKED_ROWS_NAME = "raw_rows_checked.json"


@dataclass(frozen=True)
class LoadLineage:
    """What ``raw.load_state`` says of a table's rows (loader.py): the load's signature and
    checksum, its raw rows, and for an appended load the load it continued and that load's
    raw rows (the first rows of the table)."""

    signature: str
    source_hash: str
    rows_loaded: int
    continued_from: str
    continued_rows_loaded: int

    def holds(self, source_hash: str) -> bool:
        """Whether the table holds every row of the load with this checksum (it is that load,
        or an appended load that continued it)."""
        return source_hash in (self.source_hash, self.continued_from or None)


def load_lineage(con, table: str) -> LoadLineage | None:
    """The table's load state, if the table holds exactly the rows that load left."""
    try:
        row = con.execute(
            "select signature, source_hash, rows_loaded, continued_from, continued_rows_loaded "
            "from raw.load_state where table_name = ?", [table]
        ).fetchone()
    except Exception:  # noqa: BLE001 - a build database without load state: nothing known
        return None
    if row is None or not _table_exists(con, table):
        return None
    held = con.execute(f"select count(*) from {_relation(table)}").fetchone()[0]
    lineage = LoadLineage(row[0], row[1], int(row[2]), row[3] or "", int(row[4] or 0))
    return lineage if held == lineage.rows_loaded else None


class CheckedRows:
    """Which rules a table's rows held when they were last checked, keyed by the load that
    produced the rows (signature and checksum of the export, loader.py), per check: the
    uniqueness expectations of ``expectations_suite``, the references of ``foreign_keys``
    (with the loads of the parent tables they resolved in).

    A JSON file beside the build database. What it records is a fact about content, not about
    a run: the rows of a load with that signature and checksum are always the same rows, so a
    stale entry can only fail to match (then the whole table is checked), never vouch for
    rows it did not see. Only rules that found nothing wrong are recorded. Two checks writing
    at once may lose one's entry: that costs the next run a whole-table check, nothing else."""

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def known(self, check: str, table: str, lineage: LoadLineage | None
              ) -> tuple[int, dict]:
        """(the first rows of the table that were checked, the entry recorded then), or
        (0, {}) when nothing is known of the rows the table holds now."""
        entry = self._read().get(f"{check}/{table}")
        if lineage is None or not isinstance(entry, dict):
            return 0, {}
        if entry.get("signature") != lineage.signature:
            return 0, {}
        checked = (entry.get("source_hash"), entry.get("rows"))
        if checked == (lineage.source_hash, lineage.rows_loaded):
            return lineage.rows_loaded, entry  # the same rows as when they were checked
        if lineage.continued_from and checked == (lineage.continued_from,
                                                  lineage.continued_rows_loaded):
            return lineage.continued_rows_loaded, entry  # those rows, then appended ones
        return 0, {}

    def record(self, check: str, table: str, lineage: LoadLineage | None, **held) -> None:
        if lineage is None:
            return
        data = self._read()
        data[f"{check}/{table}"] = {"signature": lineage.signature,
                                    "source_hash": lineage.source_hash,
                                    "rows": lineage.rows_loaded, **held}
        # Written whole and renamed into place: a reader sees the old file or the new one.
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)


def known_unique(ledger: CheckedRows, table: str, lineage: LoadLineage | None) -> dict[str, int]:
    """``uniqueness_key`` -> the first rows of the table known to hold it."""
    rows, entry = ledger.known(EXPECTATIONS_CHECK, table, lineage)
    return {key: rows for key in entry.get("unique", []) if isinstance(key, str)} if rows else {}


def record_unique(ledger: CheckedRows, table: str, lineage: LoadLineage | None,
                  result: SuiteResult) -> None:
    held = [
        uniqueness_key({"type": r.type, "kwargs": r.kwargs}) for r in result.results
        if r.type in UNIQUENESS_TYPES and r.error is None and r.unexpected_count == 0
    ]
    ledger.record(EXPECTATIONS_CHECK, table, lineage, unique=held)


# ------------------------------------------------------------------------------ foreign_keys


def _references(spec: TableSpec) -> list[tuple[str, str, str]]:
    """(column, parent table, parent column) for every reference column of ``spec``."""
    out = []
    for c in spec.columns:
        if c.references:
            parent, parent_column = c.references.split(".")
            out.append((c.name, parent, parent_column))
    return out


def check_foreign_keys(con, spec: TableSpec, sample_size: int = SAMPLE_SIZE,
                       known: dict[str, int] | None = None) -> list[dict]:
    """One entry per reference column: rows checked, dangling rows and samples.

    ``known`` (column -> N): the table's first N rows by ``rowid`` are known to resolve (their
    references resolved in rows the parent table still holds); only the later rows are looked
    up, and the figures are those of the whole table."""
    key = list(spec.primary_key)
    results = []
    for column, parent, parent_column in _references(spec):
        rows_known = (known or {}).get(column, 0)
        entry = {
            "column": column,
            "references": f"{parent}.{parent_column}",
            "rows_checked": None,
            "rows_known": rows_known,
            "dangling_rows": None,
            "dangling_values": [],
            "sample_values": [],
            "sample_rows": [],
            "error": None,
        }
        results.append(entry)
        if not _table_exists(con, parent):
            entry["error"] = f"parent table raw.{parent} does not exist (not loaded yet?)"
            continue
        col, pcol = quote(column), quote(parent_column)
        dangling = (
            f"from {_relation(spec.name)} c where c.{col} is not null "
            + (f"and c.rowid >= {int(rows_known)} " if rows_known else "")
            + f"and not exists (select 1 from {_relation(parent)} p where p.{pcol} = c.{col})"
        )
        checked, rows, values = con.execute(
            f"select (select count({col}) from {_relation(spec.name)}), count(*), "
            f"count(distinct c.{col}) {dangling}"
        ).fetchone()
        entry.update(rows_checked=checked, dangling_rows=rows, dangling_values=values)
        if rows:
            entry["sample_values"] = [
                {"value": json_safe(v), "rows": n}
                for v, n in con.execute(
                    f"select c.{col}, count(*) as n {dangling} group by 1 order by n desc, 1 "
                    f"limit {int(sample_size)}"
                ).fetchall()
            ]
            cols = list(dict.fromkeys([*key, column]))
            cur = con.execute(
                f"select {', '.join('c.' + quote(k) for k in cols)} {dangling} "
                f"order by {', '.join('c.' + quote(k) for k in key)} limit {int(sample_size)}"
            )
            entry["sample_rows"] = [json_safe(dict(zip(cols, row, strict=False))) for row in cur.fetchall()]
    return results


def known_references(ledger: CheckedRows, spec: TableSpec, lineage: LoadLineage | None,
                     parents: dict[str, LoadLineage | None]) -> dict[str, int]:
    """Reference column -> the first rows of the table whose references resolved when they
    were checked, in a load of the parent table that the parent table still holds whole."""
    rows, entry = ledger.known(FOREIGN_KEYS_CHECK, spec.name, lineage)
    if not rows:
        return {}
    known = {}
    for column, parent, _ in _references(spec):
        then, now = entry.get("parents", {}).get(column), parents.get(parent)
        if (column in entry.get("resolved", []) and isinstance(then, list) and now is not None
                and then[0] == now.signature and now.holds(then[1])):
            known[column] = rows
    return known


def record_references(ledger: CheckedRows, spec: TableSpec, lineage: LoadLineage | None,
                      parents: dict[str, LoadLineage | None], results: list[dict]) -> None:
    """The references that resolved, each with the load of the parent it resolved in."""
    where = {column: parents.get(parent) for column, parent, _ in _references(spec)}
    resolved = [r["column"] for r in results
                if r["error"] is None and r["dangling_rows"] == 0 and where[r["column"]]]
    ledger.record(FOREIGN_KEYS_CHECK, spec.name, lineage, resolved=resolved, parents={
        column: [where[column].signature, where[column].source_hash] for column in resolved})


def _foreign_keys_markdown(results: list[dict]) -> str:
    lines = [
        "| column | references | non-null rows | dangling rows | distinct dangling | sample |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        sample = r["error"] or ", ".join(f"{s['value']} ({s['rows']})" for s in r["sample_values"][:5])
        lines.append(
            f"| {r['column']} | {r['references']} | {'' if r['rows_checked'] is None else r['rows_checked']} | "
            f"{'' if r['dangling_rows'] is None else r['dangling_rows']} | "
            f"{'' if r['dangling_rows'] is None else r['dangling_values']} | {_md(sample)} |"
        )
    return "\n".join(lines)


def _build_foreign_keys_check(spec: TableSpec) -> dg.AssetChecksDefinition:
    refs = _references(spec)
    parents = sorted({parent for _, parent, _ in refs if parent != spec.name})

    @dg.asset_check(
        asset=raw_key(spec),
        name=FOREIGN_KEYS_CHECK,
        blocking=True,
        additional_deps=[dg.AssetKey(["raw", p]) for p in parents],
        description=(
            "Every non-null reference resolves in its parent raw table: "
            + ", ".join(f"`{c}` -> `{p}.{pc}`" for c, p, pc in refs)
            + "."
        ),
    )
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        started = time.perf_counter()
        ledger = CheckedRows(warehouse.warehouse_path / CHECKED_ROWS_NAME)
        with warehouse.connect(read_only=True) as con:
            lineage = load_lineage(con, spec.name)
            parents = {p: load_lineage(con, p) for p in {p for _, p, _ in refs}}
            results = check_foreign_keys(
                con, spec, known=known_references(ledger, spec, lineage, parents))
        record_references(ledger, spec, lineage, parents, results)
        failed = [r for r in results if r["error"] or r["dangling_rows"]]
        known = max((r["rows_known"] for r in results), default=0)
        context.log.info(
            f"{spec.name}: {len(results)} references, {len(failed)} with dangling rows, "
            f"{time.perf_counter() - started:.2f}s"
            + (f"; looked up for the rows after the {known} whose references resolved in an "
               "earlier run in rows their parents still hold" if known else "")
        )
        return dg.AssetCheckResult(
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                "Dangling references: "
                + ", ".join(
                    f"{r['column']} -> {r['references']}: "
                    + (r["error"] or f"{r['dangling_rows']} rows")
                    for r in failed
                )
                if failed
                else f"All {len(results)} references resolve."
            )[:1000],
            metadata={
                "references_checked": len(results),
                "references_failed": len(failed),
                "dangling_rows": sum(r["dangling_rows"] or 0 for r in results),
                "rows_known_to_resolve": known,
                "failures": dg.MetadataValue.json(
                    {f"{r['column']} -> {r['references']}": r for r in failed}
                ),
                "summary": dg.MetadataValue.md(_foreign_keys_markdown(results)),
                "duration_seconds": round(time.perf_counter() - started, 3),
            },
        )

    return _check


# ------------------------------------------------------------------------------------- volume


def daily_volume(con, table: str, column: str, lookback_days: int = VOLUME_LOOKBACK_DAYS) -> dict:
    """Row count, first/last event day, and the events per day of the last ``lookback_days``
    days up to the last event day, with the days that had none although events had started."""
    col = quote(column)
    row_count, first_day, last_day, last_at = con.execute(
        f"select count(*), min({col})::date, max({col})::date, max({col}) from {_relation(table)}"
    ).fetchone()
    out = {
        "row_count": row_count,
        "first_day": first_day,
        "last_day": last_day,
        "last_event_at": last_at,
        "days": [],
        "zero_days": [],
    }
    if not row_count or last_day is None:
        return out
    rows = con.execute(
        f"""
        with days as (
            select cast(d as date) as day
            from range(?::date - (? - 1) * interval 1 day, ?::date + interval 1 day,
                       interval 1 day) t(d)
        ),
        counts as (
            select {col}::date as day, count(*) as events
            from {_relation(table)}
            where {col} >= ?::date - (? - 1) * interval 1 day
            group by 1
        )
        select days.day, coalesce(counts.events, 0) as events
        from days left join counts using (day)
        order by days.day
        """,
        [last_day, lookback_days, last_day, last_day, lookback_days],
    ).fetchall()
    out["days"] = [{"day": d.isoformat(), "events": n} for d, n in rows]
    out["zero_days"] = [d.isoformat() for d, n in rows if n == 0 and d > first_day]
    return out


def _build_volume_check(spec: TableSpec, column: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(spec),
        name=VOLUME_CHECK,
        blocking=False,
        description=(
            f"WARN when `raw.{spec.name}` is empty, or when a day of the "
            f"{VOLUME_LOOKBACK_DAYS} days up to the last `{column}` day has no rows although "
            "earlier days have (a lost day in the export)."
        ),
    )
    def _check(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            v = daily_volume(con, spec.name, column)
        counts = [d["events"] for d in v["days"]]
        median = sorted(counts)[len(counts) // 2] if counts else 0
        passed = bool(v["row_count"]) and not v["zero_days"]
        if not v["row_count"]:
            description = f"raw.{spec.name} is empty."
        elif v["zero_days"]:
            description = (
                f"{len(v['zero_days'])} day(s) without rows in the last {VOLUME_LOOKBACK_DAYS} "
                f"days: {', '.join(v['zero_days'][:10])}"
            )
        else:
            description = f"Rows every day of the last {VOLUME_LOOKBACK_DAYS} days."
        table = "\n".join(
            ["| day | rows |", "|---|---|"] + [f"| {d['day']} | {d['events']} |" for d in v["days"]]
        )
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=description,
            metadata={
                "row_count": v["row_count"],
                "first_day": str(v["first_day"] or ""),
                "last_day": str(v["last_day"] or ""),
                "last_event_at": str(v["last_event_at"] or ""),
                "days_checked": len(v["days"]),
                "days_without_rows": len(v["zero_days"]),
                "median_rows_per_day": median,
                "zero_days": dg.MetadataValue.json(v["zero_days"]),
                "daily_rows": dg.MetadataValue.md(table),
            },
        )

    return _check


# ----------------------------------------------------------------------------------- overlaps


def check_overlaps(con, spec: TableSpec, rule: OverlapRule, sample_size: int = SAMPLE_SIZE) -> dict:
    """Rows whose period starts before an earlier row of the same partition has ended (ordered
    by start, then key), with a sample of them and of the rows they overlap."""
    key = [quote(k) for k in spec.primary_key]
    part = [quote(p) for p in rule.partition]
    start, end = quote(rule.start), quote(rule.end)
    overlapping = f"""
        with periods as (
            select {", ".join(dict.fromkeys(key + part))}, {start} as period_start,
                   coalesce({end}, 'infinity'::date) as period_end
            from {_relation(spec.name)}
            where ({rule.where}) and {start} is not null
              and {" and ".join(f"{p} is not null" for p in part)}
        ),
        ordered as (
            select *, max(period_end) over (
                partition by {", ".join(part)} order by period_start, {", ".join(key)}
                rows between unbounded preceding and 1 preceding) as earlier_end
            from periods
        )
        select * from ordered where period_start < earlier_end
    """
    count = con.execute(f"select count(*) from ({overlapping})").fetchone()[0]
    cur = con.execute(
        f"select * exclude (earlier_end) from ({overlapping}) order by all limit {int(sample_size)}"
    )
    names = [d[0] for d in cur.description]
    rows = [json_safe(dict(zip(names, row, strict=False))) for row in cur.fetchall()]
    return {"overlapping_rows": count, "sample_rows": rows}


def _build_overlaps_check(spec: TableSpec, rule: OverlapRule) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(spec),
        name=OVERLAPS_CHECK,
        blocking=False,
        description=(
            f"WARN when {rule.what} (`{rule.start}` to `{rule.end}`, per "
            f"{', '.join(f'`{p}`' for p in rule.partition)}): legitimate sometimes, a duplicate "
            "that double-counts MRR other times."
        ),
    )
    def _check(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            result = check_overlaps(con, spec, rule)
        n = result["overlapping_rows"]
        return dg.AssetCheckResult(
            passed=n == 0,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"{n} row(s) of raw.{spec.name} overlap an earlier one: {rule.what}."
                if n else f"No {rule.what}."
            ),
            metadata={
                "overlapping_rows": n,
                "sample_rows": dg.MetadataValue.json(result["sample_rows"]),
            },
        )

    return _check


# ------------------------------------------------------------------------------------ factory


def build_raw_quality_checks(
    specs: tuple[TableSpec, ...] | list[TableSpec] = TABLES,
    expectations_dir: Path = EXPECTATIONS_DIR,
    engine: str = "auto",
) -> list[dg.AssetChecksDefinition]:
    """The raw quality gate for ``specs`` (default: every contract table).

    ``engine``: ``auto`` (GX on pandas for small tables, SQL for ``large`` ones), ``sql`` (SQL
    for every table) or ``pandas`` (GX for every table; only sensible on small test data).
    """
    if engine not in ("auto", "sql", "pandas"):
        raise ValueError(f"engine must be auto, sql or pandas, not {engine!r}")
    checks: list[dg.AssetChecksDefinition] = []
    for spec in specs:
        checks.append(_build_expectations_check(spec, Path(expectations_dir), engine))
        if _references(spec):
            checks.append(_build_foreign_keys_check(spec))
        if spec.name in VOLUME_COLUMNS:
            checks.append(_build_volume_check(spec, VOLUME_COLUMNS[spec.name]))
        if spec.name in OVERLAP_RULES:
            checks.append(_build_overlaps_check(spec, OVERLAP_RULES[spec.name]))
    return checks


def check_names_by_table() -> dict[str, list[str]]:
    """Table -> the names of its quality checks (documentation and tests)."""
    out = {}
    for spec in TABLES:
        names = [EXPECTATIONS_CHECK]
        if _references(spec):
            names.append(FOREIGN_KEYS_CHECK)
        if spec.name in VOLUME_COLUMNS:
            names.append(VOLUME_CHECK)
        if spec.name in OVERLAP_RULES:
            names.append(OVERLAPS_CHECK)
        out[spec.name] = names
    return out

