{#- Money and rates, the same way on every adapter. -#}

{#- An amount rounded to the cent, as DECIMAL(18,2) (the contract's money type). -#}
{% macro to_money(expr) -%}
    cast(round({{ expr }}, 2) as decimal(18, 2))
{%- endmacro %}

{#- A line amount normalised to one month, kept to 6 decimals so that summing many lines and
    rounding once to the cent loses nothing. -#}
{% macro to_precise_amount(expr) -%}
    cast(round({{ expr }}, 6) as decimal(28, 6))
{%- endmacro %}

{#- numerator / denominator as a fraction (DOUBLE); NULL when the denominator is 0 or NULL,
    never an error (METRICS.md, Conventions). -#}
{% macro safe_ratio(numerator, denominator) -%}
    case
        when {{ denominator }} is null or {{ denominator }} = 0 then null
        else cast({{ numerator }} as double) / cast({{ denominator }} as double)
    end
{%- endmacro %}

{#- A nullable SQL literal from a dbt var: NULL, a number, or a quoted string. -#}
{% macro var_literal(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none or value == '' -%}
        null
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ value | string | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}

{#- sum(value * weight) for a weighted mean, computed in DECIMAL so the result does not depend on
    the order rows reach the aggregate: a DOUBLE sum can differ in its last bit from one run to
    the next (parallel aggregation), which would break idempotent marts. The value is kept to 12
    decimals (at most 16 integer digits), the weight is money. -#}
{% macro exact_weighted_sum(value, weight) -%}
    sum(cast(round({{ value }}, 12) as decimal(28, 12)) * {{ weight }})
{%- endmacro %}

{#- The weighted mean of value (NULL values ignored, with their weights), as DOUBLE;
    NULL when there is no weight. Order-independent, see exact_weighted_sum. -#}
{% macro exact_weighted_mean(value, weight) -%}
    cast({{ cs_metrics.exact_weighted_sum(value, weight) }} as double)
        / nullif(cast(sum(case when {{ value }} is not null then {{ weight }} end) as double), 0)
{%- endmacro %}

{#- An amount in the reporting currency (var reporting_currency): as it is when it is already in
    it, else amount x rate, rounded as the caller needs: 'money' (to the cent, to_money) for an
    amount shown as such, 'precise' (6 decimals, to_precise_amount) for one summed afterwards,
    none for one divided or scaled before it is rounded. The same in every model, so a line,
    an invoice and an opportunity convert alike. -#}
{% macro to_reporting_currency(amount, currency, rate, rounding=none) -%}
    {%- set converted = amount ~ ' * ' ~ rate -%}
    case
        when {{ currency }} = '{{ var("reporting_currency", "USD") }}' then {{ amount }}
        else {% if rounding == 'money' -%}
            {{ cs_metrics.to_money(converted) }}
        {%- elif rounding == 'precise' -%}
            {{ cs_metrics.to_precise_amount(converted) }}
        {%- elif rounding is none -%}
            {{ converted }}
        {%- else -%}
            {{ exceptions.raise_compiler_error("to_reporting_currency: rounding must be 'money', 'precise' or none, not '" ~ rounding ~ "'") }}
        {%- endif %}
    end
{%- endmacro %}
