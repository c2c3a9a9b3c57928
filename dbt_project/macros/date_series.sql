{#- A SELECT that returns one row per day (or month) from start_column to end_column, both
    inclusive, for every row of `bounds` (a relation or CTE name). Rows with a NULL bound or an
    end before the start give no rows.

        {{ cs_metrics.date_series('bounds', 'first_day', 'last_day', 'day', 'date_day') }}

    DuckDB (the default) unnests generate_series; Spark explodes sequence. Extra columns of
    `bounds` listed in `carry` are passed through. -#}

{% macro date_series(bounds, start_column, end_column, datepart='day', name='date_day', carry=[]) -%}
    {{ return(adapter.dispatch('date_series', 'cs_metrics')(
        bounds, start_column, end_column, datepart, name, carry)) }}
{%- endmacro %}

{% macro default__date_series(bounds, start_column, end_column, datepart, name, carry) -%}
    select
        {%- for column in carry %}
        {{ column }},
        {%- endfor %}
        cast(unnest(generate_series(
            cast({{ start_column }} as date),
            cast({{ end_column }} as date),
            interval 1 {{ datepart }}
        )) as date) as {{ name }}
    from {{ bounds }}
    where {{ start_column }} is not null
        and {{ end_column }} is not null
        and {{ start_column }} <= {{ end_column }}
{%- endmacro %}

{% macro spark__date_series(bounds, start_column, end_column, datepart, name, carry) -%}
    select
        {%- for column in carry %}
        {{ column }},
        {%- endfor %}
        explode(sequence(
            cast({{ start_column }} as date),
            cast({{ end_column }} as date),
            interval 1 {{ datepart }}
        )) as {{ name }}
    from {{ bounds }}
    where {{ start_column }} is not null
        and {{ end_column }} is not null
        and {{ start_column }} <= {{ end_column }}
{%- endmacro %}
