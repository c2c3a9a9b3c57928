"""Accounts (CRM companies) and the customer success team: who the customers are."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sample_company import catalog as cat
from sample_company._util import clip_day_of_month, ids

TEAMS = ("SMB", "Mid-Market", "Enterprise")  # CSM team per segment index
TEAM_EFFORT = (0.6, 1.5, 4.0)  # relative CSM effort per account, by segment


@dataclass
class Accounts:
    n: int
    account_id: np.ndarray
    name: np.ndarray
    domain: np.ndarray
    segment: np.ndarray  # index into catalog.SEGMENTS
    industry: np.ndarray
    region: np.ndarray
    currency: np.ndarray  # index into catalog.CURRENCIES
    risk: np.ndarray  # 0..1 latent churn risk
    growth: np.ndarray  # 0..1 latent expansion propensity
    tier: np.ndarray
    interval: np.ndarray
    seats: np.ndarray
    discount_pct: np.ndarray
    term_months: np.ndarray  # 12 or 24 (weekly plans: 52 weeks)
    trial_days: np.ndarray  # 0 when no trial
    paid_start: np.ndarray  # day number of the first paid day (planned, may be after as-of)
    trial_only: np.ndarray  # never converts
    created: np.ndarray  # CRM created day
    pays_by_card: np.ndarray
    overage: np.ndarray  # buys usage overages
    force: dict[int, str] = field(default_factory=dict)  # account -> forced scenario


def make_accounts(rng: np.random.Generator, n: int, H: int, A: int) -> Accounts:
    seg = rng.choice(3, n, p=cat.SEGMENT_SHARE)
    cur = rng.choice(len(cat.CURRENCIES), n, p=cat.CURRENCY_SHARE)
    region = np.empty(n, dtype=object)
    for c_i, c in enumerate(cat.CURRENCIES):
        m = cur == c_i
        names, probs = zip(*cat.REGIONS_BY_CURRENCY[c], strict=False)
        region[m] = rng.choice(np.array(names, dtype=object), m.sum(), p=probs)
    industry = rng.choice(np.array(cat.INDUSTRIES, dtype=object), n)

    combos = len(cat.NAME_FIRST) * len(cat.NAME_SECOND)
    pick = rng.permutation(combos)[np.arange(n) % combos]
    first = np.array(cat.NAME_FIRST, dtype=object)[pick // len(cat.NAME_SECOND)]
    second = np.array(cat.NAME_SECOND, dtype=object)[pick % len(cat.NAME_SECOND)]
    suffix = rng.choice(np.array(cat.NAME_SUFFIX, dtype=object), n)
    repeat = np.arange(n) // combos
    name = np.array(
        [
            f"{f} {s}{'' if r == 0 else ' ' + str(r + 1)} {x}"
            for f, s, r, x in zip(first, second, repeat, suffix, strict=False)
        ],
        dtype=object,
    )
    domain = np.array(
        [
            f"{f.lower()}{s.lower()}{'' if r == 0 else r + 1}.example"
            for f, s, r in zip(first, second, repeat, strict=False)
        ],
        dtype=object,
    )

    risk = rng.beta(2.0, 5.0, n) * np.where(seg == 2, 0.8, 1.0)
    growth = rng.beta(2.0, 4.0, n)

    tier = np.empty(n, dtype=np.int64)
    interval = np.empty(n, dtype=np.int64)
    seats = np.empty(n, dtype=np.int64)
    for s in range(3):
        m = seg == s
        k = int(m.sum())
        tier[m] = rng.choice(3, k, p=cat.TIER_MIX[s])
        interval[m] = rng.choice(5, k, p=cat.INTERVAL_MIX[s])
        median, sigma, lo, hi = cat.SEATS[s]
        seats[m] = np.clip(np.round(rng.lognormal(np.log(median), sigma, k)), lo, hi)
    # weekly is a Starter-only legacy plan
    interval[(interval == cat.WEEKLY) & (tier != 0)] = cat.MONTHLY

    discounted = rng.random(n) < np.choose(seg, (0.10, 0.35, 0.70))
    discount_pct = np.where(discounted, np.round(rng.uniform(0.05, 0.25, n), 2), 0.0)
    discount_pct[interval == cat.WEEKLY] = 0.0
    term = np.where((seg == 2) & (rng.random(n) < 0.3), 24, 12)

    trial_only = (seg < 2) & (rng.random(n) < 0.06)
    has_trial = trial_only | (rng.random(n) < np.choose(seg, (0.40, 0.20, 0.0)))
    trial_days = np.where(has_trial, rng.choice([14, 30], n, p=[0.7, 0.3]), 0)

    # First touch grows ~60% a year over the history window (the company is growing).
    span = max(30, A - 10 - H)
    g = np.log(1.6) / 365.0
    u = rng.random(n)
    t = np.log1p(u * np.expm1(g * span)) / g
    paid_start = np.empty(n, dtype=np.int64)
    for a in range(n):
        p = clip_day_of_month(int(H + t[a] + trial_days[a]))
        if p - trial_days[a] < H:
            p = clip_day_of_month(int(H + trial_days[a] + 3 + 28))
        paid_start[a] = p
    order = np.argsort(paid_start, kind="stable")  # account ids follow signup order
    created = paid_start - trial_days - rng.integers(5, 120, n)

    pays_by_card = (seg == 0) & np.isin(interval, (cat.MONTHLY, cat.WEEKLY, cat.QUARTERLY))
    pays_by_card |= (seg == 1) & (interval == cat.MONTHLY) & (rng.random(n) < 0.5)
    overage = (interval == cat.MONTHLY) & (rng.random(n) < 0.2)

    acc = Accounts(
        n=n,
        account_id=ids("ACC-", np.arange(1, n + 1), max(5, len(str(n)))),
        name=name,
        domain=domain,
        segment=seg[order],
        industry=industry[order],
        region=region[order],
        currency=cur[order],
        risk=risk[order],
        growth=growth[order],
        tier=tier[order],
        interval=interval[order],
        seats=seats[order],
        discount_pct=discount_pct[order],
        term_months=term[order],
        trial_days=trial_days[order],
        paid_start=paid_start[order],
        trial_only=trial_only[order],
        created=created[order],
        pays_by_card=pays_by_card[order],
        overage=overage[order],
    )
    _force_scenarios(rng, acc, A)
    return acc


def _force_scenarios(rng: np.random.Generator, acc: Accounts, A: int) -> None:
    """Make sure even a small company shows every billing scenario at least once."""
    taken: set[int] = set()

    def pick(eligible: np.ndarray, label: str) -> int | None:
        cands = [int(a) for a in np.flatnonzero(eligible) if int(a) not in taken]
        if not cands:
            return None
        a = cands[int(rng.integers(len(cands)))]
        taken.add(a)
        acc.force[a] = label
        return a

    paying = ~acc.trial_only
    for label, min_age in (("churn_reactivate", 365 + 200), ("churn", 365 + 45)):
        a = pick(paying & (acc.paid_start <= A - min_age), label)
        if a is not None:
            acc.term_months[a] = 12
            if acc.interval[a] == cat.WEEKLY:
                acc.interval[a] = cat.MONTHLY
    for label, min_age in (("expand", 200), ("contract", 250)):
        a = pick(paying & (acc.paid_start <= A - min_age) & (acc.segment < 2), label)
        if a is not None:
            acc.interval[a] = cat.MONTHLY
            acc.seats[a] = max(acc.seats[a], 6)
    if not acc.trial_only.any():
        a = pick(acc.segment == 0, "trial_only")
        if a is not None:
            acc.trial_only[a] = True
            acc.trial_days[a] = 14


@dataclass
class Team:
    csm_id: np.ndarray
    csm_name: np.ndarray
    email: np.ndarray
    team: np.ndarray
    start: np.ndarray
    end: np.ndarray  # NULL when current
    slot_team: np.ndarray  # per slot: team index
    slot_holder0: np.ndarray  # per slot: index of the first holder
    slot_holder1: np.ndarray  # per slot: index of the successor (or -1)
    slot_switch: np.ndarray  # per slot: last day of holder0 (FAR when never)
    account_slot: np.ndarray  # per account: its slot

    def owner_at(self, slot: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Index of the CSM who owned the account's slot on ``day`` (vectorised)."""
        late = day > self.slot_switch[slot]
        return np.where(late, self.slot_holder1[slot], self.slot_holder0[slot])


