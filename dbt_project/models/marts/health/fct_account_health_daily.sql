{#- One row per account per snapshot date, where the snapshot date is the as-of date of each run
    (the history of published scores, kept across runs): every customer on that day (a recurring
    line covers it, trials included) with its component scores, health score, coverage, band, top
    drag, the change over 7 and 30 days against the stored history, the trend arrow and the
    configuration version (METRICS.md, Health score; DECISIONS.md, Health score).

    Incremental by snapshot date: DuckDB delete+insert on `snapshot_date`, Spark insert_overwrite
    of the `snapshot_date` partition, so a rerun for the same date replaces that date and older
    dates stay. `full_refresh: false`: the history cannot be rebuilt from the exports (it is what
    was published on each day), so `--full-refresh` does not drop it.

    The as-of date is read with scalar subqueries, not a cross join: Spark 3.5's join reordering
    fails an internal assertion on this model's cross joins with one-row fixtures (unit tests).

    Change over N days = score now - the stored score of the latest snapshot date on or before
    (as-of - N) and not before (as-of - N - health_change_max_gap_days); NULL without one. -#}
{{ config(
    materialized='incremental',
    unique_key='snapshot_date',
    partition_by=(['snapshot_date'] if target.type == 'spark' else none),
    on_schema_change='fail',
    full_refresh=false,
) }}
{%- set components = ['adoption', 'usage_trend', 'support', 'voice', 'relationship',
                      'csm_pulse', 'financial'] %}
with

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

scores as (

    select
        scores.account_id,
        scores.snapshot_date,
        scores.arr,
        scores.is_paying,
        {%- for component in components %}
        scores.{{ component }}_score,
        {%- endfor %}
        scores.components_with_data,
        scores.health_score,
        scores.coverage,
        scores.health_band,
        scores.top_drag,
        scores.top_drag_points,
        scores.health_config_version
    from {{ ref('int_account_health_scores') }} as scores
    where scores.is_customer
        and scores.snapshot_date = (select as_of_date from as_of)

),

accounts as (

    select account_id, segment, owner_csm_id from {{ ref('dim_accounts') }}

),

lifecycle as (

    select account_id, lifecycle_stage
    from {{ ref('int_account_lifecycle_monthly') }}
    where month = (select as_of_month from as_of)

),

-- scores published by earlier runs (before this run's date)
history as (

    {%- if is_incremental() %}
    select stored.account_id, stored.snapshot_date, stored.health_score
    from {{ this }} as stored
    where stored.snapshot_date < (select as_of_date from as_of)
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as account_id,
        cast(null as date) as snapshot_date,
        cast(null as double) as health_score
    from as_of
    where 1 = 0
    {%- endif %}

),

{%- for days in [7, 30] %}

reference_{{ days }}d as (

    select account_id, snapshot_date, health_score
    from (
        select
            history.account_id,
            history.snapshot_date,
            history.health_score,
            row_number() over (
                partition by history.account_id order by history.snapshot_date desc
            ) as recency
        from history
        where history.snapshot_date
                <= {{ cs_metrics.add_days('(select as_of_date from as_of)', - days) }}
            and history.snapshot_date >= {{ cs_metrics.add_days(
                '(select as_of_date from as_of)', - days - var('health_change_max_gap_days')) }}
    ) as candidates
    where recency = 1

),
{%- endfor %}

final as (

    select
        scores.account_id,
        accounts.segment,
        accounts.owner_csm_id,
        coalesce(lifecycle.lifecycle_stage, 'unknown') as lifecycle_stage,
        scores.arr,
        scores.is_paying,
        {%- for component in components %}
        scores.{{ component }}_score,
        {%- endfor %}
        scores.components_with_data,
        scores.health_score,
        scores.coverage,
        scores.health_band,
        scores.top_drag,
        scores.top_drag_points,
        {%- for days in [7, 30] %}
        reference_{{ days }}d.snapshot_date as compared_date_{{ days }}d,
        reference_{{ days }}d.health_score as health_score_{{ days }}d_before,
        scores.health_score - reference_{{ days }}d.health_score as health_score_change_{{ days }}d,
        {%- endfor %}
        case
            when scores.health_score - reference_7d.health_score
                >= {{ var('health_trend_dead_band_points') }} then 'up'
            when scores.health_score - reference_7d.health_score
                <= - {{ var('health_trend_dead_band_points') }} then 'down'
            when scores.health_score - reference_7d.health_score is not null then 'flat'
        end as health_trend,
        scores.health_config_version,
        scores.snapshot_date
    from scores
    left join accounts
        on scores.account_id = accounts.account_id
    left join lifecycle
        on scores.account_id = lifecycle.account_id
    {%- for days in [7, 30] %}
    left join reference_{{ days }}d
        on scores.account_id = reference_{{ days }}d.account_id
    {%- endfor %}

)

select * from final
