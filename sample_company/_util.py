"""Small helpers shared by the generator modules: random streams, day numbers, months."""

from __future__ import annotations

import zlib
from datetime import date

import numpy as np

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
NULL = np.iinfo(np.int64).min  # missing value in integer columns (days, seconds, cents)
FAR = 10**7  # a day number far in the future ("never")


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent, named random stream: changing one table never shifts another's draws."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(name.encode()),))
    return np.random.Generator(np.random.PCG64(ss))


class Uniforms:
    """Sequential uniform draws for the per-account loops (one vectorised draw per block)."""

    def __init__(self, rng: np.random.Generator, block: int = 8192):
        self.rng = rng
        self.block = block
        self.buf = rng.random(block)
        self.i = 0

    def __call__(self) -> float:
        if self.i == self.block:
            self.buf = self.rng.random(self.block)
            self.i = 0
        v = self.buf[self.i]
        self.i += 1
        return float(v)

    def int(self, lo: int, hi: int) -> int:
        """Integer in [lo, hi] (inclusive)."""
        return lo + int(self() * (hi - lo + 1))


def d2n(d: date) -> int:
    """Day number (days since 1970-01-01)."""
    return d.toordinal() - EPOCH_ORDINAL


def n2d(n: int) -> date:
    return date.fromordinal(int(n) + EPOCH_ORDINAL)


def add_months_day(n: int, k: int) -> int:
    """Day number ``n`` moved ``k`` calendar months; the day of month must be <= 28."""
    d = n2d(n)
    y, m = divmod(d.year * 12 + d.month - 1 + k, 12)
    return d2n(date(y, m + 1, d.day))


def month_index(days) -> np.ndarray:
    """Months since 1970-01 of day numbers (vectorised)."""
    return (
        np.asarray(days, dtype=np.int64)
        .astype("datetime64[D]")
        .astype("datetime64[M]")
        .astype(np.int64)
    )


def month_first_day(months) -> np.ndarray:
    """Day number of the first day of month indexes (vectorised)."""
    return (
        np.asarray(months, dtype=np.int64)
        .astype("datetime64[M]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )


def month_label(month: int) -> str:
    y, m = divmod(int(month), 12)
    return f"{1970 + y:04d}-{m + 1:02d}"


def clip_day_of_month(n: int, max_day: int = 28) -> int:
    """Move a day number back so that its day of month is at most ``max_day``."""
    d = n2d(n)
    return n - max(0, d.day - max_day)


def ids(prefix: str, numbers, width: int) -> np.ndarray:
    """Vectorised zero-padded ids: ids('ACC-', [1, 2], 5) -> ['ACC-00001', 'ACC-00002']."""
    nums = np.asarray(numbers, dtype=np.int64)
    if nums.size == 0:
        return np.empty(0, dtype=object)
    return np.char.add(prefix, np.char.zfill(nums.astype(str), width)).astype(object)
