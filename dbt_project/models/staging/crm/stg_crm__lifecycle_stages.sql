with

source as (

    select * from {{ source('crm', 'lifecycle_stages') }}

),

renamed as (

    select
        -- ids
        cast(account_id as {{ dbt.type_string() }}) as account_id,

        -- categories
        cast(stage as {{ dbt.type_string() }}) as stage,
        -- position of the stage in the customer journey, for sorting reports
        case stage
            when 'onboarding' then 1
            when 'training' then 2
            when 'adopting' then 3
            when 'extending' then 4
            when 'renewal' then 5
            when 'churned' then 6
        end as stage_order,

        -- dates
        cast(entered_date as date) as entered_date

    from source

)

select * from renamed
