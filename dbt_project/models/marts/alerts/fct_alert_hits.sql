{#- One row per snapshot date per alert rule per account for which the rule held on that date:
    the history of rule hits, the snapshot date being the as-of date of each run (kept across
    runs, like fct_account_health_daily). fct_alerts derives the alert episodes from it
    (DECISIONS.md, KPI summary and alerts).

    Incremental by snapshot date: DuckDB delete+insert on `snapshot_date`, Spark insert_overwrite
    of the `snapshot_date` partition, so a rerun for the same date replaces that date's hits and
    older dates stay. `full_refresh: false`: the history is what each run saw and cannot be
    rebuilt from the exports. A rerun of a date that now has no hits at all still clears that
    date's old hits (pre-hook clear_as_of_snapshot). -#}
-- depends_on: {{ ref('int_as_of_date') }}
{{ config(
    materialized='incremental',
    unique_key='snapshot_date',
    pre_hook="{{ cs_metrics.clear_as_of_snapshot('snapshot_date') }}",
    partition_by=(['snapshot_date'] if target.type == 'spark' else none),
    on_schema_change='fail',
    full_refresh=false,
) }}
with

hits as (

    select
        rule_id,
        account_id,
        owner_csm_id,
        severity,
        evidence_metric,
        evidence_value,
        threshold_value,
        evidence_text,
        recommended_action,
        snapshot_date
    from {{ ref('int_alert_hits') }}

)

select * from hits
