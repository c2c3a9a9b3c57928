"""Extract assets: one per export file of the contract, all made by one factory.

Lineage: ``exports/<system>/<entity>`` (the file a source system dropped, an external asset)
-> ``raw/<system>_<entity>`` (this asset: the contract-checked table in the build database)
-> dbt staging -> marts -> publish.
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from orchestration.lib.contract import TABLES, TableSpec
from orchestration.lib.killpoints import pause_at
from orchestration.lib.loader import ExportError, LoadResult, load_table, quote
from orchestration.lib.raw_parquet import export_for_spark
from orchestration.lib.retry import retry_transient
from orchestration.lib.warehouse import Warehouse

PREVIEW_ROWS = 5
OWNERS = ["team:data-engineering"]


def _hours(name: str, default: float) -> timedelta:
    return timedelta(hours=float(os.environ.get(name, default)))


def export_freshness() -> dg.FreshnessPolicy:
    """An export file is expected to arrive (be written anew) every day: WARN after 30 hours
    without a new file, FAIL after 48 (CS_EXPORT_WARN_HOURS, CS_EXPORT_FAIL_HOURS)."""
    return dg.FreshnessPolicy.time_window(
        fail_window=_hours("CS_EXPORT_FAIL_HOURS", 48), warn_window=_hours("CS_EXPORT_WARN_HOURS", 30)
    )


def raw_freshness() -> dg.FreshnessPolicy:
    """The raw tables are reloaded by every refresh (daily schedule or file-arrival sensor): WARN
    after 26 hours without a load, FAIL after 36 (CS_RAW_WARN_HOURS, CS_RAW_FAIL_HOURS)."""
    return dg.FreshnessPolicy.time_window(
        fail_window=_hours("CS_RAW_FAIL_HOURS", 36), warn_window=_hours("CS_RAW_WARN_HOURS", 26)
    )


def export_key(spec: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["exports", spec.system, spec.entity])


def raw_key(spec: TableSpec) -> dg.AssetKey:
    return dg.AssetKey(["raw", spec.name])


def build_export_specs() -> list[dg.AssetSpec]:
    """The export files themselves, as external assets at the head of the lineage graph."""
    return [
        dg.AssetSpec(
            key=export_key(spec),
            description=(
                f"Export file `data/raw/{spec.system}/{spec.entity}.csv|parquet|json` "
                f"({'optional' if spec.optional else 'required'}). {spec.description}"
            ),
            group_name="exports",
            kinds={"csv", "parquet"} if spec.large else {"csv"},
            metadata={"contract": "docs/exports.md", "primary_key": ", ".join(spec.primary_key)},
            owners=OWNERS,
            freshness_policy=export_freshness(),
        )
        for spec in TABLES
    ]


def _column_schema(spec: TableSpec) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=c.duckdb_type,
                description=c.description,
                constraints=dg.TableColumnConstraints(nullable=not c.required),
            )
            for c in spec.columns
        ]
    )


def _build_extract_asset(spec: TableSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(spec),
        deps=[export_key(spec)],
        group_name=f"raw_{spec.system}",
        kinds={"duckdb"},
        description=(
            f"`raw.{spec.name}`: the {spec.system} {spec.entity} export, contract-checked. "
            "Rows that break the contract are in `raw.quarantine` with file, line, column and "
            f"reason. {spec.description}"
        ),
        metadata={"dagster/table_name": f"raw.{spec.name}"},
        owners=OWNERS,
        freshness_policy=raw_freshness(),
    )
    def _extract(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        with retry_transient(context, f"load {spec.name}"):
            con = warehouse.connect()
        try:
            try:
                result = load_table(con, spec, warehouse.raw_path)
            except ExportError as exc:
                # The file breaks the contract: the same every time, so never retried.
                raise dg.Failure(
                    description=str(exc), metadata={"rule": exc.rule}, allow_retries=False
                ) from exc
            pause_at("extract", warehouse.warehouse_path)  # a test hook, inert in production
            # On the Spark target, the checked table also goes to Parquet for Spark to read.
            exported = export_for_spark(con, spec, warehouse.warehouse_path)
            preview = con.execute(
                f"select * from raw.{spec.name} limit {PREVIEW_ROWS}"
            ).df()
            quarantine_sample = con.execute(
                "select line_number, column_name, rule, reason from raw.quarantine "
                "where table_name = ? order by line_number limit 10",
                [spec.name],
            ).df()
        finally:
            con.close()
        _record_arrival(context, spec, result, warehouse)
        if result.rows_quarantined:
            context.log.warning(
                f"{result.source_file}: {result.rows_quarantined} of {result.rows_read} rows "
                f"quarantined ({result.quarantine_by_rule}); see raw.quarantine"
            )
        for warning in result.warnings:
            context.log.warning(f"{spec.system}/{spec.entity}: {warning}")
        metadata = {
            **result.as_metadata(),
            "dagster/row_count": result.rows_loaded,
            "dagster/column_schema": _column_schema(spec),
            "preview": dg.MetadataValue.md(preview.to_markdown(index=False) if len(preview) else "(empty)"),
        }
        if exported is not None:
            metadata["raw_parquet"] = dg.MetadataValue.path(str(exported.path))
        if len(quarantine_sample):
            metadata["quarantine_sample"] = dg.MetadataValue.md(
                quarantine_sample.to_markdown(index=False)
            )
        return dg.MaterializeResult(metadata=metadata)

    return _extract


def _record_arrival(
    context: dg.AssetExecutionContext, spec: TableSpec, result: LoadResult, warehouse: Warehouse
) -> None:
    """Report the export file as materialized when a new file arrived: its checksum or its
    modification time differs from the last one reported. The export asset's freshness policy
    then shows a source that stopped arriving as stale, even though the refresh ran."""
    if not result.source_file:
        return
    path = Path(result.source_file)
    if not path.is_absolute():
        path = warehouse.raw_path / path
    modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).isoformat() if path.exists() else ""
    last = context.instance.get_latest_materialization_event(export_key(spec))
    last_meta = last.asset_materialization.metadata if last and last.asset_materialization else {}

    def seen(key: str) -> str:
        value = last_meta.get(key)
        return str(value.value) if value is not None else ""

    if seen("file_sha256") == (result.file_sha256 or "") and seen("file_modified_at") == modified:
        context.log.info(f"{result.source_file}: same file as last time (no new export)")
        return
    context.log_event(
        dg.AssetMaterialization(
            asset_key=export_key(spec),
            description="A new export file arrived.",
            metadata={
                "path": dg.MetadataValue.path(str(path)),
                "file_sha256": result.file_sha256 or "",
                "file_modified_at": modified,
                "file_bytes": result.file_bytes,
                "rows_read": result.rows_read,
            },
        )
    )


def _build_accounting_check(spec: TableSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(spec),
        name="rows_accounted",
        blocking=True,
        description=(
            "Every row read is either loaded or quarantined (ERROR otherwise); WARN when rows were "
            "quarantined or the load had warnings (extra or missing optional columns, no data "
            "rows, stray files next to the export), so they are seen."
        ),
    )
    def _check(warehouse: Warehouse) -> dg.AssetCheckResult:
        con = warehouse.connect(read_only=True)
        try:
            row = con.execute(
                "select rows_read, rows_loaded, rows_quarantined, coalesce(warnings, '') "
                "from raw.load_audit where table_name = ?",
                [spec.name],
            ).fetchone()
            loaded_now = con.execute(f"select count(*) from raw.{quote(spec.name)}").fetchone()[0]
            quarantined_now = con.execute(
                "select count(*) from raw.quarantine where table_name = ?", [spec.name]
            ).fetchone()[0]
        finally:
            con.close()
        read, loaded, quarantined, warnings = row
        balanced = read == loaded + quarantined and loaded == loaded_now and quarantined == quarantined_now
        metadata = {"rows_read": read, "rows_loaded": loaded, "rows_quarantined": quarantined,
                    "warnings": warnings or "none"}
        if not balanced:
            return dg.AssetCheckResult(
                passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
                description=f"rows read {read} != loaded {loaded} + quarantined {quarantined}",
            )
        notes = ([f"{quarantined} of {read} rows quarantined"] if quarantined else []) + (
            warnings.splitlines() if warnings else [])
        return dg.AssetCheckResult(
            passed=not notes, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
            description="; ".join(notes)[:1000] if notes else f"All {read} rows loaded.",
        )

    return _check


def build_extract_assets() -> list[dg.AssetsDefinition]:
    return [_build_extract_asset(spec) for spec in TABLES]


def build_accounting_checks() -> list[dg.AssetChecksDefinition]:
    return [_build_accounting_check(spec) for spec in TABLES]
