"""Assemble the sample company: simulate, write every export table and the ground truth."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from orchestration.lib.contract import TABLES
from sample_company import catalog as cat
from sample_company._util import (
    FAR,
    NULL,
    d2n,
    ids,
    month_first_day,
    month_index,
    month_label,
    n2d,
    stream,
)
from sample_company.billing import simulate
from sample_company.company import make_accounts, make_team
from sample_company.invoicing import make_fx, make_invoices
from sample_company.people import CHAMPION_ROLES, make_contacts, make_users
from sample_company.signals import (
    make_activities,
    make_incidents,
    make_lifecycle,
    make_nps,
    make_pulses,
    make_quotas,
    make_tickets,
    paid_cycles,
)
from sample_company.truth import monthly_mrr, movement_rows
from sample_company.usage import feature_release_days, generate_usage
from sample_company.writer import (
    GROUND_TRUTH_DIR,
    clear_previous_output,
    write_csv_table,
    write_plain_csv,
)

DEFAULT_AS_OF = date(2025, 12, 15)
GENERATOR_VERSION = "1.0"
ADOPTION_DROP_THRESHOLD = 0.30


@dataclass
class Summary:
    accounts: int
    events: int
    seconds: float
    out: Path
    rows: dict[str, int]

    def line(self) -> str:
        return (
            f"sample_company: {self.accounts} accounts, {self.events:,} usage events, "
            f"{self.seconds:.1f} s -> {self.out}"
        )


def _iso(day: int) -> str:
    return n2d(day).isoformat()


def generate(
    out: Path | str,
    accounts: int = 200,
    seed: int = 7,
    as_of: date = DEFAULT_AS_OF,
    months: int = 36,
    usage_scale: float = 1.0,
) -> Summary:
    """Generate the sample company into ``out`` (see the package docstring)."""
    t0 = time.perf_counter()
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    if months < 3:
        raise ValueError("months must be at least 3")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clear_previous_output(out)
    A = d2n(as_of)
    H = int(month_first_day(month_index(A) - months))

    acc = make_accounts(stream(seed, "accounts"), accounts, H, A)
    team = make_team(stream(seed, "team"), acc, H, A)
    bill = simulate(stream(seed, "billing"), acc, H, A)
    # the CRM record predates the account's first opportunity
    for o in bill.opps:
        acc.created[o["acct"]] = min(acc.created[o["acct"]], o["created"] - 7)
    covering = (bill.per_start <= A) & (A < bill.per_end)
    paying_now = covering & ~bill.per_trial & (bill.per_monthly > 0)
    active = np.zeros(acc.n, bool)
    active[bill.per_acct[paying_now]] = True
    seats_now = np.zeros(acc.n, np.int64)
    seats_now[bill.per_acct[paying_now]] = bill.per_seats[paying_now]
    fx = make_fx(stream(seed, "fx"), H, A)
    inv = make_invoices(stream(seed, "invoices"), acc, bill, H, A, active)
    contacts = make_contacts(stream(seed, "contacts"), acc, bill, A, active)

    # planted adoption drop: established, not about to churn, enough users to measure
    rng = stream(seed, "adoption_drop")
    cur_start = np.full(acc.n, FAR, np.int64)
    np.minimum.at(
        cur_start, bill.per_acct[paying_now], bill.cyc_paid_start[bill.per_cycle[paying_now]]
    )
    near_churn = np.zeros(acc.n, bool)
    soon = bill.cyc_churn & (bill.cyc_end > A) & (bill.cyc_end <= A + 150)
    near_churn[bill.cyc_acct[soon]] = True
    eligible = active & (cur_start <= A - 150) & ~near_churn & (seats_now >= 6)
    drop = eligible & (rng.random(acc.n) < 0.06)
    if eligible.any() and not drop.any():
        drop[rng.choice(np.flatnonzero(eligible))] = True
    users = make_users(stream(seed, "users"), acc, bill, A, drop)

    path = out / "product" / "usage_events.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    usage = generate_usage(stream(seed, "usage"), acc, bill, users, H, A, path, usage_scale)

    cyc = paid_cycles(bill, A)
    tickets = make_tickets(stream(seed, "tickets"), acc, cyc, contacts, A, active)
    incidents = make_incidents(stream(seed, "incidents"), H, A)
    nps = make_nps(stream(seed, "nps"), acc, cyc, contacts, H, A)
    activities = make_activities(stream(seed, "activities"), acc, cyc, contacts, team, A)
    pulses = make_pulses(stream(seed, "pulses"), acc, cyc, team, A)
    lc_acct, lc_stage, lc_day = make_lifecycle(stream(seed, "lifecycle"), acc, bill, A)
    quotas = make_quotas(stream(seed, "quotas"), acc, bill, team, fx, H, A)
    _add_pipeline_noise(stream(seed, "opportunities"), acc, bill, A, active)

    rows = _write_exports(
        out,
        acc,
        team,
        bill,
        fx,
        inv,
        contacts,
        users,
        tickets,
        incidents,
        nps,
        activities,
        pulses,
        (lc_acct, lc_stage, lc_day),
        quotas,
        H,
        A,
    )
    rows["product/usage_events"] = usage.events

    # ---------------------------------------------------------------- ground truth
    gt = out / GROUND_TRUTH_DIR
    mrr = monthly_mrr(acc, bill, fx, H, A)
    write_plain_csv(gt / "account_month_mrr.csv", movement_rows(acc, mrr))
    provisioned_now = np.bincount(
        users.acct[(users.prov <= A) & (users.deact > A)], minlength=acc.n
    )
    write_plain_csv(
        gt / "account_usage_at_as_of.csv",
        {
            "account_id": acc.account_id,
            "seats": seats_now,
            "provisioned_users": provisioned_now,
            "active_users_last_28_days": usage.users_last_28,
            "active_users_previous_28_days": usage.users_prev_28,
            "events_last_28_days": usage.events_last_28,
            "events_previous_28_days": usage.events_prev_28,
        },
    )
    planted = _planted(acc, bill, inv, contacts, tickets, nps, usage, drop, A)
    (gt / "planted.json").write_text(json.dumps(planted, indent=1, sort_keys=True) + "\n")
    seconds = time.perf_counter() - t0
    manifest = {
        "generator": "sample_company",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "accounts": accounts,
        "as_of": as_of.isoformat(),
        "months": months,
        "history_start": _iso(H),
        "usage_scale": usage_scale,
        "reporting_currency": "USD",
        "row_counts": dict(sorted(rows.items())),
        "usage_events": usage.events,
        "generation_seconds": round(seconds, 2),
        "mrr_rounding": (
            "half_even per account-month (ROUND_HALF_EVEN); in practice no rounding ever "
            "happens: normalised monthly amounts are whole currency units and fx rates have two "
            "decimals, so every USD amount is exact in cents whatever the rounding order"
        ),
        "conventions": {
            "mrr": "sum of (amount - discount_amount) / months-in-interval of recurring lines "
            "whose [service_period_start, service_period_end) covers the day, times "
            "the fx rate of the month of service_period_start",
            "month_end": "last day of the month; the as-of month is read on the as-of day",
            "usage_windows": "last_28_days = [as_of - 27, as_of]; previous_28_days = "
            "[as_of - 55, as_of - 28] (dates of event_at, UTC)",
            "adoption_drop": "active users in the last 28 days <= 70% of the previous 28 days",
            "champion_left": "a sponsor or champion contact with left_date in "
            "[as_of - 89, as_of]; no such left_date lies in "
            "[as_of - 110, as_of - 71], so 90 +/- 20 day windows agree",
            "detractor_accounts": "accounts with an NPS score <= 6 responded in the last 30 "
            "days (the latest survey wave)",
            "renewal_outcome": "METRICS.md rules at the as-of date: renewed (closed-won "
            "renewal, or MRR on contract_end_date + 30 days), churned "
            "(closed-lost, or no MRR on contract_end_date + 30), else pending",
            "sla_breach": "both first response and resolution exceed the priority's targets "
            "(by 1.5x or more); every other ticket meets both with margin",
            "payments": "payment amount = total_amount + tax_amount; card payers are due on "
            "the invoice date, transfer payers net 14/30/45 by segment",
            "latest_invoice_date": "equals the as-of date (a services invoice is dated on it)",
        },
        "files": {
            "account_month_mrr.csv": "account_id, month (YYYY-MM), currency, mrr_local, "
            "mrr_usd, previous_mrr_usd, movement, movement_mrr_usd",
            "account_usage_at_as_of.csv": "account_id, seats, provisioned_users, "
            "active_users_last_28_days, "
            "active_users_previous_28_days, events_last_28_days, "
            "events_previous_28_days",
            "planted.json": "account ids per planted scenario (see sample_company docstring)",
        },
    }
    (gt / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return Summary(accounts=accounts, events=usage.events, seconds=seconds, out=out, rows=rows)


def _add_pipeline_noise(rng, acc, bill, A, active) -> None:
    """Open and lost expansion / cross-sell opportunities that never turned into revenue."""
    for a in np.flatnonzero(active):
        if rng.random() < 0.12 * (1.2 - acc.risk[a]):
            created = A - int(rng.integers(5, 80))
            kind = "expansion" if rng.random() < 0.7 else "cross_sell"
            amount = int(acc.seats[a]) * int(rng.integers(5, 40)) * 12
            bill.opps.append(
                {
                    "acct": int(a),
                    "type": kind,
                    "stage": "open",
                    "amount": amount,
                    "created": created,
                    "close": NULL,
                    "cstart": NULL,
                    "cend": NULL,
                    "owner": ("csm", created),
                    "signoff": NULL,
                    "renewed": -1,
                }
            )
    cyc = np.flatnonzero(bill.cyc_paid_start != NULL)
    for c in cyc:
        s, e = int(bill.cyc_paid_start[c]), int(min(bill.cyc_end[c], A + 1))
        k = rng.poisson(0.2 * max(0, e - s) / 365.25)
        for _ in range(k):
            created = s + int(rng.integers(0, max(1, e - s)))
            close = created + int(rng.integers(20, 90))
            if close > A:
                continue
            a = int(bill.cyc_acct[c])
            kind = "expansion" if rng.random() < 0.6 else "cross_sell"
            bill.opps.append(
                {
                    "acct": a,
                    "type": kind,
                    "stage": "closed_lost",
                    "amount": int(acc.seats[a]) * int(rng.integers(5, 40)) * 12,
                    "created": created,
                    "close": close,
                    "cstart": NULL,
                    "cend": NULL,
                    "owner": ("csm", created),
                    "signoff": NULL,
                    "renewed": -1,
                }
            )


def _write_exports(
    out,
    acc,
    team,
    bill,
    fx,
    inv,
    contacts,
    users,
    tickets,
    incidents,
    nps,
    activities,
    pulses,
    lifecycle,
    quotas,
    H,
    A,
) -> dict[str, int]:
    rows: dict[str, int] = {}
    cur_names = np.array(cat.CURRENCIES, dtype=object)
    aid = acc.account_id
    customer_id = ids("CUS-", np.arange(1, acc.n + 1), max(5, len(str(acc.n))))
    sub_id = ids("SUB-", np.arange(1, len(bill.sub_acct) + 1), max(6, len(str(len(bill.sub_acct)))))
    plan_ids = np.array([p.plan_id for p in cat.PLANS], dtype=object)
    contact_ids = np.append(contacts.contact_id, None)  # index -1 -> None

    def put(name, cols):
        rows[name.replace("_", "/", 1)] = write_csv_table(out, name, cols)

    # ---- crm
    owner_now = team.owner_at(team.account_slot, np.full(acc.n, A))
    put(
        "crm_accounts",
        {
            "account_id": aid,
            "account_name": acc.name,
            "segment": np.array(cat.SEGMENTS, dtype=object)[acc.segment],
            "industry": acc.industry,
            "region": acc.region,
            "owner_csm_id": team.csm_id[owner_now],
            "created_date": acc.created,
        },
    )
    put(
        "crm_contacts",
        {
            "contact_id": contacts.contact_id,
            "account_id": aid[contacts.acct],
            "full_name": contacts.full_name,
            "email": contacts.email,
            "role": contacts.role,
            "active_from": contacts.active_from,
            "left_date": contacts.left,
        },
    )
    opps = bill.opps
    o_acct = np.array([o["acct"] for o in opps], np.int64)
    opp_ids = ids("OPP-", np.arange(1, len(opps) + 1), max(6, len(str(len(opps)))))
    owner = []
    for o in opps:
        kind, val = o["owner"]
        if kind == "ae":
            owner.append(f"AE-{val + 1:02d}")
        else:
            owner.append(None)
    owner = np.array(owner, dtype=object)
    csm_rows = np.array([i for i, o in enumerate(opps) if o["owner"][0] == "csm"], np.int64)
    if len(csm_rows):
        days = np.array([max(opps[i]["owner"][1], H) for i in csm_rows], np.int64)
        owner[csm_rows] = team.csm_id[team.owner_at(team.account_slot[o_acct[csm_rows]], days)]

    def ocol(key):
        return np.array([o[key] for o in opps], np.int64)

    renewed = ocol("renewed")
    put(
        "crm_opportunities",
        {
            "opportunity_id": opp_ids,
            "account_id": aid[o_acct],
            "opportunity_type": np.array([o["type"] for o in opps], dtype=object),
            "stage": np.array([o["stage"] for o in opps], dtype=object),
            "amount": ocol("amount") * 100,
            "currency": cur_names[acc.currency[o_acct]],
            "created_date": ocol("created"),
            "close_date": ocol("close"),
            "contract_start_date": ocol("cstart"),
            "contract_end_date": ocol("cend"),
            "owner_id": owner,
            "delivery_signoff_date": ocol("signoff"),
            "renewed_opportunity_id": np.where(renewed >= 0, opp_ids[np.maximum(renewed, 0)], None),
        },
    )
    contact_or_none = contact_ids[activities.contact]
    put(
        "crm_activities",
        {
            "activity_id": activities.activity_id,
            "account_id": aid[activities.acct],
            "contact_id": contact_or_none,
            "activity_type": activities.type,
            "activity_date": activities.day,
            "sentiment": activities.sentiment,
            "owner_id": team.csm_id[activities.owner],
        },
    )
    lc_acct, lc_stage, lc_day = lifecycle
    put(
        "crm_lifecycle_stages",
        {
            "account_id": aid[lc_acct],
            "stage": lc_stage,
            "entered_date": lc_day,
        },
    )
    put(
        "crm_csm_roster",
        {
            "csm_id": team.csm_id,
            "csm_name": team.csm_name,
            "email": team.email,
            "team": team.team,
            "start_date": team.start,
            "end_date": team.end,
        },
    )
    put(
        "crm_csm_pulse",
        {
            "pulse_id": pulses.pulse_id,
            "account_id": aid[pulses.acct],
            "csm_id": team.csm_id[pulses.csm],
            "pulse_date": pulses.day,
            "pulse": pulses.pulse,
            "note": pulses.note,
        },
    )
    q_owner = np.array([q[0] for q in quotas], np.int64)
    put(
        "crm_quotas",
        {
            "owner_id": team.csm_id[q_owner],
            "quarter_start": np.array([q[1] for q in quotas], np.int64),
            "quota_type": np.array([q[2] for q in quotas], dtype=object),
            "amount": np.array([q[3] for q in quotas], np.int64),
            "currency": np.full(len(quotas), "USD", dtype=object),
        },
    )

    # ---- billing
    first_day = np.full(acc.n, FAR, np.int64)
    np.minimum.at(first_day, bill.cyc_acct, bill.cyc_first_day)
    put(
        "billing_customers",
        {
            "customer_id": customer_id,
            "account_id": aid,
            "customer_name": acc.name,
            "currency": cur_names[acc.currency],
            "created_date": np.minimum(first_day - (np.arange(acc.n) % 4), A),
        },
    )
    put(
        "billing_plans",
        {
            "plan_id": plan_ids,
            "plan_name": np.array([p.plan_name for p in cat.PLANS], dtype=object),
            "billing_interval": np.array(
                [cat.INTERVALS[p.interval].billing_interval for p in cat.PLANS], dtype=object
            ),
            "interval_count": np.array(
                [cat.INTERVALS[p.interval].interval_count for p in cat.PLANS]
            ),
            "unit_price": np.array([p.unit_price * 100 for p in cat.PLANS], np.int64),
            "currency": np.array([p.currency for p in cat.PLANS], dtype=object),
        },
    )
    put(
        "billing_subscriptions",
        {
            "subscription_id": sub_id,
            "customer_id": customer_id[bill.sub_acct],
            "plan_id": plan_ids[bill.sub_plan],
            "status": bill.sub_status,
            "seats": bill.sub_seats,
            "start_date": bill.sub_start,
            "trial_end_date": bill.sub_trial_end,
            "canceled_date": bill.sub_canceled,
        },
    )
    put(
        "billing_invoices",
        {
            "invoice_id": inv.inv_id,
            "customer_id": customer_id[inv.inv_acct],
            "invoice_date": inv.inv_date,
            "due_date": inv.inv_due,
            "status": inv.inv_status,
            "currency": cur_names[inv.inv_currency],
            "total_amount": inv.inv_total,
            "tax_amount": inv.inv_tax,
        },
    )
    l_acct = inv.inv_acct[inv.line_inv]
    put(
        "billing_invoice_lines",
        {
            "invoice_line_id": inv.line_id,
            "invoice_id": inv.inv_id[inv.line_inv],
            "customer_id": customer_id[l_acct],
            "subscription_id": np.where(
                inv.line_sub >= 0, sub_id[np.maximum(inv.line_sub, 0)], None
            ),
            "plan_id": np.where(inv.line_plan >= 0, plan_ids[np.maximum(inv.line_plan, 0)], None),
            "line_type": inv.line_type,
            "quantity": inv.line_qty,
            "amount": inv.line_amount,
            "discount_amount": inv.line_discount,
            "currency": cur_names[acc.currency[l_acct]],
            "service_period_start": inv.line_start,
            "service_period_end": inv.line_end,
        },
    )
    put(
        "billing_payments",
        {
            "payment_id": inv.pay_id,
            "invoice_id": inv.inv_id[inv.pay_inv],
            "payment_date": inv.pay_date,
            "amount": inv.pay_amount,
            "currency": cur_names[inv.inv_currency[inv.pay_inv]],
            "status": inv.pay_status,
        },
    )
    fx_cur = np.repeat(np.arange(len(cat.CURRENCIES)), len(fx.months))
    fx_month = np.tile(month_first_day(fx.months), len(cat.CURRENCIES))
    fx_rate = fx.rate_cents.reshape(-1)
    put(
        "billing_fx_rates",
        {
            "currency": cur_names[fx_cur],
            "rate_month": fx_month,
            "rate_to_reporting": np.array(
                [f"{r // 100}.{r % 100:02d}" for r in fx_rate], dtype=object
            ),
        },
    )

    # ---- support
    put(
        "support_tickets",
        {
            "ticket_id": tickets.ticket_id,
            "account_id": aid[tickets.acct],
            "requester_contact_id": contact_ids[tickets.requester],
            "priority": tickets.priority,
            "status": tickets.status,
            "created_at": tickets.created,
            "first_response_at": tickets.first_response,
            "solved_at": tickets.solved,
            "csat_score": tickets.csat,
        },
    )
    put(
        "support_sla_policies",
        {
            "priority": np.array([p[0] for p in cat.SLA_POLICIES], dtype=object),
            "first_response_target_minutes": np.array([p[1] for p in cat.SLA_POLICIES]),
            "resolution_target_minutes": np.array([p[2] for p in cat.SLA_POLICIES]),
        },
    )
    put(
        "support_incidents",
        {
            "incident_id": incidents.incident_id,
            "title": incidents.title,
            "severity": incidents.severity,
            "started_at": incidents.started,
            "resolved_at": incidents.resolved,
        },
    )

    # ---- product
    put(
        "product_users",
        {
            "user_id": users.user_id,
            "account_id": aid[users.acct],
            "email": users.email,
            "provisioned_date": users.prov,
            "deactivated_date": np.where(users.deact <= A, users.deact, NULL),
        },
    )
    release = feature_release_days(H, A)
    put(
        "product_features",
        {
            "feature_key": np.array([f.key for f in cat.FEATURES], dtype=object),
            "feature_name": np.array([f.name for f in cat.FEATURES], dtype=object),
            "is_key_feature": np.array([f.is_key for f in cat.FEATURES]),
            "released_date": release,
        },
    )

    # ---- surveys
    put(
        "surveys_nps_responses",
        {
            "response_id": nps.response_id,
            "account_id": aid[nps.acct],
            "contact_id": contact_ids[nps.contact],
            "responded_date": nps.day,
            "score": nps.score,
            "comment": nps.comment,
        },
    )
    written = set(rows) | {"product/usage_events"}
    missing = [f"{t.system}/{t.entity}" for t in TABLES if f"{t.system}/{t.entity}" not in written]
    if missing:
        raise AssertionError(f"tables not written: {missing}")
    return rows


def _planted(acc, bill, inv, contacts, tickets, nps, usage, drop, A) -> dict:
    aid = acc.account_id

    def by_account(pairs) -> dict[str, list[str]]:
        outd: dict[str, list[str]] = {}
        for a, v in pairs:
            outd.setdefault(str(aid[a]), []).append(v)
        return {k: sorted(v) for k, v in sorted(outd.items())}

    churn = bill.cyc_churn & (bill.cyc_end <= A)
    churned = by_account(
        (a, month_label(month_index(e))) for a, e in zip(bill.cyc_acct[churn], bill.cyc_end[churn], strict=False)
    )
    paid_c = np.flatnonzero(bill.cyc_paid_start != NULL)
    seen, react = set(), []
    for c in paid_c:
        a = int(bill.cyc_acct[c])
        if a in seen:
            react.append((a, month_label(month_index(bill.cyc_paid_start[c]))))
        seen.add(a)
    reactivated = by_account(react)
    expanded = by_account(
        (a, month_label(month_index(d)))
        for a, d, o, n, k in bill.changes
        if k == "expansion" and d <= A
    )
    contracted = by_account(
        (a, month_label(month_index(d)))
        for a, d, o, n, k in bill.changes
        if k == "contraction" and d <= A
    )
    ever_paid = np.zeros(acc.n, bool)
    ever_paid[bill.per_acct[~bill.per_trial]] = True
    loud = churn & bill.cyc_decay
    decay = {
        str(aid[a]): month_label(month_index(e))
        for a, e in zip(bill.cyc_acct[loud], bill.cyc_end[loud], strict=False)
    }
    upcoming = bill.cyc_churn & (bill.cyc_end > A) & (bill.cyc_end <= A + 180)
    upcoming_churn = {
        str(aid[a]): {"churn_date": _iso(e), "usage_decay": bool(d)}
        for a, e, d in zip(
            bill.cyc_acct[upcoming], bill.cyc_end[upcoming], bill.cyc_decay[upcoming], strict=False
        )
    }

    def dropped(last, prev):
        return (prev > 0) & (last <= (1 - ADOPTION_DROP_THRESHOLD) * prev)

    by_users = dropped(usage.users_last_28, usage.users_prev_28)
    by_events = dropped(usage.events_last_28, usage.events_prev_28)
    planted_drop = drop & by_users & by_events

    sla = by_account(
        (a, str(t)) for a, t, b in zip(tickets.acct, tickets.ticket_id, tickets.breached, strict=False) if b
    )
    det = (nps.day >= A - 29) & (nps.score <= 6)
    champ = (
        np.isin(contacts.role, CHAMPION_ROLES) & (contacts.left != NULL) & (contacts.left >= A - 89)
    )
    champion_left = {
        str(aid[a]): _iso(d) for a, d in sorted(zip(contacts.acct[champ], contacts.left[champ], strict=False))
    }

    # renewals: outcome of every contract at the as-of date, by METRICS.md rules
    paid_mask = ~bill.per_trial & (bill.per_monthly > 0)
    renewals, details = {}, []
    opp_ids = ids("OPP-", np.arange(1, len(bill.opps) + 1), max(6, len(str(len(bill.opps)))))
    for ct in bill.contracts:
        if ct["opp"] < 0:
            continue
        r = ct["renewal_opp"]
        stage = bill.opps[r]["stage"] if r >= 0 else None
        probe = ct["end"] + 30
        if stage == "closed_won":
            outcome = "renewed"
        elif stage == "closed_lost":
            outcome = "churned"
        elif probe <= A:
            has = (
                paid_mask
                & (bill.per_acct == ct["acct"])
                & (bill.per_start <= probe)
                & (probe < bill.per_end)
            )
            outcome = "renewed" if has.any() else "churned"
        else:
            outcome = "pending"
        cid = str(opp_ids[ct["opp"]])
        renewals[cid] = outcome
        details.append(
            {
                "contract_opportunity_id": cid,
                "account_id": str(aid[ct["acct"]]),
                "contract_end_date": _iso(ct["end"]),
                "outcome": outcome,
                "renewal_opportunity_id": str(opp_ids[r]) if r >= 0 else None,
                "renewal_stage": stage,
            }
        )

    open_over_30 = (inv.inv_status == "open") & (inv.inv_due < A - 30)
    overdue = by_account(
        (a, str(i)) for a, i in zip(inv.inv_acct[open_over_30], inv.inv_id[open_over_30], strict=False)
    )
    return {
        "as_of": _iso(A),
        "churned": churned,
        "reactivated": reactivated,
        "expanded": expanded,
        "contracted": contracted,
        "trial_only": sorted(str(x) for x in aid[~ever_paid]),
        "usage_decay_before_churn": dict(sorted(decay.items())),
        "upcoming_churn": dict(sorted(upcoming_churn.items())),
        "adoption_drop": sorted(str(x) for x in aid[planted_drop]),
        "adoption_drop_measured": {
            "by_active_users": sorted(str(x) for x in aid[by_users]),
            "by_events": sorted(str(x) for x in aid[by_events]),
        },
        "sla_breach_accounts": sla,
        "detractor_accounts": sorted({str(aid[a]) for a in nps.acct[det]}),
        "champion_left": champion_left,
        "renewals": dict(sorted(renewals.items())),
        "renewal_details": details,
        "ticket_spikes": {str(aid[a]): w for a, w in sorted(tickets.spikes.items())},
        "overdue_over_30_days": overdue,
        "currency_by_account": {str(aid[a]): cat.CURRENCIES[acc.currency[a]] for a in range(acc.n)},
    }
