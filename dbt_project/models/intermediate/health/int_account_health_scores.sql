{#- One row per account per snapshot (every month-end and the as-of date;
    int_account_health_snapshots): each component's score, the health score, its coverage, band and
    top drag (METRICS.md, Health score; DECISIONS.md, Health score).

    health_score = sum(weight * component score) / sum(weight of the components with data)
    coverage     = sum(weight of the components with data) / sum(weight of every enabled component)
    top_drag     = the component with the largest weight * (100 - score) / sum(weight with data),
                   i.e. the most score points lost to it (the drags add up to 100 - health_score);
                   ties: the larger weight, then the component name; NULL when nothing is lost.
    health_band  = the band of seed_health_bands the score falls in (lower bound inclusive).
    The weighted sum is exact (DECIMAL, exact_weighted_sum) and divided last. -#}
{%- set components = ['adoption', 'usage_trend', 'support', 'voice', 'relationship',
                      'csm_pulse', 'financial'] %}
with

snapshots as (

    select
        account_id,
        snapshot_month,
        snapshot_date,
        is_month_end,
        is_partial,
        arr,
        is_customer,
        is_paying
    from {{ ref('int_account_health_snapshots') }}

),

component_scores as (

    select account_id, snapshot_date, component, component_weight, component_score
    from {{ ref('int_account_health_component_scores') }}

),

bands as (

    select health_band, lower_bound, upper_bound
    from {{ ref('seed_health_bands') }}

),

config_version as (

    select health_config_version from {{ ref('int_health_config_version') }}

),

totals as (

    select
        account_id,
        snapshot_date,
        sum(component_weight) as total_weight,
        sum(case when component_score is not null then component_weight end) as weight_with_data,
        sum(case when component_score is not null then 1 else 0 end) as components_with_data,
        {{ cs_metrics.exact_weighted_sum('component_score', 'component_weight') }}
            as weighted_component_sum
        {%- for component in components %},
        max(case when component = '{{ component }}' then component_score end)
            as {{ component }}_score
        {%- endfor %}
    from component_scores
    group by account_id, snapshot_date

),

drags as (

    select
        component_scores.account_id,
        component_scores.snapshot_date,
        component_scores.component,
        component_scores.component_weight * (100 - component_scores.component_score)
            / cast(totals.weight_with_data as double) as drag_points
    from component_scores
    inner join totals
        on component_scores.account_id = totals.account_id
        and component_scores.snapshot_date = totals.snapshot_date
    where component_scores.component_score is not null

),

ranked_drags as (

    select
        drags.account_id,
        drags.snapshot_date,
        drags.component,
        drags.drag_points,
        row_number() over (
            partition by drags.account_id, drags.snapshot_date
            order by drags.drag_points desc, component_scores.component_weight desc,
                drags.component
        ) as drag_rank
    from drags
    inner join component_scores
        on drags.account_id = component_scores.account_id
        and drags.snapshot_date = component_scores.snapshot_date
        and drags.component = component_scores.component

),

top_drags as (

    select account_id, snapshot_date, component as top_drag, drag_points as top_drag_points
    from ranked_drags
    where drag_rank = 1 and drag_points > 0

),

scored as (

    select
        totals.*,
        case
            when totals.weight_with_data > 0
                then cast(totals.weighted_component_sum as double)
                    / cast(totals.weight_with_data as double)
        end as health_score,
        {{ cs_metrics.safe_ratio('coalesce(totals.weight_with_data, 0)', 'totals.total_weight') }}
            as coverage
    from totals

),

final as (

    select
        snapshots.account_id,
        snapshots.snapshot_date,
        snapshots.snapshot_month,
        snapshots.is_month_end,
        snapshots.is_partial,
        snapshots.arr,
        snapshots.is_customer,
        snapshots.is_paying,
        {%- for component in components %}
        scored.{{ component }}_score,
        {%- endfor %}
        cast(scored.components_with_data as {{ dbt.type_bigint() }}) as components_with_data,
        scored.health_score,
        scored.coverage,
        bands.health_band,
        top_drags.top_drag,
        top_drags.top_drag_points,
        config_version.health_config_version
    from snapshots
    inner join scored
        on snapshots.account_id = scored.account_id
        and snapshots.snapshot_date = scored.snapshot_date
    left join bands
        on (bands.lower_bound is null or scored.health_score >= bands.lower_bound)
        and (bands.upper_bound is null or scored.health_score < bands.upper_bound)
        and scored.health_score is not null
    left join top_drags
        on snapshots.account_id = top_drags.account_id
        and snapshots.snapshot_date = top_drags.snapshot_date
    cross join config_version

)

select * from final
