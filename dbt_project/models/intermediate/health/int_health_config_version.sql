{#- One row: the version of the health-score configuration, a hash of everything that changes a
    score (the four health seeds and the health vars), so that it changes by itself whenever the
    configuration does (DECISIONS.md, Health score). Each seed row becomes one text line; the lines
    are sorted and joined (sorted_string_agg: the same text on every engine and in every run) and
    hashed with md5. Decimals are cast to text at the seeds' fixed scale, so 25 and 25.0 in a CSV
    give the same line. -#}
with

components as (

    select
        'component|' || component
        || '|' || cast(component_order as {{ dbt.type_string() }})
        || '|' || cast(weight as {{ dbt.type_string() }})
        || '|' || cast(enabled as {{ dbt.type_string() }}) as config_line
    from {{ ref('seed_health_components') }}

),

inputs as (

    select
        'input|' || component
        || '|' || metric
        || '|' || cast(weight as {{ dbt.type_string() }})
        || '|' || cast(enabled as {{ dbt.type_string() }}) as config_line
    from {{ ref('seed_health_inputs') }}

),

points as (

    select
        'points|' || metric
        || '|' || coalesce(cast(lower_bound as {{ dbt.type_string() }}), '')
        || '|' || coalesce(cast(upper_bound as {{ dbt.type_string() }}), '')
        || '|' || cast(points as {{ dbt.type_string() }}) as config_line
    from {{ ref('seed_health_points') }}

),

bands as (

    select
        'band|' || health_band
        || '|' || cast(band_order as {{ dbt.type_string() }})
        || '|' || coalesce(cast(lower_bound as {{ dbt.type_string() }}), '')
        || '|' || coalesce(cast(upper_bound as {{ dbt.type_string() }}), '')
        as config_line
    from {{ ref('seed_health_bands') }}

),

-- the vars that change how inputs are read and how the history rows are compared
vars as (

    select 'var|health_lookback_months|{{ var("health_lookback_months") }}' as config_line
    union all
    select 'var|health_arr_trend_days|{{ var("health_arr_trend_days") }}' as config_line
    union all
    select 'var|health_change_max_gap_days|{{ var("health_change_max_gap_days") }}' as config_line
    union all
    select 'var|health_trend_dead_band_points|{{ var("health_trend_dead_band_points") }}'
        as config_line

),

config_lines as (

    select config_line from components
    union all
    select config_line from inputs
    union all
    select config_line from points
    union all
    select config_line from bands
    union all
    select config_line from vars

),

final as (

    select
        substr(md5({{ cs_metrics.sorted_string_agg('config_line') }}), 1, 12)
            as health_config_version,
        count(*) as config_lines
    from config_lines

)

select * from final
