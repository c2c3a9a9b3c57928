{#- Custom schemas are used as given (raw, staging, intermediate, marts, reference), without the
    target schema prefix, so analysts query `marts.fct_mrr_movements` on every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
