{#- One row per user per feature per month in which the user used the feature: the first and
    last day of use in the month and the month's events of that feature.

    Incremental like int_user_activity_daily (DECISIONS.md, Adoption): a run rewrites whole
    months from the month of the latest stored day and reads only those months' events. Every
    feature and every event day is kept whatever the as-of date; readers pick their features
    and cut at their as-of date. Key-feature adoption reads closed months from here (a user
    counts for a month when the last day of use falls in its last 28 days) instead of every
    usage event of history. -#}
{{ config(
    materialized='incremental',
    unique_key='activity_month',
    partition_by=(['activity_month'] if target.type == 'spark' else none),
    on_schema_change='fail',
) }}

{%- set rewrite_from = cs_metrics.rewrite_from_latest_month('activity_month', 'last_active_date') -%}


with

events as (

    select
        account_id,
        user_id,
        feature_key,
        event_date
    from {{ ref('stg_product__usage_events') }}
    {%- if rewrite_from %}
    where event_date >= cast('{{ rewrite_from }}' as date)
    {%- endif %}

),

final as (

    select
        account_id,
        user_id,
        feature_key,
        {{ cs_metrics.month_start('event_date') }} as activity_month,
        min(event_date) as first_active_date,
        max(event_date) as last_active_date,
        count(*) as events
    from events
    group by
        account_id,
        user_id,
        feature_key,
        {{ cs_metrics.month_start('event_date') }}

)

select * from final
