"""The code location loads, and its lineage runs from each export file to publish."""

from __future__ import annotations

import os

import dagster as dg

from orchestration.lib.contract import TABLES


def test_code_location_loads(dbt_manifest):
    from orchestration.definitions import defs

    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("refresh") is not None


def test_lineage_from_export_files_to_publish(dbt_manifest):
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for spec in TABLES:
        raw = dg.AssetKey(["raw", spec.name])
        assert graph.get(raw).parent_keys == {dg.AssetKey(["exports", spec.system, spec.entity])}
    # dbt sources resolve to the extract assets: no gap between raw and staging.
    staging = dg.AssetKey(["staging", "stg_billing__invoice_lines"])
    assert dg.AssetKey(["raw", "billing_invoice_lines"]) in graph.get(staging).parent_keys
    published = graph.get(dg.AssetKey(["published", "cs_metrics"]))
    for mart in ("fct_mrr_movements", "metrics_retention", "dim_accounts"):
        assert dg.AssetKey(["marts", mart]) in published.parent_keys


def test_every_raw_table_is_gated_by_blocking_checks(dbt_manifest):
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    checks = {key: graph.get_check_spec(key) for key in graph.asset_check_keys}
    for spec in TABLES:
        raw = dg.AssetKey(["raw", spec.name])
        blocking = {k.name for k, s in checks.items() if k.asset_key == raw and s.blocking}
        assert {"rows_accounted", "expectations_suite"} <= blocking, (spec.name, blocking)


def test_dbt_calls_start_dbt_once(dbt_manifest, monkeypatch, tmp_path):
    """A dbt call starts one dbt process: no ``dbt --version`` subprocess before it and no dbt
    adapter built in this process (CsDbtCliResource; about 5 s of every run). The hooks it
    replaces must still be dagster-dbt's, or an upgrade would silently bring the cost back."""
    import importlib.metadata

    import dagster_dbt.core.resource as dagster_dbt_resource
    from dagster_dbt import DbtCliResource

    from orchestration.defs.dbt.assets import CsDbtCliResource, dbt_resource

    for hook in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert hook in vars(DbtCliResource), hook
    spawned: list = []
    monkeypatch.setattr(dagster_dbt_resource, "check_output",
                        lambda *args, **kwargs: spawned.append(args))
    resource = dbt_resource()
    assert isinstance(resource, CsDbtCliResource)
    invocation = resource.cli(["--version"], manifest=dbt_manifest, target_path=tmp_path)
    invocation.wait()
    assert invocation.process.returncode == 0
    assert spawned == []
    assert invocation.adapter is None
    assert str(resource._cli_version) == importlib.metadata.version("dbt-core")


def test_dbt_writes_its_log_file_at_info_level_unless_told_otherwise(monkeypatch, tmp_path):
    """The run's dbt commands log to their file at info level (debug adds every SQL statement
    and connection event: about 4% of a daily dbt build at medium, benchmarks/README.md);
    dbt's own settings of the level, when set, still win. dbt reads the variable: a command run with the
    environment writes no debug line."""
    import json
    import subprocess

    from orchestration.defs.dbt.assets import dbt_env
    from orchestration.lib.dbt_project import DBT_PROJECT_DIR, dbt_executable
    from orchestration.lib.warehouse import Warehouse
    from tests.fixtures_support import reuse_last_parse

    warehouse = Warehouse(warehouse_dir=str(tmp_path / "warehouse"))
    for setting in ("DBT_LOG_LEVEL_FILE", "DBT_LOG_LEVEL", "DBT_DEBUG", "DBT_LOG_FORMAT_FILE"):
        monkeypatch.delenv(setting, raising=False)
    env = dbt_env(warehouse)
    assert env["DBT_LOG_LEVEL_FILE"] == "info"
    for setting in ("DBT_LOG_LEVEL_FILE", "DBT_LOG_LEVEL", "DBT_DEBUG"):
        monkeypatch.setenv(setting, "debug" if setting != "DBT_DEBUG" else "true")
        assert "DBT_LOG_LEVEL_FILE" not in dbt_env(warehouse), setting
        monkeypatch.delenv(setting)

    logs = tmp_path / "logs"
    reuse_last_parse(tmp_path / "target")
    subprocess.run(
        [dbt_executable(), "ls", "--select", "fct_mrr_daily", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target")],
        env={**os.environ, **env, "DBT_LOG_PATH": str(logs), "DBT_LOG_FORMAT": "json"},
        check=True, capture_output=True)
    levels = {json.loads(line)["info"]["level"]
              for line in (logs / "dbt.log").read_text().splitlines() if line.startswith("{")}
    assert levels and "debug" not in levels, levels
