{#- Month-end MRR per account per month, from the account's first month with a recurring line
    to the as-of month. Month-end = the month's last day, or the as-of date in the as-of month. -#}
with

daily as (

    select
        account_id,
        date_day,
        mrr,
        recurring_lines
    from {{ ref('fct_mrr_daily') }}

),

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

account_first_months as (

    select
        account_id,
        {{ cs_metrics.month_start('min(date_day)') }} as first_month
    from daily
    group by account_id

),

bounds as (

    select
        min(account_first_months.first_month) as first_month,
        max(as_of.as_of_month) as last_month
    from account_first_months
    cross join as_of

),

months as (

    {{ cs_metrics.date_series('bounds', 'first_month', 'last_month', 'month', 'month') }}

),

account_months as (

    select
        account_first_months.account_id,
        months.month,
        case
            when {{ cs_metrics.month_end('months.month') }} < as_of.as_of_date
                then {{ cs_metrics.month_end('months.month') }}
            else as_of.as_of_date
        end as measured_on,
        as_of.as_of_date < {{ cs_metrics.month_end('months.month') }} as is_partial
    from account_first_months
    inner join months
        on months.month >= account_first_months.first_month
    cross join as_of

),

final as (

    select
        account_months.account_id,
        account_months.month,
        account_months.measured_on,
        cast(coalesce(daily.mrr, 0) as decimal(18, 2)) as mrr,
        cast(coalesce(daily.mrr, 0) * 12 as decimal(18, 2)) as arr,
        daily.account_id is not null as is_customer,
        coalesce(daily.mrr, 0) > 0 as is_paying,
        account_months.is_partial
    from account_months
    left join daily
        on account_months.account_id = daily.account_id
        and account_months.measured_on = daily.date_day

)

select * from final
