"""Every dbt model, seed and test as Dagster assets and asset checks, run with ``dbt build``."""


import json
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.lib.dbt_project import dbt_executable, dbt_project
from orchestration.lib.headline import headline_config, headline_figures, row_count
from orchestration.lib.killpoints import pause_at
from orchestration.lib.raw_parquet import is_spark_target, spark_dbt_env
from orchestration.lib.retry import retry_transient
from orchestration.lib.warehouse import RefreshLock, Warehouse, scoped_env


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
    with scoped_env(wanted):
        yield


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=CsDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
    ),
)
def cs_dbt_assets(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: Warehouse,
    refresh_lock: RefreshLock,
) -> Iterator[Any]:
    """``dbt build``: models, seeds and their tests, in dependency order."""
    (warehouse.warehouse_path / "tmp").mkdir(parents=True, exist_ok=True)
    if not is_spark_target():
        # Another process holding the build file (a lock) is worth a retry with backoff; a
        # failing model or data test is not (dbt's own failure, raised as it comes).
        with retry_transient(context, "dbt build"):
            warehouse.connect().close()
    with _warehouse_env(warehouse):
        invocation = dbt.cli(["build"], context=context, target_path=_run_target_path(context))
        # Should this process die, the next refresh stops a dbt left running (runlock).
        refresh_lock.record_child(invocation.process.pid, "dbt build")
        # A metrics mart's output waits until dbt has let go of the build file, so its headline
        # figures can be read; so does everything after it in the DAG (Dagster takes outputs in
        # dependency order) and the check results of what waits.
        held: list[Any] = []
        held_ids: set[str] = set()
        held_keys: set[dg.AssetKey] = set()
        try:
            for event in invocation.stream():
                if _must_wait(event, held_ids, held_keys):
                    held.append(event)
                else:
                    yield event
                if isinstance(event, dg.Output):
                    pause_at("dbt", warehouse.warehouse_path)  # a test hook, inert in production
        except Exception:
            yield from held
            raise
    yield from _with_headlines(context, held, warehouse)


KEEP_RUN_TARGETS = 5


def _run_target_path(context: dg.AssetExecutionContext) -> Path:
    """dbt's target folder for this run, under ``target/runs/``; only the last few runs' folders
    are kept (dagster-dbt would otherwise leave one folder per run, forever)."""
    runs = dbt_project().project_dir / "target" / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    older = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for stale in older[: max(0, len(older) - (KEEP_RUN_TARGETS - 1))]:
        shutil.rmtree(stale, ignore_errors=True)
    return runs / f"{context.run.run_id[:8]}-{context.retry_number}"


def _must_wait(event: Any, held_ids: set[str], held_keys: set[dg.AssetKey]) -> bool:
    if is_spark_target():
        return False
    if isinstance(event, dg.Output):
        node = _manifest_node(event)
        if node is None:
            return False
        parents = set(node.get("depends_on", {}).get("nodes", []))
        if headline_config(node) or parents & held_ids:
            held_ids.add(node["unique_id"])
            held_keys.add(_asset_key(node))
            return True
        return False
    key = getattr(event, "asset_key", None)
    return key is not None and key in held_keys


def _asset_key(node: Mapping[str, Any]) -> dg.AssetKey:
    return CsDbtTranslator().get_asset_key(node)


def _manifest_node(event: dg.Output) -> Mapping[str, Any] | None:
    unique_id = event.metadata.get("unique_id")
    if unique_id is None:
        return None
    return _manifest()["nodes"].get(str(unique_id.value))


@cache
def _manifest() -> Mapping[str, Any]:
    return json.loads(dbt_project().manifest_path.read_text())


def _with_headlines(
    context: dg.AssetExecutionContext, held: list[dg.Output], warehouse: Warehouse
) -> Iterator[Any]:
    """The held events in their order, the metrics marts' outputs with their row count and
    headline figures added."""
    if not held:
        return
    con = warehouse.connect(read_only=True)
    try:
        for event in held:
            node = _manifest_node(event) if isinstance(event, dg.Output) else None
            if node is None or not headline_config(node):
                yield event
                continue
            relation = f"{node['schema']}.{node['alias']}"
            extra: dict[str, Any] = {}
            try:
                extra["dagster/row_count"] = row_count(con, relation)
                figures = headline_figures(con, relation, headline_config(node))
                extra.update({f"headline/{k}": v for k, v in figures.items() if v is not None})
                extra["headline"] = dg.MetadataValue.md(_figures_table(figures))
            except Exception as exc:  # a broken headline must not fail a good build
                context.log.warning(f"{relation}: headline figures not computed ({exc})")
            yield event.with_metadata({**event.metadata, **extra})
    finally:
        con.close()


def _figures_table(figures: Mapping[str, Any]) -> str:
    if not figures:
        return "(no rows in the latest period)"
    rows = "\n".join(f"| {name} | {_shown(value)} |" for name, value in figures.items())
    return "| figure | value |\n|---|---:|\n" + rows


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())
