"""The publish asset: the last step of every refresh, gated on every blocking check."""


from collections.abc import Iterable

import dagster as dg

from orchestration.lib.dbt_project import incremental_partitions
from orchestration.lib.publish import AuditError, publish
from orchestration.lib.raw_parquet import is_spark_target
from orchestration.lib.retry import retry_transient
from orchestration.lib.warehouse import RefreshLock, Warehouse

PUBLISH_KEY = dg.AssetKey(["published", "cs_metrics"])


def build_publish_asset(upstream: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=PUBLISH_KEY,
        deps=list(upstream),
        group_name="publish",
        kinds={"duckdb"},
        owners=["team:data-engineering"],
        description=(
            "`data/warehouse/cs_metrics.duckdb`: an audited copy of the build database (raw, "
            "staging, seeds and marts; the intermediate models unless configured in), written "
            "table by table (customers' personal columns empty unless configured in; only the "
            "tables that changed when it starts from the previous published file) and swapped "
            "in atomically. Runs only when every upstream asset and blocking check succeeded; a "
            "failed run leaves the last published file untouched."
        ),
    )
    def published_warehouse(
        context: dg.AssetExecutionContext, warehouse: Warehouse, refresh_lock: RefreshLock
    ) -> dg.MaterializeResult:
        # refresh_lock: held by this run since its start (one refresh at a time per warehouse);
        # publishing without it could swap in a build another run is still writing.
        del refresh_lock
        # publish opens the build file itself (a checkpoint, then attached read-only)
        warehouse.release()
        if is_spark_target():
            # The marts live in Spark's metastore; the DuckDB file analysts read is not touched.
            context.log.info("dbt target is spark: marts are Spark tables; cs_metrics.duckdb unchanged")
            return dg.MaterializeResult(metadata={"published": False, "dbt_target": "spark"})
        try:
            with retry_transient(context, "publish"):
                result = publish(warehouse.build_db, warehouse.published_db,
                                 incremental_partitions())
        except AuditError as exc:
            # A failed audit fails the same way every time: never retried.
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        counts, report = result.report.counts, result.report
        started_from = "previous published file" if result.from_previous else "new file"
        context.log.info(
            f"published {result.published_db} ({result.bytes:,} bytes) from "
            f"{'the previous published file' if result.from_previous else 'a new file'}: "
            f"{counts['kept']} tables kept, {counts['appended']} appended to, "
            f"{counts['partitions']} rewritten by partition, {counts['written']} written whole; "
            "slowest: " + ", ".join(f"{t} ({how}, {sec:.1f} s)" for t, how, sec in report.seconds[:5])
            + f"; verified in {report.verify_seconds:.1f} s")
        rows = "\n".join(f"| {t} | {n:,} |" for t, n in result.table_rows.items())
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(result.published_db)),
                "bytes": result.bytes,
                "tables": len(result.table_rows),
                "started_from": started_from,
                "tables_kept": counts["kept"],
                "tables_appended": counts["appended"],
                "tables_rewritten_by_partition": counts["partitions"],
                "tables_written": counts["written"],
                "slowest_tables": dg.MetadataValue.md(
                    "| table | written | seconds |\n|---|---|---|\n" + "\n".join(
                        f"| {t} | {how} | {sec:.2f} |" for t, how, sec in report.seconds[:10])),
                "verify_seconds": round(report.verify_seconds, 2),
                "table_rows": dg.MetadataValue.md("| table | rows |\n|---|---|\n" + rows),
            }
        )

    return published_warehouse
