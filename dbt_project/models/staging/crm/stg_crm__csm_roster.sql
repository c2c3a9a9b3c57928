with

source as (

    select * from {{ source('crm', 'csm_roster') }}

),

renamed as (

    select
        -- ids
        cast(csm_id as {{ dbt.type_string() }}) as csm_id,

        -- attributes
        cast(csm_name as {{ dbt.type_string() }}) as csm_name,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(team as {{ dbt.type_string() }}) as team,
        end_date is null as is_current,

        -- dates
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date

    from source

)

select * from renamed
