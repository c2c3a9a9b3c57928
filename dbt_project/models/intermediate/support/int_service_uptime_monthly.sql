{#- One row per month, from the month of the first account or incident to the as-of month:
    the minutes the service was down (status-page incidents, overlapping incidents merged into
    one outage, clipped to the month; an ongoing incident runs to the end of the as-of date),
    the minutes in the month (up to the end of the as-of date in the open month) and uptime
    = 1 - down minutes / minutes in the month (METRICS.md, Uptime). Incidents are company-wide:
    the export names no account (DECISIONS.md, Support). -#}
with

as_of as (

    select
        as_of_date,
        as_of_month,
        cast({{ cs_metrics.add_days('as_of_date', 1) }} as {{ dbt.type_timestamp() }})
            as as_of_end_at
    from {{ ref('int_as_of_date') }}

),

incidents as (

    select
        incidents.incident_id,
        incidents.started_at,
        case
            when incidents.resolved_at is null or incidents.resolved_at > as_of.as_of_end_at
                then as_of.as_of_end_at
            else incidents.resolved_at
        end as ended_at
    from {{ ref('stg_support__incidents') }} as incidents
    cross join as_of
    where incidents.started_at < as_of.as_of_end_at

),

-- gaps and islands: an incident that starts after every earlier one has ended opens a new
-- outage; overlapping incidents share one
ordered as (

    select
        incident_id,
        started_at,
        ended_at,
        max(ended_at) over (
            order by started_at, incident_id
            rows between unbounded preceding and 1 preceding
        ) as previous_latest_end_at
    from incidents

),

numbered as (

    select
        incident_id,
        started_at,
        ended_at,
        sum(
            case
                when previous_latest_end_at is null or started_at >= previous_latest_end_at
                    then 1
                else 0
            end
        ) over (
            order by started_at, incident_id
            rows between unbounded preceding and current row
        ) as outage_number
    from ordered

),

outages as (

    select
        outage_number,
        min(started_at) as started_at,
        max(ended_at) as ended_at,
        count(*) as incidents
    from numbered
    group by outage_number

),

first_days as (

    select min(created_date) as first_day from {{ ref('dim_accounts') }}
    union all
    select min(cast(started_at as date)) as first_day from incidents

),

bounds as (

    select
        {{ cs_metrics.month_start('min(first_days.first_day)') }} as first_month,
        max(as_of.as_of_month) as last_month
    from first_days
    cross join as_of

),

months as (

    select month_day as month
    from (
        {{ cs_metrics.date_series('bounds', 'first_month', 'last_month', 'month', 'month_day') }}
    ) as month_days

),

periods as (

    select
        months.month,
        case
            when months.month = as_of.as_of_month then as_of.as_of_date
            else {{ cs_metrics.month_end('months.month') }}
        end as measured_on,
        months.month = as_of.as_of_month
            and as_of.as_of_date < {{ cs_metrics.month_end('months.month') }} as is_partial,
        cast(months.month as {{ dbt.type_timestamp() }}) as period_start_at,
        case
            when months.month = as_of.as_of_month then as_of.as_of_end_at
            else cast({{ cs_metrics.add_months('months.month', 1) }} as {{ dbt.type_timestamp() }})
        end as period_end_at
    from months
    cross join as_of

),

-- each outage clipped to each month it overlaps, in whole seconds
outage_seconds as (

    select
        periods.month,
        sum(
            {{ dbt.datediff(
                'case when outages.started_at > periods.period_start_at then outages.started_at else periods.period_start_at end',
                'case when outages.ended_at < periods.period_end_at then outages.ended_at else periods.period_end_at end',
                'second') }}
        ) as down_seconds,
        count(*) as outages,
        sum(outages.incidents) as incidents
    from periods
    inner join outages
        on outages.started_at < periods.period_end_at
        and outages.ended_at > periods.period_start_at
    group by periods.month

),

final as (

    select
        periods.month,
        periods.measured_on,
        periods.is_partial,
        cast(coalesce(outage_seconds.outages, 0) as {{ dbt.type_bigint() }}) as outages,
        cast(coalesce(outage_seconds.incidents, 0) as {{ dbt.type_bigint() }}) as incidents,
        cast({{ dbt.datediff('periods.period_start_at', 'periods.period_end_at', 'second') }}
            as double) / 60 as minutes_in_period,
        cast(coalesce(outage_seconds.down_seconds, 0) as double) / 60 as incident_minutes,
        1 - cast(coalesce(outage_seconds.down_seconds, 0) as double)
            / cast({{ dbt.datediff('periods.period_start_at', 'periods.period_end_at', 'second') }}
                as double) as uptime
    from periods
    left join outage_seconds
        on periods.month = outage_seconds.month

)

select * from final
