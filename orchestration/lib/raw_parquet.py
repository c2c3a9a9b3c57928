"""The raw layer as Parquet files, so that another engine (Spark) reads what DuckDB checked.

The extract step loads and contract-checks every export in DuckDB (``orchestration.lib.loader``)
whatever the dbt target. For the Spark target the checked tables are then written, one file per
contract table, to ``<out_dir>/<system>_<entity>.parquet`` with DuckDB's own Parquet writer;
dbt's ``on-run-start`` hook (``register_raw_parquet_sources`` in ``dbt_project/macros``)
registers each file as ``raw.<system>_<entity>`` on Spark. One extract implementation, one set
of contract checks, and the types travel with the files (DECIMAL(18,2), DATE, TIMESTAMP...).

Each file is written to a temporary name and renamed into place, so a reader never sees a half
written file and a failed export leaves the previous file whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.lib.contract import TABLES, TableSpec
from orchestration.lib.loader import literal, quote

# Where the Spark target reads the raw Parquet files from (dbt_project/profiles.yml and the
# on-run-start hook read the same variable; relative paths are relative to dbt_project/).
RAW_PARQUET_DIR_ENV = "CS_RAW_PARQUET_DIR"
RAW_PARQUET_DIR_NAME = "raw_parquet"


@dataclass(frozen=True)
class ExportedTable:
    table_name: str
    path: Path
    rows: int
    bytes: int


def raw_parquet_path(out_dir: Path, spec: TableSpec) -> Path:
    return Path(out_dir) / f"{spec.name}.parquet"


def export_raw_to_parquet(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    tables: Iterable[TableSpec] = TABLES,
    raw_schema: str = "raw",
) -> list[ExportedTable]:
    """COPY every ``<raw_schema>.<table>`` of the contract to ``<out_dir>/<table>.parquet``.

    ``con`` is a connection to the build database after the extract step. Every contract table
    must exist there (the loader creates optional tables empty), so a missing one is an error
    rather than a silently absent source on Spark.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exported = []
    for spec in tables:
        path = raw_parquet_path(out_dir, spec)
        tmp = path.with_name(f".{path.name}.tmp")
        columns = ", ".join(quote(c) for c in spec.column_names)
        (rows,) = con.execute(
            f"copy (select {columns} from {quote(raw_schema)}.{quote(spec.name)}) "
            f"to {literal(str(tmp))} (format parquet, compression zstd)"
        ).fetchone()
        os.replace(tmp, path)
        exported.append(ExportedTable(spec.name, path, rows, path.stat().st_size))
    return exported


def export_build_db_to_parquet(build_db: Path, out_dir: Path) -> list[ExportedTable]:
    """``export_raw_to_parquet`` on the build database file (read-only), for callers without a
    connection at hand (the Dagster extract step on the Spark target, scripts)."""
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        return export_raw_to_parquet(con, out_dir)
    finally:
        con.close()


def default_raw_parquet_dir(warehouse_dir: Path) -> Path:
    """``$CS_RAW_PARQUET_DIR``, else ``<warehouse_dir>/raw_parquet``."""
    return Path(os.environ.get(RAW_PARQUET_DIR_ENV) or Path(warehouse_dir) / RAW_PARQUET_DIR_NAME)
