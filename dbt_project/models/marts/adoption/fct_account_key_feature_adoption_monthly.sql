{#- One row per account per month per key feature available on the month's measurement day:
    the users who used the feature in the 28 days ending on the measurement day and their
    share of the account's MAU (METRICS.md, Adoption, key-feature adoption). -#}
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

key_feature_user_days as (

    select distinct
        events.account_id,
        events.user_id,
        events.feature_key,
        events.event_date
    from {{ ref('stg_product__usage_events') }} as events
    inner join key_features
        on events.feature_key = key_features.feature_key
    cross join as_of
    where events.event_date <= as_of.as_of_date

),

-- the measurement windows a day falls in: the last 28 days of its own month (the 28 days
-- up to the as-of date in the as-of month), and the as-of window for the days just before
-- the as-of month. A closed month's window never leaves the month (months have >= 28 days).
windowed_user_days as (

    select
        key_feature_user_days.account_id,
        key_feature_user_days.user_id,
        key_feature_user_days.feature_key,
        case
            when {{ cs_metrics.month_start('key_feature_user_days.event_date') }}
                < as_of.as_of_month
                then {{ cs_metrics.month_end('key_feature_user_days.event_date') }}
            else as_of.as_of_date
        end as measured_on,
        key_feature_user_days.event_date
    from key_feature_user_days
    cross join as_of
    union all
    select
        key_feature_user_days.account_id,
        key_feature_user_days.user_id,
        key_feature_user_days.feature_key,
        as_of.as_of_date as measured_on,
        key_feature_user_days.event_date
    from key_feature_user_days
    cross join as_of
    where key_feature_user_days.event_date < as_of.as_of_month

),

feature_users as (

    select
        account_id,
        measured_on,
        feature_key,
        count(distinct user_id) as key_feature_users
    from windowed_user_days
    where event_date >= {{ cs_metrics.add_days('measured_on', -27) }}
    group by account_id, measured_on, feature_key

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
