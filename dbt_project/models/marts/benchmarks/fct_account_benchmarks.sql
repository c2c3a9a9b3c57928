{#- One row per account per month per metric: the account's value, the peer level it is compared
    at (its segment x lifecycle stage group when it has at least benchmark_min_peer_group_size
    accounts with a value, else its segment, else all accounts), that group's median, 25th and
    75th percentile, the account's percentile rank in the group and its gap to the median
    (METRICS.md, Benchmarks). Percentile rank = (peers below + half the peers tied, the account
    itself included) / group size, so the middle account of a group is at 0.5. -#}
{%- set columns = var('benchmark_peer_group_columns') -%}
with

peers as (

    select * from {{ ref('int_account_benchmark_peers') }}
    where is_level_used

),

groups as (

    select
        month,
        metric,
        peer_level_rank,
        peer_group_key,
        p25,
        median,
        p75
    from {{ ref('metrics_benchmarks') }}

),

final as (

    select
        peers.account_id,
        peers.month,
        peers.measured_on,
        peers.is_partial,
        peers.metric,
        peers.metric_order,
        peers.higher_is_better,
        peers.metric_value,
        {%- for column in columns %}
        peers.{{ column }},
        {%- endfor %}
        peers.peer_level_rank,
        peers.peer_level,
        peers.peer_group_key,
        peers.peer_group_size,
        groups.p25 as peer_p25,
        groups.median as peer_median,
        groups.p75 as peer_p75,
        peers.peers_below,
        peers.peers_tied,
        cast(2 * peers.peers_below + peers.peers_tied as double)
            / cast(2 * peers.peer_group_size as double) as percentile_rank,
        peers.metric_value - groups.median as gap_to_median
    from peers
    inner join groups
        on peers.month = groups.month
        and peers.metric = groups.metric
        and peers.peer_level_rank = groups.peer_level_rank
        and peers.peer_group_key = groups.peer_group_key

)

select * from final
