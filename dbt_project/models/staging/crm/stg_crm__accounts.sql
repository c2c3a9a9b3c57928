with

source as (

    select * from {{ source('crm', 'accounts') }}

),

renamed as (

    select
        -- ids
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(owner_csm_id as {{ dbt.type_string() }}) as owner_csm_id,

        -- attributes
        cast(account_name as {{ dbt.type_string() }}) as account_name,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(industry as {{ dbt.type_string() }}) as industry,
        cast(region as {{ dbt.type_string() }}) as region,

        -- dates
        cast(created_date as date) as created_date

    from source

)

select * from renamed
