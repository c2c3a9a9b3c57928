"""The README's "Query the marts" examples run against a published file and return rows."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.conftest import REPO


def readme_sql_statements() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Query the marts", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    assert blocks, "the README has SQL examples"
    statements = [s.strip() for block in blocks for s in block.split(";") if s.strip()]
    return statements


def test_readme_shows_one_query_per_mart(dbt_manifest):
    import json

    manifest = json.loads(dbt_manifest.read_text())
    marts = sorted(
        node["name"] for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    )
    sql = "\n".join(readme_sql_statements())
    missing = [m for m in marts if f"marts.{m}" not in sql]
    assert not missing, f"README 'Query the marts' has no query for {missing}"


@pytest.mark.parametrize("statement", readme_sql_statements(), ids=lambda s: s.splitlines()[0][:60])
def test_readme_query_runs_on_the_published_file(published_run, statement):
    con = duckdb.connect(str(published_run.published_db), read_only=True)
    try:
        rows = con.execute(statement).fetchall()
    finally:
        con.close()
    if "from raw.quarantine" not in statement:  # the sample company's exports are clean
        assert rows, "the example returns rows on the sample company"
