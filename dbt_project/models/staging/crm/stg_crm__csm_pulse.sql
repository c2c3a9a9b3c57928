with

source as (

    select * from {{ source('crm', 'csm_pulse') }}

),

renamed as (

    select
        -- ids
        cast(pulse_id as {{ dbt.type_string() }}) as pulse_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(csm_id as {{ dbt.type_string() }}) as csm_id,

        -- attributes
        cast(pulse as {{ dbt.type_string() }}) as pulse,
        cast(note as {{ dbt.type_string() }}) as note,

        -- dates
        cast(pulse_date as date) as pulse_date

    from source

)

select * from renamed
