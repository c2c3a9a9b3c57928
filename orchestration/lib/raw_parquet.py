"""The raw layer as Parquet, so that another engine (Spark) reads exactly what DuckDB checked.

The extract step loads and contract-checks every export in DuckDB (``orchestration.lib.loader``)
whatever the dbt target. For the Spark target the checked tables are then written with DuckDB's
own Parquet writer, one dataset per contract table, to ``<out_dir>/<system>_<entity>.parquet``;
dbt's ``on-run-start`` hook (``register_raw_parquet_sources`` in ``dbt_project/macros``)
registers each one as the external table ``raw.<system>_<entity>`` on Spark. One extract
implementation, one set of contract checks, and the types travel with the files
(DECIMAL(18,2), DATE, TIMESTAMP...). See ``dbt_project/DECISIONS.md`` (Spark).

Each dataset is a folder holding one file, ``<table>.parquet/data.parquet``, the layout Spark
itself writes: a Hive metastore only accepts a folder as a table location (a bare file makes
Spark fall back to a Spark-only table definition, with a stack trace in the log). DuckDB and
Spark both read the folder as one table. The file is written under a hidden temporary name
(engines skip names starting with ``.``) and renamed over the old one, so a reader sees the
previous table or the new one, never half a file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.lib.contract import TABLES, TableSpec
from orchestration.lib.loader import literal, quote

# Where the Spark target reads the raw Parquet from (the on-run-start hook reads the same
# variable; a relative path is relative to dbt_project/, where dbt runs).
RAW_PARQUET_DIR_ENV = "CS_RAW_PARQUET_DIR"
RAW_PARQUET_DIR_NAME = "raw_parquet"
# Where a local Spark session keeps its tables and metastore (profiles.yml, target spark).
SPARK_WAREHOUSE_DIR_ENV = "CS_SPARK_WAREHOUSE_DIR"
DATA_FILE = "data.parquet"


@dataclass(frozen=True)
class ExportedTable:
    table_name: str
    path: Path  # the dataset folder, <out_dir>/<table>.parquet
    rows: int
    bytes: int


def raw_parquet_path(out_dir: Path, spec: TableSpec) -> Path:
    """The dataset folder of one contract table: ``<out_dir>/<system>_<entity>.parquet``."""
    return Path(out_dir) / f"{spec.name}.parquet"


def export_raw_to_parquet(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    tables: Iterable[TableSpec] = TABLES,
    raw_schema: str = "raw",
) -> list[ExportedTable]:
    """COPY every ``<raw_schema>.<table>`` of the contract to ``<out_dir>/<table>.parquet``.

    ``con`` is a connection to the build database after the extract step. Every contract table
    must exist there (the loader creates a missing optional table empty), so a missing one is
    an error here rather than a source that silently disappears on Spark. Columns are written
    in contract order.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exported = []
    for spec in tables:
        folder = raw_parquet_path(out_dir, spec)
        if folder.is_file():  # a single-file export from elsewhere: replace it by the folder
            folder.unlink()
        folder.mkdir(exist_ok=True)
        for stale in folder.iterdir():  # only data.parquet belongs here
            if stale.name == DATA_FILE:
                continue
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()
        target = folder / DATA_FILE
        tmp = folder / f".{DATA_FILE}.tmp"
        columns = ", ".join(quote(c) for c in spec.column_names)
        (rows,) = con.execute(
            f"copy (select {columns} from {quote(raw_schema)}.{quote(spec.name)}) "
            f"to {literal(str(tmp))} (format parquet, compression zstd)"
        ).fetchone()
        os.replace(tmp, target)
        exported.append(ExportedTable(spec.name, folder, rows, target.stat().st_size))
    return exported


def export_build_db_to_parquet(build_db: Path, out_dir: Path) -> list[ExportedTable]:
    """``export_raw_to_parquet`` from the build database file, opened read-only (for callers
    without a connection at hand: the Dagster extract step on the Spark target, scripts)."""
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        return export_raw_to_parquet(con, out_dir)
    finally:
        con.close()


# --------------------------------------------------------------------------- for Dagster


def is_spark_target() -> bool:
    """Whether dbt builds on Spark (``DBT_TARGET=spark``, as profiles.yml reads it)."""
    return os.environ.get("DBT_TARGET", "duckdb") == "spark"


def raw_parquet_dir(warehouse_dir: Path) -> Path:
    """``$CS_RAW_PARQUET_DIR``, else ``<warehouse_dir>/raw_parquet``."""
    return Path(os.environ.get(RAW_PARQUET_DIR_ENV) or Path(warehouse_dir) / RAW_PARQUET_DIR_NAME)


def spark_warehouse_dir(warehouse_dir: Path) -> Path:
    """``$CS_SPARK_WAREHOUSE_DIR``, else ``<warehouse_dir>/spark`` (local session only)."""
    return Path(os.environ.get(SPARK_WAREHOUSE_DIR_ENV) or Path(warehouse_dir) / "spark")


def export_for_spark(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, warehouse_dir: Path
) -> ExportedTable | None:
    """After the extract step loaded ``raw.<spec.name>``: on the Spark target, write it to the
    raw Parquet folder the Spark build reads; on DuckDB, nothing (returns None)."""
    if not is_spark_target():
        return None
    (exported,) = export_raw_to_parquet(con, raw_parquet_dir(warehouse_dir), tables=[spec])
    return exported


def spark_dbt_env(warehouse_dir: Path) -> dict[str, str]:
    """The environment dbt needs on the Spark target for a run in ``warehouse_dir`` (absolute
    paths, so they do not depend on the folder dbt runs from)."""
    return {
        RAW_PARQUET_DIR_ENV: str(raw_parquet_dir(warehouse_dir).resolve()),
        SPARK_WAREHOUSE_DIR_ENV: str(spark_warehouse_dir(warehouse_dir).resolve()),
    }


def main() -> None:
    """``python -m orchestration.lib.raw_parquet``: export the build database's raw layer to the
    folder the Spark target reads (``$CS_RAW_PARQUET_DIR`` or ``data/warehouse/raw_parquet``)."""
    from orchestration.lib.warehouse import BUILD_DB_NAME, default_warehouse_dir

    warehouse_dir = Path(default_warehouse_dir())
    out_dir = raw_parquet_dir(warehouse_dir)
    exported = export_build_db_to_parquet(warehouse_dir / BUILD_DB_NAME, out_dir)
    rows = sum(e.rows for e in exported)
    print(f"{len(exported)} raw tables, {rows:,} rows -> {out_dir}")


if __name__ == "__main__":
    main()
