{#- One row per month per metric per peer group, at every peer level (segment x lifecycle stage,
    or the configured columns; then segment; then all accounts): the group's size, its 25th
    percentile, median and 75th percentile (continuous, cs_percentile), whether it is large
    enough to be used, and how many accounts are compared against it (METRICS.md, Benchmarks).
    Measured on the month's last day, or the as-of date in the open month. -#}
{%- set columns = var('benchmark_peer_group_columns') -%}
{%- set min_size = var('benchmark_min_peer_group_size') | int -%}
with

peers as (

    select * from {{ ref('int_account_benchmark_peers') }}

),

aggregated as (

    select
        month,
        metric,
        peer_level_rank,
        peer_group_key,
        max(peer_level) as peer_level,
        max(measured_on) as measured_on,
        max(case when is_partial then 1 else 0 end) = 1 as is_partial,
        max(metric_order) as metric_order,
        max(case when higher_is_better then 1 else 0 end) = 1 as higher_is_better,
        {%- for column in columns %}
        max(case when peer_level_rank < {{ columns | length - loop.index0 }}
                 then {{ column }} end) as {{ column }},
        {%- endfor %}
        count(*) as peer_group_size,
        sum(case when is_level_used then 1 else 0 end) as accounts_benchmarked,
        {{ cs_metrics.cs_percentile('metric_value', 0.25) }} as p25,
        {{ cs_metrics.cs_median('metric_value') }} as median,
        {{ cs_metrics.cs_percentile('metric_value', 0.75) }} as p75,
        min(metric_value) as min_value,
        max(metric_value) as max_value
    from peers
    group by month, metric, peer_level_rank, peer_group_key

),

final as (

    select
        month,
        measured_on,
        is_partial,
        metric,
        metric_order,
        higher_is_better,
        peer_level_rank,
        peer_level,
        peer_group_key,
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        cast(peer_group_size as {{ dbt.type_bigint() }}) as peer_group_size,
        peer_group_size >= {{ min_size }} as is_large_enough,
        cast(accounts_benchmarked as {{ dbt.type_bigint() }}) as accounts_benchmarked,
        cast(p25 as double) as p25,
        cast(median as double) as median,
        cast(p75 as double) as p75,
        cast(min_value as double) as min_value,
        cast(max_value as double) as max_value
    from aggregated

)

select * from final
