{#- The accepted values of a model's columns, all in one test: one scan of the model counts, for
    each column, its non-null values outside its range (`ranges`: column -> {min_value,
    max_value, inclusive}, either bound optional, inclusive unless inclusive: false, as
    `accepted_range`) or outside its set (`values`: column -> list of values, compared as quoted
    literals, as dbt's `accepted_values`). Fails with one row per column at fault: the rule
    ('range' or 'values'), the column and its number of rows at fault. One dbt node per model
    instead of one per column: dbt spends about 20 ms per test node whatever the data
    (DECISIONS.md, "Running the project"). A column that does not exist fails the test (the
    query does not compile), so the lists cannot go stale without notice. -#}
{% test accepted_values_and_ranges(model, ranges={}, values={}) %}
{#- dbt's failure count is the number of rows at fault, summed over the columns. -#}
{{ config(fail_calc='coalesce(sum(failing_rows), 0)') }}
{%- set rules = [] -%}
{%- for column, bounds in ranges.items() -%}
    {%- set inclusive = bounds.get('inclusive', true) -%}
    {%- set outside = [] -%}
    {%- if bounds.get('min_value') is not none -%}
        {%- do outside.append(column ~ (' < ' if inclusive else ' <= ') ~ bounds['min_value']) -%}
    {%- endif -%}
    {%- if bounds.get('max_value') is not none -%}
        {%- do outside.append(column ~ (' > ' if inclusive else ' >= ') ~ bounds['max_value']) -%}
    {%- endif -%}
    {%- if not outside -%}
        {{ exceptions.raise_compiler_error("accepted_values_and_ranges: " ~ column ~ " has neither min_value nor max_value") }}
    {%- endif -%}
    {%- do rules.append(['range', column, '(' ~ outside | join(' or ') ~ ')']) -%}
{%- endfor -%}
{%- for column, accepted in values.items() -%}
    {%- set quoted = [] -%}
    {%- for value in accepted -%}
        {%- if "'" in (value | string) -%}
            {{ exceptions.raise_compiler_error("accepted_values_and_ranges: a value of " ~ column ~ " holds a quote") }}
        {%- endif -%}
        {%- do quoted.append("'" ~ value ~ "'") -%}
    {%- endfor -%}
    {%- do rules.append(['values', column, column ~ ' not in (' ~ quoted | join(', ') ~ ')']) -%}
{%- endfor -%}
with failing_counts as (
    select
        {%- for rule in rules %}
        sum(case when {{ rule[1] }} is not null and {{ rule[2] }} then 1 else 0 end) as failing_{{ loop.index }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ model }}
)
{% for rule in rules -%}
select '{{ rule[0] }}' as rule, '{{ rule[1] }}' as column_name, failing_{{ loop.index }} as failing_rows
from failing_counts
where failing_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif -%}
{%- endfor %}
{% endtest %}
