"""Every mart table of a DuckDB file as (rows, order-independent checksum), computed in DuckDB.

The checksum is the sum of the rows' hashes, so it ignores row order and counts duplicates.
Two files with equal checksums for every table hold the same marts. Plain DuckDB only (no
Dagster import): reader processes in the reliability scenarios load it quickly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

# Mart columns whose value depends on when a run happened rather than on its inputs; left out of
# comparisons. None today: the reporting date comes from the data (README, Idempotent).
RUN_DEPENDENT_COLUMNS: dict[str, frozenset[str]] = {}


def mart_checksums_sql(con: duckdb.DuckDBPyConnection) -> str:
    """One query: table_name, row_count, checksum for every base table of schema marts."""
    tables = [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' "
        "and table_type = 'BASE TABLE' order by table_name").fetchall()]
    if not tables:
        return "select null::varchar as table_name, 0 as row_count, null::varchar as checksum limit 0"
    parts = []
    for table in tables:
        skip = RUN_DEPENDENT_COLUMNS.get(table, frozenset())
        row = f"(select x.* exclude ({', '.join(sorted(skip))}))" if skip else "x"
        parts.append(
            f"select '{table}' as table_name, count(*) as row_count, "
            f"coalesce(sum(hash({row})::hugeint), 0)::varchar as checksum from marts.{table} as x"
        )
    return " union all ".join(parts) + " order by table_name"


def read_checksums(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, str]]:
    return {t: (n, c) for t, n, c in con.execute(mart_checksums_sql(con)).fetchall()}


def mart_checksums(db: Path | str) -> dict[str, tuple[int, str]]:
    """Every mart table of ``db`` (opened read-only): (rows, checksum)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return read_checksums(con)
    finally:
        con.close()


def fingerprint(checksums: dict[str, tuple[int, str]]) -> str:
    """A short digest of every table's checksum: equal fingerprints, equal marts."""
    return hashlib.sha256(json.dumps(sorted(checksums.items())).encode()).hexdigest()[:16]
