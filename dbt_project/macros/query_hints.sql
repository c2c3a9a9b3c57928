{#- Hints that only one engine reads. -#}

{#- Written between `name as` and `(` of a CTE that several parts of a query read, when the CTE
    is a cheap filter of a table: DuckDB materializes a CTE read more than once (it writes the
    rows once and reads them back), which costs more than scanning and filtering the table again
    (fct_account_usage_daily's user-days: 25 million rows at the benchmark's medium profile,
    about 2.5 of 25 s). Spark inlines CTEs and has no such keyword. -#}
{% macro inline_cte() -%}
    {{ return(adapter.dispatch('inline_cte', 'cs_metrics')()) }}
{%- endmacro %}

{% macro default__inline_cte() -%}
{%- endmacro %}

{% macro duckdb__inline_cte() -%}
    not materialized
{%- endmacro %}
