with

source as (

    select * from {{ source('crm', 'quotas') }}

),

renamed as (

    select
        -- ids
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,

        -- categories
        cast(quota_type as {{ dbt.type_string() }}) as quota_type,

        -- amounts
        cast(amount as decimal(18, 2)) as amount,
        cast(currency as {{ dbt.type_string() }}) as currency,

        -- dates
        cast(quarter_start as date) as quarter_start,
        -- last day of the quarter (inclusive)
        {{ add_days(add_months('quarter_start', 3), -1) }} as quarter_end

    from source

)

select * from renamed
