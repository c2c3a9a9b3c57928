"""Product usage events, fully vectorised: user-days -> Poisson event counts -> events.

For each provisioned user the generator lays out every day the user could be active (from
provisioning to deactivation, to the day the user quits, or to the as-of date), gives each day a
rate (user engagement x account engagement x weekday x onboarding ramp x pre-churn decay), draws
the day's event count from a Poisson law and expands the counts into events. Features follow a
catalogue-wide mix, restricted to the key features the account adopted, to features released by
then, and to non-key features before the account's time to first value.
Events are written to Parquet in row groups, a few hundred accounts at a time.
"""

from __future__ import annotations

import itertools
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sample_company import catalog as cat
from sample_company.billing import Billing
from sample_company.company import Accounts
from sample_company.people import Users

# Mean events per engaged user per working day at full engagement; calibrated so that the
# default company produces about 10,000 events per account over 36 months.
BASE_RATE = 0.74
WEEKEND = 0.12
CHUNK_USER_DAYS = 4_000_000

# The file's schema (dictionary-encoded string columns are plain strings in Parquet).
SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("account_id", pa.string()),
        ("event_at", pa.timestamp("us")),
        ("feature_key", pa.string()),
        ("duration_seconds", pa.int32()),
    ]
)
_DICT = pa.dictionary(pa.int32(), pa.string())
# What is handed to the writer: the string columns as dictionaries (no per-row strings).
WRITE_SCHEMA = pa.schema(
    [
        (f.name, _DICT if f.name in ("user_id", "account_id", "feature_key") else f.type)
        for f in SCHEMA
    ]
)


@dataclass
class UsageStats:
    events: int
    events_last_28: np.ndarray  # per account
    events_prev_28: np.ndarray
    users_last_28: np.ndarray
    users_prev_28: np.ndarray


