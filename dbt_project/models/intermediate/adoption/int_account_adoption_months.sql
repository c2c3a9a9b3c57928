{#- One row per account per month in which the account had a provisioned (not deactivated)
    user or month-end MRR > 0, up to the as-of month, with the month's measurement day: its
    last day, or the as-of date in the open as-of month (is_partial). -#}
with

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

users as (

    select account_id, provisioned_date, deactivated_date
    from {{ ref('stg_product__users') }}

),

monthly_mrr as (

    select account_id, month from {{ ref('fct_mrr_monthly') }}
    where mrr > 0

),

user_bounds as (

    select min(provisioned_date) as first_day from users

),

mrr_bounds as (

    select min(month) as first_day from monthly_mrr

),

bounds as (

    select
        least(
            coalesce(user_bounds.first_day, as_of.as_of_date),
            coalesce(mrr_bounds.first_day, as_of.as_of_date)
        ) as first_day,
        as_of.as_of_date as last_day
    from as_of
    cross join user_bounds
    cross join mrr_bounds

),

months as (

    select {{ cs_metrics.month_start('month_day') }} as month
    from (
        {{ cs_metrics.date_series('bounds', cs_metrics.month_start('first_day'), 'last_day',
                                  'month', 'month_day') }}
    ) as month_days

),

measured_months as (

    select
        months.month,
        case
            when {{ cs_metrics.month_end('months.month') }} < as_of.as_of_date
                then {{ cs_metrics.month_end('months.month') }}
            else as_of.as_of_date
        end as measured_on,
        as_of.as_of_date < {{ cs_metrics.month_end('months.month') }} as is_partial
    from months
    cross join as_of

),

-- months in which a user was provisioned on at least one day up to the measurement day:
-- provisioned on or before it and not deactivated on or before the month's first day
user_months as (

    select distinct
        users.account_id,
        measured_months.month
    from users
    inner join measured_months
        on users.provisioned_date <= measured_months.measured_on
        and (users.deactivated_date is null
             or users.deactivated_date > measured_months.month)

),

account_months as (

    select account_id, month from user_months
    union
    select monthly_mrr.account_id, monthly_mrr.month
    from monthly_mrr
    inner join measured_months
        on monthly_mrr.month = measured_months.month

),

final as (

    select
        account_months.account_id,
        account_months.month,
        measured_months.measured_on,
        measured_months.is_partial
    from account_months
    inner join measured_months
        on account_months.month = measured_months.month

)

select * from final
