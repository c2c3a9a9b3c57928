"""The built-in sample company: a deterministic, realistic B2B SaaS company to run the pipeline on.

    python -m sample_company --accounts 200 --seed 7 --out data/raw [--as-of 2025-12-15]
                             [--months 36] [--usage-scale 1.0]

writes every table of the export contract (``orchestration.lib.contract.TABLES``) to
``<out>/<system>/<entity>.csv`` (``product/usage_events`` as Parquet) in the contract's layout:
exact column names, ISO dates ``YYYY-MM-DD``, timestamps ``YYYY-MM-DD HH:MM:SS`` (UTC), money
with two decimals, an empty cell for a missing value. Files it wrote before (any extension) and
``<out>/_ground_truth/`` are removed first; nothing else in ``<out>`` is touched. The same
arguments give byte-identical files (numpy ``PCG64``, one named stream per table, no wall
clock); only ``manifest.json``'s ``generation_seconds`` varies. Nothing is dated after the
as-of day except contract end dates, due dates and the end of the billing period covering it.

Dynamics
--------
* **Accounts** (CRM) in three segments, smb / mid_market / enterprise (60 / 30 / 10%), with
  segment-typical seats (median 8 / 45 / 220), a currency they keep for life (USD, EUR, GBP, CAD,
  AUD) and a region that goes with it. Signups grow ~60% a year over the ``--months`` of history
  before the as-of month. Each account has a latent churn risk and growth propensity that drive
  every signal below, so the signals predict churn the way they do in real books.
* **Plans**: Starter / Growth / Enterprise x monthly (month, 1), quarterly (quarter, 1),
  semi-annual (month, 6) and annual (year, 1), plus a legacy Starter weekly plan, one plan per
  currency. Longer intervals are cheaper per month. Some accounts have a negotiated discount on
  every recurring line (``discount_amount`` > 0).
* **Billing** follows the pipeline's rules: one invoice per subscription per billing period,
  billed in advance, with one recurring line for ``[service_period_start,
  service_period_end)`` (end exclusive; ``amount = seats * unit_price``); seats and plans change
  only at period boundaries (no proration); invoices run up to the period covering the as-of day.
  Extra lines: one-time setup fees on the first invoice, monthly usage overages (for the previous
  month), occasional goodwill credits, and stand-alone professional-services invoices (one is
  dated on the as-of day, so "latest invoice date" = as-of). Tax is ``tax_amount``, never revenue.
* **Trials**: 14 or 30 days, subscription ``trialing``, a recurring line with amount 0 (or a 100%
  discount): zero MRR. Some trials never convert (``trial_only``: status canceled, or trialing at
  the as-of).
* **Contracts** (CRM): a ``new`` closed-won opportunity per customer (amount = total contract
  value without one-time fees, contract start/end, delivery sign-off date); contracts run 12
  months (some enterprise 24, weekly plans 52 weeks). At each contract end the account renews
  (a ``renewal`` opportunity, ``renewed_opportunity_id`` -> the contract it renews; closed-won,
  sometimes closed after the end date, open while undecided) or churns (closed-lost renewal; the
  subscription is canceled, ``canceled_date`` = the first day without service, invoices stop).
  Renewals may add or remove seats, change tier (upgrade / downgrade) or move to annual billing.
  Mid-contract, monthly/quarterly/semi-annual/annual subscriptions expand (seats up, an
  ``expansion`` opportunity), contract (seats down) or upgrade (``cross_sell``). Open and lost
  expansion / cross-sell opportunities add pipeline noise. Some churned accounts come back 2-11
  months later on a new subscription (reactivation).
* **Payments**: card payers (self-serve) are charged on the invoice date, with failed attempts
  retried after 3 and 7 days; transfer payers have net 14/30/45 terms, most pay before the due
  date, some late, a few very late; some accounts stop paying (overdue at the as-of).
  ``payments.amount`` = ``total_amount + tax_amount``.
* **FX**: ``billing/fx_rates`` has one rate per currency per month (USD per unit, USD = 1.00),
  two decimals, a mild random walk; the 12 months after the as-of month repeat its rate.
* **Users and usage**: users are provisioned against seats (a per-account share of seats, more on
  expansion, deactivated on contraction, turnover with replacement, all deactivated at churn).
  Each user-day gets an event rate (engagement x weekday x onboarding ramp x pre-churn decay);
  events follow the feature catalogue (12 features, 5 key), only the key features the account
  adopted, none before the account's time to first value or a feature's release.
* **Churn warning signs** in the ~90-120 days before most churns ("loud" churns, 80%): usage
  decays (users drop out, rates fall), more tickets and SLA breaches, detractor NPS, negative
  touches, red CSM pulses, often the champion or sponsor leaves. Accounts whose contract ends
  within a few months after the as-of and will not renew already show these signs.
* **Support**: tickets with priorities (low / normal / high / urgent), first response and solve
  timestamps, CSAT 1-5 on ~40% of solved tickets; ``sla_policies`` for the 4 priorities. A
  breached ticket misses both its first-response and resolution targets by 1.5x or more; every
  other ticket meets both with margin. Planted weekly ticket spikes; status-page incidents.
* **Voice and relationship**: relationship NPS in waves every 91 days (the latest opens 20 days
  before the as-of), comments on every detractor and many others; CSM activities (email, call,
  meeting, business review) with sentiment; a CSM roster of about one CSM per 25 accounts in
  SMB / Mid-Market / Enterprise teams (some CSMs left and were replaced; accounts follow the seat
  holder); CSM pulses; renewal and expansion quotas per CSM per quarter (USD); lifecycle stage
  history (onboarding, training, adopting, extending, renewal, churned).

Ground truth (``<out>/_ground_truth/``, ignored by the loader)
----------------------------------------------------------------
Computed from the generator's own state, never from the files it wrote:

* ``manifest.json``: seed, accounts, as_of, months, history_start, usage_scale, row counts per
  table (``"<system>/<entity>"``), usage_events, generation_seconds, the rounding rule and the
  conventions used below.
* ``account_month_mrr.csv``: ``account_id, month (YYYY-MM), currency, mrr_local, mrr_usd,
  previous_mrr_usd, movement, movement_mrr_usd``; one row per account per month (from the first
  history month to the as-of month) in which the account had MRR > 0 at the start or the end of
  the month (so a churn month has an explicit 0 row). ``mrr_usd`` is month-end MRR (the as-of day
  for the as-of month); ``previous_mrr_usd`` the previous month's; ``movement`` one of new,
  reactivation, expansion, contraction, churn, unchanged (METRICS.md); ``movement_mrr_usd`` =
  ``mrr_usd - previous_mrr_usd``. MRR uses the pipeline's rule: normalised monthly amount
  ``(amount - discount_amount) / months in the interval`` times the fx rate of the month of
  ``service_period_start``. Normalised monthly amounts are whole currency units and rates have
  two decimals, so every figure is exact in cents and no rounding ever happens (declared as
  round-half-even per account-month). USD movements include FX effects.
* ``account_usage_at_as_of.csv``: ``account_id, seats, provisioned_users,
  active_users_last_28_days, active_users_previous_28_days, events_last_28_days,
  events_previous_28_days`` (last 28 days = as-of - 27 .. as-of; previous = as-of - 55 ..
  as-of - 28; provisioned = provisioned on or before the as-of and not deactivated).
* ``planted.json``: ``churned`` {account: [churn months]}, ``reactivated`` {account: [months]},
  ``expanded`` / ``contracted`` {account: [months the local-currency MRR went up / down]},
  ``trial_only`` [accounts that never paid], ``usage_decay_before_churn`` {account: churn month},
  ``upcoming_churn`` {account: {churn_date, usage_decay}} (contracts that end within 180 days
  after the as-of and will not renew), ``adoption_drop`` [planted accounts whose active users and
  events fell >= 30%, last 28 days vs previous 28], ``adoption_drop_measured`` {by_active_users,
  by_events: all accounts meeting that rule}, ``sla_breach_accounts`` {account: [ticket ids]},
  ``detractor_accounts`` [accounts with a score <= 6 in the last 30 days], ``champion_left``
  {account: left date of a sponsor/champion in the last 90 days}, ``renewals`` {contract
  opportunity id: renewed | churned | pending at the as-of, by METRICS.md rules},
  ``renewal_details`` [per contract: account, end date, outcome, renewal opportunity and stage],
  ``ticket_spikes`` {account: Monday of the spike week}, ``overdue_over_30_days`` {account: [open
  invoice ids due more than 30 days before the as-of]}, ``currency_by_account``.

Even a small company (30 accounts) gets at least one churn, one churn with reactivation, one
expansion, one contraction, one trial that never converts, one adoption drop, one ticket spike,
one account more than 30 days overdue and one open ticket already in SLA breach, when the
history is long enough for them. Planted lists are exact for what they name; ``ticket_spikes``
and ``upcoming_churn`` list what was planted (natural spikes can also occur).
"""

from sample_company.generator import Summary, generate

__all__ = ["Summary", "generate"]
