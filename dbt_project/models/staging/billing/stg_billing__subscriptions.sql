with

source as (

    select * from {{ source('billing', 'subscriptions') }}

),

renamed as (

    select
        -- ids
        cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,

        -- categories
        cast(status as {{ dbt.type_string() }}) as status,
        status = 'trialing' as is_trialing,
        status = 'canceled' or canceled_date is not null as is_canceled,

        -- quantities
        cast(seats as {{ dbt.type_int() }}) as seats,

        -- dates
        cast(start_date as date) as start_date,
        cast(trial_end_date as date) as trial_end_date,
        cast(canceled_date as date) as canceled_date

    from source

)

select * from renamed
