{#- One row per account, snapshot and enabled health component (seed_health_components, enabled
    with weight > 0): the component's score 0-100, or NULL when none of its metrics has data at the
    snapshot (METRICS.md, Health score: a missing component is never scored 0).

    Each input metric (int_account_health_inputs) gets the points of the range of
    seed_health_points it falls in (lower bound inclusive, upper bound exclusive, an empty bound
    is open; the value is rounded to 9 decimals first, so a ratio that lands on a bound is in the
    range that starts there). Component score = sum(metric weight * points) / sum(metric weight)
    over its enabled metrics (seed_health_inputs) that have a value, summed in DECIMAL and divided
    last, so it does not depend on row order (DECISIONS.md, Health score). -#}
with

snapshots as (

    select account_id, snapshot_date from {{ ref('int_account_health_snapshots') }}

),

inputs as (

    select account_id, snapshot_date, metric, metric_value
    from {{ ref('int_account_health_inputs') }}

),

components as (

    select component, component_order, weight
    from {{ ref('seed_health_components') }}
    where enabled and weight > 0

),

metric_config as (

    select component, metric, weight
    from {{ ref('seed_health_inputs') }}
    where enabled and weight > 0

),

points as (

    select metric, lower_bound, upper_bound, points
    from {{ ref('seed_health_points') }}

),

scored_metrics as (

    select
        inputs.account_id,
        inputs.snapshot_date,
        metric_config.component,
        inputs.metric,
        metric_config.weight as metric_weight,
        points.points
    from inputs
    inner join metric_config
        on inputs.metric = metric_config.metric
    inner join points
        on inputs.metric = points.metric
        and (points.lower_bound is null or round(inputs.metric_value, 9) >= points.lower_bound)
        and (points.upper_bound is null or round(inputs.metric_value, 9) < points.upper_bound)

),

component_sums as (

    select
        account_id,
        snapshot_date,
        component,
        count(*) as metrics_with_data,
        sum(metric_weight * points) as weighted_points,
        sum(metric_weight) as metric_weight
    from scored_metrics
    group by account_id, snapshot_date, component

),

final as (

    select
        snapshots.account_id,
        snapshots.snapshot_date,
        components.component,
        components.component_order,
        cast(components.weight as decimal(9, 4)) as component_weight,
        cast(coalesce(component_sums.metrics_with_data, 0) as {{ dbt.type_bigint() }})
            as metrics_with_data,
        {{ cs_metrics.safe_ratio('component_sums.weighted_points', 'component_sums.metric_weight') }}
            as component_score
    from snapshots
    cross join components
    left join component_sums
        on snapshots.account_id = component_sums.account_id
        and snapshots.snapshot_date = component_sums.snapshot_date
        and components.component = component_sums.component

)

select * from final
