{#- One row per account per month in which the account had a provisioned user, month-end MRR
    or a ticket, up to the as-of month: tickets created in the month, tickets per 100 active
    users (MAU on the month's measurement day), CSAT, first-response and resolution SLA
    attainment and median times of those tickets, the tickets open and already in breach at
    the end of the measurement day, the account's ticket-spike weeks, and the company's uptime
    (METRICS.md, Support; DECISIONS.md, Support). -#}
with

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

tickets as (

    select
        ticket_id,
        account_id,
        created_at,
        created_month,
        first_response_at,
        solved_at,
        first_response_minutes,
        resolution_minutes,
        first_response_target_minutes,
        resolution_target_minutes,
        first_response_sla_status,
        resolution_sla_status,
        is_sla_breached,
        csat_status,
        is_open_at_as_of
    from {{ ref('fct_tickets') }}

),

adoption_months as (

    select account_id, month, measured_on, is_partial
    from {{ ref('int_account_adoption_months') }}

),

usage_daily as (

    select account_id, usage_date, mau from {{ ref('fct_account_usage_daily') }}

),

accounts as (

    select account_id, segment, owner_csm_id, plan_name, signup_cohort
    from {{ ref('dim_accounts') }}

),

lifecycle as (

    select account_id, month, lifecycle_stage
    from {{ ref('int_account_lifecycle_monthly') }}

),

ticket_weeks as (

    select account_id, week_month, is_ticket_spike
    from {{ ref('fct_ticket_weeks') }}
    where scope = 'account'

),

uptime as (

    select month, minutes_in_period, incident_minutes, uptime
    from {{ ref('int_service_uptime_monthly') }}

),

-- account-months: adoption months (users or MRR) and months with tickets
ticket_months as (

    select distinct tickets.account_id, tickets.created_month as month
    from tickets

),

account_months as (

    select
        ticket_months.account_id,
        ticket_months.month,
        case
            when ticket_months.month = as_of.as_of_month then as_of.as_of_date
            else {{ cs_metrics.month_end('ticket_months.month') }}
        end as measured_on,
        ticket_months.month = as_of.as_of_month
            and as_of.as_of_date < {{ cs_metrics.month_end('ticket_months.month') }} as is_partial
    from ticket_months
    cross join as_of
    left join adoption_months
        on ticket_months.account_id = adoption_months.account_id
        and ticket_months.month = adoption_months.month
    where adoption_months.account_id is null
    union all
    select account_id, month, measured_on, is_partial
    from adoption_months

),

ticket_facts as (

    select
        account_id,
        created_month as month,
        count(*) as tickets,
        sum(case when csat_status <> 'unrated' then 1 else 0 end) as rated_tickets,
        sum(case when csat_status = 'satisfied' then 1 else 0 end) as satisfied_tickets,
        sum(case when first_response_sla_status in ('met', 'breached') then 1 else 0 end)
            as first_response_sla_decided_tickets,
        sum(case when first_response_sla_status = 'met' then 1 else 0 end)
            as first_response_sla_met_tickets,
        sum(case when resolution_sla_status in ('met', 'breached') then 1 else 0 end)
            as resolution_sla_decided_tickets,
        sum(case when resolution_sla_status = 'met' then 1 else 0 end)
            as resolution_sla_met_tickets,
        sum(case when is_sla_breached then 1 else 0 end) as sla_breached_tickets,
        {{ cs_metrics.cs_median('first_response_minutes') }} as median_first_response_minutes,
        {{ cs_metrics.cs_median('resolution_minutes') }} as median_resolution_minutes
    from tickets
    group by account_id, created_month

),

-- the end of each measurement day (the first moment after it)
account_month_ends as (

    select
        account_id,
        month,
        cast({{ cs_metrics.add_days('measured_on', 1) }} as {{ dbt.type_timestamp() }})
            as measured_end_at
    from account_months

),

-- tickets open at the end of each measurement day and already past a target they had not met
open_tickets_at_month_end as (

    select
        account_month_ends.account_id,
        account_month_ends.month,
        tickets.first_response_at < account_month_ends.measured_end_at as is_responded,
        tickets.first_response_minutes,
        tickets.first_response_target_minutes,
        tickets.resolution_target_minutes,
        cast({{ dbt.datediff('tickets.created_at', 'account_month_ends.measured_end_at', 'second') }}
            as double) / 60 as minutes_open
    from account_month_ends
    inner join tickets
        on account_month_ends.account_id = tickets.account_id
        and tickets.created_at < account_month_ends.measured_end_at
        and (
            tickets.solved_at >= account_month_ends.measured_end_at
            or (tickets.solved_at is null and tickets.is_open_at_as_of)
        )

),

open_breaches as (

    select
        account_id,
        month,
        count(*) as open_breaching_tickets
    from open_tickets_at_month_end
    where
        -- first response late, or still missing past its target
        (is_responded and first_response_minutes > first_response_target_minutes)
        or (coalesce(is_responded, false) = false and minutes_open > first_response_target_minutes)
        -- unsolved past the resolution target
        or minutes_open > resolution_target_minutes
    group by account_id, month

),

spikes as (

    select
        account_id,
        week_month as month,
        sum(case when is_ticket_spike then 1 else 0 end) as ticket_spike_weeks
    from ticket_weeks
    group by account_id, week_month

),

final as (

    select
        account_months.account_id,
        account_months.month,
        account_months.measured_on,
        account_months.is_partial,
        accounts.segment,
        accounts.owner_csm_id,
        accounts.plan_name,
        accounts.signup_cohort,
        coalesce(lifecycle.lifecycle_stage, 'unknown') as lifecycle_stage,
        cast(coalesce(usage_daily.mau, 0) as {{ dbt.type_bigint() }}) as active_users,
        cast(coalesce(ticket_facts.tickets, 0) as {{ dbt.type_bigint() }}) as tickets,
        100 * {{ cs_metrics.safe_ratio('coalesce(ticket_facts.tickets, 0)', 'usage_daily.mau') }}
            as tickets_per_100_active_users,
        cast(coalesce(ticket_facts.rated_tickets, 0) as {{ dbt.type_bigint() }}) as rated_tickets,
        cast(coalesce(ticket_facts.satisfied_tickets, 0) as {{ dbt.type_bigint() }})
            as satisfied_tickets,
        {{ cs_metrics.safe_ratio('ticket_facts.satisfied_tickets', 'ticket_facts.rated_tickets') }}
            as csat,
        cast(coalesce(ticket_facts.first_response_sla_decided_tickets, 0) as {{ dbt.type_bigint() }})
            as first_response_sla_decided_tickets,
        cast(coalesce(ticket_facts.first_response_sla_met_tickets, 0) as {{ dbt.type_bigint() }})
            as first_response_sla_met_tickets,
        {{ cs_metrics.safe_ratio('ticket_facts.first_response_sla_met_tickets',
                                 'ticket_facts.first_response_sla_decided_tickets') }}
            as first_response_sla_attainment,
        cast(coalesce(ticket_facts.resolution_sla_decided_tickets, 0) as {{ dbt.type_bigint() }})
            as resolution_sla_decided_tickets,
        cast(coalesce(ticket_facts.resolution_sla_met_tickets, 0) as {{ dbt.type_bigint() }})
            as resolution_sla_met_tickets,
        {{ cs_metrics.safe_ratio('ticket_facts.resolution_sla_met_tickets',
                                 'ticket_facts.resolution_sla_decided_tickets') }}
            as resolution_sla_attainment,
        cast(coalesce(ticket_facts.sla_breached_tickets, 0) as {{ dbt.type_bigint() }})
            as sla_breached_tickets,
        cast(ticket_facts.median_first_response_minutes as double)
            as median_first_response_minutes,
        cast(ticket_facts.median_resolution_minutes as double) as median_resolution_minutes,
        cast(coalesce(open_breaches.open_breaching_tickets, 0) as {{ dbt.type_bigint() }})
            as open_breaching_tickets,
        cast(coalesce(spikes.ticket_spike_weeks, 0) as {{ dbt.type_bigint() }})
            as ticket_spike_weeks,
        coalesce(spikes.ticket_spike_weeks, 0) > 0 as is_ticket_spike,
        uptime.minutes_in_period,
        uptime.incident_minutes,
        uptime.uptime
    from account_months
    left join accounts
        on account_months.account_id = accounts.account_id
    left join lifecycle
        on account_months.account_id = lifecycle.account_id
        and account_months.month = lifecycle.month
    left join usage_daily
        on account_months.account_id = usage_daily.account_id
        and account_months.measured_on = usage_daily.usage_date
    left join ticket_facts
        on account_months.account_id = ticket_facts.account_id
        and account_months.month = ticket_facts.month
    left join open_breaches
        on account_months.account_id = open_breaches.account_id
        and account_months.month = open_breaches.month
    left join spikes
        on account_months.account_id = spikes.account_id
        and account_months.month = spikes.month
    left join uptime
        on account_months.month = uptime.month

)

select * from final
