with

source as (

    select * from {{ source('crm', 'activities') }}

),

renamed as (

    select
        -- ids
        cast(activity_id as {{ dbt.type_string() }}) as activity_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,

        -- categories
        cast(activity_type as {{ dbt.type_string() }}) as activity_type,
        cast(sentiment as {{ dbt.type_string() }}) as sentiment,

        -- dates
        cast(activity_date as date) as activity_date

    from source

)

select * from renamed
