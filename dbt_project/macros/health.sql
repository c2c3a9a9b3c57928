{#- The data tests of metrics_health_backtest follow its horizons (health_backtest_horizons_days:
    the columns are named after them, e.g. logo_churn_rate_90d), so that another list of
    horizons builds and tests like the default [90, 180]. -#}

{#- Each horizon's column for each prefix: ['is_horizon_complete'] gives is_horizon_complete_90d,
    is_horizon_complete_180d. -#}
{% macro health_backtest_columns(prefixes) -%}
    {%- set columns = [] -%}
    {%- for h in var('health_backtest_horizons_days') -%}
        {%- for prefix in prefixes -%}
            {%- do columns.append(prefix ~ '_' ~ h ~ 'd') -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- The rates and ROC AUCs of every horizon, for accepted_values_and_ranges: each in [0, 1]. -#}
{% macro health_backtest_rate_ranges() -%}
    {%- set ranges = {} -%}
    {%- for column in cs_metrics.health_backtest_columns(
            ['logo_churn_rate', 'arr_loss_rate', 'auc_logo_churn', 'auc_arr_loss']) -%}
        {%- do ranges.update({column: {'min_value': 0, 'max_value': 1}}) -%}
    {%- endfor -%}
    {{ return(ranges) }}
{%- endmacro %}

{#- `condition` (with {h} for a horizon's days) for every horizon, joined by `and`:
    'auc_logo_churn_{h}d is null' gives (auc_logo_churn_90d is null) and (auc_logo_churn_180d is
    null). -#}
{% macro health_backtest_every_horizon(condition) -%}
    {%- set parts = [] -%}
    {%- for h in var('health_backtest_horizons_days') -%}
        {%- do parts.append('(' ~ condition | replace('{h}', h | string) ~ ')') -%}
    {%- endfor -%}
    {{ return(parts | join(' and ')) }}
{%- endmacro %}
