"""`make docs`: dbt docs and Great Expectations data docs, built from a published warehouse."""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration.lib.contract import TABLES
from orchestration.lib.docs_site import build_docs

pytestmark = pytest.mark.slow  # ~70 s: dbt docs generate + one GX checkpoint per raw table


def test_docs_sites_describe_the_published_warehouse(published_run, tmp_path):
    sites = build_docs(tmp_path / "docs", published_run.published_db)

    # dbt docs: one self-contained page; the catalog knows the published marts and their rows.
    assert sites.dbt.exists() and sites.dbt.stat().st_size > 100_000
    catalog = json.loads((sites.dbt.parent / "catalog.json").read_text())
    nodes = {n["metadata"]["name"]: n for n in catalog["nodes"].values()}
    con = duckdb.connect(str(published_run.published_db), read_only=True)
    try:
        rows = con.execute("select count(*) from marts.metrics_retention").fetchone()[0]
        raw_tables = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
    finally:
        con.close()
    assert "metrics_retention" in nodes and "grr" in nodes["metrics_retention"]["columns"]
    # The catalog is the published file's (no intermediate models: they are not published); the
    # SQL shown is every model's full build, an incremental mart's included (compiled against
    # an empty database: against the published file it would read the unpublished models).
    schemas = {n["metadata"]["schema"] for n in catalog["nodes"].values()}
    assert "intermediate" not in schemas and {"staging", "reference", "marts"} <= schemas
    manifest = json.loads((sites.dbt.parent / "manifest.json").read_text())
    compiled = manifest["nodes"]["model.cs_metrics.fct_account_usage_daily"]["compiled_code"]
    assert "int_user_activity_daily" in compiled and "{{" not in compiled
    intermediate = [n for n in manifest["nodes"].values()
                    if n["resource_type"] == "model" and n["schema"] == "intermediate"]
    assert len(intermediate) > 20 and all(n.get("compiled_code") for n in intermediate)
    stats = nodes["metrics_retention"]["stats"]
    if "row_count" in stats:
        assert stats["row_count"]["value"] == rows

    # GE data docs: a suite page per raw table, a validation page per small table published.
    site = sites.great_expectations.parent
    suites = {p.stem for p in (site / "expectations").glob("*.html")}
    assert suites == {spec.name for spec in TABLES}
    expected_validated = sorted(s.name for s in TABLES if not s.large and s.name in raw_tables)
    assert sorted(sites.validated_tables) == expected_validated
    validation_pages = list((site / "validations").rglob("*.html"))
    assert len(validation_pages) == len(expected_validated)
    assert "dbt docs" in sites.index.read_text()
