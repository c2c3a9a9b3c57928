{#- MRR per account per day: the sum of the monthly-normalised amounts of the recurring lines
    whose service period covers the day (METRICS.md, Revenue), up to the as-of date. -#}
with

recurring_lines as (

    select
        account_id,
        invoice_line_id,
        service_period_start,
        service_period_end,
        mrr_amount
    from {{ ref('int_invoice_lines_normalized_to_months') }}
    where is_recurring
        and service_period_end > service_period_start

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

bounds as (

    select
        min(recurring_lines.service_period_start) as first_day,
        max(as_of.as_of_date) as last_day
    from recurring_lines
    cross join as_of

),

days as (

    {{ cs_metrics.date_series('bounds', 'first_day', 'last_day', 'day', 'date_day') }}

),

-- a line covers the days from its start up to, not including, its (exclusive) end
line_days as (

    select
        recurring_lines.account_id,
        days.date_day,
        recurring_lines.mrr_amount
    from recurring_lines
    inner join days
        on days.date_day >= recurring_lines.service_period_start
        and days.date_day < recurring_lines.service_period_end

),

-- summed at 6 decimals, rounded once to the cent
account_days as (

    select
        account_id,
        date_day,
        {{ cs_metrics.to_money('sum(mrr_amount)') }} as mrr,
        count(*) as recurring_lines
    from line_days
    group by account_id, date_day

),

final as (

    select
        account_id,
        date_day,
        mrr,
        cast(mrr * 12 as decimal(18, 2)) as arr,
        cast(recurring_lines as {{ dbt.type_int() }}) as recurring_lines,
        mrr > 0 as is_paying
    from account_days

)

select * from final
