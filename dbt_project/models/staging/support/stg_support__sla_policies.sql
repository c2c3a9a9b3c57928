with

source as (

    select * from {{ source('support', 'sla_policies') }}

),

renamed as (

    select
        -- ids
        cast(priority as {{ dbt.type_string() }}) as priority,

        -- targets
        cast(first_response_target_minutes as {{ dbt.type_int() }})
            as first_response_target_minutes,
        cast(resolution_target_minutes as {{ dbt.type_int() }}) as resolution_target_minutes

    from source

)

select * from renamed
