{#- One row per month and slice (all, segment, csm_owner, lifecycle_stage, plan,
    signup_cohort): tickets, tickets per 100 active users, CSAT, first-response and resolution
    SLA attainment, median first-response and resolution minutes, tickets open and in breach at
    the end of the measurement day, accounts with a ticket spike, and uptime
    (METRICS.md, Support). Counts are sums over fct_account_support_monthly, rates are divided
    last; medians are over the slice's tickets. The company-wide spike flag (the weekly series
    of all tickets) is on the `all` rows. Segment, owner, plan and cohort are the account's
    current ones (dim_accounts), its lifecycle stage the month's. -#}
with

account_months as (

    select
        account_id,
        month,
        measured_on,
        is_partial,
        segment,
        owner_csm_id,
        plan_name,
        signup_cohort,
        lifecycle_stage,
        active_users,
        tickets,
        rated_tickets,
        satisfied_tickets,
        first_response_sla_decided_tickets,
        first_response_sla_met_tickets,
        resolution_sla_decided_tickets,
        resolution_sla_met_tickets,
        sla_breached_tickets,
        open_breaching_tickets,
        is_ticket_spike
    from {{ ref('fct_account_support_monthly') }}

),

tickets as (

    select account_id, created_month, first_response_minutes, resolution_minutes
    from {{ ref('fct_tickets') }}

),

company_weeks as (

    select week_month, is_ticket_spike
    from {{ ref('fct_ticket_weeks') }}
    where scope = 'company'

),

uptime as (

    select month, minutes_in_period, incident_minutes, uptime
    from {{ ref('int_service_uptime_monthly') }}

),

account_slices as (

    select account_id, month, 'all' as slice_type, 'all' as slice_value
    from account_months
    union all
    select account_id, month, 'segment' as slice_type,
        coalesce(segment, 'unknown') as slice_value
    from account_months
    union all
    select account_id, month, 'csm_owner' as slice_type,
        coalesce(owner_csm_id, 'unassigned') as slice_value
    from account_months
    union all
    select account_id, month, 'lifecycle_stage' as slice_type, lifecycle_stage as slice_value
    from account_months
    union all
    select account_id, month, 'plan' as slice_type,
        coalesce(plan_name, 'unknown') as slice_value
    from account_months
    union all
    select account_id, month, 'signup_cohort' as slice_type,
        coalesce(
            substring(cast(signup_cohort as {{ dbt.type_string() }}), 1, 7),
            'never_paid'
        ) as slice_value
    from account_months

),

slice_counts as (

    select
        account_slices.month,
        account_slices.slice_type,
        account_slices.slice_value,
        max(account_months.measured_on) as measured_on,
        max(case when account_months.is_partial then 1 else 0 end) = 1 as is_partial,
        count(*) as accounts,
        sum(case when account_months.tickets > 0 then 1 else 0 end) as accounts_with_tickets,
        sum(account_months.active_users) as active_users,
        sum(account_months.tickets) as tickets,
        sum(account_months.rated_tickets) as rated_tickets,
        sum(account_months.satisfied_tickets) as satisfied_tickets,
        sum(account_months.first_response_sla_decided_tickets)
            as first_response_sla_decided_tickets,
        sum(account_months.first_response_sla_met_tickets) as first_response_sla_met_tickets,
        sum(account_months.resolution_sla_decided_tickets) as resolution_sla_decided_tickets,
        sum(account_months.resolution_sla_met_tickets) as resolution_sla_met_tickets,
        sum(account_months.sla_breached_tickets) as sla_breached_tickets,
        sum(account_months.open_breaching_tickets) as open_breaching_tickets,
        sum(case when account_months.is_ticket_spike then 1 else 0 end)
            as accounts_with_ticket_spike
    from account_slices
    inner join account_months
        on account_slices.account_id = account_months.account_id
        and account_slices.month = account_months.month
    group by account_slices.month, account_slices.slice_type, account_slices.slice_value

),

