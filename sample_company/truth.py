"""Ground truth computed from the generator's own state (never from the files it wrote)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_company._util import month_first_day, month_index, month_label
from sample_company.billing import Billing
from sample_company.company import Accounts
from sample_company.invoicing import Fx


@dataclass
class MonthlyMrr:
    months: np.ndarray  # month indexes, first history month .. as-of month
    eval_day: np.ndarray  # the day each month's MRR is read (month end, or the as-of day)
    local_cents: np.ndarray  # [account, month]
    usd_cents: np.ndarray  # [account, month]


def monthly_mrr(acc: Accounts, bill: Billing, fx: Fx, H: int, A: int) -> MonthlyMrr:
    """Month-end MRR per account from the subscription state: the normalised monthly amount of
    each paid billing period covering the month's evaluation day, converted with the rate of the
    month the period starts in. Amounts are whole units and rates whole cents, so the product
    is exact in cents: no rounding happens at all."""
    months = np.arange(month_index(H), month_index(A) + 1)
    eval_day = month_first_day(months + 1) - 1
    eval_day[-1] = A
    paid = np.flatnonzero(~bill.per_trial & (bill.per_monthly > 0))
    start, end = bill.per_start[paid], bill.per_end[paid]
    acct = bill.per_acct[paid]
    monthly = bill.per_monthly[paid]
    cur = acc.currency[acct]
    rate = fx.rate(cur, month_index(start))
    covers = (start[:, None] <= eval_day[None, :]) & (eval_day[None, :] < end[:, None])
    p_i, m_i = np.nonzero(covers)
    local = np.zeros((acc.n, len(months)), np.int64)
    usd = np.zeros((acc.n, len(months)), np.int64)
    np.add.at(local, (acct[p_i], m_i), monthly[p_i] * 100)
    np.add.at(usd, (acct[p_i], m_i), monthly[p_i] * rate[p_i])
    return MonthlyMrr(months=months, eval_day=eval_day, local_cents=local, usd_cents=usd)


def movement_rows(acc: Accounts, mrr: MonthlyMrr) -> dict[str, np.ndarray]:
    """One row per account per month with MRR at the start or the end of the month."""
    usd = mrr.usd_cents
    prev = np.zeros_like(usd)
    prev[:, 1:] = usd[:, :-1]
    local = mrr.local_cents
    ever_before = np.zeros_like(usd, dtype=bool)
    ever_before[:, 1:] = np.maximum.accumulate(usd[:, :-1] > 0, axis=1)
    a_i, m_i = np.nonzero((prev > 0) | (usd > 0))
    p, c, ever = prev[a_i, m_i], usd[a_i, m_i], ever_before[a_i, m_i]
    movement = np.select(
        [(p == 0) & ~ever, (p == 0) & ever, c == 0, c > p, c < p],
        ["new", "reactivation", "churn", "expansion", "contraction"],
        default="unchanged",
    ).astype(object)

    def money(cents):
        if cents.size == 0:
            return np.empty(0, dtype=object)
        sign = np.where(cents < 0, "-", "")
        a = np.abs(cents)
        return np.char.add(
            np.char.add(np.char.add(sign, (a // 100).astype(str)), "."),
            np.char.zfill((a % 100).astype(str), 2),
        ).astype(object)

    from sample_company import catalog as cat

    return {
        "account_id": acc.account_id[a_i],
        "month": np.array([month_label(m) for m in mrr.months], dtype=object)[m_i],
        "currency": np.array(cat.CURRENCIES, dtype=object)[acc.currency[a_i]],
        "mrr_local": money(local[a_i, m_i]),
        "mrr_usd": money(c),
        "previous_mrr_usd": money(p),
        "movement": movement,
        "movement_mrr_usd": money(c - p),
    }
