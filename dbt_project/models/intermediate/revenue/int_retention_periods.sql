{#- The reporting windows of retention metrics: every month, quarter, year to date (as at each
    month-end) and trailing 12 months from the first billed month to the as-of month. A window
    compares month-end ARR at t0 (the day before period_start) with t1 (period_end: the last
    day of its last month, or the as-of date when the window is still open). -#}
with

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

first_billed as (

    select min({{ cs_metrics.month_start('service_period_start') }}) as first_month
    from {{ ref('int_invoice_lines_normalized_to_months') }}
    where is_recurring

),

bounds as (

    select
        first_billed.first_month,
        as_of.as_of_month as last_month
    from first_billed
    cross join as_of

),

months as (

    {{ cs_metrics.date_series('bounds', 'first_month', 'last_month', 'month', 'month') }}

),

monthly_windows as (

    select
        'month' as period_type,
        month as period_start,
        month as period_last_month,
        {{ cs_metrics.month_end('month') }} as calendar_period_end
    from months

),

quarterly_windows as (

    select distinct
        'quarter' as period_type,
        {{ cs_metrics.quarter_start('month') }} as period_start,
        {{ cs_metrics.add_months(cs_metrics.quarter_start('month'), 2) }} as period_last_month,
        {{ cs_metrics.month_end(cs_metrics.add_months(cs_metrics.quarter_start('month'), 2)) }}
            as calendar_period_end
    from months

),

year_to_date_windows as (

    select
        'year_to_date' as period_type,
        {{ cs_metrics.year_start('month') }} as period_start,
        month as period_last_month,
        {{ cs_metrics.month_end('month') }} as calendar_period_end
    from months

),

trailing_12_month_windows as (

    select
        'trailing_12_months' as period_type,
        {{ cs_metrics.add_months('month', -11) }} as period_start,
        month as period_last_month,
        {{ cs_metrics.month_end('month') }} as calendar_period_end
    from months

),

windows as (

    select * from monthly_windows
    union all
    select * from quarterly_windows
    union all
    select * from year_to_date_windows
    union all
    select * from trailing_12_month_windows

),

-- an open window ends at the as-of date, in the as-of month
final as (

    select
        windows.period_type,
        windows.period_start,
        case
            when windows.calendar_period_end > as_of.as_of_date then as_of.as_of_date
            else windows.calendar_period_end
        end as period_end,
        case
            when windows.period_last_month > as_of.as_of_month then as_of.as_of_month
            else windows.period_last_month
        end as period_last_month,
        {{ cs_metrics.add_months('windows.period_start', -1) }} as starting_month,
        {{ cs_metrics.add_days('windows.period_start', -1) }} as starting_date,
        windows.calendar_period_end,
        as_of.as_of_date < windows.calendar_period_end as is_partial
    from windows
    cross join as_of

)

select * from final
