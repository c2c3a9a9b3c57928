"""Contacts at customer accounts (CRM) and product users (provisioned against seats)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_company import catalog as cat
from sample_company._util import FAR, NULL, Uniforms
from sample_company.billing import Billing
from sample_company.company import Accounts

ROLE_SET = {
    0: ["sponsor", "decision_maker", "technical", "champion"],
    1: ["sponsor", "decision_maker", "technical", "champion"],
    2: ["sponsor", "decision_maker", "technical", "technical", "champion"],
}
END_USERS = {0: (1, 2), 1: (2, 4), 2: (4, 8)}
CHAMPION_ROLES = ("sponsor", "champion")


@dataclass
class Contacts:
    contact_id: np.ndarray
    acct: np.ndarray
    full_name: np.ndarray
    email: np.ndarray
    role: np.ndarray
    active_from: np.ndarray
    left: np.ndarray  # NULL when still there (or leaving after the as-of)
    offsets: np.ndarray  # contacts of account a: offsets[a]:offsets[a+1]

    def pick_active(
        self, rng: np.random.Generator, acct: np.ndarray, day: np.ndarray, tries: int = 3
    ) -> np.ndarray:
        """A random contact of ``acct`` active on ``day`` (index, or -1 when none found)."""
        out = np.full(len(acct), -1, dtype=np.int64)
        n_c = self.offsets[acct + 1] - self.offsets[acct]
        todo = np.flatnonzero(n_c > 0)
        for _ in range(tries):
            if not len(todo):
                break
            k = self.offsets[acct[todo]] + (rng.random(len(todo)) * n_c[todo]).astype(np.int64)
            ok = (self.active_from[k] <= day[todo]) & (
                (self.left[k] == NULL) | (self.left[k] > day[todo])
            )
            out[todo[ok]] = k[ok]
            todo = todo[~ok]
        return out


def make_contacts(
    rng: np.random.Generator, acc: Accounts, bill: Billing, A: int, active_at_asof: np.ndarray
) -> Contacts:
    """Contacts per account; sponsors and champions sometimes leave, more often before churn.

    Every sponsor/champion departure lies either within 70 days before the as-of date (the
    planted ``champion_left`` accounts) or more than 110 days before it, so "left in the last
    90 days" has the same answer under any reasonable window convention.
    """
    u = Uniforms(rng)
    first = np.array(cat.FIRST_NAMES, dtype=object)
    last = np.array(cat.LAST_NAMES, dtype=object)
    # the churn date that the account is heading to (first churn on or after the as-of - 150)
    loud_churn = np.full(acc.n, FAR, dtype=np.int64)
    m = bill.cyc_churn & bill.cyc_decay
    for a, e in zip(bill.cyc_acct[m], bill.cyc_end[m], strict=False):
        loud_churn[a] = min(loud_churn[a], e) if e >= A - 150 else loud_churn[a]
    planted = active_at_asof & (
        (rng.random(acc.n) < 0.07) | ((loud_churn <= A + 150) & (rng.random(acc.n) < 0.5))
    )
    all_loud = {}
    for a, e in zip(bill.cyc_acct[m], bill.cyc_end[m], strict=False):
        all_loud.setdefault(int(a), []).append(int(e))

    rows = []  # acct, role, active_from, left
    offsets = np.zeros(acc.n + 1, dtype=np.int64)
    for a in range(acc.n):
        seg = int(acc.segment[a])
        created = int(acc.created[a])
        roles = list(ROLE_SET[seg]) + ["end_user"] * u.int(*END_USERS[seg])
        start_rows = len(rows)
        champion_left_now = bool(planted[a])
        pre_churn = [e for e in all_loud.get(a, []) if u() < 0.4]
        for role in roles:
            af = min(A, created + u.int(0, 45))
            left = NULL
            if role in CHAMPION_ROLES and champion_left_now and role == "champion":
                left = A - u.int(3, 65)
                champion_left_now = False
            elif role in CHAMPION_ROLES and pre_churn:
                left = pre_churn.pop() - u.int(30, 150)
            elif u() < 0.15:
                left = af + int(365 * 4 * u())
            if left != NULL:
                planted_leave = bool(planted[a]) and role == "champion" and left >= A - 70
                if left <= af or left > A:
                    left = NULL
                elif role in CHAMPION_ROLES and left >= A - 110 and not planted_leave:
                    # keep "left in the last 90 days" unambiguous: move it before as-of - 110
                    left = A - 111 - u.int(0, 30)
                    left = left if left > af else NULL
            rows.append((a, role, af, left))
            if left != NULL and role != "end_user":
                # a successor takes over the role
                succ = left + u.int(10, 60)
                if succ <= A:
                    rows.append((a, role, succ, NULL))
        offsets[a + 1] = len(rows)
        assert len(rows) > start_rows
    n = len(rows)
    acct = np.array([r[0] for r in rows], dtype=np.int64)
    fn = first[rng.integers(0, len(first), n)]
    ln = last[rng.integers(0, len(last), n)]
    full = np.char.add(np.char.add(fn.astype(str), " "), ln.astype(str)).astype(object)
    email = np.array(
        [f"{f.lower()}.{l_.lower()}@{acc.domain[a]}" for f, l_, a in zip(fn, ln, acct, strict=False)],
        dtype=object,
    )
    from sample_company._util import ids

    return Contacts(
        contact_id=ids("CON-", np.arange(1, n + 1), max(6, len(str(n)))),
        acct=acct,
        full_name=full,
        email=email,
        role=np.array([r[1] for r in rows], dtype=object),
        active_from=np.array([r[2] for r in rows], dtype=np.int64),
        left=np.array([r[3] for r in rows], dtype=np.int64),
        offsets=offsets,
    )


@dataclass
class Users:
    user_id: np.ndarray
    acct: np.ndarray
    cycle: np.ndarray
    prov: np.ndarray
    deact: np.ndarray  # day the user stops (FAR when never); exported only when <= as-of
    engagement: np.ndarray
    quit: np.ndarray  # last day + 1 of usage (users can stop using before deactivation)
    email: np.ndarray


def make_users(
    rng: np.random.Generator, acc: Accounts, bill: Billing, A: int, adoption_drop: np.ndarray
) -> Users:
    """Provisioned users follow seats: a share of seats at each seat change, turnover, churn."""
    util = np.clip(rng.beta(8, 2, acc.n) * 1.05, 0.4, 1.0)
    util[rng.random(acc.n) < 0.05] = rng.uniform(1.05, 1.25)  # a few over-provision
    P_cyc, P_start, P_seats, P_trial = (
        bill.per_cycle,
        bill.per_start,
        bill.per_seats,
        bill.per_trial,
    )
    bounds = np.searchsorted(P_cyc, np.arange(len(bill.cyc_acct) + 1))
    prov_parts, deact_parts, cyc_parts = [], [], []
    for c in range(len(bill.cyc_acct)):
        lo, hi = bounds[c], bounds[c + 1]
        if lo == hi:
            continue
        a = bill.cyc_acct[c]
        end = int(bill.cyc_end[c])
        prov = np.empty(0, np.int64)
        deact = np.empty(0, np.int64)
        prev_level = -1
        first = True
        for i in range(lo, hi):
            if P_trial[i]:
                level = int(P_seats[i])
            else:
                level = max(1, round(P_seats[i] * util[a]))
            if level == prev_level:
                continue
            d = int(P_start[i])
            active = np.flatnonzero(deact == FAR)
            if level > len(active):
                k = level - len(active)
                spread = 21 if first else 10
                prov = np.concatenate([prov, d + rng.integers(0, spread, k)])
                deact = np.concatenate([deact, np.full(k, FAR)])
            elif level < len(active):
                drop = rng.choice(active, len(active) - level, replace=False)
                deact[drop] = d
            prev_level = level
            first = False
        deact = np.where(deact == FAR, end, deact)
        prov_parts.append(prov)
        deact_parts.append(deact)
        cyc_parts.append(np.full(len(prov), c))
    prov = np.concatenate(prov_parts)
    deact = np.concatenate(deact_parts)
    cyc = np.concatenate(cyc_parts)
    # turnover: a user leaves after an exponential tenure and is replaced 0-30 days later
    new_p, new_d, new_c = [prov], [deact], [cyc]
    for _ in range(10):
        p, d, c = new_p[-1], new_d[-1], new_c[-1]
        tenure = rng.exponential(1000.0, len(p)).astype(np.int64) + 30
        gap = rng.integers(0, 30, len(p))
        idx = np.flatnonzero(p + tenure + gap < np.minimum(d - 7, A + 1))
        if not len(idx):
            break
        new_p.append(p[idx] + tenure[idx] + gap[idx])
        new_d.append(d[idx].copy())
        new_c.append(c[idx])
        d[idx] = p[idx] + tenure[idx]  # the leaver (in place)
    prov = np.concatenate(new_p)
    deact = np.concatenate(new_d)
    cyc = np.concatenate(new_c)
    keep = (prov <= A) & (deact > prov)
    prov, deact, cyc = prov[keep], deact[keep], cyc[keep]
    acct = bill.cyc_acct[cyc]
    order = np.lexsort((deact, prov, acct))
    prov, deact, cyc, acct = prov[order], deact[order], cyc[order], acct[order]
    n = len(prov)

    engagement = rng.gamma(2.0, 0.5, n)
    engagement[rng.random(n) < 0.12] = 0.03  # dormant users
    quit = np.full(n, FAR, dtype=np.int64)
    # decay before a (loud) churn: users drop out over the last 90 days
    c_end = bill.cyc_end[cyc]
    decaying = bill.cyc_churn[cyc] & bill.cyc_decay[cyc]
    q = c_end - rng.integers(0, 90, n)
    quits = decaying & (rng.random(n) < 0.85) & (q > prov)
    quit[quits] = q[quits]
    # planted adoption drop: most users of the account stop in the last 28 days
    on_at_asof = (prov <= A - 40) & (deact > A)
    drop = adoption_drop[acct] & on_at_asof & (rng.random(n) < 0.7)
    quit[drop] = A - 27 - rng.integers(1, 5, drop.sum())

    first = np.array(cat.FIRST_NAMES, dtype=object)
    last = np.array(cat.LAST_NAMES, dtype=object)
    fn = first[rng.integers(0, len(first), n)]
    ln = last[rng.integers(0, len(last), n)]
    from sample_company._util import ids

    uid = ids("USR-", np.arange(1, n + 1), max(7, len(str(n))))
    email = np.array(
        [
            f"{f.lower()}.{l_.lower()}.{i[4:]}@{acc.domain[a]}"
            for f, l_, i, a in zip(fn, ln, uid, acct, strict=False)
        ],
        dtype=object,
    )
    return Users(
        user_id=uid,
        acct=acct,
        cycle=cyc,
        prov=prov,
        deact=deact,
        engagement=engagement,
        quit=quit,
        email=email,
    )
