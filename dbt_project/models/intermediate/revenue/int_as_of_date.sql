{#- The reporting date every period ends at. The as_of_date var wins; without it, the latest
    invoice date in the billing export, so the same exports always give the same marts
    (DECISIONS.md). -#}
with

invoices as (

    select invoice_date from {{ ref('stg_billing__invoices') }}

),

latest_invoice as (

    select max(invoice_date) as latest_invoice_date
    from invoices

),

chosen as (

    select
        {%- if var('as_of_date', none) %}
        cast({{ cs_metrics.var_literal('as_of_date') }} as date) as as_of_date,
        'var' as as_of_source
        {%- else %}
        coalesce(
            latest_invoice_date,
            cast({{ dbt.current_timestamp() }} as date)
        ) as as_of_date,
        case
            when latest_invoice_date is not null then 'latest_invoice_date'
            else 'current_date'
        end as as_of_source
        {%- endif %}
    from latest_invoice

),

final as (

    select
        as_of_date,
        {{ cs_metrics.month_start('as_of_date') }} as as_of_month,
        {{ cs_metrics.month_end('as_of_date') }} as as_of_month_end,
        as_of_date < {{ cs_metrics.month_end('as_of_date') }} as is_as_of_month_partial,
        as_of_source
    from chosen

)

select * from final
