{#- One row per snapshot date on which the alert rules were evaluated (the as-of date of each
    run), with the number of customers evaluated, rules enabled and hits. Kept across runs: a run
    without a single hit still leaves its date here, which is how fct_alerts knows that an alert
    stopped holding (closed_at) even when nothing else fired that day.

    Incremental by snapshot date like fct_alert_hits (DuckDB delete+insert, Spark
    insert_overwrite of the partition); `full_refresh: false`. -#}
{{ config(
    materialized='incremental',
    unique_key='snapshot_date',
    partition_by=(['snapshot_date'] if target.type == 'spark' else none),
    on_schema_change='fail',
    full_refresh=false,
) }}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

customers as (

    select count(*) as customers_evaluated
    from {{ ref('fct_account_health_daily') }} as health
    inner join as_of
        on health.snapshot_date = as_of.as_of_date

),

rules as (

    select count(*) as rules_enabled
    from {{ ref('seed_alert_rules') }}
    where enabled

),

hits as (

    select
        count(*) as hits,
        count(distinct account_id) as accounts_with_hits
    from {{ ref('int_alert_hits') }}

),

final as (

    select
        cast(customers.customers_evaluated as {{ dbt.type_bigint() }}) as customers_evaluated,
        cast(rules.rules_enabled as {{ dbt.type_bigint() }}) as rules_enabled,
        cast(hits.hits as {{ dbt.type_bigint() }}) as hits,
        cast(hits.accounts_with_hits as {{ dbt.type_bigint() }}) as accounts_with_hits,
        as_of.as_of_date as snapshot_date
    from as_of
    cross join customers
    cross join rules
    cross join hits

)

select * from final
