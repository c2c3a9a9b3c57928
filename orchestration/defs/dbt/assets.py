"""Every dbt model, seed and test as Dagster assets and asset checks, run with ``dbt build``."""


import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.lib.dbt_project import dbt_executable, dbt_project
from orchestration.lib.raw_parquet import is_spark_target, spark_dbt_env
from orchestration.lib.warehouse import Warehouse


class CsDbtTranslator(DagsterDbtTranslator):
    """Groups assets by layer (staging_<system>, intermediate, marts_<area>)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "seed":
            return "reference"
        if len(fqn) >= 3 and fqn[1] in ("staging", "marts"):
            return f"{fqn[1]}_{fqn[2]}"
        if len(fqn) >= 2:
            return fqn[1]
        return None


@contextmanager
def _warehouse_env(warehouse: Warehouse) -> Iterator[None]:
    """Point dbt at the run's build database (profiles.yml reads these variables)."""
    wanted = {
        "CS_BUILD_DB": str(warehouse.build_db),
        "CS_DUCKDB_TEMP_DIR": str(warehouse.warehouse_path / "tmp"),
        "CS_DUCKDB_MEMORY_LIMIT": warehouse.memory_limit,
    }
    if is_spark_target():
        # Where Spark reads the raw Parquet and keeps its local tables (DECISIONS.md, Spark).
        wanted.update(spark_dbt_env(warehouse.warehouse_path))
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=CsDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    ),
)
def cs_dbt_assets(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse
) -> Iterator[Any]:
    """``dbt build``: models, seeds and their tests, in dependency order."""
    (warehouse.warehouse_path / "tmp").mkdir(parents=True, exist_ok=True)
    with _warehouse_env(warehouse):
        yield from dbt.cli(["build"], context=context).stream()


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())
