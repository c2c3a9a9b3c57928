{#- One row per account per month per metric per peer level: the account's peer group at each
    level (finest first: the columns of var benchmark_peer_group_columns, then dropping the last
    column one at a time, down to all accounts), the group's size (accounts with a value of the
    metric that month), the account's place in the group (peers below, ties) and whether this is
    the level the account is compared at: the finest level whose group has at least
    benchmark_min_peer_group_size accounts, else all accounts (METRICS.md, Benchmarks). Only the
    configured peer columns are carried (the others stay in int_account_benchmark_values): the
    table is three rows per account, month and metric, and four more text columns made its
    build 40% longer (3.0 -> 2.1 s at medium). -#}
{%- set allowed = ['segment', 'lifecycle_stage', 'acv_band', 'industry', 'region', 'plan_name'] -%}
{%- set columns = var('benchmark_peer_group_columns') -%}
{%- for column in columns -%}
    {%- if column not in allowed -%}
        {{ exceptions.raise_compiler_error("benchmark_peer_group_columns: '" ~ column ~ "' is not one of " ~ allowed | join(', ')) }}
    {%- endif -%}
{%- endfor -%}
{%- set min_size = var('benchmark_min_peer_group_size') | int -%}
{%- set last_rank = columns | length -%}
with

metric_values as (

    select
        account_id,
        month,
        measured_on,
        is_partial,
        metric,
        metric_order,
        higher_is_better,
        metric_value
        {%- for column in columns %},
        {{ column }}
        {%- endfor %}
    from {{ ref('int_account_benchmark_values') }}

),

-- one row per account, month, metric and level; rank 0 = all configured columns
account_levels as (
{%- for depth in range(columns | length, -1, -1) %}
    {%- set level_columns = columns[:depth] %}

    select
        metric_values.*,
        {{ columns | length - depth }} as peer_level_rank,
        '{{ level_columns | join(" x ") if level_columns else "all" }}' as peer_level,
        {% if level_columns | length == 0 -%}
        'all'
        {%- elif level_columns | length == 1 -%}
        {{ level_columns[0] }}
        {%- else -%}
        concat({{ level_columns | join(", '|', ") }})
        {%- endif %} as peer_group_key
    from metric_values
    {%- if not loop.last %}
    union all
    {%- endif %}
{%- endfor %}

),

-- one ordering of each group serves the three windows (same partition and order, different
-- frames): the group's size, the accounts ranked below, the accounts with the same value
placed as (

    select
        account_levels.*,
        count(*) over (
            partition by month, metric, peer_level_rank, peer_group_key
            order by metric_value
            rows between unbounded preceding and unbounded following
        ) as peer_group_size,
        rank() over (
            partition by month, metric, peer_level_rank, peer_group_key
            order by metric_value
        ) - 1 as peers_below,
        count(*) over (
            partition by month, metric, peer_level_rank, peer_group_key
            order by metric_value
            range between current row and current row
        ) as peers_tied
    from account_levels

),

-- the finest level whose group is large enough; all accounts when none is
level_choice as (

    select
        account_id,
        month,
        metric,
        min(case
                when peer_group_size >= {{ min_size }} or peer_level_rank = {{ last_rank }}
                    then peer_level_rank
            end) as used_level_rank
    from placed
    group by account_id, month, metric

),

final as (

    select
        placed.account_id,
        placed.month,
        placed.measured_on,
        placed.is_partial,
        placed.metric,
        placed.metric_order,
        placed.higher_is_better,
        placed.metric_value,
        {%- for column in columns %}
        placed.{{ column }},
        {%- endfor %}
        placed.peer_level_rank,
        placed.peer_level,
        placed.peer_group_key,
        cast(placed.peer_group_size as {{ dbt.type_bigint() }}) as peer_group_size,
        cast(placed.peers_below as {{ dbt.type_bigint() }}) as peers_below,
        cast(placed.peers_tied as {{ dbt.type_bigint() }}) as peers_tied,
        placed.peer_level_rank = level_choice.used_level_rank as is_level_used
    from placed
    inner join level_choice
        on placed.account_id = level_choice.account_id
        and placed.month = level_choice.month
        and placed.metric = level_choice.metric

)

select * from final
