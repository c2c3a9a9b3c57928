with

source as (

    select * from {{ source('billing', 'plans') }}

),

renamed as (

    select
        -- ids
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,

        -- attributes
        cast(plan_name as {{ dbt.type_string() }}) as plan_name,
        cast(billing_interval as {{ dbt.type_string() }}) as billing_interval,
        cast(interval_count as {{ dbt.type_int() }}) as interval_count,

        -- months in one billing period: what one period's price is divided by to give MRR
        -- (annual / 12, quarterly / 3, weekly * 52 / 12, N-month interval / N; METRICS.md)
        cast(
            case billing_interval
                when 'month' then interval_count
                when 'quarter' then 3 * interval_count
                when 'year' then 12 * interval_count
                when 'week' then cast(interval_count as double) * 12 / 52
            end
            as double
        ) as interval_months,

        -- amounts
        cast(unit_price as decimal(18, 2)) as unit_price,
        cast(currency as {{ dbt.type_string() }}) as currency

    from source

)

select * from renamed
