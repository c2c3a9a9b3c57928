"""Writing export files in the contract's layout (CSV text formats, exact column lists)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np

from orchestration.lib.contract import TABLES, TableSpec, get_table
from sample_company._util import NULL

GROUND_TRUTH_DIR = "_ground_truth"


def clear_previous_output(out: Path) -> None:
    """Remove every file this generator writes (all export extensions) and the ground truth."""
    for spec in TABLES:
        for ext in ("csv", "parquet", "json"):
            p = out / spec.system / f"{spec.entity}.{ext}"
            if p.exists():
                p.unlink()
    gt = out / GROUND_TRUTH_DIR
    if gt.exists():
        shutil.rmtree(gt)


def _text(col_type: str, values) -> list:
    """Format one column as contract text; None (or the NULL sentinel) -> empty cell."""
    v = np.asarray(values)
    if v.size == 0:
        return []
    if v.dtype == object:  # already text (or None)
        return v.tolist()
    if col_type == "boolean":
        return np.where(v, "true", "false").tolist()
    mask = v == NULL
    safe = np.where(mask, 0, v)
    if col_type == "date":
        text = np.datetime_as_string(safe.astype("datetime64[D]"))
    elif col_type == "timestamp":
        text = np.char.replace(np.datetime_as_string(safe.astype("datetime64[s]")), "T", " ")
    elif col_type == "decimal":
        whole = (safe // 100).astype(str)
        frac = np.char.zfill((safe % 100).astype(str), 2)
        text = np.char.add(np.char.add(whole, "."), frac)
    elif col_type in ("integer", "bigint"):
        text = safe.astype(np.int64).astype(str)
    else:
        raise TypeError(f"cannot format {col_type} from {v.dtype}")
    out = text.astype(object)
    out[mask] = None
    return out.tolist()


def _write(path: Path, header: list[str], columns: list[list]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(header)
        w.writerows(zip(*columns, strict=False))
    return len(columns[0]) if columns else 0


def write_csv_table(out: Path, name: str, columns: dict[str, object]) -> int:
    """Write ``<out>/<system>/<entity>.csv`` with exactly the contract's columns; row count."""
    spec: TableSpec = get_table(name)
    if list(columns) != spec.column_names:
        raise ValueError(f"{name}: columns {list(columns)} != contract {spec.column_names}")
    lengths = {len(columns[c]) for c in spec.column_names}
    if len(lengths) != 1:
        raise ValueError(f"{name}: columns of different lengths {lengths}")
    texts = [_text(spec.column(c).type, columns[c]) for c in spec.column_names]
    return _write(out / spec.system / f"{spec.entity}.csv", spec.column_names, texts)


def write_plain_csv(path: Path, columns: dict[str, object]) -> int:
    """A ground-truth CSV (columns already text or plain integers)."""
    return _write(path, list(columns), [np.asarray(v).tolist() for v in columns.values()])
