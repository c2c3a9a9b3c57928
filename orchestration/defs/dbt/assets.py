"""Every dbt model and seed as a Dagster asset, its data tests as one asset check
(``dbt_tests``, orchestration/defs/dbt/checks.py), run with ``dbt build``."""


import importlib.metadata
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)
from packaging import version

from orchestration.defs.dbt.checks import DbtTestIndex, DbtTestResults
from orchestration.lib.dbt_project import dbt_executable, dbt_project, start_from_latest_parse
from orchestration.lib.headline import headline_config, headline_figures, row_count
from orchestration.lib.killpoints import pause_at
from orchestration.lib.loader import env_flag
from orchestration.lib.raw_parquet import is_spark_target, spark_dbt_env
from orchestration.lib.retry import retry_transient
from orchestration.lib.warehouse import RefreshLock, Warehouse, scoped_env


class CsDbtTranslator(DagsterDbtTranslator):
    """Groups assets by layer (staging_<system>, intermediate, marts_<area>); one asset check per
    model (``dbt_tests``) for all its data tests."""

    def __init__(self, settings: DagsterDbtTranslatorSettings | None = None):
        super().__init__(settings=settings)
        self._indexes: dict[int, DbtTestIndex] = {}

    def test_index(self, manifest: Mapping[str, Any]) -> DbtTestIndex:
        # Keyed by identity: the index keeps its manifest alive, so an id is never reused.
        index = self._indexes.get(id(manifest))
        if index is None:
            index = self._indexes[id(manifest)] = DbtTestIndex(manifest)
        return index

    def key_of(self, manifest: Mapping[str, Any]) -> Callable[[str], dg.AssetKey]:
        """A dbt node's unique id -> its asset key."""
        return lambda node_id: self.get_asset_key(_node(manifest, node_id))

    def get_asset_check_spec(
        self,
        asset_spec: dg.AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: Any,
    ) -> dg.AssetCheckSpec | None:
        index = self.test_index(manifest)
        owner = index.owner_of_test.get(unique_id)
        if owner is None or self.get_asset_key(_node(manifest, owner)) != asset_spec.key:
            return None
        return index.check_spec(asset_spec.key, owner, self.key_of(manifest))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "seed":
            return "reference"
        if len(fqn) >= 3 and fqn[1] in ("staging", "marts"):
            return f"{fqn[1]}_{fqn[2]}"
        if len(fqn) >= 2:
            return fqn[1]
        return None


def _node(manifest: Mapping[str, Any], unique_id: str) -> Mapping[str, Any]:
    return manifest["nodes"].get(unique_id) or manifest["sources"][unique_id]


TRANSLATOR = CsDbtTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True,
        # A run of some models without their checks selects those models and no test by name
        # (``dbt_tests`` matches no dbt node), so dbt builds them without tests.
        enable_dbt_selection_by_name=True,
    )
)


@contextmanager
def _warehouse_env(warehouse: Warehouse) -> Iterator[None]:
    """Point dbt at the run's build database (read when dbt connects: the profile's
    ``dbt_location`` plugin, orchestration/lib/dbt_location.py)."""
    with scoped_env(dbt_env(warehouse)):
        yield


# dbt's log file of a run (target/runs/<run>/dbt.log) is written at this level unless one of
# dbt's own settings of it is set (DBT_LOG_LEVEL_FILE; DBT_LOG_LEVEL, which the file follows
# when alone; DBT_DEBUG); debug adds every SQL statement and connection event.
DBT_LOG_FILE_LEVEL = "info"
DBT_LOG_LEVEL_SETTINGS = ("DBT_LOG_LEVEL_FILE", "DBT_LOG_LEVEL", "DBT_DEBUG")


