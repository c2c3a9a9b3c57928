"""Subscriptions, billing periods, contracts and opportunities: the revenue history.

One Python pass per account (cheap: a few dozen billing periods each) walks the account's life:
an optional trial, then contracts of 12 or 24 months (52 weeks for the weekly plan) billed in
periods of the plan's interval. Seats change only at billing-period boundaries (one invoice per
subscription per period, no proration); at each contract end the account renews (possibly with
more or fewer seats, another tier or a longer interval) or churns, and a churned account may come
back months later on a new subscription (reactivation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_company import catalog as cat
from sample_company._util import FAR, NULL, Uniforms, add_months_day, clip_day_of_month
from sample_company.company import Accounts

N_AES = 6  # account executives who own new business


@dataclass
class Billing:
    # billing periods (one recurring invoice line each); amounts in whole currency units
    per_acct: np.ndarray
    per_sub: np.ndarray
    per_cycle: np.ndarray
    per_start: np.ndarray
    per_end: np.ndarray  # exclusive
    per_plan: np.ndarray
    per_seats: np.ndarray
    per_amount: np.ndarray
    per_discount: np.ndarray
    per_monthly: np.ndarray  # normalised monthly amount after discount (0 for trials)
    per_trial: np.ndarray
    # subscriptions
    sub_acct: np.ndarray
    sub_plan: np.ndarray
    sub_seats: np.ndarray
    sub_start: np.ndarray
    sub_trial_end: np.ndarray
    sub_canceled: np.ndarray
    sub_status: np.ndarray  # trialing / active / canceled (past_due is set by payments)
    # customer cycles: one per subscription
    cyc_acct: np.ndarray
    cyc_first_day: np.ndarray
    cyc_paid_start: np.ndarray  # NULL when never paid (by the as-of date)
    cyc_end: np.ndarray  # churn day (exclusive end of service, may be after as-of) or FAR
    cyc_churn: np.ndarray
    cyc_decay: np.ndarray  # usage and sentiment decay in the 90-120 days before the churn
    cyc_trial_end: np.ndarray  # day after the trial (NULL without trial)
    # opportunities (list of dicts, in creation order; ids are their positions)
    opps: list[dict]
    # contracts (closed-won opportunities with contract dates) and their renewal
    contracts: list[dict]
    # changes of the normalised monthly amount between consecutive paid periods
    changes: list[tuple[int, int, int, int, str]]  # acct, day, old, new, reason


def monthly_amount(seats: int, plan: cat.Plan, pct: float) -> tuple[int, int, int]:
    """(line amount, line discount, normalised monthly net) in whole units for one period."""
    iv = cat.INTERVALS[plan.interval]
    amount = seats * plan.unit_price
    if plan.interval == cat.WEEKLY:
        return amount, 0, amount * 13 // 3
    gross_monthly = seats * plan.seat_monthly
    disc_monthly = int(np.floor(gross_monthly * pct))
    return amount, disc_monthly * iv.months, gross_monthly - disc_monthly


def next_period(day: int, interval: int) -> int:
    if interval == cat.WEEKLY:
        return day + 7
    return add_months_day(day, cat.INTERVALS[interval].months)


def contract_end(start: int, interval: int, term_months: int) -> int:
    """Exclusive end of a contract starting on ``start``."""
    if interval == cat.WEEKLY:
        return start + 364
    return add_months_day(start, term_months)


def simulate(rng: np.random.Generator, acc: Accounts, H: int, A: int) -> Billing:
    u = Uniforms(rng)
    P: list[tuple] = []  # periods
    S: list[list] = []  # subscriptions
    C: list[list] = []  # cycles
    opps: list[dict] = []
    contracts: list[dict] = []
    changes: list[tuple] = []
    ae_of = rng.integers(0, N_AES, acc.n)

    def opp(**kw) -> int:
        row = {
            "acct": None,
            "type": None,
            "stage": None,
            "amount": 0,
            "created": NULL,
            "close": NULL,
            "cstart": NULL,
            "cend": NULL,
            "owner": ("ae", 0),
            "signoff": NULL,
            "renewed": -1,
        }
        row.update(kw)
        opps.append(row)
        return len(opps) - 1

    for a in range(acc.n):
        seg = int(acc.segment[a])
        cur = cat.CURRENCIES[acc.currency[a]]
        risk = float(acc.risk[a])
        growth = float(acc.growth[a])
        pct = float(acc.discount_pct[a])
        tier = int(acc.tier[a])
        ivl = int(acc.interval[a])
        seats = int(acc.seats[a])
        term = int(acc.term_months[a])
        force = acc.force.get(a, "")
        start = int(acc.paid_start[a])
        first_cycle = True
        while True:
            sub_i = len(S)
            cyc_i = len(C)
            sub = [a, -1, seats, start, NULL, NULL, "active"]
            cyc = [a, start, NULL, FAR, False, False, NULL]
            S.append(sub)
            C.append(cyc)
            plan = cat.PLANS[cat.PLAN_INDEX[(tier, ivl, cur)]]
            trial_days = int(acc.trial_days[a]) if first_cycle else 0
            if trial_days:
                ts = start - trial_days
                sub[3] = ts
                sub[4] = start - 1
                cyc[1] = ts
                cyc[6] = start
                t_seats = min(seats, 2 + int(u() * 5))
                if u() < 0.7:
                    t_amount, t_disc = 0, 0
                else:  # a 100% discount instead of a zero price
                    t_amount = t_seats * plan.unit_price
                    t_disc = t_amount
                P.append((a, sub_i, cyc_i, ts, start, plan.index, t_seats, t_amount, t_disc, 0, 1))
                sub[1], sub[2] = plan.index, t_seats
                if acc.trial_only[a] or start > A:
                    tcv = seats * plan.seat_monthly * 12
                    lost = bool(acc.trial_only[a]) and start <= A
                    opp(
                        acct=a,
                        type="new",
                        stage="closed_lost" if lost else "open",
                        amount=tcv,
                        created=ts - u.int(0, 5),
                        close=start - 1 if lost else NULL,
                        owner=("ae", int(ae_of[a])),
                    )
                    if lost:
                        sub[6] = "canceled"
                        sub[5] = start
                        cyc[3] = start
                    else:
                        sub[6] = "trialing"
                    break
            # ---- paid life of this subscription
            cyc[2] = start
            cs = start
            lead = (20, 45, 90)[seg]
            close = cs - u.int(0, 3) if trial_days else cs - u.int(1, 14)
            created = close - trial_days - u.int(lead // 2, lead * 2)
            _, _, m0 = monthly_amount(seats, plan, pct)
            ce = contract_end(cs, ivl, term)
            signoff = cs + u.int(*((5, 30), (10, 60), (20, 120))[seg])
            c_opp = opp(
                acct=a,
                type="new",
                stage="closed_won",
                amount=_tcv(m0, ivl, term),
                created=created,
                close=close,
                cstart=cs,
                cend=ce - 1,
                owner=("ae", int(ae_of[a])),
                signoff=signoff if signoff <= A else NULL,
            )
            prev_monthly = None
            n_period = 0
            while True:  # contracts
                ce = contract_end(cs, ivl, term)
                p = cs
                while p < ce and p <= A:
                    plan = cat.PLANS[cat.PLAN_INDEX[(tier, ivl, cur)]]
                    if p != cs and ivl != cat.WEEKLY:
                        tier, seats = _mid_contract_change(
                            u,
                            a,
                            p,
                            ce,
                            tier,
                            seats,
                            ivl,
                            cur,
                            pct,
                            risk,
                            growth,
                            force,
                            n_period,
                            opps,
                            opp,
                            ae_of,
                        )
                        plan = cat.PLANS[cat.PLAN_INDEX[(tier, ivl, cur)]]
                    amount, disc, monthly = monthly_amount(seats, plan, pct)
                    if prev_monthly is not None and monthly != prev_monthly:
                        changes.append((a, p, prev_monthly, monthly, ""))
                    prev_monthly = monthly
                    nxt = next_period(p, ivl)
                    P.append((a, sub_i, cyc_i, p, nxt, plan.index, seats, amount, disc, monthly, 0))
                    sub[1], sub[2] = plan.index, seats
                    n_period += 1
                    p = nxt
                # ---- the contract ends on ce - 1: renew or churn
                years = term / 12 if ivl != cat.WEEKLY else 1
                base = cat.CHURN_PER_YEAR[seg]
                p_churn = min(0.9, (1 - (1 - base) ** years) * (0.25 + 2.6 * risk))
                churn = u() < p_churn
                if force in ("churn", "churn_reactivate") and first_cycle:
                    churn = True
                elif force and first_cycle and ce <= A:
                    churn = False  # keep forced-expansion accounts around
                c_end = ce - 1
                r_created = c_end - u.int(80, 100)
                contract = {
                    "opp": c_opp,
                    "acct": a,
                    "start": cs,
                    "end": c_end,
                    "fate": "churned" if churn else "renewed",
                    "renewal_opp": -1,
                }
                contracts.append(contract)
                if not churn:
                    new_tier, new_ivl, new_seats = _renewal_change(
                        u, tier, ivl, seats, seg, risk, growth
                    )
                    new_plan = cat.PLANS[cat.PLAN_INDEX[(new_tier, new_ivl, cur)]]
                    _, _, new_m = monthly_amount(new_seats, new_plan, pct)
                    new_end = contract_end(ce, new_ivl, term)
                if r_created <= A:
                    if churn:
                        r_close = c_end - u.int(0, 30)
                        lost = r_close <= A
                        contract["renewal_opp"] = opp(
                            acct=a,
                            type="renewal",
                            stage="closed_lost" if lost else "open",
                            amount=_tcv(prev_monthly, ivl, term),
                            created=r_created,
                            close=r_close if lost else NULL,
                            owner=("csm", r_created),
                            renewed=c_opp,
                        )
                    else:
                        late = u() < 0.12
                        r_close = c_end + u.int(1, 25) if late else c_end - u.int(0, 45)
                        won = r_close <= A
                        contract["renewal_opp"] = opp(
                            acct=a,
                            type="renewal",
                            stage="closed_won" if won else "open",
                            amount=_tcv(new_m, new_ivl, term),
                            created=r_created,
                            close=r_close if won else NULL,
                            cstart=ce if won else NULL,
                            cend=new_end - 1 if won else NULL,
                            owner=("csm", r_created),
                            renewed=c_opp,
                        )
                if churn:
                    cyc[3] = ce
                    cyc[4] = True
                    cyc[5] = u() < 0.8  # 20% churn "silently" (no warning signs)
                    if ce <= A:
                        sub[6] = "canceled"
                        sub[5] = ce
                    break
                if ce > A:
                    break
                # renewed: the next contract starts the day after the end
                r_opp = contract["renewal_opp"]
                c_opp = r_opp if r_opp >= 0 and opps[r_opp]["stage"] == "closed_won" else -1
                tier, ivl, seats = new_tier, new_ivl, new_seats
                cs = ce
            if (
                cyc[4]
                and cyc[3] <= A
                and (
                    force == "churn_reactivate"
                    and first_cycle
                    or (force == "" and u() < cat.REACTIVATION[seg])
                )
            ):
                gap = u.int(75, 120) if force else u.int(60, 330)
                new_start = clip_day_of_month(cyc[3] + gap)
                if new_start <= A:
                    start = new_start
                    seats = max(1, round(seats * (0.5 + 0.6 * u())))
                    ivl = (cat.MONTHLY, cat.ANNUAL, cat.ANNUAL)[seg] if u() < 0.7 else ivl
                    if ivl == cat.WEEKLY:
                        ivl = cat.MONTHLY
                    risk *= 0.7
                    first_cycle = False
                    continue
            break

    def arr(rows, i, dtype=np.int64):
        return np.array([r[i] for r in rows], dtype=dtype)

    return Billing(
        per_acct=arr(P, 0),
        per_sub=arr(P, 1),
        per_cycle=arr(P, 2),
        per_start=arr(P, 3),
        per_end=arr(P, 4),
        per_plan=arr(P, 5),
        per_seats=arr(P, 6),
        per_amount=arr(P, 7),
        per_discount=arr(P, 8),
        per_monthly=arr(P, 9),
        per_trial=arr(P, 10, bool),
        sub_acct=arr(S, 0),
        sub_plan=arr(S, 1),
        sub_seats=arr(S, 2),
        sub_start=arr(S, 3),
        sub_trial_end=arr(S, 4),
        sub_canceled=arr(S, 5),
        sub_status=arr(S, 6, object),
        cyc_acct=arr(C, 0),
        cyc_first_day=arr(C, 1),
        cyc_paid_start=arr(C, 2),
        cyc_end=arr(C, 3),
        cyc_churn=arr(C, 4, bool),
        cyc_decay=arr(C, 5, bool),
        cyc_trial_end=arr(C, 6),
        opps=opps,
        contracts=contracts,
        changes=[
            (a, d, o, n, "expansion" if n > o else "contraction") for a, d, o, n, _ in changes
        ],
    )


def _tcv(monthly: int, interval: int, term_months: int) -> int:
    """Total contract value (whole units) of a contract at a normalised monthly amount."""
    if interval == cat.WEEKLY:
        return monthly * 3 // 13 * 52
    return monthly * term_months


def _mid_contract_change(
    u, a, p, ce, tier, seats, ivl, cur, pct, risk, growth, force, n_period, opps, opp, ae_of
):
    months = cat.INTERVALS[ivl].months
    p_exp = 1 - (1 - 0.03 * (0.3 + 1.7 * growth)) ** months
    p_con = 1 - (1 - 0.012 * (0.3 + 2.5 * risk)) ** months
    p_up = 1 - (1 - 0.005) ** months if ivl in (cat.MONTHLY, cat.QUARTERLY) and tier < 2 else 0.0
    r = u()
    kind = ""
    if force == "expand" and n_period == 2:
        kind = "expand"
    elif force == "contract" and n_period == 4:
        kind = "contract"
    elif force in ("expand", "contract"):
        kind = ""
    elif r < p_exp:
        kind = "expand"
    elif r < p_exp + p_con:
        kind = "contract"
    elif r < p_exp + p_con + p_up:
        kind = "upgrade"
    if not kind:
        return tier, seats
    old_plan = cat.PLANS[cat.PLAN_INDEX[(tier, ivl, cur)]]
    _, _, old_m = monthly_amount(seats, old_plan, pct)
    if kind == "expand":
        seats = seats + max(1, round(seats * (0.08 + 0.3 * u())))
    elif kind == "contract":
        if seats <= 1:
            return tier, seats
        seats = max(1, seats - max(1, round(seats * (0.05 + 0.2 * u()))))
    else:
        tier += 1
    new_plan = cat.PLANS[cat.PLAN_INDEX[(tier, ivl, cur)]]
    _, _, new_m = monthly_amount(seats, new_plan, pct)
    if new_m > old_m:
        remaining = _months_between(p, ce)
        opp(
            acct=a,
            type="expansion" if kind == "expand" else "cross_sell",
            stage="closed_won",
            amount=(new_m - old_m) * remaining,
            created=p - u.int(15, 60),
            close=p - u.int(1, 10),
            owner=("csm", p - 30),
        )
    return tier, seats


def _months_between(start: int, end: int) -> int:
    from sample_company._util import n2d

    s, e = n2d(start), n2d(end)
    return max(1, (e.year - s.year) * 12 + e.month - s.month)


def _renewal_change(u, tier, ivl, seats, seg, risk, growth):
    r = u()
    p_up = 0.30 * (0.4 + 1.2 * growth)
    p_down = 0.12 * (0.4 + 2.0 * risk)
    if r < p_up:
        seats = seats + max(1, round(seats * (0.1 + 0.4 * u())))
    elif r < p_up + p_down and seats > 1:
        seats = max(1, seats - max(1, round(seats * (0.05 + 0.25 * u()))))
    if ivl != cat.WEEKLY:
        r2 = u()
        if r2 < 0.05 and tier < 2:
            tier += 1
        elif r2 < 0.09 and tier > 0 and seg < 2:
            tier -= 1
        r3 = u()
        if ivl == cat.MONTHLY and r3 < 0.10 or ivl == cat.QUARTERLY and r3 < 0.15:
            ivl = cat.ANNUAL
    return tier, ivl, seats
