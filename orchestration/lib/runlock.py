"""One refresh at a time per warehouse folder: an exclusive lock on ``<warehouse_dir>/refresh.lock``.

Two refreshes writing the same ``build.duckdb`` would interleave their loads and builds (DuckDB's
own file lock only makes the second fail somewhere in the middle, after the retry layer has
waited in vain). So the whole run holds an ``fcntl.flock`` on ``refresh.lock``:

* ``make run`` (``orchestration/run.py``) takes it before anything else, so a second
  ``make run`` refuses before generating data or parsing dbt;
* every Dagster run of the refresh job takes it while its resources are set up (the
  ``refresh_lock`` resource, ``RefreshLock`` in ``orchestration/lib/warehouse.py``, required by
  the dbt and publish steps; with the in-process executor Dagster sets resources up once, before
  the first step) and lets go when the run ends. Inside ``make run`` this is the same lock, held by the same thread: it
  is taken once.

A second refresh waits up to ``CS_RUN_LOCK_WAIT_SECONDS`` (default 0) and then refuses with
"another refresh is running (pid N, started at T); try again later". A run the sensor or the
schedule started waits longer (``CS_AUTOMATIC_RUN_LOCK_WAIT_SECONDS``, default 3600): nobody
would start it again. The lock file names the
holder (pid, start time, host) and the dbt process it started.

A holder that dies (``kill -9``, out of memory, a reboot) loses its lock with its last file
descriptor, so the next refresh simply takes it over. If the dead holder left a dbt process
behind (its parent was killed, the child was not), that orphan would keep ``build.duckdb``
locked and go on writing it; the new holder kills it first (when it is still the same process:
same pid and start time) and says so.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE_NAME = "refresh.lock"
# The refresh job's run tag; dagster.yaml lets one run with it be in progress (the others queue).
REFRESH_RUN_TAG = "cs/refresh"
WAIT_ENV = "CS_RUN_LOCK_WAIT_SECONDS"
AUTOMATIC_WAIT_ENV = "CS_AUTOMATIC_RUN_LOCK_WAIT_SECONDS"
AUTOMATIC_RUN_TAGS = ("dagster/sensor_name", "dagster/schedule_name")
POLL_SECONDS = 0.25
ORPHAN_KILL_TIMEOUT_SECONDS = 30.0


class RefreshRunning(RuntimeError):
    """Another process holds the refresh lock of this warehouse folder."""

    def __init__(self, lock_path: Path, holder: dict, waited: float):
        self.lock_path = lock_path
        self.holder = holder
        self.waited = waited
        pid = holder.get("pid", "unknown")
        started = holder.get("started_at", "unknown")
        waited_text = f"; waited {waited:g} s" if waited > 0 else ""
        super().__init__(
            f"another refresh is running (pid {pid}, started at {started}{waited_text}); "
            "try again later"
        )


@dataclass
class Held:
    """The lock as this process holds it."""

    lock_path: Path
    fd: int
    thread: int
    info: dict
    depth: int = 1
    taken_over: list[str] = field(default_factory=list)  # what was cleaned up from a dead holder


_HELD: dict[Path, Held] = {}
_HELD_GUARD = threading.Lock()


def lock_path_for(warehouse_dir: Path | str) -> Path:
    return Path(warehouse_dir) / LOCK_FILE_NAME


def default_wait_seconds() -> float:
    return float(os.environ.get(WAIT_ENV, "0") or 0)


def wait_seconds_for_run(tags: Mapping[str, str]) -> float:
    """How long a Dagster run with these tags waits for the lock. A run the sensor or the
    schedule started waits up to ``CS_AUTOMATIC_RUN_LOCK_WAIT_SECONDS`` (default 3600): nobody
    would start it again (the sensor does not request the same files twice). Others (``make
    run``, the UI) wait ``CS_RUN_LOCK_WAIT_SECONDS`` (default 0: refuse at once)."""
    if any(key in tags for key in AUTOMATIC_RUN_TAGS):
        return float(os.environ.get(AUTOMATIC_WAIT_ENV, "3600") or 0)
    return default_wait_seconds()


def read_holder(lock_path: Path) -> dict:
    """What the lock file says about its holder ({} when empty or unreadable)."""
    try:
        text = lock_path.read_text()
    except OSError:
        return {}
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _write(fd: int, info: dict) -> None:
    data = (json.dumps(info, sort_keys=True) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), None if unknown.
    Together with the pid it names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[19]) if len(fields) > 19 else None


def is_running(pid: int) -> bool:
    """Alive and not a zombie (a zombie holds no files)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat[stat.rindex(")") + 2:].split()[0] not in ("Z", "X")


