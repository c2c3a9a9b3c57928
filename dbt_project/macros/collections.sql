{#- Overdue aging buckets of the collection marts, from the `collections_aging_buckets` var
    (upper bounds in days overdue, inclusive). [30, 60, 90] gives

        label   column suffix   days overdue
        1-30    1_30            1 <= d <= 30
        31-60   31_60           31 <= d <= 60
        61-90   61_90           61 <= d <= 90
        90+     90_plus         d > 90

    i.e. lower bound inclusive, upper exclusive (d < 31, d < 61, d < 91), as METRICS.md's band
    convention. A day overdue is a day after the due date: an invoice due yesterday is 1 day
    overdue; on its due date it is not overdue. -#}

{% macro collections_age_buckets() -%}
    {%- set bounds = var('collections_aging_buckets', [30, 60, 90]) -%}
    {%- set buckets = [] -%}
    {%- set lower = namespace(value=1) -%}
    {%- for upper in bounds -%}
        {%- do buckets.append({
            'label': lower.value ~ '-' ~ upper,
            'suffix': lower.value ~ '_' ~ upper,
            'lower': lower.value,
            'upper': upper,
        }) -%}
        {%- set lower.value = upper + 1 -%}
    {%- endfor -%}
    {%- do buckets.append({
        'label': bounds[-1] ~ '+',
        'suffix': bounds[-1] ~ '_plus',
        'lower': bounds[-1] + 1,
        'upper': none,
    }) -%}
    {{ return(buckets) }}
{%- endmacro %}

{#- The bucket label of a number of days overdue; NULL when not overdue (< 1 day or NULL). -#}
{% macro collections_age_bucket(days_overdue) -%}
    case
        when {{ days_overdue }} is null or {{ days_overdue }} < 1 then null
        {%- for bucket in cs_metrics.collections_age_buckets() %}
        {%- if bucket.upper is not none %}
        when {{ days_overdue }} <= {{ bucket.upper }} then '{{ bucket.label }}'
        {%- else %}
        else '{{ bucket.label }}'
        {%- endif %}
        {%- endfor %}
    end
{%- endmacro %}

{#- The bucket columns of the collection marts, for their data tests (so that the tests follow
    the var): each bucket's column for each prefix, bucket by bucket, e.g. ['overdue_amount']
    gives overdue_amount_1_30, overdue_amount_31_60, overdue_amount_61_90, overdue_amount_90_plus.
    -#}
{% macro collections_age_bucket_columns(prefixes) -%}
    {%- set columns = [] -%}
    {%- for bucket in cs_metrics.collections_age_buckets() -%}
        {%- for prefix in prefixes -%}
            {%- do columns.append(prefix ~ '_' ~ bucket.suffix) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- The sum of a prefix's bucket columns, e.g. (overdue_amount_1_30 + ... + overdue_amount_90_plus),
    for the test that the buckets add up to the whole. -#}
{% macro collections_age_bucket_sum(prefix) -%}
    ({{ cs_metrics.collections_age_bucket_columns([prefix]) | join(' + ') }})
{%- endmacro %}

{#- The bucket labels, for accepted_values tests. -#}
{% macro collections_age_bucket_labels() -%}
    {%- set labels = [] -%}
    {%- for bucket in cs_metrics.collections_age_buckets() -%}
        {%- do labels.append(bucket.label) -%}
    {%- endfor -%}
    {{ return(labels) }}
{%- endmacro %}
