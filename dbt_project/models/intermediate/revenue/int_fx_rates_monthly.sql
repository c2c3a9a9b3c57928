{#- One row per currency per month: the rate that converts an amount belonging to that month
    into the reporting currency. The fx_rates export wins; the built-in seed fills the gaps. -#}
{%- set reporting_currency = var('reporting_currency', 'USD') -%}
with

export_rates as (

    select currency, rate_month, rate_to_reporting
    from {{ ref('stg_billing__fx_rates') }}

),

default_rates as (

    select currency, rate_to_reporting
    from {{ ref('seed_fx_rates_default') }}

),

-- the seed is quoted against USD: cross it to the reporting currency
default_rates_to_reporting as (

    select
        default_rates.currency,
        default_rates.rate_to_reporting / reporting.rate_to_reporting as rate_to_reporting
    from default_rates
    cross join default_rates as reporting
    where reporting.currency = '{{ reporting_currency }}'

),

as_of as (

    select as_of_month from {{ ref('int_as_of_date') }}

),

-- every month an amount may belong to: billed service periods, contracts, rates, as-of
months_needed as (

    select {{ cs_metrics.month_start('service_period_start') }} as month_start
    from {{ ref('stg_billing__invoice_lines') }}
    union all
    select {{ cs_metrics.month_start('contract_start_date') }} as month_start
    from {{ ref('stg_crm__opportunities') }}
    where contract_start_date is not null
    union all
    select rate_month as month_start from export_rates
    union all
    select as_of_month as month_start from as_of

),

bounds as (

    select
        min(month_start) as first_month,
        max(month_start) as last_month
    from months_needed

),

months as (

    {{ cs_metrics.date_series('bounds', 'first_month', 'last_month', 'month', 'rate_month') }}

),

currencies as (

    select currency from default_rates
    union
    select currency from export_rates
    union
    select '{{ reporting_currency }}' as currency

),

currency_months as (

    select
        currencies.currency,
        months.rate_month
    from currencies
    cross join months

),

resolved as (

    select
        currency_months.currency,
        currency_months.rate_month,
        case
            when currency_months.currency = '{{ reporting_currency }}' then 1.0
            when export_rates.rate_to_reporting is not null then export_rates.rate_to_reporting
            else default_rates_to_reporting.rate_to_reporting
        end as rate_to_reporting,
        case
            when currency_months.currency = '{{ reporting_currency }}' then 'reporting_currency'
            when export_rates.rate_to_reporting is not null then 'fx_rates_export'
            when default_rates_to_reporting.rate_to_reporting is not null then 'default_seed'
        end as rate_source
    from currency_months
    left join export_rates
        on currency_months.currency = export_rates.currency
        and currency_months.rate_month = export_rates.rate_month
    left join default_rates_to_reporting
        on currency_months.currency = default_rates_to_reporting.currency

),

final as (

    select
        currency,
        rate_month,
        cast(rate_to_reporting as double) as rate_to_reporting,
        rate_source,
        '{{ reporting_currency }}' as reporting_currency
    from resolved

)

select * from final
