{#- Text helpers for alert evidence, the same on every adapter. -#}

{#- A number as text with a fixed number of decimals (4 by default: 0.7499, not a rounded
    0.750), through DECIMAL, whose text form is the same on DuckDB and Spark (a DOUBLE's text
    form is not). NULL stays NULL. -#}
{% macro decimal_text(expr, scale=4) -%}
    cast(cast(round({{ expr }}, {{ scale }}) as decimal(28, {{ scale }})) as {{ dbt.type_string() }})
{%- endmacro %}

{#- An integer (or a date) as text. -#}
{% macro plain_text(expr) -%}
    cast({{ expr }} as {{ dbt.type_string() }})
{%- endmacro %}
