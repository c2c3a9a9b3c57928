with

source as (

    select * from {{ source('support', 'incidents') }}

),

renamed as (

    select
        -- ids
        cast(incident_id as {{ dbt.type_string() }}) as incident_id,

        -- attributes
        cast(title as {{ dbt.type_string() }}) as title,
        cast(severity as {{ dbt.type_string() }}) as severity,
        resolved_at is null as is_ongoing,

        -- timestamps (UTC)
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(resolved_at as {{ dbt.type_timestamp() }}) as resolved_at,

        -- outage length in minutes, to the second (null while ongoing)
        case
            when resolved_at is not null
                then cast(
                    {{ dbt.datediff('started_at', 'resolved_at', 'second') }} as double
                ) / 60
        end as duration_minutes

    from source

)

select * from renamed
