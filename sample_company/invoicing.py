"""FX rates, invoices, invoice lines and payments, derived from the billing periods."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_company import catalog as cat
from sample_company._util import NULL, month_index
from sample_company.billing import Billing
from sample_company.company import Accounts


@dataclass
class Fx:
    months: np.ndarray  # month indexes covered
    rate_cents: np.ndarray  # [currency, month]: USD cents per unit (rate * 100)
    first_month: int

    def rate(self, currency: np.ndarray, month: np.ndarray) -> np.ndarray:
        return self.rate_cents[currency, month - self.first_month]


def make_fx(rng: np.random.Generator, H: int, A: int) -> Fx:
    """One rate per currency per month; rates in whole USD cents (two decimals), mild drift."""
    first, last = int(month_index(H)), int(month_index(A))
    months = np.arange(first, last + 13)  # + 12 months of flat budget rates after the as-of
    rates = np.zeros((len(cat.CURRENCIES), len(months)), dtype=np.int64)
    sd = {"USD": 0.0, "EUR": 1.1, "GBP": 1.4, "CAD": 0.7, "AUD": 0.8}
    for c_i, c in enumerate(cat.CURRENCIES):
        base = cat.FX_START[c]
        r = base
        for m in range(len(months)):
            if months[m] <= last and m > 0 and sd[c] > 0:
                r = int(max(1, r + np.round(rng.normal(0.0, sd[c]) + 0.1 * (base - r))))
            rates[c_i, m] = r
    return Fx(months=months, rate_cents=rates, first_month=first)


@dataclass
class Invoices:
    inv_id: np.ndarray
    inv_acct: np.ndarray
    inv_sub: np.ndarray  # -1 for standalone one-time invoices
    inv_date: np.ndarray
    inv_due: np.ndarray
    inv_status: np.ndarray
    inv_currency: np.ndarray
    inv_total: np.ndarray  # cents
    inv_tax: np.ndarray  # cents
    line_id: np.ndarray
    line_inv: np.ndarray  # index into invoices
    line_type: np.ndarray
    line_sub: np.ndarray  # -1 when empty
    line_plan: np.ndarray  # -1 when empty
    line_qty: np.ndarray
    line_amount: np.ndarray  # cents
    line_discount: np.ndarray  # cents
    line_start: np.ndarray
    line_end: np.ndarray
    pay_id: np.ndarray
    pay_inv: np.ndarray
    pay_date: np.ndarray
    pay_amount: np.ndarray
    pay_status: np.ndarray


def make_invoices(
    rng: np.random.Generator,
    acc: Accounts,
    bill: Billing,
    H: int,
    A: int,
    active_at_asof: np.ndarray,
) -> Invoices:
    n_per = len(bill.per_acct)
    per_acct = bill.per_acct
    seg = acc.segment[per_acct]

    # ---- extra lines on period invoices
    first_paid = np.zeros(n_per, bool)
    paid_idx = np.flatnonzero(~bill.per_trial)
    if len(paid_idx):
        _, first_pos = np.unique(per_acct[paid_idx], return_index=True)
        first_paid[paid_idx[first_pos]] = True
    setup_p = np.choose(seg, (0.15, 0.8, 1.0))
    has_setup = first_paid & (rng.random(n_per) < setup_p)
    setup_units = np.choose(
        seg,
        (
            rng.integers(2, 6, n_per) * 50,
            rng.integers(15, 51, n_per) * 100,
            rng.integers(50, 201, n_per) * 100,
        ),
    )
    prev_same_sub = np.zeros(n_per, bool)
    prev_same_sub[1:] = (bill.per_sub[1:] == bill.per_sub[:-1]) & ~bill.per_trial[:-1]
    has_usage = (
        acc.overage[per_acct]
        & ~bill.per_trial
        & prev_same_sub
        & (bill.per_end - bill.per_start < 32)
        & (rng.random(n_per) < 0.35)
    )
    usage_qty = rng.integers(20, 400, n_per) * 10
    net_units = bill.per_amount - bill.per_discount
    has_credit = (~bill.per_trial) & (net_units > 0) & (rng.random(n_per) < 0.025)
    credit_units = np.maximum(1, np.round(net_units * rng.uniform(0.05, 0.2, n_per))).astype(
        np.int64
    )

    # ---- standalone one-time invoices (professional services), plus one dated on the as-of
    # day so that "latest invoice date" equals the as-of date.
    paid_cycles = np.flatnonzero(bill.cyc_paid_start != NULL)
    c_start = bill.cyc_paid_start[paid_cycles]
    c_end = np.minimum(bill.cyc_end[paid_cycles], A + 1)
    years = np.maximum(0, c_end - c_start) / 365.25
    k = rng.poisson(years * np.choose(acc.segment[bill.cyc_acct[paid_cycles]], (0.05, 0.2, 0.4)))
    svc_cycle = np.repeat(paid_cycles, k)
    svc_date = bill.cyc_paid_start[svc_cycle] + (
        rng.random(len(svc_cycle))
        * (np.minimum(bill.cyc_end[svc_cycle], A + 1) - bill.cyc_paid_start[svc_cycle])
    ).astype(np.int64)
    svc_acct = bill.cyc_acct[svc_cycle]
    candidates = np.flatnonzero(active_at_asof)
    if len(candidates):
        svc_acct = np.append(svc_acct, candidates[rng.integers(len(candidates))])
        svc_date = np.append(svc_date, A)
    n_svc = len(svc_acct)
    svc_units = rng.integers(5, 60, n_svc) * 100

    # ---- invoices: one per billing period, then the services invoices
    n_inv = n_per + n_svc
    inv_acct = np.concatenate([per_acct, svc_acct])
    inv_date = np.concatenate([bill.per_start, svc_date])
    inv_sub = np.concatenate([bill.per_sub, np.full(n_svc, -1)])
    order = np.lexsort((np.arange(n_inv), inv_acct, inv_date))
    rank = np.empty(n_inv, np.int64)
    rank[order] = np.arange(n_inv)  # invoice number - 1

    # ---- lines (cents): recurring, one_time (setup + services), usage, credit
    hundred = np.int64(100)
    parts = []

    def add(inv, ltype, sub, plan, qty, amount, disc, start, end, order_key):
        parts.append(
            {
                "inv": inv,
                "type": np.full(len(inv), ltype, dtype=object),
                "sub": sub,
                "plan": plan,
                "qty": qty,
                "amount": amount,
                "disc": disc,
                "start": start,
                "end": end,
                "key": np.full(len(inv), order_key),
            }
        )

    all_p = np.arange(n_per)
    add(
        all_p,
        "recurring",
        bill.per_sub,
        bill.per_plan,
        bill.per_seats,
        bill.per_amount * hundred,
        bill.per_discount * hundred,
        bill.per_start,
        bill.per_end,
        0,
    )
    s = np.flatnonzero(has_setup)
    add(
        s,
        "one_time",
        np.full(len(s), -1),
        np.full(len(s), -1),
        np.ones(len(s), np.int64),
        setup_units[s] * hundred,
        np.zeros(len(s), np.int64),
        bill.per_start[s],
        bill.per_start[s] + 1,
        1,
    )
    s = np.flatnonzero(has_usage)
    prev_start = np.concatenate([[0], bill.per_start[:-1]])
    add(
        s,
        "usage",
        bill.per_sub[s],
        np.full(len(s), -1),
        usage_qty[s],
        usage_qty[s] * 5,
        np.zeros(len(s), np.int64),
        prev_start[s],
        bill.per_start[s],
        2,
    )
    s = np.flatnonzero(has_credit)
    add(
        s,
        "credit",
        np.full(len(s), -1),
        np.full(len(s), -1),
        np.ones(len(s), np.int64),
        credit_units[s] * hundred,
        np.zeros(len(s), np.int64),
        bill.per_start[s],
        bill.per_start[s] + 1,
        3,
    )
    s = np.arange(n_svc)
    add(
        n_per + s,
        "one_time",
        np.full(n_svc, -1),
        np.full(n_svc, -1),
        np.ones(n_svc, np.int64),
        svc_units * hundred,
        np.zeros(n_svc, np.int64),
        svc_date,
        svc_date + 1,
        1,
    )
    L = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    L["inv"] = rank[L["inv"]]
    lorder = np.lexsort((L["key"], L["inv"]))
    L = {k: v[lorder] for k, v in L.items()}

    # ---- invoice totals and tax (cents)
    signed = np.where(L["type"] == "credit", -L["amount"], L["amount"] - L["disc"])
    total = np.zeros(n_inv, np.int64)
    np.add.at(total, L["inv"], signed)
    cur_idx = np.empty(n_inv, np.int64)
    cur_idx[rank] = acc.currency[inv_acct]
    acct_by_num = np.empty(n_inv, np.int64)
    acct_by_num[rank] = inv_acct
    date_by_num = np.empty(n_inv, np.int64)
    date_by_num[rank] = inv_date
    sub_by_num = np.empty(n_inv, np.int64)
    sub_by_num[rank] = inv_sub
    bp = np.array([cat.TAX_BASIS_POINTS[c] for c in cat.CURRENCIES])[cur_idx]
    tax = (total * bp + 5000) // 10000
    assert (total >= 0).all()

    # ---- due dates and payments
    card = acc.pays_by_card[acct_by_num]
    seg_n = acc.segment[acct_by_num]
    terms = np.where(card, 0, np.choose(seg_n, (14, 30, 45)))
    due = date_by_num + terms
    risk = acc.risk[acct_by_num]
    due_amount = total + tax
    n = n_inv
    r = rng.random((6, n))
    # card: charged on the invoice date; failures retried after 3, 7 and 14 days
    fail_p = 0.03 + 0.10 * risk
    card_fails = (r[0] < fail_p).astype(int) + (r[0] < fail_p * 0.35) + (r[0] < fail_p * 0.12)
    card_fails = np.where(r[1] < 0.25, np.minimum(card_fails, 1), card_fails)
    retry = np.array([0, 3, 7, 14])
    # after three failures the customer updates the card 3-5 weeks after the invoice
    card_pay = np.where(
        card_fails < 3,
        date_by_num + retry[np.minimum(card_fails, 3)],
        date_by_num + 21 + (r[5] * 15).astype(int),
    )
    card_paid = np.ones(n, bool)
    # transfer: most pay before the due date, some late, a few very late
    late_p = 0.08 + 0.35 * risk
    transfer_pay = np.where(
        r[2] < late_p * 0.2,
        due + 46 + (r[3] * 75).astype(int),
        np.where(
            r[2] < late_p,
            due + 1 + (r[3] * 45).astype(int),
            due - (r[3] * np.minimum(25, terms)).astype(int),
        ),
    )
    transfer_fail = r[4] < 0.02
    pay_day = np.where(card, card_pay, transfer_pay)
    paid = np.where(card, card_paid, True)

    # planted overdue: some active transfer-paying accounts stop paying their recent invoices
    can_stop = np.zeros(acc.n, bool)
    can_stop[acct_by_num[(due_amount > 0) & (due >= A - 75) & (due <= A - 35)]] = True
    can_stop &= active_at_asof & ~acc.pays_by_card
    chosen = can_stop & (rng.random(acc.n) < 0.06)
    if can_stop.any() and not chosen.any():
        chosen[rng.choice(np.flatnonzero(can_stop))] = True
    overdue_accts = np.flatnonzero(chosen)
    stop = np.zeros(n, bool)
    for a in overdue_accts:
        mine = np.flatnonzero(
            (acct_by_num == a) & (due_amount > 0) & (due >= A - 75) & (due <= A - 35)
        )
        if len(mine):
            stop |= (acct_by_num == a) & (date_by_num >= date_by_num[mine[0]])
    paid &= ~stop
    # invoices of a subscription that churned are always settled (no write-offs)
    churned_sub = np.zeros(len(bill.sub_status), bool)
    churned_sub[bill.sub_status == "canceled"] = True
    settled = (sub_by_num >= 0) & churned_sub[np.maximum(sub_by_num, 0)]
    paid |= settled
    pay_day = np.maximum(pay_day, date_by_num)
    zero = due_amount == 0
    succeeded = paid & ~zero & (pay_day <= A)
    status = np.where(zero | succeeded, "paid", "open").astype(object)

    # payment rows: failed card attempts, a failed transfer attempt, the success
    p_inv, p_day, p_status = [], [], []
    for j in range(3):
        m = card & ~zero & (card_fails > j)
        p_inv.append(np.flatnonzero(m))
        p_day.append(date_by_num[m] + retry[j])
        p_status.append(np.full(m.sum(), "failed", dtype=object))
    m = ~card & ~zero & transfer_fail & paid
    p_inv.append(np.flatnonzero(m))
    p_day.append(np.maximum(date_by_num[m], pay_day[m] - 5))
    p_status.append(np.full(m.sum(), "failed", dtype=object))
    p_inv.append(np.flatnonzero(succeeded))
    p_day.append(pay_day[succeeded])
    p_status.append(np.full(succeeded.sum(), "succeeded", dtype=object))
    p_inv = np.concatenate(p_inv)
    p_day = np.concatenate(p_day)
    p_status = np.concatenate(p_status)
    keep = p_day <= A
    p_inv, p_day, p_status = p_inv[keep], p_day[keep], p_status[keep]
    porder = np.lexsort((p_status == "succeeded", p_inv, p_day))
    p_inv, p_day, p_status = p_inv[porder], p_day[porder], p_status[porder]

    # subscriptions with an overdue open invoice are past_due
    overdue = (status == "open") & (due < A) & (sub_by_num >= 0)
    past_due_subs = np.unique(sub_by_num[overdue])
    live = bill.sub_status[past_due_subs] == "active"
    bill.sub_status[past_due_subs[live]] = "past_due"

    from sample_company._util import ids

    w = max(6, len(str(n_inv)))
    return Invoices(
        inv_id=ids("INV-", np.arange(1, n_inv + 1), w),
        inv_acct=acct_by_num,
        inv_sub=sub_by_num,
        inv_date=date_by_num,
        inv_due=due,
        inv_status=status,
        inv_currency=cur_idx,
        inv_total=total,
        inv_tax=tax,
        line_id=ids("IL-", np.arange(1, len(L["inv"]) + 1), max(7, len(str(len(L["inv"]))))),
        line_inv=L["inv"],
        line_type=L["type"],
        line_sub=L["sub"],
        line_plan=L["plan"],
        line_qty=L["qty"],
        line_amount=L["amount"],
        line_discount=L["disc"],
        line_start=L["start"],
        line_end=L["end"],
        pay_id=ids("PAY-", np.arange(1, len(p_inv) + 1), max(7, len(str(len(p_inv))))),
        pay_inv=p_inv,
        pay_date=p_day,
        pay_amount=due_amount[p_inv],
        pay_status=p_status,
    )
