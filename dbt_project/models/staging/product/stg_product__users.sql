with

source as (

    select * from {{ source('product', 'users') }}

),

renamed as (

    select
        -- ids
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,

        -- attributes
        cast(email as {{ dbt.type_string() }}) as email,
        deactivated_date is null as is_active,

        -- dates
        cast(provisioned_date as date) as provisioned_date,
        cast(deactivated_date as date) as deactivated_date

    from source

)

select * from renamed
