with

source as (

    select * from {{ source('billing', 'invoice_lines') }}

),

renamed as (

    select
        -- ids
        cast(invoice_line_id as {{ dbt.type_string() }}) as invoice_line_id,
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,

        -- categories
        cast(line_type as {{ dbt.type_string() }}) as line_type,
        line_type = 'recurring' as is_recurring,

        -- quantities
        cast(quantity as {{ dbt.type_int() }}) as quantity,

        -- amounts (in `currency`; credit lines carry the credit as a positive amount)
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(amount as decimal(18, 2)) as amount,
        cast(coalesce(discount_amount, 0) as decimal(18, 2)) as discount_amount,
        cast(amount - coalesce(discount_amount, 0) as decimal(18, 2)) as net_amount,

        -- service period (end exclusive)
        cast(service_period_start as date) as service_period_start,
        cast(service_period_end as date) as service_period_end,
        {{ cs_metrics.days_between('service_period_start', 'service_period_end') }}
            as service_period_days

    from source

)

select * from renamed
