"""The one ``DbtProject`` of the code location, built once, and the dbt executable it runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.lib.warehouse import REPO_ROOT

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def dbt_executable() -> str:
    """The dbt of this environment, so nothing depends on an activated virtualenv or on PATH
    (the code server `dagster dev` starts may run on the resolved base interpreter path)."""
    candidates = [
        Path(sys.executable).with_name("dbt"),
        Path(sys.prefix) / "bin" / "dbt",
        REPO_ROOT / ".venv" / "bin" / "dbt",
    ]
    return next((str(p) for p in candidates if p.exists()), "dbt")


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR,
        profiles_dir=DBT_PROJECT_DIR,
        target=os.environ.get("DBT_TARGET", "duckdb"),
    )
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        # A fresh checkout (CI, a new clone) has no target/: parse once, so that importing the
        # code location works everywhere, not only after `make run` or `dagster dev`.
        subprocess.run(
            [dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
             "--profiles-dir", str(DBT_PROJECT_DIR), "--target", project.target or "duckdb"],
            check=True,
        )
    return project


# dbt's saved parse in a target folder: without it dbt parses the whole project (about 12 s
# here); with it dbt checks it (project files, profile, variables) and parses again only what
# changed, or everything if the profile or the variables did (about 4 s).
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def start_from_latest_parse(target_path: Path, folders: Iterable[Path]) -> None:
    """Copy the newest ``partial_parse.msgpack`` of ``folders`` (dbt target folders) into
    ``target_path``, unless it has its own parse already. A parse removed meanwhile (another
    refresh's clean-up of its old target folders) is skipped: dbt then parses what it must."""
    target = Path(target_path) / PARTIAL_PARSE_FILE
    if target.exists():
        return
    stamped = []
    for folder in folders:
        try:
            stamped.append(((Path(folder) / PARTIAL_PARSE_FILE).stat().st_mtime, Path(folder)))
        except OSError:
            continue
    if not stamped:
        return
    _, latest = max(stamped, key=lambda t: t[0])
    try:
        shutil.copy2(latest / PARTIAL_PARSE_FILE, target)
    except OSError:
        pass


# A model's ``meta`` key naming the column by which publish rewrites its table (a month or a
# day): for tables dbt rebuilds whole in which a daily run changes only the latest partitions.
PUBLISH_PARTITION_META = "publish_partition_by"


def incremental_partitions(manifest_path: Path | None = None) -> dict[tuple[str, str], str]:
    """(schema, table) -> partition column, from the dbt manifest, of every model whose
    published copy publish rewrites by partition (orchestration/lib/publish.py): the incremental
    models that dbt rewrites by one column (their ``unique_key``: a month or a day), and the
    models whose ``meta`` names a column (``publish_partition_by``): tables dbt rebuilds whole
    but in which a daily run changes only the latest months or days. Either way publish
    compares every partition's rows and checksum with the previous published file's and
    rewrites only those that differ."""
    import json

    path = manifest_path or dbt_project().manifest_path
    nodes = json.loads(Path(path).read_text())["nodes"].values()
    partitions = {}
    for node in nodes:
        if node.get("resource_type") != "model":
            continue
        config = node["config"]
        column = (config.get("meta") or {}).get(PUBLISH_PARTITION_META)
        if config.get("materialized") == "incremental" and isinstance(config.get("unique_key"), str):
            column = config["unique_key"]
        if isinstance(column, str):
            partitions[(node["schema"], node.get("alias") or node["name"])] = column
    return partitions

