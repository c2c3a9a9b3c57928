"""The KPI report asset: one static HTML page written from the published file after each publish."""

import dagster as dg

from orchestration.defs.publish.assets import PUBLISH_KEY
from orchestration.lib.raw_parquet import is_spark_target
from orchestration.lib.report import build_report
from orchestration.lib.warehouse import Warehouse

REPORT_KEY = dg.AssetKey("kpi_report")


def build_report_asset() -> dg.AssetsDefinition:
    @dg.asset(
        key=REPORT_KEY,
        deps=[PUBLISH_KEY],
        group_name="publish",
        kinds={"html"},
        owners=["team:customer-success"],
        description=(
            "`data/warehouse/cs_kpi_report.html`: the weekly KPI page, self-contained (charts "
            "inline, no scripts, no external links). Tiles for the KPIs of the last closed month "
            "with the change from the month before and the target, trends of ARR and its "
            "movements, GRR / NRR by quarter, health bands and adoption by segment, the largest "
            "renewals due in 90 days and the open alerts by owner. Read only from the published "
            "file analysts query (`cs_metrics.duckdb`), never from the build database."
        ),
    )
    def kpi_report(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        if is_spark_target():
            # Nothing was published to DuckDB: a page from the last published file would mislead.
            context.log.info("dbt target is spark: no DuckDB file was published; report unchanged")
            return dg.MaterializeResult(metadata={"written": False, "dbt_target": "spark"})
        summary = build_report(warehouse.published_db, warehouse.report_path)
        context.log.info(f"wrote {summary.path} ({summary.bytes:,} bytes)")
        headline = "\n".join(f"| {label} | {value} |" for label, value in summary.headline.items())
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(summary.path)),
                "as_of_date": summary.as_of.isoformat() if summary.as_of else None,
                "kpi_period": summary.period_label,
                "tiles": summary.tiles,
                "charts": summary.charts,
                "renewals_listed": summary.renewals,
                "open_alerts": summary.open_alerts,
                "bytes": summary.bytes,
                "headline_kpis": dg.MetadataValue.md(f"| KPI | value |\n|---|---|\n{headline}"),
            }
        )

    return kpi_report