def _kill_orphans(previous: dict, log: Callable[[str], None]) -> list[str]:
    """Kill the children a dead holder recorded, when they still run (same pid, same start)."""
    done: list[str] = []
    if previous.get("pid") == os.getpid():
        return done
    for child in previous.get("children", []):
        pid, ticks = child.get("pid"), child.get("start_ticks")
        if not isinstance(pid, int) or not is_running(pid):
            continue
        if ticks is None or process_start_ticks(pid) != ticks:
            continue  # the pid now belongs to another process
        log(f"refresh lock: the previous holder (pid {previous.get('pid')}) died and left "
            f"{child.get('what', 'a child process')} (pid {pid}) running; killing it")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + ORPHAN_KILL_TIMEOUT_SECONDS
        while is_running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        done.append(f"killed orphaned {child.get('what', 'child')} pid {pid}")
    return done


@contextmanager
def refresh_lock(
    warehouse_dir: Path | str,
    wait_seconds: float | None = None,
    log: Callable[[str], None] = print,
    purpose: str = "refresh",
) -> Iterator[Held]:
    """Hold the refresh lock of ``warehouse_dir`` for the block; raise ``RefreshRunning`` when
    another process holds it for longer than ``wait_seconds`` (default ``CS_RUN_LOCK_WAIT_SECONDS``).

    Re-entrant within one thread (``make run`` holds it and the job it runs takes it again);
    another thread of the same process is refused like another process."""
    lock_path = lock_path_for(warehouse_dir).resolve()
    with _HELD_GUARD:
        held = _HELD.get(lock_path)
        if held is not None and held.thread == threading.get_ident():
            held.depth += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield held
        finally:
            held.depth -= 1
        return

    wait = default_wait_seconds() if wait_seconds is None else wait_seconds
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    started = time.monotonic()
    said_waiting = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= wait:
                    raise RefreshRunning(lock_path, read_holder(lock_path), round(waited, 1)) from None
                if not said_waiting:
                    holder = read_holder(lock_path)
                    log(f"waiting up to {wait:g} s for the refresh lock: another refresh is running "
                        f"(pid {holder.get('pid', 'unknown')}, started at "
                        f"{holder.get('started_at', 'unknown')})")
                    said_waiting = True
                time.sleep(min(POLL_SECONDS, max(wait - waited, 0.01)))
    except BaseException:
        os.close(fd)
        raise

    previous = read_holder(lock_path)
    info = {
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "purpose": purpose,
        "children": [],
    }
    held = Held(lock_path, fd, threading.get_ident(), info)
    try:
        held.taken_over = _kill_orphans(previous, log)
        _write(fd, info)
        with _HELD_GUARD:
            _HELD[lock_path] = held
        yield held
    finally:
        with _HELD_GUARD:
            _HELD.pop(lock_path, None)
        try:
            os.ftruncate(fd, 0)  # nobody holds it now
        finally:
            os.close(fd)  # closing the descriptor releases the flock


def record_child(warehouse_dir: Path | str, pid: int, what: str) -> None:
    """Note in the lock file a child process the holder started (so that, should the holder die,
    the next holder can stop it). A no-op when this process does not hold the lock."""
    lock_path = lock_path_for(warehouse_dir).resolve()
    with _HELD_GUARD:
        held = _HELD.get(lock_path)
        if held is None:
            return
        held.info["children"] = [
            c for c in held.info["children"] if c.get("pid") != pid
        ] + [{"pid": pid, "start_ticks": process_start_ticks(pid), "what": what}]
        _write(held.fd, held.info)


def holds_lock(warehouse_dir: Path | str) -> bool:
    with _HELD_GUARD:
        return lock_path_for(warehouse_dir).resolve() in _HELD
