"""Retries with exponential backoff for transient failures (a lock, a busy file).

A refresh step fails for two kinds of reasons. Deterministic ones (an export that breaks the
contract, a failing data test, a failed audit) fail the same way every time: they are raised at
once, never retried. Transient ones go away by themselves: another process holds the DuckDB
build file open for writing ("Could not set lock on file"), a file is busy or being replaced
under us. Those are retried, waiting ``base * 2**attempt`` seconds (capped), up to
``CS_RETRY_MAX`` times (default 3); ``CS_RETRY_BASE_SECONDS`` (default 5) sets the first wait.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

# Lock / busy wording of DuckDB (and of dbt-duckdb, which passes DuckDB's message on).
TRANSIENT_MESSAGES = (
    "could not set lock on file",
    "conflicting lock is held",
    "resource temporarily unavailable",
    "database is locked",
)
TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.ETXTBSY, errno.EWOULDBLOCK}
MAX_WAIT_SECONDS = 300


def max_retries() -> int:
    return int(os.environ.get("CS_RETRY_MAX", "3"))


def base_seconds() -> float:
    return float(os.environ.get("CS_RETRY_BASE_SECONDS", "5"))


def backoff_seconds(attempt: int) -> float:
    """Wait before retry number ``attempt + 1`` (attempt 0 is the first run)."""
    return min(base_seconds() * (2**attempt), MAX_WAIT_SECONDS)


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a lock or busy-file error worth retrying."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in TRANSIENT_ERRNOS:
            return True
        text = str(current).lower()
        if isinstance(current, dg.Failure) and current.description:
            text += " " + current.description.lower()
        if any(m in text for m in TRANSIENT_MESSAGES):
            return True
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def retry_transient(context: dg.OpExecutionContext | dg.AssetExecutionContext, what: str) -> Iterator[None]:
    """Turn a transient error inside the block into a Dagster retry with exponential backoff;
    let every other error through unchanged. After the last retry the error fails the step."""
    try:
        yield
    except dg.RetryRequested:
        raise
    except Exception as exc:
        attempt = context.retry_number
        if not is_transient(exc) or attempt >= max_retries():
            raise
        wait = backoff_seconds(attempt)
        context.log.warning(
            f"{what}: transient failure ({str(exc).splitlines()[0][:200]}); "
            f"retry {attempt + 1} of {max_retries()} in {wait:g} s"
        )
        raise dg.RetryRequested(max_retries=max_retries(), seconds_to_wait=wait) from exc
