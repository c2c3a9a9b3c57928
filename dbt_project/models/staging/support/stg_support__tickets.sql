with

source as (

    select * from {{ source('support', 'tickets') }}

),

renamed as (

    select
        -- ids
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(requester_contact_id as {{ dbt.type_string() }}) as requester_contact_id,

        -- categories
        cast(priority as {{ dbt.type_string() }}) as priority,
        cast(status as {{ dbt.type_string() }}) as status,
        status in ('solved', 'closed') as is_solved,
        status in ('new', 'open', 'pending') as is_open,

        -- satisfaction (null when unrated)
        cast(csat_score as {{ dbt.type_int() }}) as csat_score,
        csat_score is not null as is_csat_rated,
        case
            when csat_score >= 4 then true
            when csat_score is not null then false
        end as is_csat_satisfied,

        -- timestamps (UTC)
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(first_response_at as {{ dbt.type_timestamp() }}) as first_response_at,
        cast(solved_at as {{ dbt.type_timestamp() }}) as solved_at,
        cast(created_at as date) as created_date,

        -- durations in minutes, to the second (null until responded / solved)
        case
            when first_response_at is not null
                then cast(
                    {{ dbt.datediff('created_at', 'first_response_at', 'second') }} as double
                ) / 60
        end as first_response_minutes,
        case
            when solved_at is not null
                then cast(
                    {{ dbt.datediff('created_at', 'solved_at', 'second') }} as double
                ) / 60
        end as resolution_minutes

    from source

)

select * from renamed
