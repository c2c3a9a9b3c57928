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

{#- Pre-hook of a history table kept by snapshot date (incremental, delete+insert on DuckDB,
    insert_overwrite of the date's partition on Spark): remove the rows of this run's as-of date
    before the new ones go in. Both strategies only replace the dates a run *writes*, so without
    it a rerun of a date that now has no rows at all would keep that date's old rows. A no-op on
    the first build. The model must name int_as_of_date (a `-- depends_on:` comment will do). -#}
{% macro clear_as_of_snapshot(column='snapshot_date') -%}
    {%- if execute and is_incremental() -%}
        {%- set as_of_sql -%}
            select {{ cs_metrics.plain_text('as_of_date') }} from {{ ref('int_as_of_date') }}
        {%- endset -%}
        {%- set as_of = run_query(as_of_sql).columns[0].values()[0] -%}
        {{ return(adapter.dispatch('clear_as_of_snapshot', 'cs_metrics')(column, as_of)) }}
    {%- else -%}
        {{ return('select 1') }}
    {%- endif -%}
{%- endmacro %}

{% macro default__clear_as_of_snapshot(column, as_of) -%}
    delete from {{ this }} where {{ column }} = cast('{{ as_of }}' as date)
{%- endmacro %}

{% macro spark__clear_as_of_snapshot(column, as_of) -%}
    alter table {{ this }} drop if exists partition ({{ column }} = '{{ as_of }}')
{%- endmacro %}
