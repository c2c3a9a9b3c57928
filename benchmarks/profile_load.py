"""``python -m benchmarks.profile_load RAW_DIR [TABLE]``: load one export the way the pipeline
does, into a throwaway DuckDB file, and print the time of every SQL statement the loader runs
(those over 0.2 s) and the total. The profile behind the loader rows of benchmarks/README.md.

    python -m benchmarks.profile_load data/bench/medium/<key>/raw product_usage_events
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from orchestration.lib import loader
from orchestration.lib.contract import TABLES

SHOWN_FROM_SECONDS = 0.2


class TimedConnection:
    """A DuckDB connection whose ``execute`` prints how long each statement took."""

    def __init__(self, con: Any, out: list[tuple[float, str]]):
        self._con = con
        self._out = out

    def execute(self, query: str, *args: Any) -> Any:
        started = time.perf_counter()
        result = self._con.execute(query, *args)
        self._out.append((time.perf_counter() - started, " ".join(query.split())))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path, help="the export folder")
    parser.add_argument("table", nargs="?", default="product_usage_events",
                        help="contract table name (default product_usage_events)")
    parser.add_argument("--memory-limit", default=loader.memory_limit_setting())
    args = parser.parse_args(argv)
    spec = next((t for t in TABLES if t.name == args.table), None)
    if spec is None:
        parser.error(f"no table {args.table!r}; choose from {', '.join(t.name for t in TABLES)}")
    with tempfile.TemporaryDirectory() as tmp:
        con = loader.connect(Path(tmp) / "profile.duckdb", args.memory_limit)
        loader.ensure_raw_schema(con)
        statements: list[tuple[float, str]] = []
        started = time.perf_counter()
        result = loader.load_table(TimedConnection(con, statements), spec, args.raw)
        total = time.perf_counter() - started
        con.close()
    for seconds, sql in statements:
        if seconds >= SHOWN_FROM_SECONDS:
            print(f"{seconds:8.2f} s  {sql[:120]}")
    print(f"{total:8.2f} s  total: {result.rows_read:,} rows read, {result.rows_loaded:,} loaded, "
          f"{result.rows_quarantined:,} quarantined")
    return 0


if __name__ == "__main__":
    sys.exit(main())
