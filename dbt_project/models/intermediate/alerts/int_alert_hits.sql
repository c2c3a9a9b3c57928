{#- One row per enabled alert rule per account for which the rule holds on the as-of date (the
    run's snapshot date): the rule's evidence (metric, value, limit, text), severity, owner and
    recommended action (METRICS.md, KPI summary and playbook alerts; DECISIONS.md, KPI summary
    and alerts). Rules and limits come from seed_alert_rules; a disabled rule gives no rows.

    Rules are evaluated for the customers of the as-of date: the accounts of the published health
    history on that date (fct_account_health_daily, a recurring line covers the day, trials
    included), which also gives the band, the 30-day change and the owner CSM. Each rule is one
    CTE returning account_id, evidence_metric, evidence_value, threshold_value, evidence_text. -#}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

rules as (

    select
        rule_id,
        severity,
        threshold,
        window_days,
        min_count,
        recommended_action
    from {{ ref('seed_alert_rules') }}
    where enabled

),

customers as (

    select
        health.account_id,
        health.owner_csm_id,
        health.health_score,
        health.health_band,
        health.health_score_change_30d,
        health.compared_date_30d,
        health.snapshot_date
    from {{ ref('fct_account_health_daily') }} as health
    inner join as_of
        on health.snapshot_date = as_of.as_of_date

),

adoption as (

    select
        adoption.account_id,
        adoption.provisioned_users,
        adoption.seats_purchased,
        adoption.active_users_last_28_days,
        adoption.active_users_previous_28_days,
        adoption.adoption_rate,
        adoption.license_utilization,
        adoption.usage_trend
    from {{ ref('fct_account_adoption_monthly') }} as adoption
    inner join as_of
        on adoption.measured_on = as_of.as_of_date

),

-- pending renewals due after the as-of date (the same horizon rule as renewals_upcoming)
pending_renewals as (

    select
        account_id,
        contract_opportunity_id,
        due_date,
        days_until_due,
        expiring_arr
    from {{ ref('fct_renewals') }}
    where outcome = 'pending'
        and days_until_due > 0

),

relationship as (

    select
        relationship.account_id,
        relationship.last_touch_date,
        relationship.days_since_last_touch
    from {{ ref('fct_account_relationship_monthly') }} as relationship
    inner join as_of
        on relationship.measured_on = as_of.as_of_date

),

tickets as (

    select account_id, ticket_id, created_date, csat_status, is_sla_breached
    from {{ ref('fct_tickets') }}

),

-- adoption rate (MAU / provisioned users) below the threshold
hit_adoption_below_target as (

    select
        adoption.account_id,
        'adoption_rate' as evidence_metric,
        adoption.adoption_rate as evidence_value,
        rules.threshold as threshold_value,
        {{ cs_metrics.plain_text('adoption.active_users_last_28_days') }} || ' of '
            || {{ cs_metrics.plain_text('adoption.provisioned_users') }}
            || ' provisioned users active in the last 28 days (adoption rate '
            || {{ cs_metrics.decimal_text('adoption.adoption_rate') }} || ')' as evidence_text
    from adoption
    inner join rules
        on rules.rule_id = 'adoption_below_target'
    where adoption.adoption_rate < cast(rules.threshold as double)

),

-- active users, last 28 days vs the 28 before, fell by the threshold share or more (exact)
hit_usage_drop as (

    select
        adoption.account_id,
        'usage_trend' as evidence_metric,
        adoption.usage_trend as evidence_value,
        - rules.threshold as threshold_value,
        {{ cs_metrics.plain_text('adoption.active_users_last_28_days') }}
            || ' active users in the last 28 days vs '
            || {{ cs_metrics.plain_text('adoption.active_users_previous_28_days') }}
            || ' in the 28 days before (' || {{ cs_metrics.decimal_text('adoption.usage_trend') }}
            || ')' as evidence_text
    from adoption
    inner join rules
        on rules.rule_id = 'usage_drop'
    where adoption.active_users_previous_28_days > 0
        and cast(adoption.active_users_last_28_days as decimal(28, 4))
            <= (1 - rules.threshold) * cast(adoption.active_users_previous_28_days as decimal(28, 4))

),

-- health score down by the threshold or more over 30 days (the stored history)
hit_health_drop as (

    select
        customers.account_id,
        'health_score_change_30d' as evidence_metric,
        customers.health_score_change_30d as evidence_value,
        - rules.threshold as threshold_value,
        'health score ' || {{ cs_metrics.decimal_text('customers.health_score', 1) }}
            || ', ' || {{ cs_metrics.decimal_text('customers.health_score_change_30d', 1) }}
            || ' points since ' || {{ cs_metrics.plain_text('customers.compared_date_30d') }}
            as evidence_text
    from customers
    inner join rules
        on rules.rule_id = 'health_drop'
    where customers.health_score_change_30d <= - cast(rules.threshold as double)

),

-- in the red band (the alert's first_seen is the day the account entered red)
hit_health_red as (

    select
        customers.account_id,
        'health_score' as evidence_metric,
        customers.health_score as evidence_value,
        cast(null as decimal(18, 4)) as threshold_value,
        'health score ' || {{ cs_metrics.decimal_text('customers.health_score', 1) }}
            || ', band red' as evidence_text
    from customers
    inner join rules
        on rules.rule_id = 'health_red'
    where customers.health_band = 'red'

),

-- the nearest pending renewal within the window while the band is yellow or red
renewals_at_risk as (

    select
        pending_renewals.account_id,
        pending_renewals.contract_opportunity_id,
        pending_renewals.due_date,
        pending_renewals.days_until_due,
        pending_renewals.expiring_arr,
        customers.health_band,
        rules.window_days,
        row_number() over (
            partition by pending_renewals.account_id
            order by pending_renewals.due_date, pending_renewals.contract_opportunity_id
        ) as nearness
    from pending_renewals
    inner join customers
        on pending_renewals.account_id = customers.account_id
    inner join rules
        on rules.rule_id = 'renewal_at_risk'
    where pending_renewals.days_until_due <= rules.window_days
        and customers.health_band in ('yellow', 'red')

),

hit_renewal_at_risk as (

    select
        account_id,
        'days_until_due' as evidence_metric,
        cast(days_until_due as double) as evidence_value,
        cast(window_days as decimal(18, 4)) as threshold_value,
        'renewal ' || contract_opportunity_id || ' due ' || {{ cs_metrics.plain_text('due_date') }}
            || ' (in ' || {{ cs_metrics.plain_text('days_until_due') }} || ' days, expiring ARR '
            || coalesce({{ cs_metrics.plain_text('expiring_arr') }}, 'unknown')
            || '), health band ' || health_band as evidence_text
    from renewals_at_risk
    where nearness = 1

),

-- a sponsor or champion contact left within the window (left_date at most window_days days
-- before the as-of date, as fct_account_relationship_monthly counts champion_left_days)
champions_left as (

    select
        contacts.account_id,
        contacts.contact_id,
        contacts.full_name,
        contacts.role,
        contacts.left_date,
        rules.window_days,
        count(*) over (partition by contacts.account_id) as champions_left,
        row_number() over (
            partition by contacts.account_id order by contacts.left_date desc, contacts.contact_id
        ) as recency
    from {{ ref('stg_crm__contacts') }} as contacts
    cross join as_of
    inner join rules
        on rules.rule_id = 'champion_left'
    where contacts.is_sponsor_or_champion
        and contacts.left_date <= as_of.as_of_date
        and contacts.left_date >= {{ cs_metrics.add_days('as_of.as_of_date',
                                                         '- rules.window_days') }}

),

hit_champion_left as (

    select
        champions_left.account_id,
        'days_since_champion_left' as evidence_metric,
        cast({{ cs_metrics.days_between('champions_left.left_date', 'as_of.as_of_date') }}
            as double) as evidence_value,
        cast(champions_left.window_days as decimal(18, 4)) as threshold_value,
        {{ cs_metrics.plain_text('champions_left.champions_left') }}
            || ' sponsor or champion contact(s) left; latest '
            || {{ cs_metrics.contact_label('champions_left') }} || ' (' || champions_left.role
            || ') on ' || {{ cs_metrics.plain_text('champions_left.left_date') }} as evidence_text
    from champions_left
    cross join as_of
    where champions_left.recency = 1

),

-- CSAT of tickets created in the last window vs the window before
csat_windows as (

    select
        tickets.account_id,
        rules.threshold,
        rules.min_count,
        rules.window_days,
        sum(case when tickets.created_date > {{ cs_metrics.add_days('as_of.as_of_date',
                                                                    '- rules.window_days') }}
            and tickets.csat_status <> 'unrated' then 1 else 0 end) as rated_now,
        sum(case when tickets.created_date > {{ cs_metrics.add_days('as_of.as_of_date',
                                                                    '- rules.window_days') }}
            and tickets.csat_status = 'satisfied' then 1 else 0 end) as satisfied_now,
        sum(case when tickets.created_date <= {{ cs_metrics.add_days('as_of.as_of_date',
                                                                     '- rules.window_days') }}
            and tickets.csat_status <> 'unrated' then 1 else 0 end) as rated_before,
        sum(case when tickets.created_date <= {{ cs_metrics.add_days('as_of.as_of_date',
                                                                     '- rules.window_days') }}
            and tickets.csat_status = 'satisfied' then 1 else 0 end) as satisfied_before
    from tickets
    cross join as_of
    inner join rules
        on rules.rule_id = 'csat_drop'
    where tickets.created_date <= as_of.as_of_date
        and tickets.created_date > {{ cs_metrics.add_days('as_of.as_of_date',
                                                          '- 2 * rules.window_days') }}
    group by tickets.account_id, rules.threshold, rules.min_count, rules.window_days

),

hit_csat_drop as (

    select
        account_id,
        'csat_change' as evidence_metric,
        {{ cs_metrics.safe_ratio('satisfied_now', 'rated_now') }}
            - {{ cs_metrics.safe_ratio('satisfied_before', 'rated_before') }} as evidence_value,
        - threshold as threshold_value,
        'CSAT ' || {{ cs_metrics.decimal_text(cs_metrics.safe_ratio('satisfied_now', 'rated_now')) }}
            || ' (' || {{ cs_metrics.plain_text('satisfied_now') }} || ' of '
            || {{ cs_metrics.plain_text('rated_now') }} || ' rated tickets) in the last '
            || {{ cs_metrics.plain_text('window_days') }} || ' days vs '
            || {{ cs_metrics.decimal_text(cs_metrics.safe_ratio('satisfied_before', 'rated_before')) }}
            || ' (' || {{ cs_metrics.plain_text('satisfied_before') }} || ' of '
            || {{ cs_metrics.plain_text('rated_before') }} || ') in the '
            || {{ cs_metrics.plain_text('window_days') }} || ' days before' as evidence_text
    from csat_windows
    -- satisfied_before / rated_before - satisfied_now / rated_now >= threshold, in integers
    where rated_now >= coalesce(min_count, 1)
        and rated_before >= coalesce(min_count, 1)
        and cast(satisfied_before * rated_now - satisfied_now * rated_before as decimal(28, 4))
            >= threshold * cast(rated_now * rated_before as decimal(28, 4))

),

-- a detractor response in the window (the as-of date and the window_days - 1 days before it)
detractor_responses as (

    select
        responses.account_id,
        responses.response_id,
        responses.responded_date,
        responses.score,
        responses.comment,
        rules.window_days,
        count(*) over (partition by responses.account_id) as detractor_responses,
        row_number() over (
            partition by responses.account_id
            order by responses.responded_date desc, responses.score, responses.response_id
        ) as recency
    from {{ ref('fct_nps_responses') }} as responses
    cross join as_of
    inner join rules
        on rules.rule_id = 'recent_detractor'
    where responses.is_detractor
        and responses.responded_date <= as_of.as_of_date
        and responses.responded_date > {{ cs_metrics.add_days('as_of.as_of_date',
                                                              '- rules.window_days') }}

),

hit_recent_detractor as (

    select
        account_id,
        'detractor_score' as evidence_metric,
        cast(score as double) as evidence_value,
        cast(null as decimal(18, 4)) as threshold_value,
        {{ cs_metrics.plain_text('detractor_responses') }} || ' detractor response(s) in the last '
            || {{ cs_metrics.plain_text('window_days') }} || ' days; latest '
            || {{ cs_metrics.plain_text('responded_date') }} || ' scored '
            || {{ cs_metrics.plain_text('score') }}
            || coalesce(': ' || comment, '') as evidence_text
    from detractor_responses
    where recency = 1

),

-- an SLA-breaching ticket created inside a pending renewal's window (from window_days days
-- before the due date, as the lifecycle's renewal stage counts it, to the as-of date)
breaches_in_renewal_window as (

    select
        pending_renewals.account_id,
        rules.window_days,
        count(distinct tickets.ticket_id) as breached_tickets,
        min(pending_renewals.due_date) as nearest_due_date
    from pending_renewals
    cross join as_of
    inner join rules
        on rules.rule_id = 'sla_breach_in_renewal_window'
    inner join tickets
        on pending_renewals.account_id = tickets.account_id
    where pending_renewals.days_until_due <= rules.window_days
        and tickets.is_sla_breached
        and tickets.created_date <= as_of.as_of_date
        and tickets.created_date >= {{ cs_metrics.add_days('pending_renewals.due_date',
                                                           '- rules.window_days') }}
    group by pending_renewals.account_id, rules.window_days

),

hit_sla_breach_in_renewal_window as (

    select
        account_id,
        'sla_breached_tickets' as evidence_metric,
        cast(breached_tickets as double) as evidence_value,
        cast(null as decimal(18, 4)) as threshold_value,
        {{ cs_metrics.plain_text('breached_tickets') }}
            || ' ticket(s) breached their SLA in the renewal window of the renewal due '
            || {{ cs_metrics.plain_text('nearest_due_date') }} as evidence_text
    from breaches_in_renewal_window

),

-- a spike week that ended in the window or is the current week
spike_weeks as (

    select
        weeks.account_id,
        weeks.week_start,
        weeks.tickets,
        weeks.spike_threshold_tickets,
        row_number() over (
            partition by weeks.account_id order by weeks.week_start desc
        ) as recency
    from {{ ref('fct_ticket_weeks') }} as weeks
    cross join as_of
    inner join rules
        on rules.rule_id = 'ticket_spike'
    where weeks.scope = 'account'
        and weeks.is_ticket_spike
        and weeks.week_start <= as_of.as_of_date
        and weeks.week_end > {{ cs_metrics.add_days('as_of.as_of_date', '- rules.window_days') }}

),

hit_ticket_spike as (

    select
        account_id,
        'spike_week_tickets' as evidence_metric,
        cast(tickets as double) as evidence_value,
        cast(spike_threshold_tickets as decimal(18, 4)) as threshold_value,
        {{ cs_metrics.plain_text('tickets') }} || ' tickets in the week of '
            || {{ cs_metrics.plain_text('week_start') }} || ' (spike threshold '
            || {{ cs_metrics.decimal_text('spike_threshold_tickets', 1) }} || ')' as evidence_text
    from spike_weeks
    where recency = 1

),

-- no touch in the window (days since the last touch >= window_days), or none ever logged
hit_no_recent_touch as (

    select
        customers.account_id,
        'days_since_last_touch' as evidence_metric,
        cast(relationship.days_since_last_touch as double) as evidence_value,
        cast(rules.window_days as decimal(18, 4)) as threshold_value,
        case
            when relationship.last_touch_date is null then 'no touch ever logged'
            else 'last touch ' || {{ cs_metrics.plain_text('relationship.last_touch_date') }}
                || ' (' || {{ cs_metrics.plain_text('relationship.days_since_last_touch') }}
                || ' days ago)'
        end as evidence_text
    from customers
    inner join rules
        on rules.rule_id = 'no_recent_touch'
    left join relationship
        on customers.account_id = relationship.account_id
    where relationship.last_touch_date is null
        or relationship.days_since_last_touch >= rules.window_days

),

-- open invoices more than the threshold days past due
overdue_invoices as (

    select
        invoices.account_id,
        invoices.invoice_id,
        invoices.due_date,
        invoices.days_overdue,
        invoices.outstanding_amount_reporting,
        rules.threshold,
        count(*) over (partition by invoices.account_id) as overdue_invoices,
        sum(invoices.outstanding_amount_reporting) over (partition by invoices.account_id)
            as overdue_amount,
        row_number() over (
            partition by invoices.account_id
            order by invoices.days_overdue desc, invoices.invoice_id
        ) as age_rank
    from {{ ref('fct_invoices') }} as invoices
    inner join rules
        on rules.rule_id = 'overdue_invoice'
    where invoices.is_outstanding
        and invoices.days_overdue > rules.threshold

),

hit_overdue_invoice as (

    select
        account_id,
        'days_overdue' as evidence_metric,
        cast(days_overdue as double) as evidence_value,
        threshold as threshold_value,
        {{ cs_metrics.plain_text('overdue_invoices') }} || ' invoice(s) over '
            || {{ cs_metrics.plain_text('cast(threshold as ' ~ dbt.type_bigint() ~ ')') }}
            || ' days overdue, ' || {{ cs_metrics.plain_text('overdue_amount') }}
            || ' outstanding; oldest ' || invoice_id || ' due '
            || {{ cs_metrics.plain_text('due_date') }} || ' ('
            || {{ cs_metrics.plain_text('days_overdue') }} || ' days)' as evidence_text
    from overdue_invoices
    where age_rank = 1

),

-- green health and license utilization at or above the threshold
hit_expansion_opportunity as (

    select
        adoption.account_id,
        'license_utilization' as evidence_metric,
        adoption.license_utilization as evidence_value,
        rules.threshold as threshold_value,
        {{ cs_metrics.plain_text('adoption.active_users_last_28_days') }}
            || ' users active in the last 28 days on '
            || {{ cs_metrics.plain_text('adoption.seats_purchased') }}
            || ' seats (license utilization '
            || {{ cs_metrics.decimal_text('adoption.license_utilization') }}
            || '), health band green' as evidence_text
    from adoption
    inner join customers
        on adoption.account_id = customers.account_id
    inner join rules
        on rules.rule_id = 'expansion_opportunity'
    where customers.health_band = 'green'
        and adoption.license_utilization >= cast(rules.threshold as double)

),

{%- set rule_ids = ['adoption_below_target', 'usage_drop', 'health_drop', 'health_red',
                    'renewal_at_risk', 'champion_left', 'csat_drop', 'recent_detractor',
                    'sla_breach_in_renewal_window', 'ticket_spike', 'no_recent_touch',
                    'overdue_invoice', 'expansion_opportunity'] %}

hits as (

    {%- for rule_id in rule_ids %}
    select
        '{{ rule_id }}' as rule_id,
        account_id,
        evidence_metric,
        cast(evidence_value as double) as evidence_value,
        cast(threshold_value as double) as threshold_value,
        evidence_text
    from hit_{{ rule_id }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

final as (

    select
        customers.snapshot_date,
        hits.rule_id,
        hits.account_id,
        customers.owner_csm_id,
        rules.severity,
        hits.evidence_metric,
        hits.evidence_value,
        hits.threshold_value,
        hits.evidence_text,
        rules.recommended_action
    from hits
    inner join customers
        on hits.account_id = customers.account_id
    inner join rules
        on hits.rule_id = rules.rule_id

)

select * from final
