with

source as (

    select * from {{ source('billing', 'invoices') }}

),

renamed as (

    select
        -- ids
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        -- categories
        cast(status as {{ dbt.type_string() }}) as status,
        status = 'void' as is_void,
        status = 'draft' as is_draft,
        status = 'paid' as is_paid,

        -- amounts
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(total_amount as decimal(18, 2)) as total_amount,
        cast(coalesce(tax_amount, 0) as decimal(18, 2)) as tax_amount,

        -- dates
        cast(invoice_date as date) as invoice_date,
        cast(due_date as date) as due_date

    from source

)

select * from renamed
