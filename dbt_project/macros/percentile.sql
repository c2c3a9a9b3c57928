{#- Medians and percentiles, the same way on every adapter: continuous (linear interpolation
    between the two nearest ranks), as DOUBLE. Aggregate functions: use them where an aggregate
    is allowed (with GROUP BY). NULL inputs are ignored; an empty group gives NULL.

        {{ cs_metrics.cs_median('days_in_stage') }}
        {{ cs_metrics.cs_percentile('days_in_stage', 0.9) }}

    DuckDB uses quantile_cont; Spark uses percentile (exact, linear interpolation; not
    percentile_approx). -#}

{% macro cs_percentile(expr, p) -%}
    {{ return(adapter.dispatch('cs_percentile', 'cs_metrics')(expr, p)) }}
{%- endmacro %}

{% macro default__cs_percentile(expr, p) -%}
    cast(quantile_cont(cast({{ expr }} as double), {{ p }}) as double)
{%- endmacro %}

{% macro spark__cs_percentile(expr, p) -%}
    cast(percentile(cast({{ expr }} as double), {{ p }}) as double)
{%- endmacro %}


{% macro cs_median(expr) -%}
    {{ return(cs_metrics.cs_percentile(expr, 0.5)) }}
{%- endmacro %}