def dbt_env(warehouse: Warehouse) -> dict[str, str]:
    """The environment of the run's dbt commands: the build database and spill folder (the
    profile's ``dbt_location`` plugin reads them when dbt connects), Spark's folders on the
    Spark target, and dbt's log file level: info, not dbt's default debug, unless dbt's log
    level is set otherwise (``DBT_LOG_LEVEL_SETTINGS``; DECISIONS.md, "Running the project")."""
    wanted = {
        "CS_BUILD_DB": str(warehouse.build_db),
        "CS_DUCKDB_TEMP_DIR": str(warehouse.warehouse_path / "tmp"),
        "CS_DUCKDB_MEMORY_LIMIT": warehouse.memory_limit,
    }
    if not any(os.environ.get(v) for v in DBT_LOG_LEVEL_SETTINGS):
        wanted["DBT_LOG_LEVEL_FILE"] = DBT_LOG_FILE_LEVEL
    if is_spark_target():
        # Where Spark reads the raw Parquet and keeps its local tables (DECISIONS.md, Spark).
        wanted.update(spark_dbt_env(warehouse.warehouse_path))
    return wanted


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=TRANSLATOR,
)
def cs_dbt_assets(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: Warehouse,
    refresh_lock: RefreshLock,
) -> Iterator[Any]:
    """``dbt build``: models, seeds and their tests, in dependency order."""
    (warehouse.warehouse_path / "tmp").mkdir(parents=True, exist_ok=True)
    # dbt opens the build file in its own process: this one lets go of it first.
    warehouse.release()
    if not is_spark_target():
        # Another process holding the build file (a lock) is worth a retry with backoff; a
        # failing model or data test is not (dbt's own failure, raised as it comes).
        with retry_transient(context, "dbt build"):
            warehouse.open().close()
    manifest = _manifest()
    key_of = TRANSLATOR.key_of(manifest)
    tests = DbtTestResults(TRANSLATOR.test_index(manifest), key_of,
                           context.selected_asset_check_keys, log=context.log)
    # Checks whose model is not in this run (run from the UI on their own): dbt test, after.
    checks_only = sorted({
        node_id for node_id in tests.pending
        if key_of(node_id) not in context.selected_asset_keys
    })
    with _warehouse_env(warehouse), scoped_env(whole_table_tests_env(warehouse.warehouse_path)):
        held: list[Any] = []
        if context.selected_asset_keys:
            invocation = dbt.cli(build_args(), context=context,
                                 target_path=_run_target_path(context))
            # A metrics mart's output waits until dbt has let go of the build file, so its
            # headline figures can be read; so does everything after it in the DAG (Dagster takes
            # outputs in dependency order) and the check results of what waits.
            yield from _stream(context, invocation, tests, refresh_lock, warehouse, held, "dbt build")
            if set(context.selected_asset_keys) >= set(context.assets_def.keys):
                record_build_tested(warehouse.warehouse_path)
        if checks_only:
            names = [manifest["nodes"][n]["name"] for n in checks_only]
            invocation = dbt.cli(
                ["test", "--select", " ".join(names)], manifest=manifest,
                dagster_dbt_translator=TRANSLATOR,
                target_path=_run_target_path(context, suffix="-test"),
            )
            yield from _stream(context, invocation, tests, refresh_lock, warehouse, held, "dbt test")
    yield from _with_headlines(context, held, warehouse)
    yield from tests.remaining()


def _stream(
    context: dg.AssetExecutionContext,
    invocation: Any,
    tests: DbtTestResults,
    refresh_lock: RefreshLock,
    warehouse: Warehouse,
    held: list[Any],
    label: str,
) -> Iterator[Any]:
    """dbt's events as Dagster events: models and seeds by dagster-dbt, data tests collected
    into one check result per model (checks.py); held back are the events that must wait for
    the headline figures."""
    # Should this process die, the next refresh stops a dbt left running (runlock).
    refresh_lock.record_child(invocation.process.pid, label)
    held_ids: set[str] = set()
    held_keys: set[dg.AssetKey] = set()
    try:
        for raw in invocation.stream_raw_events():
            if not raw.is_result_event:
                continue
            if raw.raw_event["data"]["node_info"]["unique_id"].startswith("test."):
                events: Iterable[Any] = tests.add(raw.raw_event)
            else:
                events = raw.to_default_asset_events(
                    manifest=invocation.manifest,
                    dagster_dbt_translator=invocation.dagster_dbt_translator,
                    context=context if invocation.context is not None else None,
                    target_path=invocation.target_path,
                    project=invocation.project,
                )
            for event in events:
                if _must_wait(event, held_ids, held_keys):
                    held.append(event)
                else:
                    yield event
                if isinstance(event, dg.Output):
                    pause_at("dbt", warehouse.warehouse_path)  # a test hook, inert in production
    except Exception:
        yield from held
        yield from tests.remaining()
        raise


