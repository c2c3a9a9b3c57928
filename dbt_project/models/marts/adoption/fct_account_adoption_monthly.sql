{#- One row per account per month in which it had a provisioned user or MRR, measured on the
    month's last day (the as-of date in the open month): MAU, stickiness, adoption rate, license
    utilization, key-feature breadth, time in product and the usage trend, last 28 days vs the
    28 before (METRICS.md, Adoption), with the account's ARR, segment, owner and plan. -#}
with

account_months as (

    select account_id, month, measured_on, is_partial
    from {{ ref('int_account_adoption_months') }}

),

usage_daily as (

    select
        account_id,
        usage_date,
        usage_month,
        dau,
        wau,
        mau,
        minutes,
        provisioned_users,
        seats_purchased,
        active_user_days_last_28_days,
        events_last_28_days
    from {{ ref('fct_account_usage_daily') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

-- the users' months of use of each feature, with the first day of use in the month
feature_months as (

    select account_id, user_id, activity_month, first_active_date
    from {{ ref('int_user_feature_activity_monthly') }}

),

key_feature_adoption as (

    select account_id, month, is_used
    from {{ ref('fct_account_key_feature_adoption_monthly') }}

),

monthly_mrr as (

    select account_id, month, arr from {{ ref('fct_mrr_monthly') }}

),

accounts as (

    select account_id, segment, owner_csm_id, plan_name
    from {{ ref('dim_accounts') }}

),

-- minutes in product from the month's first day to its measurement day, summed as whole
-- seconds (the daily minutes are seconds / 60) so that the sum does not depend on row order
month_minutes as (

    select
        usage_daily.account_id,
        account_months.month,
        cast(sum(cast(round(usage_daily.minutes * 60, 0) as {{ dbt.type_bigint() }})) as double)
            / 60 as minutes_in_month
    from usage_daily
    inner join account_months
        on usage_daily.account_id = account_months.account_id
        and usage_daily.usage_month = account_months.month
        and usage_daily.usage_date <= account_months.measured_on
    group by usage_daily.account_id, account_months.month

),

-- users active from the month's first day to its measurement day: a month's measurement day
-- is its last day or, in the as-of month, the as-of date, so a user counts when the first day
-- they used some feature in the month is on or before the as-of date (one row per user and
-- feature: counted once per user)
month_active_users as (

    select
        feature_months.account_id,
        feature_months.activity_month as month,
        count(distinct feature_months.user_id) as active_users_in_month
    from feature_months
    cross join as_of
    where feature_months.first_active_date <= as_of.as_of_date
    group by feature_months.account_id, feature_months.activity_month

),

feature_breadth as (

    select
        account_id,
        month,
        sum(case when is_used then 1 else 0 end) as key_features_used,
        count(*) as key_features_available
    from key_feature_adoption
    group by account_id, month

),

measured as (

    select
        account_months.account_id,
        account_months.month,
        account_months.measured_on,
        account_months.is_partial,
        coalesce(on_day.provisioned_users, 0) as provisioned_users,
        coalesce(on_day.seats_purchased, 0) as seats_purchased,
        coalesce(on_day.dau, 0) as dau,
        coalesce(on_day.wau, 0) as wau,
        coalesce(on_day.mau, 0) as active_users_last_28_days,
        coalesce(previous_window.mau, 0) as active_users_previous_28_days,
        coalesce(on_day.events_last_28_days, 0) as events_last_28_days,
        coalesce(previous_window.events_last_28_days, 0) as events_previous_28_days,
        cast(coalesce(on_day.active_user_days_last_28_days, 0) as double) / 28
            as mean_dau_last_28_days,
        coalesce(feature_breadth.key_features_used, 0) as key_features_used,
        coalesce(feature_breadth.key_features_available, 0) as key_features_available,
        coalesce(month_active_users.active_users_in_month, 0) as active_users_in_month,
        coalesce(month_minutes.minutes_in_month, 0) as minutes_in_month
    from account_months
    left join usage_daily as on_day
        on account_months.account_id = on_day.account_id
        and account_months.measured_on = on_day.usage_date
    left join usage_daily as previous_window
        on account_months.account_id = previous_window.account_id
        and previous_window.usage_date
            = {{ cs_metrics.add_days('account_months.measured_on', -28) }}
    left join feature_breadth
        on account_months.account_id = feature_breadth.account_id
        and account_months.month = feature_breadth.month
    left join month_active_users
        on account_months.account_id = month_active_users.account_id
        and account_months.month = month_active_users.month
    left join month_minutes
        on account_months.account_id = month_minutes.account_id
        and account_months.month = month_minutes.month

),

final as (

    select
        measured.account_id,
        measured.month,
        measured.measured_on,
        measured.is_partial,
        accounts.segment,
        accounts.owner_csm_id,
        accounts.plan_name,
        cast(coalesce(monthly_mrr.arr, 0) as decimal(18, 2)) as arr,
        cast(measured.provisioned_users as {{ dbt.type_bigint() }}) as provisioned_users,
        cast(measured.seats_purchased as {{ dbt.type_bigint() }}) as seats_purchased,
        cast(measured.dau as {{ dbt.type_bigint() }}) as dau,
        cast(measured.wau as {{ dbt.type_bigint() }}) as wau,
        cast(measured.active_users_last_28_days as {{ dbt.type_bigint() }}) as mau,
        measured.mean_dau_last_28_days,
        {{ cs_metrics.safe_ratio('measured.mean_dau_last_28_days',
                                 'measured.active_users_last_28_days') }} as stickiness_dau_mau,
        {{ cs_metrics.safe_ratio('measured.wau', 'measured.active_users_last_28_days') }}
            as stickiness_wau_mau,
        {{ cs_metrics.safe_ratio('measured.active_users_last_28_days',
                                 'measured.provisioned_users') }} as adoption_rate,
        case
            when measured.provisioned_users > 0
                then measured.active_users_last_28_days
                    < {{ var('adoption_rate_threshold') }} * measured.provisioned_users
        end as is_below_adoption_threshold,
        {{ cs_metrics.safe_ratio('measured.active_users_last_28_days',
                                 'measured.seats_purchased') }} as license_utilization,
        cast(measured.key_features_used as {{ dbt.type_bigint() }}) as key_features_used,
        cast(measured.key_features_available as {{ dbt.type_bigint() }}) as key_features_available,
        {{ cs_metrics.safe_ratio('measured.key_features_used',
                                 'measured.key_features_available') }} as feature_breadth,
        cast(measured.active_users_in_month as {{ dbt.type_bigint() }}) as active_users_in_month,
        cast(measured.minutes_in_month as double) as minutes_in_month,
        {{ cs_metrics.safe_ratio('measured.minutes_in_month', 'measured.active_users_in_month') }}
            as time_in_product_minutes_per_active_user,
        cast(measured.active_users_last_28_days as {{ dbt.type_bigint() }})
            as active_users_last_28_days,
        cast(measured.active_users_previous_28_days as {{ dbt.type_bigint() }})
            as active_users_previous_28_days,
        {{ cs_metrics.safe_ratio('measured.active_users_last_28_days',
                                 'measured.active_users_previous_28_days') }} - 1 as usage_trend,
        cast(measured.events_last_28_days as {{ dbt.type_bigint() }}) as events_last_28_days,
        cast(measured.events_previous_28_days as {{ dbt.type_bigint() }})
            as events_previous_28_days,
        {{ cs_metrics.safe_ratio('measured.events_last_28_days',
                                 'measured.events_previous_28_days') }} - 1 as events_trend,
        -- exact (DECIMAL) comparison: last <= (1 - threshold) * previous, previous > 0
        coalesce(
            measured.active_users_previous_28_days > 0
            and measured.active_users_last_28_days
                <= (1 - {{ var('usage_drop_threshold') }}) * measured.active_users_previous_28_days,
            false
        ) as is_usage_drop,
        coalesce(
            measured.events_previous_28_days > 0
            and measured.events_last_28_days
                <= (1 - {{ var('usage_drop_threshold') }}) * measured.events_previous_28_days,
            false
        ) as is_events_drop
    from measured
    left join monthly_mrr
        on measured.account_id = monthly_mrr.account_id
        and measured.month = monthly_mrr.month
    left join accounts
        on measured.account_id = accounts.account_id

)

select * from final