_LOW_DIGITS = 4
_LOW_PATTERN = np.array(
    [
        [48 + (i // 10**k) % 10 for k in reversed(range(_LOW_DIGITS))]
        for i in range(10**_LOW_DIGITS)
    ],
    dtype=np.uint8,
)


def fixed_width_ids(prefix: str, start: int, n: int, width: int) -> pa.Array:
    """``prefix`` + zero-padded numbers start..start+n-1 as an Arrow string array, built from
    raw bytes: the low digits repeat a precomputed 0000-9999 block, the high digits are
    constant per block, so no per-row arithmetic or Python string is needed."""
    pre = np.frombuffer(prefix.encode(), dtype=np.uint8)
    size = len(pre) + width
    block = 10**_LOW_DIGITS
    first_block = start // block
    n_blocks = (start + n - 1) // block - first_block + 1
    high = np.arange(first_block, first_block + n_blocks, dtype=np.int64)
    hw = width - _LOW_DIGITS
    high_digits = np.empty((n_blocks, hw), dtype=np.uint8)
    for k in range(hw):
        high_digits[:, hw - 1 - k] = 48 + (high // 10**k) % 10
    buf = np.empty((n_blocks, block, size), dtype=np.uint8)
    buf[:, :, : len(pre)] = pre
    buf[:, :, len(pre) : len(pre) + hw] = high_digits[:, None, :]
    buf[:, :, len(pre) + hw :] = _LOW_PATTERN[None, :, :]
    skip = start - first_block * block
    data = buf.reshape(-1)[skip * size : (skip + n) * size]
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def feature_release_days(H: int, A: int) -> np.ndarray:
    rel = []
    for f in cat.FEATURES:
        if f.released == "pre":
            rel.append(H - 400 - 97 * len(rel))
        elif f.released == "early":
            rel.append(H + (A - H) // 5)
        else:
            rel.append(A - (A - H) // 4)
    return np.array(rel, dtype=np.int64)


def generate_usage(
    rng: np.random.Generator,
    acc: Accounts,
    bill: Billing,
    users: Users,
    H: int,
    A: int,
    path: Path,
    scale: float = 1.0,
) -> UsageStats:
    n_acc = acc.n
    # ---- account-level parameters
    acct_eng = rng.lognormal(0.0, 0.3, n_acc) * (1.25 - 0.7 * acc.risk)
    breadth = rng.beta(4.0, 2.0, n_acc)
    is_key = np.array([f.is_key for f in cat.FEATURES])
    adopted = np.ones((n_acc, len(cat.FEATURES)), dtype=bool)
    key_idx = np.flatnonzero(is_key)
    adopted[:, key_idx] = rng.random((n_acc, len(key_idx))) < breadth[:, None]
    adopted[:, 1] = True  # everyone who uses the product uses reports
    ttfv = np.choose(
        acc.segment,
        (rng.integers(2, 21, n_acc), rng.integers(5, 41, n_acc), rng.integers(10, 76, n_acc)),
    )
    hour = np.array([cat.REGION_HOUR_UTC[r] for r in acc.region])
    release = feature_release_days(H, A)
    weights = np.array([f.weight for f in cat.FEATURES])
    cum_w = np.cumsum(weights / weights.sum())

    # ---- user-level windows and factors
    end = np.minimum(np.minimum(users.deact, users.quit), A + 1)
    lens = np.maximum(0, end - users.prov)
    c_end = bill.cyc_end[users.cycle]
    decaying = bill.cyc_churn[users.cycle] & bill.cyc_decay[users.cycle]
    ttfv_day = bill.cyc_first_day[users.cycle] + ttfv[users.acct]
    user_rate = BASE_RATE * scale * users.engagement * acct_eng[users.acct]

    fkey_arr = pa.array([f.key for f in cat.FEATURES], pa.string())
    uid_text = users.user_id.astype(str)
    aid_text = acc.account_id.astype(str)
    # weekday factor per day (0 = Monday; 1970-01-01 was a Thursday)
    days_all = np.arange(H - 1, A + 2)
    weekday_factor = np.where((days_all + 3) % 7 >= 5, WEEKEND, 1.0)

    stats = UsageStats(
        0,
        np.zeros(n_acc, np.int64),
        np.zeros(n_acc, np.int64),
        np.zeros(n_acc, np.int64),
        np.zeros(n_acc, np.int64),
    )
    active_last = np.zeros(len(lens), bool)
    active_prev = np.zeros(len(lens), bool)

    # chunks of whole users, a bounded number of user-days each
    cum = np.cumsum(lens)
    cuts = [0]
    while cuts[-1] < len(lens):
        base = cum[cuts[-1] - 1] if cuts[-1] > 0 else 0
        nxt = int(np.searchsorted(cum, base + CHUNK_USER_DAYS, side="right"))
        cuts.append(max(nxt, cuts[-1] + 1))
    cuts[-1] = len(lens)

    # Parquet is written by a background thread while the next chunk is generated; the
    # chunks are queued in order, so the file is the same whatever the timing.
    writer = pq.ParquetWriter(
        path,
        WRITE_SCHEMA,
        compression="zstd",
        compression_level=1,
        use_dictionary=["user_id", "account_id", "feature_key"],
        store_schema=False,
    )
    tables: queue.Queue = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def drain() -> None:
        while (table := tables.get()) is not None:
            if not failure:
                try:
                    writer.write_table(table, row_group_size=1 << 20)
                except BaseException as exc:  # noqa: BLE001 - re-raised by the main thread
                    failure.append(exc)

    worker = threading.Thread(target=drain, name="usage-parquet-writer")
    worker.start()
    next_id = 1
    try:
        for lo, hi in itertools.pairwise(cuts):
            if failure:
                break
            L = lens[lo:hi]
            total = int(L.sum())
            if total == 0:
                continue
            u_local = np.repeat(np.arange(lo, hi), L)
            offset = np.arange(total) - np.repeat(np.cumsum(L) - L, L)  # days since provisioned
            day = users.prov[u_local] + offset
            rate = user_rate[u_local] * weekday_factor[day - (H - 1)]
            rate *= np.minimum(1.0, 0.35 + (0.65 / 30.0) * offset)
            dec = np.flatnonzero(decaying[u_local])
            if len(dec):
                rate[dec] *= np.clip((c_end[u_local[dec]] - day[dec]) / 90.0, 0.25, 1.0)
            counts = rng.poisson(rate)
            n_ev = int(counts.sum())
            if n_ev == 0:
                continue
            ev_user = np.repeat(u_local, counts)
            ev_day = np.repeat(day, counts)
            del u_local, offset, day, rate, dec, counts
            ev_acct = users.acct[ev_user]

            f = np.searchsorted(cum_w, rng.random(n_ev), side="right").clip(0, len(cum_w) - 1)
            blocked = (is_key[f] & (~adopted[ev_acct, f] | (ev_day < ttfv_day[ev_user]))) | (
                ev_day < release[f]
            )
            f = np.where(blocked, np.where(rng.random(n_ev) < 0.7, 0, 6), f)
            sec = (hour[ev_acct] * 3600 + rng.normal(0.0, 2.6 * 3600, n_ev)).astype(np.int64)
            sec %= 86400
            ts = (ev_day * 86400 + sec) * 1_000_000
            dur = np.clip(rng.lognormal(np.log(75.0), 1.0, n_ev), 1, 7200).astype(np.int32)

            # users (and so accounts) of a chunk are contiguous: chunk-local dictionaries
            a_lo, a_hi = int(users.acct[lo]), int(users.acct[hi - 1]) + 1
            table = pa.Table.from_arrays(
                [
                    fixed_width_ids("EV", next_id, n_ev, 10),
                    pa.DictionaryArray.from_arrays(
                        pa.array((ev_user - lo).astype(np.int32)),
                        pa.array(uid_text[lo:hi], pa.string()),
                    ),
                    pa.DictionaryArray.from_arrays(
                        pa.array((ev_acct - a_lo).astype(np.int32)),
                        pa.array(aid_text[a_lo:a_hi], pa.string()),
                    ),
                    pa.array(ts, pa.timestamp("us")),
                    pa.DictionaryArray.from_arrays(pa.array(f.astype(np.int32)), fkey_arr),
                    pa.array(dur, pa.int32()),
                ],
                schema=WRITE_SCHEMA,
            )
            tables.put(table)
            next_id += n_ev

            last = ev_day >= A - 27
            prev = (ev_day >= A - 55) & ~last
            stats.events_last_28 += np.bincount(ev_acct[last], minlength=n_acc)
            stats.events_prev_28 += np.bincount(ev_acct[prev], minlength=n_acc)
            active_last[ev_user[last]] = True
            active_prev[ev_user[prev]] = True
    finally:
        tables.put(None)
        worker.join()
        writer.close()
    if failure:
        raise failure[0]
    stats.events = next_id - 1
    stats.users_last_28 = np.bincount(users.acct[active_last], minlength=n_acc)
    stats.users_prev_28 = np.bincount(users.acct[active_prev], minlength=n_acc)
    return stats
