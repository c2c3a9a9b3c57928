{#- One row per account per month per key feature available on the month's measurement day:
    the users who used the feature in the 28 days ending on the measurement day and their
    share of the account's MAU (METRICS.md, Adoption, key-feature adoption). Closed months
    come from the users' months of use (int_user_feature_activity_monthly), so only the as-of
    month's events are read here. -#}
with

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

account_months as (

    select account_id, month, measured_on, is_partial
    from {{ ref('int_account_adoption_months') }}

),

key_features as (

    select feature_key, feature_name, released_date
    from {{ ref('stg_product__features') }}
    where is_key_feature

),

usage_on_measured_days as (

    select account_id, usage_date, mau
    from {{ ref('fct_account_usage_daily') }}

),

-- a user's months of use of a key feature before the as-of month (every day of them is on
-- or before the as-of date), with the last day of use in the month
closed_feature_months as (

    select
        feature_months.account_id,
        feature_months.user_id,
        feature_months.feature_key,
        feature_months.activity_month,
        feature_months.last_active_date
    from {{ ref('int_user_feature_activity_monthly') }} as feature_months
    inner join key_features
        on feature_months.feature_key = key_features.feature_key
    cross join as_of
    where feature_months.activity_month < as_of.as_of_month

),

-- a closed month is measured on its last day, and its window never leaves the month (months
-- have >= 28 days): the user counts when the month's last day of use is in its last 28 days
closed_month_users as (

    select
        account_id,
        {{ cs_metrics.month_end('activity_month') }} as measured_on,
        feature_key,
        count(*) as key_feature_users
    from closed_feature_months
    where last_active_date >= {{ cs_metrics.add_days(cs_metrics.month_end('activity_month'), -27) }}
    group by account_id, {{ cs_metrics.month_end('activity_month') }}, feature_key

),

-- the as-of window, the 28 days ending on the as-of date: the as-of month's days of use up to
-- the as-of date (from the events: that month may run past the as-of date), and the last days
-- of the month before (27 days back never reach further)
as_of_window_user_rows as (

    select
        closed_feature_months.account_id,
        closed_feature_months.user_id,
        closed_feature_months.feature_key
    from closed_feature_months
    cross join as_of
    where closed_feature_months.activity_month = {{ cs_metrics.add_months('as_of.as_of_month', -1) }}
        and closed_feature_months.last_active_date >= {{ cs_metrics.add_days('as_of.as_of_date', -27) }}
    union all
    select
        events.account_id,
        events.user_id,
        events.feature_key
    from {{ ref('stg_product__usage_events') }} as events
    inner join key_features
        on events.feature_key = key_features.feature_key
    cross join as_of
    where events.event_date >= as_of.as_of_month
        and events.event_date <= as_of.as_of_date
        and events.event_date >= {{ cs_metrics.add_days('as_of.as_of_date', -27) }}

),

feature_users as (

    select account_id, measured_on, feature_key, key_feature_users
    from closed_month_users
    union all
    select
        as_of_window_user_rows.account_id,
        as_of.as_of_date as measured_on,
        as_of_window_user_rows.feature_key,
        count(distinct as_of_window_user_rows.user_id) as key_feature_users
    from as_of_window_user_rows
    cross join as_of
    group by
        as_of_window_user_rows.account_id,
        as_of.as_of_date,
        as_of_window_user_rows.feature_key

),

final as (

    select
        account_months.account_id,
        account_months.month,
        key_features.feature_key,
        key_features.feature_name,
        account_months.measured_on,
        account_months.is_partial,
        cast(coalesce(feature_users.key_feature_users, 0) as {{ dbt.type_bigint() }})
            as key_feature_users,
        cast(coalesce(usage_on_measured_days.mau, 0) as {{ dbt.type_bigint() }})
            as active_users_last_28_days,
        coalesce(feature_users.key_feature_users, 0) > 0 as is_used,
        {{ cs_metrics.safe_ratio('coalesce(feature_users.key_feature_users, 0)',
                                 'usage_on_measured_days.mau') }} as key_feature_adoption_rate
    from account_months
    inner join key_features
        on key_features.released_date is null
        or key_features.released_date <= account_months.measured_on
    left join feature_users
        on account_months.account_id = feature_users.account_id
        and account_months.measured_on = feature_users.measured_on
        and key_features.feature_key = feature_users.feature_key
    left join usage_on_measured_days
        on account_months.account_id = usage_on_measured_days.account_id
        and account_months.measured_on = usage_on_measured_days.usage_date

)

select * from final
