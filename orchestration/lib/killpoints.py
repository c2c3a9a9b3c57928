"""A test hook: stop a refresh at a named point so that a test can kill it there.

Inert unless ``CS_TEST_PAUSE_AT`` names the point. Used by ``tests/test_killed_runs.py`` and
``orchestration/lib/reliability_runs.py`` only; never set it in production. When the refresh
reaches the point (the first time in the process), it writes the marker file
``<warehouse_dir>/.paused-at-<point>`` (holding its pid) and sleeps until the marker is removed
(the test lets it go on) or ``CS_TEST_PAUSE_SECONDS`` (default 600) pass.

Points: ``extract`` (the first extract step, its table loaded and its write connection to
``build.duckdb`` still open), ``dbt`` (``dbt build`` running: its first model done, the dbt
process alive and writing), ``publish`` (the audited build copied to the temporary file beside
``cs_metrics.duckdb``, not yet swapped in).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "CS_TEST_PAUSE_AT"
PAUSE_SECONDS_ENV = "CS_TEST_PAUSE_SECONDS"
POINTS = ("extract", "dbt", "publish")

_paused: set[str] = set()


def marker_path(warehouse_dir: Path | str, point: str) -> Path:
    return Path(warehouse_dir) / f".paused-at-{point}"


def pause_at(point: str, warehouse_dir: Path | str) -> None:
    if os.environ.get(PAUSE_ENV) != point or point in _paused:
        return
    _paused.add(point)
    marker = marker_path(warehouse_dir, point)
    marker.write_text(str(os.getpid()))
    deadline = time.monotonic() + float(os.environ.get(PAUSE_SECONDS_ENV, "600"))
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