def make_team(rng: np.random.Generator, acc: Accounts, H: int, A: int) -> Team:
    from sample_company._util import FAR, NULL

    n_csm = max(3, round(acc.n / 25))
    effort = np.array([np.sum(acc.segment == s) * TEAM_EFFORT[s] for s in range(3)], float)
    share = effort / effort.sum()
    slots_per_team = np.maximum(1, np.floor(share * n_csm + 0.5).astype(int))
    slot_team = np.repeat(np.arange(3), slots_per_team)
    n_slots = len(slot_team)

    first = np.array(cat.FIRST_NAMES, dtype=object)
    last = np.array(cat.LAST_NAMES, dtype=object)
    names, team, start, end = [], [], [], []
    holder0 = np.empty(n_slots, dtype=np.int64)
    holder1 = np.full(n_slots, -1, dtype=np.int64)
    switch = np.full(n_slots, FAR, dtype=np.int64)
    for s in range(n_slots):
        holder0[s] = len(names)
        names.append(f"{first[rng.integers(len(first))]} {last[rng.integers(len(last))]}")
        team.append(TEAMS[slot_team[s]])
        start.append(H - int(rng.integers(30, 1200)))
        end.append(NULL)
        if rng.random() < 0.3 and A - 60 > H + 60:
            leave = int(rng.integers(H + 60, A - 60))
            end[-1] = leave
            switch[s] = leave
            holder1[s] = len(names)
            names.append(f"{first[rng.integers(len(first))]} {last[rng.integers(len(last))]}")
            team.append(TEAMS[slot_team[s]])
            start.append(leave + 1 - int(rng.integers(0, 15)))
            end.append(NULL)
        else:
            holder1[s] = holder0[s]
    names_arr = np.array(names, dtype=object)
    email = np.array([n.lower().replace(" ", ".") + "@samplesaas.io" for n in names], dtype=object)
    account_slot = np.empty(acc.n, dtype=np.int64)
    for s in range(3):
        m = np.flatnonzero(acc.segment == s)
        team_slots = np.flatnonzero(slot_team == s)
        account_slot[m] = team_slots[rng.integers(0, len(team_slots), len(m))]
    n_people = len(names)
    return Team(
        csm_id=ids("CSM-", np.arange(1, n_people + 1), 3),
        csm_name=names_arr,
        email=email,
        team=np.array(team, dtype=object),
        start=np.array(start, dtype=np.int64),
        end=np.array(end, dtype=np.int64),
        slot_team=slot_team,
        slot_holder0=holder0,
        slot_holder1=holder1,
        slot_switch=switch,
        account_slot=account_slot,
    )
