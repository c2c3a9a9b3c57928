with

source as (

    select * from {{ source('crm', 'opportunities') }}

),

renamed as (

    select
        -- ids
        cast(opportunity_id as {{ dbt.type_string() }}) as opportunity_id,
        cast(account_id as {{ dbt.type_string() }}) as account_id,
        cast(owner_id as {{ dbt.type_string() }}) as owner_id,
        cast(renewed_opportunity_id as {{ dbt.type_string() }}) as renewed_opportunity_id,

        -- categories
        cast(opportunity_type as {{ dbt.type_string() }}) as opportunity_type,
        cast(stage as {{ dbt.type_string() }}) as stage,
        stage = 'open' as is_open,
        stage in ('closed_won', 'closed_lost') as is_closed,
        stage = 'closed_won' as is_won,
        opportunity_type in ('expansion', 'cross_sell') as is_expansion_or_cross_sell,
        stage = 'closed_won'
            and contract_start_date is not null
            and contract_end_date is not null
            as is_contract,

        -- amounts
        cast(amount as decimal(18, 2)) as amount,
        cast(currency as {{ dbt.type_string() }}) as currency,

        -- dates
        cast(created_date as date) as created_date,
        cast(close_date as date) as close_date,
        cast(contract_start_date as date) as contract_start_date,
        cast(contract_end_date as date) as contract_end_date,
        cast(delivery_signoff_date as date) as delivery_signoff_date,

        -- contract length (contract_end_date is inclusive)
        case
            when contract_start_date is not null and contract_end_date is not null
                then cast(
                    {{ days_between('contract_start_date', 'contract_end_date') }} + 1
                    as {{ dbt.type_int() }}
                )
        end as contract_length_days,
        -- whole months, as a CRM's contract term: days over 365.25 / 12 days a month, rounded,
        -- so 365 and 366 days are both 12 months; at least 1 month
        case
            when contract_start_date is not null and contract_end_date is not null
                then greatest(1, cast(round(
                    ({{ days_between('contract_start_date', 'contract_end_date') }} + 1)
                    * 12 / 365.25
                ) as {{ dbt.type_int() }}))
        end as contract_length_months,
        case
            when contract_start_date is not null and contract_end_date is not null
                then cast(greatest(1, cast(round(
                    ({{ days_between('contract_start_date', 'contract_end_date') }} + 1)
                    * 12 / 365.25
                ) as {{ dbt.type_int() }})) as double) / 12
        end as contract_length_years

    from source

)

select * from renamed
