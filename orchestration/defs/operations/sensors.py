"""The file-arrival sensor: a refresh starts when new or changed exports land in data/raw/.

Keyed on checksums (``orchestration.lib.arrivals``): the run key is a digest of every export
file's SHA-256, so the same files never start two runs, and files already in the published
build start none. A file still being written (modified in the last ``CS_ARRIVAL_SETTLE_SECONDS``,
default 30) waits for the next tick.
"""

import os

import dagster as dg

from orchestration.lib.arrivals import look, parse_cursor, published_baseline
from orchestration.lib.warehouse import Warehouse

SETTLE_SECONDS_ENV = "CS_ARRIVAL_SETTLE_SECONDS"


def build_export_arrival_sensor(job) -> dg.SensorDefinition:
    """The sensor for ``job`` (the refresh job)."""
    @dg.sensor(
        name="refresh_on_new_exports",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Starts a refresh when export files in data/raw/ are new or changed (by SHA-256; the "
            "same files never trigger twice). Files written in the last 30 s wait for the next "
            "tick."
        ),
    )
    def refresh_on_new_exports(context: dg.SensorEvaluationContext, warehouse: Warehouse):
        previous = parse_cursor(context.cursor)
        baseline = (
            published_baseline(warehouse.published_db, warehouse.raw_path)
            if previous is None else {}
        )
        settle = float(os.environ.get(SETTLE_SECONDS_ENV, "30"))
        arrivals = look(warehouse.raw_path, previous, baseline, settle_seconds=settle)
        if arrivals.settling:
            # Keep the cursor as it was, so the settling files are judged again once quiet.
            return dg.SkipReason(
                f"{len(arrivals.settling)} export file(s) still being written: "
                f"{', '.join(arrivals.settling[:5])}"
            )
        context.update_cursor(arrivals.cursor())
        if not arrivals.changed and not arrivals.removed:
            return dg.SkipReason(f"no new or changed exports ({len(arrivals.files)} files seen)")
        changed = ", ".join(arrivals.changed[:10]) + (" ..." if len(arrivals.changed) > 10 else "")
        return dg.RunRequest(
            run_key=arrivals.fingerprint,
            tags={
                "cs/trigger": "new_exports",
                "cs/changed_files": changed[:250],
                "cs/removed_files": ", ".join(arrivals.removed)[:250],
            },
        )

    return refresh_on_new_exports
