with

source as (

    select * from {{ source('product', 'features') }}

),

renamed as (

    select
        -- ids
        cast(feature_key as {{ dbt.type_string() }}) as feature_key,

        -- attributes
        cast(feature_name as {{ dbt.type_string() }}) as feature_name,
        cast(is_key_feature as boolean) as is_key_feature,

        -- dates
        cast(released_date as date) as released_date

    from source

)

select * from renamed
