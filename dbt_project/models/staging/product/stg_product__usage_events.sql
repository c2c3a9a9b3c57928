with

source as (

    select * from {{ source('product', 'usage_events') }}

),

renamed as (

    select
        -- ids
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(feature_key as {{ dbt.type_string() }}) as feature_key,

        -- timestamps (UTC)
        cast(event_at as {{ dbt.type_timestamp() }}) as event_at,
        cast(event_at as date) as event_date,

        -- time in product
        cast(duration_seconds as {{ dbt.type_int() }}) as duration_seconds,
        cast(duration_seconds as double) / 60 as duration_minutes

    from source

)

select * from renamed
