"""The one ``DbtProject`` of the code location, built once."""

from __future__ import annotations

import os
from functools import cache

from dagster_dbt import DbtProject

from orchestration.lib.warehouse import REPO_ROOT

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target=os.environ.get("DBT_TARGET", "duckdb"),
    )
    project.prepare_if_dev()
    return project
