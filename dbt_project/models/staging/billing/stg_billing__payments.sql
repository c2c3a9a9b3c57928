with

source as (

    select * from {{ source('billing', 'payments') }}

),

renamed as (

    select
        -- ids
        cast(payment_id as {{ dbt.type_string() }}) as payment_id,
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,

        -- categories
        cast(status as {{ dbt.type_string() }}) as status,
        status = 'succeeded' as is_succeeded,

        -- amounts
        cast(amount as decimal(18, 2)) as amount,
        cast(currency as {{ dbt.type_string() }}) as currency,

        -- dates
        cast(payment_date as date) as payment_date

    from source

)

select * from renamed
