with

source as (

    select * from {{ source('billing', 'customers') }}

),

renamed as (

    select
        -- ids
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,

        -- attributes
        cast(customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(currency as {{ dbt.type_string() }}) as currency,

        -- dates
        cast(created_date as date) as created_date

    from source

)

select * from renamed
