{#- One row per support ticket created on or before the as-of date: its first-response and
    resolution minutes, the SLA targets of its priority, met or breached for each, its CSAT
    status, and whether it is open and already in breach at the end of the as-of date
    (METRICS.md, Support; DECISIONS.md, Support). A target is met when the time is at most the
    target (exactly at the target is met); an open ticket is in breach as soon as the time
    elapsed by the end of the as-of date exceeds a target it has not met yet. -#}
with

as_of as (

    select
        as_of_date,
        -- the end of the as-of date (the first moment after it): everything up to it happened
        cast({{ cs_metrics.add_days('as_of_date', 1) }} as {{ dbt.type_timestamp() }})
            as as_of_end_at
    from {{ ref('int_as_of_date') }}

),

tickets as (

    select
        ticket_id,
        account_id,
        priority,
        status,
        is_solved,
        csat_score,
        created_at,
        created_date,
        first_response_at,
        solved_at
    from {{ ref('stg_support__tickets') }}

),

sla_policies as (

    select priority, first_response_target_minutes, resolution_target_minutes
    from {{ ref('stg_support__sla_policies') }}

),

-- tickets known at the as-of date; a response or a solve after it has not happened yet
tickets_as_of as (

    select
        tickets.ticket_id,
        tickets.account_id,
        tickets.priority,
        tickets.status,
        tickets.csat_score,
        tickets.created_at,
        tickets.created_date,
        case
            when tickets.first_response_at < as_of.as_of_end_at then tickets.first_response_at
        end as first_response_at,
        case
            when tickets.solved_at < as_of.as_of_end_at then tickets.solved_at
        end as solved_at,
        -- solved by the as-of date; a ticket exported as solved without a solve time counts
        -- as solved (its resolution time is unknown)
        case
            when tickets.solved_at is not null then tickets.solved_at < as_of.as_of_end_at
            else tickets.is_solved
        end as is_solved_at_as_of,
        as_of.as_of_date,
        cast({{ dbt.datediff('tickets.created_at', 'as_of.as_of_end_at', 'second') }} as double)
            / 60 as minutes_elapsed_at_as_of
    from tickets
    cross join as_of
    where tickets.created_at < as_of.as_of_end_at

),

timed as (

    select
        tickets_as_of.*,
        case
            when first_response_at is not null
                then cast(
                    {{ dbt.datediff('created_at', 'first_response_at', 'second') }} as double
                ) / 60
        end as first_response_minutes,
        case
            when solved_at is not null
                then cast({{ dbt.datediff('created_at', 'solved_at', 'second') }} as double) / 60
        end as resolution_minutes,
        sla_policies.first_response_target_minutes,
        sla_policies.resolution_target_minutes
    from tickets_as_of
    left join sla_policies
        on tickets_as_of.priority = sla_policies.priority

),

classified as (

    select
        timed.*,
        -- met: at most the target; breached: over it, or still waiting past it
        case
            when first_response_target_minutes is null then 'no_target'
            when first_response_minutes is not null
                then case
                    when first_response_minutes <= first_response_target_minutes then 'met'
                    else 'breached'
                end
            when minutes_elapsed_at_as_of > first_response_target_minutes then 'breached'
            else 'pending'
        end as first_response_sla_status,
        case
            when resolution_target_minutes is null then 'no_target'
            when resolution_minutes is not null
                then case
                    when resolution_minutes <= resolution_target_minutes then 'met'
                    else 'breached'
                end
            when is_solved_at_as_of then 'unknown'
            when minutes_elapsed_at_as_of > resolution_target_minutes then 'breached'
            else 'pending'
        end as resolution_sla_status,
        case
            when csat_score is null then 'unrated'
            when csat_score >= {{ var('csat_satisfied_min_score') }} then 'satisfied'
            else 'not_satisfied'
        end as csat_status
    from timed

),

final as (

    select
        ticket_id,
        account_id,
        priority,
        status,
        created_at,
        created_date,
        {{ cs_metrics.month_start('created_date') }} as created_month,
        cast({{ dbt.date_trunc('week', 'created_date') }} as date) as created_week,
        first_response_at,
        solved_at,
        first_response_minutes,
        resolution_minutes,
        first_response_target_minutes,
        resolution_target_minutes,
        first_response_sla_status,
        resolution_sla_status,
        case first_response_sla_status
            when 'met' then true
            when 'breached' then false
        end as is_first_response_sla_met,
        case resolution_sla_status
            when 'met' then true
            when 'breached' then false
        end as is_resolution_sla_met,
        first_response_sla_status = 'breached' or resolution_sla_status = 'breached'
            as is_sla_breached,
        csat_score,
        csat_status,
        case when csat_status = 'satisfied' then true when csat_status = 'not_satisfied' then false end
            as is_csat_satisfied,
        not is_solved_at_as_of as is_open_at_as_of,
        case when not is_solved_at_as_of then minutes_elapsed_at_as_of end
            as minutes_open_at_as_of,
        not is_solved_at_as_of
            and (first_response_sla_status = 'breached' or resolution_sla_status = 'breached')
            as is_open_and_breaching,
        as_of_date
    from classified

)

select * from final