UNIT_TESTS_ENV = "CS_DBT_UNIT_TESTS_IN_RUNS"


# The build database's models all passed their data tests in the last `dbt build` (a file in the
# warehouse folder); without it, the tests of the month-partitioned models read every row.
BUILD_TESTED_MARKER = "dbt_build_tested"
WHOLE_TABLE_TESTS_ENV = "CS_DBT_TESTS_WHOLE_TABLES"


def whole_table_tests_env(warehouse_path: Path) -> dict[str, str]:
    """The environment of a `dbt build`: whether the tests of the month-partitioned incremental
    models must read every row (macros/rewritten_partitions.sql).

    They may read only the months the run rewrites when every earlier month passed its tests:
    when the last `dbt build` of every model in this build database passed. dbt writes a model
    before testing it, so a build whose tests failed (or that was stopped) leaves untested rows
    in months the next run would not rewrite. The marker is removed now and written back only
    when this build of every model passes (record_build_tested)."""
    marker = warehouse_path / BUILD_TESTED_MARKER
    tested = marker.exists()
    marker.unlink(missing_ok=True)
    return {WHOLE_TABLE_TESTS_ENV: "false" if tested else "true"}


def record_build_tested(warehouse_path: Path) -> None:
    (warehouse_path / BUILD_TESTED_MARKER).write_text(
        "every model of build.duckdb passed its data tests in the last dbt build\n")


def build_args() -> list[str]:
    """``dbt build`` without the unit tests: they test the SQL against fixed inputs, not the
    data, so they run in ``make test`` (tests/test_dbt_checks.py) and not in every refresh, as
    dbt recommends; ``CS_DBT_UNIT_TESTS_IN_RUNS=true`` puts them back in every run."""
    if env_flag(UNIT_TESTS_ENV):
        return ["build"]
    return ["build", "--exclude-resource-type", "unit_test"]


KEEP_RUN_TARGETS = 5


def _run_target_path(context: dg.AssetExecutionContext, suffix: str = "") -> Path:
    """dbt's target folder for this run, under ``target/runs/``; only the last few runs' folders
    are kept (dagster-dbt would otherwise leave one folder per run, forever)."""
    runs = dbt_project().project_dir / "target" / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    older = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    path = runs / f"{context.run.run_id[:8]}-{context.retry_number}{suffix}"
    path.mkdir(parents=True, exist_ok=True)
    # Start from the latest parse, a run's or the project's own (target/, from `dbt parse`),
    # rather than parse the whole project again.
    start_from_latest_parse(path, (*older, runs.parent))
    for stale in older[: max(0, len(older) - (KEEP_RUN_TARGETS - 1))]:
        shutil.rmtree(stale, ignore_errors=True)
    return path


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
    return TRANSLATOR.get_asset_key(node)


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


class CsDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without two costs that every ``dbt.cli`` call paid before dbt
    started, about 5 s of each run (benchmarks/README.md), for things this project does not use:

    - ``dbt --version`` in a subprocess (3.4 s: a second dbt start-up), only to tell dbt Core
      from the Fusion engine. The dbt run here is this environment's (``dbt_executable``), whose
      version is the installed dbt-core's.
    - a dbt adapter built in this process (1.6 s: project, profile and adapter loaded), which
      dagster-dbt uses only for the optional ``fetch_column_metadata`` / ``fetch_row_counts``
      metadata; this project reads its own (row counts and headline figures, headline.py).
      dagster-dbt treats a missing adapter as "no such metadata".

    tests/test_definitions.py holds both to dagster-dbt's hooks, so an upgrade that renames them
    fails a test instead of silently paying the cost again."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


def dbt_resource() -> DbtCliResource:
    return CsDbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())
