{#- One row per user per day with at least one usage event (an active user-day), with the
    day's events and time in product (whole seconds; minutes = seconds / 60). A view: the
    incremental fct_account_usage_daily filters it on activity_date, and the filter reaches the
    events scan, so a daily run reads only the days it recomputes. -#}
{{ config(materialized='view') }}

with

events as (

    select
        user_id,
        account_id,
        event_date,
        duration_seconds
    from {{ ref('stg_product__usage_events') }}

),

final as (

    select
        account_id,
        user_id,
        event_date as activity_date,
        count(*) as events,
        cast(coalesce(sum(duration_seconds), 0) as {{ dbt.type_bigint() }}) as seconds,
        cast(coalesce(sum(duration_seconds), 0) as double) / 60 as minutes
    from events
    group by
        account_id,
        user_id,
        event_date

)

select * from final
