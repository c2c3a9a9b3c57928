"""Customer signals: support tickets, incidents, NPS, CSM activities and pulses, lifecycle
stages and quotas. Vectorised over paid customer cycles (one cycle = one subscription's life).

Accounts heading for a "loud" churn show it in the 120 days before: more tickets, SLA breaches,
detractor NPS, negative touches and red pulses. Silent churners (20%) show nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_company import catalog as cat
from sample_company._util import FAR, NULL, Uniforms, month_first_day, month_index
from sample_company.billing import Billing
from sample_company.company import Accounts, Team
from sample_company.people import Contacts

PRE_CHURN_DAYS = 120


@dataclass
class Cycles:
    """Paid customer cycles: [start, end) clipped to the as-of date."""

    idx: np.ndarray
    acct: np.ndarray
    start: np.ndarray
    end: np.ndarray  # min(churn day, as-of + 1)
    loud_end: np.ndarray  # churn day of a loud churn (may be after the as-of), else FAR


def paid_cycles(bill: Billing, A: int) -> Cycles:
    idx = np.flatnonzero(bill.cyc_paid_start != NULL)
    loud = bill.cyc_churn[idx] & bill.cyc_decay[idx]
    return Cycles(
        idx=idx,
        acct=bill.cyc_acct[idx],
        start=bill.cyc_paid_start[idx],
        end=np.minimum(bill.cyc_end[idx], A + 1),
        loud_end=np.where(loud, bill.cyc_end[idx], FAR),
    )


def _scatter(rng, cyc: Cycles, per_month: np.ndarray, lo=None, hi=None):
    """Poisson number of days per cycle (rate per month), uniform within [lo, hi)."""
    lo = cyc.start if lo is None else lo
    hi = cyc.end if hi is None else hi
    span = np.maximum(0, hi - lo)
    k = rng.poisson(per_month * span / 30.44)
    c = np.repeat(np.arange(len(span)), k)
    day = lo[c] + (rng.random(len(c)) * span[c]).astype(np.int64)
    return c, day


def _pre_churn(cyc: Cycles, c: np.ndarray, day: np.ndarray) -> np.ndarray:
    e = cyc.loud_end[c]
    return (day >= e - PRE_CHURN_DAYS) & (day < e)


def _weekday(day: np.ndarray) -> np.ndarray:
    dow = (day + 3) % 7
    return day - np.where(dow == 5, 1, 0) + np.where(dow == 6, 1, 0)


# ---------------------------------------------------------------- support
@dataclass
class Tickets:
    ticket_id: np.ndarray
    acct: np.ndarray
    requester: np.ndarray  # contact index or -1
    priority: np.ndarray
    status: np.ndarray
    created: np.ndarray  # seconds since epoch
    first_response: np.ndarray  # NULL when none yet
    solved: np.ndarray
    csat: np.ndarray  # NULL when unrated
    breached: np.ndarray
    spikes: dict[str, str]  # account index -> ISO Monday of the planted spike week


def make_tickets(
    rng, acc: Accounts, cyc: Cycles, contacts: Contacts, A: int, active_at_asof: np.ndarray
) -> Tickets:
    seg = acc.segment[cyc.acct]
    risk = acc.risk[cyc.acct]
    rate = np.choose(seg, (0.5, 1.3, 2.8)) * (0.6 + 1.5 * risk)
    c1, d1 = _scatter(rng, cyc, rate)
    # extra tickets in the pre-churn window
    lo = np.maximum(cyc.start, cyc.loud_end - PRE_CHURN_DAYS)
    hi = np.minimum(cyc.end, cyc.loud_end)
    c2, d2 = _scatter(rng, cyc, 2.0 * rate, lo, hi)
    # planted spikes: a burst of 6-10 tickets in one week
    spikes: dict[int, int] = {}
    last_start = np.full(acc.n, -FAR, dtype=np.int64)
    np.maximum.at(last_start, cyc.acct, cyc.start)  # start of the account's latest cycle
    cand = np.flatnonzero(active_at_asof & (acc.segment < 2) & (last_start <= A - 100))
    n_spk = max(1, round(0.02 * acc.n)) if len(cand) else 0
    for a in rng.choice(cand, min(n_spk, len(cand)), replace=False) if n_spk else []:
        lo_d = max(int(last_start[a]) + 84, A - 400)
        d = int(rng.integers(lo_d, A - 14))
        spikes[int(a)] = d - (d + 3) % 7  # Monday
    sc, sd = [], []
    for a, monday in sorted(spikes.items()):
        ci = np.flatnonzero(cyc.acct == a)[-1]
        k = int(rng.integers(6, 11))
        sc += [ci] * k
        sd += list(monday + rng.integers(0, 5, k))
    c = np.concatenate([c1, c2, np.array(sc, np.int64)])
    day = np.concatenate([d1, d2, np.array(sd, np.int64)])
    is_spike = np.concatenate([np.zeros(len(c1) + len(c2), bool), np.ones(len(sc), bool)])
    day = np.minimum(_weekday(day), A)
    n = len(c)
    acct = cyc.acct[c]
    pre = _pre_churn(cyc, c, day)

    pri = rng.choice(4, n, p=cat.PRIORITY_SHARE)
    pri = np.where(is_spike & (rng.random(n) < 0.5), 2, pri)
    fr_t = np.array([p[1] for p in cat.SLA_POLICIES])[pri] * 60
    res_t = np.array([p[2] for p in cat.SLA_POLICIES])[pri] * 60
    p_breach = np.where(pre, 0.25, 0.02 + 0.05 * acc.risk[acct])
    p_breach = np.where(is_spike, 0.3, p_breach)
    breached = rng.random(n) < p_breach
    hour = np.array([cat.REGION_HOUR_UTC[r] for r in acc.region])[acct]
    created = day * 86400 + ((hour + rng.uniform(-4.5, 4.5, n)) % 24 * 3600).astype(np.int64)
    created = np.minimum(created, A * 86400 + 86399 - 60)
    fr = np.where(breached, fr_t * rng.uniform(1.5, 4.0, n), fr_t * rng.uniform(0.05, 0.6, n))
    res = np.where(breached, res_t * rng.uniform(1.5, 3.0, n), res_t * rng.uniform(0.1, 0.6, n))
    res = np.maximum(res, fr + 3600)
    res = np.where(breached, res, np.minimum(res, 0.6 * res_t))
    res = np.maximum(res, fr + 60)
    fr_at = created + fr.astype(np.int64)
    solved_at = created + res.astype(np.int64)
    # one planted ticket that is open and already in breach at the as-of date
    if active_at_asof.any():
        a = int(rng.choice(np.flatnonzero(active_at_asof)))
        ci = np.flatnonzero(cyc.acct == a)[-1]
        acct = np.append(acct, a)
        c = np.append(c, ci)
        pri = np.append(pri, 2)
        t0 = (A - 4) * 86400 + 10 * 3600
        created = np.append(created, t0)
        fr_at = np.append(fr_at, t0 + 3 * 3600 * 4)
        solved_at = np.append(solved_at, FAR * 86400)
        breached = np.append(breached, True)
        is_spike = np.append(is_spike, False)
        pre = np.append(pre, False)
        n += 1
    end_s = A * 86400 + 86399
    fr_at = np.where(fr_at <= end_s, fr_at, NULL)
    solved_ok = solved_at <= end_s
    solved_at = np.where(solved_ok, solved_at, NULL)
    status = np.where(
        solved_ok,
        np.where(solved_at < end_s - 4 * 86400, "closed", "solved"),
        np.where(fr_at == NULL, "new", np.where(rng.random(n) < 0.6, "open", "pending")),
    ).astype(object)
    good = np.array([0.03, 0.04, 0.08, 0.25, 0.60])
    bad = np.array([0.25, 0.25, 0.20, 0.15, 0.15])
    risk_t = acc.risk[acct]
    p_bad = np.clip(np.where(breached, 0.85, 0.1 + 0.5 * risk_t) + np.where(pre, 0.3, 0), 0, 1)
    use_bad = rng.random(n) < p_bad
    score = (
        np.where(
            use_bad,
            np.searchsorted(np.cumsum(bad), rng.random(n)),
            np.searchsorted(np.cumsum(good), rng.random(n)),
        )
        + 1
    )
    score = np.minimum(score, 5)
    rated = solved_ok & (rng.random(n) < 0.4)
    csat = np.where(rated, score, NULL)
    requester = contacts.pick_active(rng, acct, created // 86400)

    order = np.lexsort((np.arange(n), created))
    from sample_company._util import ids

    return Tickets(
        ticket_id=ids("TCK-", np.arange(1, n + 1), max(6, len(str(n)))),
        acct=acct[order],
        requester=requester[order],
        priority=np.array([p[0] for p in cat.SLA_POLICIES], dtype=object)[pri[order]],
        status=status[order],
        created=created[order],
        first_response=fr_at[order],
        solved=solved_at[order],
        csat=csat[order],
        breached=breached[order],
        spikes={int(a): str(np.datetime64(int(m), "D")) for a, m in spikes.items()},
    )


@dataclass
class Incidents:
    incident_id: np.ndarray
    title: np.ndarray
    severity: np.ndarray
    started: np.ndarray
    resolved: np.ndarray


def make_incidents(rng, H: int, A: int) -> Incidents:
    span_days = A - H + 1
    n = int(rng.poisson(1.3 * span_days / 30.44))
    start = H * 86400 + (rng.random(n) * span_days * 86400).astype(np.int64)
    start.sort()
    sev_i = rng.choice(3, n, p=[0.7, 0.25, 0.05])
    lo = np.array([10, 30, 60])[sev_i]
    hi = np.array([90, 240, 360])[sev_i]
    dur = (lo + rng.random(n) * (hi - lo)) * 60
    resolved = start + dur.astype(np.int64)
    resolved = np.where(resolved <= A * 86400 + 86399, resolved, NULL)
    from sample_company._util import ids

    return Incidents(
        incident_id=ids("INC-", np.arange(1, n + 1), 4),
        title=np.array(cat.INCIDENT_TITLES, dtype=object)[
            rng.integers(0, len(cat.INCIDENT_TITLES), n)
        ],
        severity=np.array(["minor", "major", "critical"], dtype=object)[sev_i],
        started=start,
        resolved=resolved,
    )


# ---------------------------------------------------------------- surveys
@dataclass
class Nps:
    response_id: np.ndarray
    acct: np.ndarray
    contact: np.ndarray
    day: np.ndarray
    score: np.ndarray
    comment: np.ndarray
    wave_days: list[int]


def make_nps(rng, acc: Accounts, cyc: Cycles, contacts: Contacts, H: int, A: int) -> Nps:
    """Relationship NPS in waves every 91 days; the latest wave opens 20 days before the as-of
    and responses come in over 10 days, so "the last 30 days" and "the trailing 180 days" are
    unambiguous."""
    waves = []
    w = A - 20
    while w >= H + 30:
        waves.append(w)
        w -= 91
    rows_c, rows_w = [], []
    for w in waves:
        live = np.flatnonzero((cyc.start <= w - 30) & (cyc.end > w))
        rows_c.append(live)
        rows_w.append(np.full(len(live), w))
    c = np.concatenate(rows_c) if rows_c else np.empty(0, np.int64)
    wave = np.concatenate(rows_w) if rows_w else np.empty(0, np.int64)
    seg = acc.segment[cyc.acct[c]]
    k = rng.binomial(np.choose(seg, (2, 4, 8)), 0.35)
    c = np.repeat(c, k)
    wave = np.repeat(wave, k)
    n = len(c)
    day = wave + rng.integers(0, 11, n)
    acct = cyc.acct[c]
    risk = acc.risk[acct]
    pre = (day >= cyc.loud_end[c] - 180) & (day < cyc.loud_end[c])
    p_det = np.clip(0.05 + 0.45 * risk + np.where(pre, 0.45, 0.0), 0, 0.95)
    p_pro = np.clip(0.60 - 0.6 * risk - np.where(pre, 0.4, 0.0), 0.02, 0.9)
    r = rng.random(n)
    cls = np.where(r < p_det, 0, np.where(r < p_det + p_pro, 2, 1))
    score = np.where(
        cls == 0,
        rng.choice(7, n, p=[0.04, 0.04, 0.08, 0.12, 0.17, 0.25, 0.30]),
        np.where(cls == 1, rng.integers(7, 9, n), rng.integers(9, 11, n)),
    )
    comment = np.full(n, None, dtype=object)
    for ci, key, p in ((0, "detractor", 1.0), (1, "passive", 0.5), (2, "promoter", 0.6)):
        m = (cls == ci) & (rng.random(n) < p)
        texts = np.array(cat.NPS_COMMENTS[key], dtype=object)
        comment[m] = texts[rng.integers(0, len(texts), m.sum())]
    contact = contacts.pick_active(rng, acct, day)
    contact[rng.random(n) < 0.1] = -1  # anonymous responses
    order = np.lexsort((np.arange(n), day))
    from sample_company._util import ids

    return Nps(
        response_id=ids("NPS-", np.arange(1, n + 1), max(6, len(str(n)))),
        acct=acct[order],
        contact=contact[order],
        day=day[order],
        score=score[order],
        comment=comment[order],
        wave_days=waves,
    )


# ---------------------------------------------------------------- relationship
@dataclass
class Activities:
    activity_id: np.ndarray
    acct: np.ndarray
    contact: np.ndarray
    type: np.ndarray
    day: np.ndarray
    sentiment: np.ndarray
    owner: np.ndarray  # CSM index


def make_activities(
    rng, acc: Accounts, cyc: Cycles, contacts: Contacts, team: Team, A: int
) -> Activities:
    seg = acc.segment[cyc.acct]
    rate = np.choose(seg, (0.8, 2.0, 4.5)) * (1.15 - 0.4 * acc.risk[cyc.acct])
    c, day = _scatter(rng, cyc, rate)
    day = np.minimum(_weekday(day), A)
    n = len(c)
    acct = cyc.acct[c]
    pre = _pre_churn(cyc, c, day)
    types = rng.choice(4, n, p=[0.5, 0.25, 0.18, 0.07])
    p_neg = np.where(pre, 0.45, 0.04 + 0.25 * acc.risk[acct])
    p_pos = np.where(pre, 0.15, 0.55 - 0.4 * acc.risk[acct])
    r = rng.random(n)
    sentiment = np.where(
        r < p_neg, "negative", np.where(r < p_neg + p_pos, "positive", "neutral")
    ).astype(object)
    sentiment[rng.random(n) < 0.08] = None
    contact = contacts.pick_active(rng, acct, day)
    contact[rng.random(n) < 0.1] = -1
    owner = team.owner_at(team.account_slot[acct], day)
    order = np.lexsort((np.arange(n), day))
    from sample_company._util import ids

    return Activities(
        activity_id=ids("ACT-", np.arange(1, n + 1), max(6, len(str(n)))),
        acct=acct[order],
        contact=contact[order],
        type=np.array(["email", "call", "meeting", "business_review"], dtype=object)[types[order]],
        day=day[order],
        sentiment=sentiment[order],
        owner=owner[order],
    )


@dataclass
class Pulses:
    pulse_id: np.ndarray
    acct: np.ndarray
    csm: np.ndarray
    day: np.ndarray
    pulse: np.ndarray
    note: np.ndarray


def make_pulses(rng, acc: Accounts, cyc: Cycles, team: Team, A: int) -> Pulses:
    seg = acc.segment[cyc.acct]
    every = np.choose(seg, (90, 45, 30))
    records = ~((seg == 0) & (rng.random(len(seg)) < 0.15))
    first = cyc.start + 20
    k = np.where(records & (cyc.end - 1 > first), (cyc.end - 1 - first) // every + 1, 0)
    c = np.repeat(np.arange(len(k)), k)
    step = np.arange(len(c)) - np.repeat(np.cumsum(k) - k, k)
    day = first[c] + step * every[c] + rng.integers(0, 10, len(c))
    keep = (day < cyc.end[c]) & (day <= A)
    c, day = c[keep], _weekday(day[keep])
    day = np.minimum(day, A)
    acct = cyc.acct[c]
    pre = _pre_churn(cyc, c, day)
    score = acc.risk[acct] + np.where(pre, 0.35, 0.0) + rng.normal(0, 0.12, len(c))
    pulse = np.where(score < 0.3, "green", np.where(score < 0.5, "yellow", "red")).astype(object)
    note = np.full(len(c), None, dtype=object)
    for color, texts in cat.PULSE_NOTES.items():
        m = (pulse == color) & (rng.random(len(c)) < 0.7)
        note[m] = np.array(texts, dtype=object)[rng.integers(0, len(texts), m.sum())]
    csm = team.owner_at(team.account_slot[acct], day)
    order = np.lexsort((np.arange(len(c)), day))
    from sample_company._util import ids

    n = len(c)
    return Pulses(
        pulse_id=ids("PUL-", np.arange(1, n + 1), max(6, len(str(n)))),
        acct=acct[order],
        csm=csm[order],
        day=day[order],
        pulse=pulse[order],
        note=note[order],
    )


# ---------------------------------------------------------------- lifecycle and quotas
def make_lifecycle(rng, acc: Accounts, bill: Billing, A: int) -> tuple[np.ndarray, ...]:
    """Stage history per account: onboarding -> training -> adopting, extending around
    expansions, renewal in the 90 days before a contract end, churned at churn."""
    u = Uniforms(rng)
    exp_by_acct: dict[int, list[int]] = {}
    for a, d, _old, _new, kind in bill.changes:
        if kind == "expansion":
            exp_by_acct.setdefault(a, []).append(d)
    con_by_acct: dict[int, list[dict]] = {}
    for ct in bill.contracts:
        con_by_acct.setdefault(ct["acct"], []).append(ct)
    rows_a, rows_s, rows_d = [], [], []
    for ci in np.flatnonzero(bill.cyc_paid_start != NULL):
        a = int(bill.cyc_acct[ci])
        s = int(bill.cyc_paid_start[ci])
        e = int(bill.cyc_end[ci])
        seg = int(acc.segment[a])
        t1 = s + u.int(*((7, 25), (14, 40), (20, 60))[seg])
        t2 = t1 + u.int(*((14, 45), (20, 60), (30, 90))[seg])
        ev = [(s, 0, "onboarding"), (t1, 0, "training"), (t2, 0, "adopting")]
        windows = []
        for ct in con_by_acct.get(a, []):
            if s <= ct["start"] < e:
                end_x = ct["end"] + 1
                windows.append((end_x - 90, end_x))
                ev.append((end_x - 90, 1, "renewal"))
                if ct["fate"] == "renewed":
                    ev.append((end_x, 1, "adopting"))
        for d in exp_by_acct.get(a, []):
            if s < d < e:
                ev.append((d - u.int(10, 30), 0, "extending"))
                ev.append((d + u.int(30, 60), 0, "adopting"))
        if bill.cyc_churn[ci]:
            ev.append((e, 2, "churned"))
        ev.sort()
        out: list[tuple[int, str]] = []
        for d, prio, stage in ev:
            if d > A or d < s:
                continue
            if (
                prio == 0
                and stage in ("extending", "adopting")
                and any(lo <= d < hi for lo, hi in windows)
                and d > t2
            ):
                continue
            if out and out[-1][0] == d:
                out.pop()
            if out and out[-1][1] == stage:
                continue
            out.append((d, stage))
        for d, stage in out:
            rows_a.append(a)
            rows_s.append(stage)
            rows_d.append(d)
    a = np.array(rows_a, np.int64)
    d = np.array(rows_d, np.int64)
    s = np.array(rows_s, dtype=object)
    order = np.lexsort((d, a))
    a, d, s = a[order], d[order], s[order]
    # an account's stages across cycles: keep the first row per (account, day)
    keep = np.ones(len(a), bool)
    keep[1:] = ~((a[1:] == a[:-1]) & (d[1:] == d[:-1]))
    return a[keep], s[keep], d[keep]


def make_quotas(rng, acc: Accounts, bill: Billing, team: Team, fx, H: int, A: int):
    """Renewal quota = expiring ARR (USD, rounded up to 1,000) of the contracts of the CSM's
    book ending in the quarter; expansion quota = a per-team target."""
    q_first = month_index(H) // 3
    q_last = month_index(A) // 3
    quarters = np.arange(q_first, q_last + 1)
    q_start_day = month_first_day(quarters * 3)
    n_slots = len(team.slot_team)
    expiring = np.zeros((n_slots, len(quarters)))
    for ct in bill.contracts:
        if ct["opp"] < 0:
            continue
        o = bill.opps[ct["opp"]]
        q = month_index(ct["end"]) // 3 - q_first
        if 0 <= q < len(quarters):
            years = max(1.0, round((o["cend"] - o["cstart"] + 1) / 365.25))
            rate = (
                fx.rate(np.array([acc.currency[ct["acct"]]]), np.array([month_index(ct["end"])]))[0]
                / 100
            )
            expiring[team.account_slot[ct["acct"]], q] += o["amount"] / years * rate
    target = {"SMB": 4000, "Mid-Market": 12000, "Enterprise": 30000}
    rows = []
    for s in range(n_slots):
        for qi, qd in enumerate(q_start_day):
            owner = int(team.owner_at(np.array([s]), np.array([qd]))[0])
            ren = int(np.ceil(expiring[s, qi] / 1000.0) * 1000)
            exp = int(round(target[team.team[owner]] * rng.uniform(0.8, 1.2) / 1000) * 1000)
            rows.append((owner, int(qd), "renewal", ren * 100))
            rows.append((owner, int(qd), "expansion", exp * 100))
    return rows
