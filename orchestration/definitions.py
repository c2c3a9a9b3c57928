"""The Dagster code location. It only assembles: each domain builds its own definitions."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.dbt import cs_dbt_assets, dbt_resource
from orchestration.defs.extract import build_export_specs, build_extract_assets
from orchestration.defs.extract.assets import build_accounting_checks
from orchestration.defs.operations import build_export_arrival_sensor
from orchestration.defs.publish import build_publish_asset
from orchestration.defs.quality.checks import build_raw_quality_checks
from orchestration.defs.report import build_report_asset
from orchestration.lib.runlock import REFRESH_RUN_TAG
from orchestration.lib.warehouse import RefreshLock, Warehouse

warehouse = Warehouse()
extract_assets = build_extract_assets()
publish_asset = build_publish_asset(upstream=cs_dbt_assets.keys)
report_asset = build_report_asset()

refresh_job = dg.define_asset_job(
    name="refresh",
    description="Load every export, gate it on the raw checks, build and test the marts, publish, write the report.",
    selection=dg.AssetSelection.assets(*extract_assets, cs_dbt_assets, publish_asset, report_asset),
    # One refresh at a time: the run queue holds a second one back (dagster.yaml limits this tag
    # to one run in progress), and every run holds the refresh lock (orchestration/lib/runlock.py).
    tags={REFRESH_RUN_TAG: "warehouse"},
)

every_morning = dg.ScheduleDefinition(
    name="refresh_every_morning",
    job=refresh_job,
    cron_schedule="0 6 * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Refresh the marts at 06:00 every day (turn on in the UI).",
)

new_exports = build_export_arrival_sensor(refresh_job)

defs = dg.Definitions(
    assets=[*build_export_specs(), *extract_assets, cs_dbt_assets, publish_asset, report_asset],
    asset_checks=[*build_accounting_checks(), *build_raw_quality_checks()],
    jobs=[refresh_job],
    schedules=[every_morning],
    sensors=[new_exports],
    resources={
        "warehouse": warehouse,
        "refresh_lock": RefreshLock(warehouse=warehouse),
        "dbt": dbt_resource(),
    },
    # One DuckDB file has one writer: steps run one after another in one process.
    executor=dg.in_process_executor,
)
