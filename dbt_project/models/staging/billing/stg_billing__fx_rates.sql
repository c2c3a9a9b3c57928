with

source as (

    select * from {{ source('billing', 'fx_rates') }}

),

renamed as (

    select
        -- ids
        cast(currency as {{ dbt.type_string() }}) as currency,
        -- the contract asks for the first day of the month; truncating makes any day work
        {{ cs_metrics.month_start('rate_month') }} as rate_month,

        -- rates
        cast(rate_to_reporting as double) as rate_to_reporting

    from source

)

select * from renamed
