{#- Fails with one row per column of `columns` that holds a null: the column's name and its
    number of null rows. One scan of the model for all its not-null columns, instead of one
    `not_null` test (one query, one dbt node) per column (DECISIONS.md, "Running the project").
    A column that does not exist fails the test (the query does not compile), so the list
    cannot go stale without notice. An item of `columns` may itself be a list, as a macro call
    renders (`"{{ cs_metrics.collections_age_bucket_columns(['overdue_amount']) }}"`: columns
    named after a var): its columns are checked in its place. -#}
{% test not_null_columns(model, columns) %}
{%- set flat = [] -%}
{%- for item in columns -%}
    {%- if item is string -%}
        {%- do flat.append(item) -%}
    {%- else -%}
        {%- do flat.extend(item) -%}
    {%- endif -%}
{%- endfor -%}
{%- set columns = flat -%}
{#- dbt's failure count is the number of null values (not of columns at fault), as it would be
    summed over one not_null test per column. -#}
{{ config(fail_calc='coalesce(sum(null_rows), 0)') }}
with null_counts as (
    select
        {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as nulls_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
)
{% for column in columns -%}
select '{{ column }}' as column_name, nulls_{{ loop.index }} as null_rows
from null_counts
where nulls_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}
{% endtest %}
