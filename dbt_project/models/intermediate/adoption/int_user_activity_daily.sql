{#- One row per user per day with at least one usage event (an active user-day), with the
    day's events and time in product (whole seconds; minutes = seconds / 60).

    Incremental (DECISIONS.md, Adoption): the events are aggregated once; a run rewrites whole
    months from the month of the latest stored day (it may have grown) and reads only the
    events from that month on, so a daily run reads about a month of events, and the models and
    tests over it read user-days, not events. Independent of the as-of date: every event day is
    kept; the models that read it filter on their as-of date. -#}
{{ config(
    materialized='incremental',
    unique_key='activity_month',
    partition_by=(['activity_month'] if target.type == 'spark' else none),
    on_schema_change='fail',
) }}

{%- set rewrite_from = cs_metrics.rewrite_from_latest_month('activity_month', 'activity_date') -%}


with

events as (

    select
        user_id,
        account_id,
        event_date,
        duration_seconds
    from {{ ref('stg_product__usage_events') }}
    {%- if rewrite_from %}
    where event_date >= cast('{{ rewrite_from }}' as date)
    {%- endif %}

),

final as (

    select
        account_id,
        user_id,
        event_date as activity_date,
        {{ cs_metrics.month_start('event_date') }} as activity_month,
        count(*) as events,
        cast(coalesce(sum(duration_seconds), 0) as {{ dbt.type_bigint() }}) as seconds,
        cast(coalesce(sum(duration_seconds), 0) as double) / 60 as minutes
    from events
    group by
        account_id,
        user_id,
        event_date,
        {{ cs_metrics.month_start('event_date') }}

)

select * from final
