{#- Date arithmetic that returns DATE on every adapter.

    dbt's cross-database macros (dbt.date_trunc, dbt.dateadd) return timestamps on DuckDB and
    Spark; these wrappers cast back to date so that date columns stay dates and joins on dates
    match. Spark gets its native date functions, which are also the cheapest there. So does
    DuckDB, where dbt's macros go through timestamps and intervals: its date arithmetic on DATE
    (date + integer, date - date, last_day) gives the same dates three to nine times faster,
    which counts on the tens of millions of event and user-day rows (DECISIONS.md, Portability,
    "DuckDB gets its own date arithmetic"). -#}

{% macro month_start(date_expr) -%}
    {{ return(adapter.dispatch('month_start', 'cs_metrics')(date_expr)) }}
{%- endmacro %}

{% macro default__month_start(date_expr) -%}
    cast({{ dbt.date_trunc('month', date_expr) }} as date)
{%- endmacro %}

{% macro spark__month_start(date_expr) -%}
    trunc(cast({{ date_expr }} as date), 'MM')
{%- endmacro %}

{% macro duckdb__month_start(date_expr) -%}
    (cast({{ date_expr }} as date) - cast(day(cast({{ date_expr }} as date)) - 1 as integer))
{%- endmacro %}


{% macro quarter_start(date_expr) -%}
    {{ return(adapter.dispatch('quarter_start', 'cs_metrics')(date_expr)) }}
{%- endmacro %}

{% macro default__quarter_start(date_expr) -%}
    cast({{ dbt.date_trunc('quarter', date_expr) }} as date)
{%- endmacro %}

{% macro spark__quarter_start(date_expr) -%}
    trunc(cast({{ date_expr }} as date), 'QUARTER')
{%- endmacro %}


{% macro year_start(date_expr) -%}
    {{ return(adapter.dispatch('year_start', 'cs_metrics')(date_expr)) }}
{%- endmacro %}

{% macro default__year_start(date_expr) -%}
    cast({{ dbt.date_trunc('year', date_expr) }} as date)
{%- endmacro %}

{% macro spark__year_start(date_expr) -%}
    trunc(cast({{ date_expr }} as date), 'YEAR')
{%- endmacro %}


{#- Last day of the month of date_expr. -#}
{% macro month_end(date_expr) -%}
    {{ return(adapter.dispatch('month_end', 'cs_metrics')(date_expr)) }}
{%- endmacro %}

{% macro default__month_end(date_expr) -%}
    cast({{ dbt.last_day(date_expr, 'month') }} as date)
{%- endmacro %}

{% macro spark__month_end(date_expr) -%}
    last_day(cast({{ date_expr }} as date))
{%- endmacro %}

{% macro duckdb__month_end(date_expr) -%}
    last_day(cast({{ date_expr }} as date))
{%- endmacro %}


{#- date_expr plus n days (n may be negative or an expression). -#}
{% macro add_days(date_expr, n) -%}
    {{ return(adapter.dispatch('add_days', 'cs_metrics')(date_expr, n)) }}
{%- endmacro %}

{% macro default__add_days(date_expr, n) -%}
    cast({{ dbt.dateadd('day', n, date_expr) }} as date)
{%- endmacro %}

{% macro spark__add_days(date_expr, n) -%}
    date_add(cast({{ date_expr }} as date), cast({{ n }} as int))
{%- endmacro %}

{% macro duckdb__add_days(date_expr, n) -%}
    (cast({{ date_expr }} as date) + cast({{ n }} as integer))
{%- endmacro %}


{#- date_expr plus n calendar months (clamped to the month's last day, as both engines do). -#}
{% macro add_months(date_expr, n) -%}
    {{ return(adapter.dispatch('add_months', 'cs_metrics')(date_expr, n)) }}
{%- endmacro %}

{% macro default__add_months(date_expr, n) -%}
    cast({{ dbt.dateadd('month', n, date_expr) }} as date)
{%- endmacro %}

{% macro spark__add_months(date_expr, n) -%}
    add_months(cast({{ date_expr }} as date), cast({{ n }} as int))
{%- endmacro %}


{#- Whole days from start_expr to end_expr (end - start). -#}
{% macro days_between(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('days_between', 'cs_metrics')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__days_between(start_expr, end_expr) -%}
    {{ dbt.datediff(start_expr, end_expr, 'day') }}
{%- endmacro %}

{% macro spark__days_between(start_expr, end_expr) -%}
    datediff(cast({{ end_expr }} as date), cast({{ start_expr }} as date))
{%- endmacro %}

{% macro duckdb__days_between(start_expr, end_expr) -%}
    (cast({{ end_expr }} as date) - cast({{ start_expr }} as date))
{%- endmacro %}


{#- Calendar-month boundaries crossed from start_expr to end_expr (2024-01-31 -> 2024-02-01 is 1). -#}
{% macro months_between_starts(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('months_between_starts', 'cs_metrics')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__months_between_starts(start_expr, end_expr) -%}
    {{ dbt.datediff(start_expr, end_expr, 'month') }}
{%- endmacro %}

{% macro spark__months_between_starts(start_expr, end_expr) -%}
    cast(months_between(trunc(cast({{ end_expr }} as date), 'MM'),
                        trunc(cast({{ start_expr }} as date), 'MM')) as int)
{%- endmacro %}

{% macro duckdb__months_between_starts(start_expr, end_expr) -%}
    date_diff('month', cast({{ start_expr }} as date), cast({{ end_expr }} as date))
{%- endmacro %}
