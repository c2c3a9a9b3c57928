with

source as (

    select * from {{ source('crm', 'contacts') }}

),

renamed as (

    select
        -- ids
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,

        -- attributes
        cast(full_name as {{ dbt.type_string() }}) as full_name,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(role as {{ dbt.type_string() }}) as role,

        -- categories (stakeholder coverage and champion left, METRICS.md)
        role in ('sponsor', 'decision_maker', 'technical') as is_key_stakeholder,
        role in ('sponsor', 'champion') as is_sponsor_or_champion,
        left_date is null as is_active,

        -- dates
        cast(active_from as date) as active_from,
        cast(left_date as date) as left_date

    from source

)

select * from renamed
