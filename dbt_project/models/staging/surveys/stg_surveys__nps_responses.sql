with

source as (

    select * from {{ source('surveys', 'nps_responses') }}

),

renamed as (

    select
        -- ids
        cast(response_id as {{ dbt.type_string() }}) as response_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,

        -- score and its NPS band (thresholds are the vars nps_promoter_min, nps_detractor_max)
        cast(score as {{ dbt.type_int() }}) as score,
        {{ cs_metrics.nps_category('score') }} as nps_category,
        cast(comment as {{ dbt.type_string() }}) as comment,

        -- dates
        cast(responded_date as date) as responded_date

    from source

)

select * from renamed