slice_medians as (

    select
        account_slices.month,
        account_slices.slice_type,
        account_slices.slice_value,
        {{ cs_metrics.cs_median('tickets.first_response_minutes') }}
            as median_first_response_minutes,
        {{ cs_metrics.cs_median('tickets.resolution_minutes') }} as median_resolution_minutes
    from account_slices
    inner join tickets
        on account_slices.account_id = tickets.account_id
        and account_slices.month = tickets.created_month
    group by account_slices.month, account_slices.slice_type, account_slices.slice_value

),

company_spikes as (

    select
        week_month as month,
        sum(case when is_ticket_spike then 1 else 0 end) as company_ticket_spike_weeks
    from company_weeks
    group by week_month

),

final as (

    select
        slice_counts.month,
        slice_counts.slice_type,
        slice_counts.slice_value,
        slice_counts.measured_on,
        slice_counts.is_partial,
        cast(slice_counts.accounts as {{ dbt.type_bigint() }}) as accounts,
        cast(slice_counts.accounts_with_tickets as {{ dbt.type_bigint() }})
            as accounts_with_tickets,
        cast(slice_counts.active_users as {{ dbt.type_bigint() }}) as active_users,
        cast(slice_counts.tickets as {{ dbt.type_bigint() }}) as tickets,
        100 * {{ cs_metrics.safe_ratio('slice_counts.tickets', 'slice_counts.active_users') }}
            as tickets_per_100_active_users,
        cast(slice_counts.rated_tickets as {{ dbt.type_bigint() }}) as rated_tickets,
        cast(slice_counts.satisfied_tickets as {{ dbt.type_bigint() }}) as satisfied_tickets,
        {{ cs_metrics.safe_ratio('slice_counts.satisfied_tickets', 'slice_counts.rated_tickets') }}
            as csat,
        cast(slice_counts.first_response_sla_decided_tickets as {{ dbt.type_bigint() }})
            as first_response_sla_decided_tickets,
        cast(slice_counts.first_response_sla_met_tickets as {{ dbt.type_bigint() }})
            as first_response_sla_met_tickets,
        {{ cs_metrics.safe_ratio('slice_counts.first_response_sla_met_tickets',
                                 'slice_counts.first_response_sla_decided_tickets') }}
            as first_response_sla_attainment,
        cast(slice_counts.resolution_sla_decided_tickets as {{ dbt.type_bigint() }})
            as resolution_sla_decided_tickets,
        cast(slice_counts.resolution_sla_met_tickets as {{ dbt.type_bigint() }})
            as resolution_sla_met_tickets,
        {{ cs_metrics.safe_ratio('slice_counts.resolution_sla_met_tickets',
                                 'slice_counts.resolution_sla_decided_tickets') }}
            as resolution_sla_attainment,
        cast(slice_counts.sla_breached_tickets as {{ dbt.type_bigint() }})
            as sla_breached_tickets,
        cast(slice_medians.median_first_response_minutes as double)
            as median_first_response_minutes,
        cast(slice_medians.median_resolution_minutes as double) as median_resolution_minutes,
        cast(slice_counts.open_breaching_tickets as {{ dbt.type_bigint() }})
            as open_breaching_tickets,
        cast(slice_counts.accounts_with_ticket_spike as {{ dbt.type_bigint() }})
            as accounts_with_ticket_spike,
        case
            when slice_counts.slice_type = 'all'
                then cast(coalesce(company_spikes.company_ticket_spike_weeks, 0)
                    as {{ dbt.type_bigint() }})
        end as company_ticket_spike_weeks,
        case
            when slice_counts.slice_type = 'all'
                then coalesce(company_spikes.company_ticket_spike_weeks, 0) > 0
        end as is_company_ticket_spike,
        uptime.minutes_in_period,
        uptime.incident_minutes,
        uptime.uptime
    from slice_counts
    left join slice_medians
        on slice_counts.month = slice_medians.month
        and slice_counts.slice_type = slice_medians.slice_type
        and slice_counts.slice_value = slice_medians.slice_value
    left join company_spikes
        on slice_counts.month = company_spikes.month
    left join uptime
        on slice_counts.month = uptime.month

)

select * from final
