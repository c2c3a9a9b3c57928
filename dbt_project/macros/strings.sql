{#- Strings, the same way on every adapter. -#}

{#- Aggregate: every value of expr joined with delimiter, sorted by the value itself (byte
    order), so the result does not depend on the order rows reach the aggregate. dbt.listagg
    cannot be used for this: dbt-spark ignores its order_by_clause (collect_list has no order).
    DuckDB: string_agg ... order by; Spark: array_join(sort_array(collect_list(...))). NULL values
    are skipped. -#}
{% macro sorted_string_agg(expr, delimiter="';'") -%}
    {{ return(adapter.dispatch('sorted_string_agg', 'cs_metrics')(expr, delimiter)) }}
{%- endmacro %}

{% macro default__sorted_string_agg(expr, delimiter) -%}
    string_agg({{ expr }}, {{ delimiter }} order by {{ expr }})
{%- endmacro %}

{% macro spark__sorted_string_agg(expr, delimiter) -%}
    array_join(sort_array(collect_list({{ expr }})), {{ delimiter }})
{%- endmacro %}
