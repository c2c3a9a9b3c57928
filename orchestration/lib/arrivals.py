"""Which export files are new or changed since the pipeline last saw them, keyed on checksums.

The file-arrival sensor (``orchestration/defs/operations``) asks this module on every tick. A
file counts as *changed* when its SHA-256 differs from the one last seen; a file whose size and
modification time are unchanged is not hashed again, so a tick over unchanged multi-GB exports
costs a ``stat`` per file. The first time (no sensor state yet) the baseline is what the
published file says was loaded (``raw.load_audit``), so exports that ``make run`` already
published never start a second run.

A file modified less than ``settle_seconds`` ago may still be being written: it is reported as
settling and nothing is requested until it is quiet.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.lib.contract import TABLES
from orchestration.lib.loader import file_sha256

EXTENSIONS = ("csv", "parquet", "json")


@dataclass
class SeenFile:
    size: int
    mtime_ns: int
    sha256: str


@dataclass
class Arrivals:
    """The outcome of one look at the export folder."""

    files: dict[str, SeenFile]  # relative path -> what is there now (settled files only)
    changed: list[str] = field(default_factory=list)  # new or different content
    removed: list[str] = field(default_factory=list)
    settling: list[str] = field(default_factory=list)  # modified too recently to trust

    @property
    def fingerprint(self) -> str:
        """One digest of every export file and its checksum: the run key of a refresh, so the
        same set of files never starts two runs."""
        digest = hashlib.sha256()
        for rel in sorted(self.files):
            digest.update(f"{rel}\0{self.files[rel].sha256}\n".encode())
        return digest.hexdigest()[:32]

    def cursor(self) -> str:
        return json.dumps(
            {rel: [f.size, f.mtime_ns, f.sha256] for rel, f in sorted(self.files.items())},
            separators=(",", ":"),
        )


def export_files(raw_dir: Path) -> list[Path]:
    """Every file of the contract present under ``raw_dir`` (``<system>/<entity>.<ext>``)."""
    return [
        raw_dir / spec.system / f"{spec.entity}.{ext}"
        for spec in TABLES
        for ext in EXTENSIONS
        if (raw_dir / spec.system / f"{spec.entity}.{ext}").is_file()
    ]


def parse_cursor(cursor: str | None) -> dict[str, SeenFile] | None:
    if not cursor:
        return None
    return {rel: SeenFile(*values) for rel, values in json.loads(cursor).items()}


def published_baseline(published_db: Path, raw_dir: Path) -> dict[str, str]:
    """relative path -> SHA-256 of the files the published file was built from (empty when
    there is no published file yet)."""
    if not published_db.exists():
        return {}
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        rows = con.execute(
            "select source_file, file_sha256 from raw.load_audit "
            "where source_file is not null"
        ).fetchall() if _has_load_audit(con) else []
    finally:
        con.close()
    baseline = {}
    for source_file, sha in rows:
        path = Path(source_file)
        try:
            baseline[str(path.resolve().relative_to(raw_dir.resolve()))] = sha
        except ValueError:  # loaded from another folder: not a baseline for this one
            continue
    return baseline


def _has_load_audit(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'raw' and table_name = 'load_audit'"
    ).fetchone()[0])


def look(raw_dir: Path, previous: dict[str, SeenFile] | None, baseline: dict[str, str],
         settle_seconds: float = 30.0, now: float | None = None) -> Arrivals:
    """Compare the export folder with what was seen before (``previous``, the sensor cursor) or,
    without a cursor, with ``baseline`` (checksums of the published build)."""
    now = time.time() if now is None else now
    raw_dir = Path(raw_dir)
    out = Arrivals(files={})
    for path in export_files(raw_dir):
        rel = str(path.relative_to(raw_dir))
        stat = path.stat()
        if now - stat.st_mtime < settle_seconds:
            out.settling.append(rel)
            if previous and rel in previous:
                out.files[rel] = previous[rel]  # keep the old state until the file is quiet
            continue
        before = previous.get(rel) if previous is not None else None
        if before and before.size == stat.st_size and before.mtime_ns == stat.st_mtime_ns:
            sha = before.sha256
        else:
            sha = file_sha256(path)
        out.files[rel] = SeenFile(stat.st_size, stat.st_mtime_ns, sha)
        known = before.sha256 if before else (baseline.get(rel) if previous is None else None)
        if sha != known:
            out.changed.append(rel)
    seen_before = set(previous) if previous is not None else set(baseline)
    out.removed = sorted(seen_before - set(out.files) - set(out.settling))
    return out
