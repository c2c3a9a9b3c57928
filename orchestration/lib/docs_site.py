"""`make docs`: the two documentation sites, built from the last published warehouse.

* dbt docs (``dbt docs generate --static``): every model, column, test and the lineage graph, in
  one self-contained ``static_index.html``. The catalog (column types, row counts) is read from a
  copy of the published file, so analysts' readers are never blocked and the build file of a
  running refresh is never touched: it covers what is published (the raw layer, staging, seeds
  and marts; the intermediate models are documented without it). Without a published file the
  site is built without a catalog.
* Great Expectations data docs: every raw table's expectation suite (``expectations/``) and its
  validation result on the published raw tables, as GX renders them. The large tables (checked
  in SQL by the pipeline, never loaded into pandas) get their suite page without a validation.

Output under ``build/docs/`` (``index.html`` links both sites):

    python -m orchestration.lib.docs_site [--out build/docs]
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.lib.contract import TABLES
from orchestration.lib.dbt_project import DBT_PROJECT_DIR, dbt_executable
from orchestration.lib.expectations import _prepare_frame, load_suite, resolve_suite, to_gx_suite
from orchestration.lib.warehouse import REPO_ROOT, Warehouse

DEFAULT_OUT = REPO_ROOT / "build" / "docs"


@dataclass
class DocsSites:
    index: Path
    dbt: Path
    great_expectations: Path
    validated_tables: list[str]


def build_dbt_docs(out_dir: Path, published_db: Path | None) -> Path:
    """dbt's static docs site; returns the path of its one HTML file.

    The SQL shown is compiled against an empty database: every model's full build, whatever
    the published file holds (its incremental models' compiled SQL would otherwise read the
    intermediate models, which are not published). The catalog is then read from a copy of the
    published file (``--no-compile``: the page embeds the compiled manifest)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cs_docs_") as tmp:
        empty = dict(os.environ, CS_BUILD_DB=str(Path(tmp) / "empty.duckdb"),
                     CS_DUCKDB_TEMP_DIR=str(Path(tmp) / "spill"))

        def dbt(*args: str, build_db: Path | None = None) -> None:
            env = empty if build_db is None else dict(empty, CS_BUILD_DB=str(build_db))
            subprocess.run(
                [dbt_executable(), *args, "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
                 "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(Path(tmp) / "target")],
                check=True, env=env, cwd=DBT_PROJECT_DIR)

        if published_db is not None and published_db.exists():
            dbt("compile")
            copy = Path(tmp) / "catalog.duckdb"
            shutil.copyfile(published_db, copy)
            dbt("docs", "generate", "--static", "--no-compile", build_db=copy)
        else:
            dbt("docs", "generate", "--static", "--empty-catalog")
        target = Path(tmp) / "target"
        for name in ("static_index.html", "index.html", "manifest.json", "catalog.json"):
            if (target / name).exists():
                shutil.copyfile(target / name, out_dir / name)
    return out_dir / "static_index.html"


def build_ge_docs(out_dir: Path, published_db: Path | None) -> tuple[Path, list[str]]:
    """Great Expectations data docs in a file context under ``out_dir``; returns the site's index
    and the raw tables validated (those present in the published file and small enough)."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    context = gx.get_context(mode="file", project_root_dir=str(out_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("published_raw")
    validated: list[str] = []
    con = None
    if published_db is not None and published_db.exists():
        con = duckdb.connect(str(published_db), read_only=True)
    try:
        present = set()
        if con is not None:
            present = {r[0] for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
        for spec in TABLES:
            suite = context.suites.add(to_gx_suite(resolve_suite(load_suite(spec.name))))
            if spec.large or spec.name not in present:
                continue  # a suite page without a validation (large tables are checked in SQL)
            batch = source.add_dataframe_asset(spec.name).add_batch_definition_whole_dataframe("published")
            validation = context.validation_definitions.add(
                gx.ValidationDefinition(name=f"{spec.name}_published", data=batch, suite=suite))
            checkpoint = context.checkpoints.add(gx.Checkpoint(
                name=f"{spec.name}_docs", validation_definitions=[validation],
                actions=[UpdateDataDocsAction(name="update_data_docs")]))
            frame = _prepare_frame(con.execute(f'select * from raw."{spec.name}"').df())
            checkpoint.run(batch_parameters={"dataframe": frame})
            validated.append(spec.name)
    finally:
        if con is not None:
            con.close()
    context.build_data_docs()
    index = next(iter(out_dir.rglob("data_docs/local_site/index.html")))
    return index, validated


def build_docs(out: Path = DEFAULT_OUT, published_db: Path | None = None) -> DocsSites:
    published_db = published_db or Warehouse().published_db
    dbt_index = build_dbt_docs(out / "dbt", published_db)
    ge_index, validated = build_ge_docs(out / "great_expectations", published_db)
    index = out / "index.html"
    source = str(published_db) if published_db.exists() else "no published file yet (run `make run`)"
    index.write_text(
        "<!doctype html><meta charset='utf-8'><title>cs-metrics documentation</title>"
        "<body style='font-family:system-ui;max-width:48rem;margin:3rem auto'>"
        "<h1>cs-metrics documentation</h1><ul>"
        f"<li><a href='{dbt_index.relative_to(out)}'>dbt docs</a>: models, columns, tests, lineage</li>"
        f"<li><a href='{ge_index.relative_to(out)}'>Great Expectations data docs</a>: the raw tables' "
        f"suites and their validation ({len(validated)} tables validated)</li></ul>"
        f"<p>Built from {html.escape(source)}.</p></body>",
        encoding="utf-8",
    )
    return DocsSites(index, dbt_index, ge_index, validated)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--db", type=Path, default=None, help="published DuckDB file (default: the warehouse's)")
    args = parser.parse_args(argv)
    sites = build_docs(args.out.resolve(), args.db)
    print(f"dbt docs:          {sites.dbt}")
    print(f"GE data docs:      {sites.great_expectations} ({len(sites.validated_tables)} tables validated)")
    print(f"Index:             {sites.index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
