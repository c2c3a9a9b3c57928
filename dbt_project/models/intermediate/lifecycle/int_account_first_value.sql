{#- One row per CRM account: when it started (first day of MRR, start of its first new-business
    contract) and when it first reached value (first use of any key feature), METRICS.md,
    Adoption: time to first value. -#}
with

accounts as (

    select account_id from {{ ref('stg_crm__accounts') }}

),

daily_mrr as (

    select account_id, date_day, mrr from {{ ref('fct_mrr_daily') }}

),

opportunities as (

    select
        opportunity_id,
        account_id,
        opportunity_type,
        is_contract,
        close_date,
        contract_start_date
    from {{ ref('stg_crm__opportunities') }}

),

key_features as (

    select feature_key from {{ ref('stg_product__features') }}
    where is_key_feature

),

-- the users' months of use of each feature (first day of use in the month): the events
-- once aggregated, not every event of history
feature_months as (

    select account_id, feature_key, first_active_date
    from {{ ref('int_user_feature_activity_monthly') }}

),

-- first day with MRR > 0 (a 0-MRR trial is not MRR yet)
first_mrr as (

    select
        account_id,
        min(date_day) as first_mrr_date
    from daily_mrr
    where mrr > 0
    group by account_id

),

-- the first closed-won new-business contract (by contract start, then close date, then id)
ranked_new_contracts as (

    select
        account_id,
        opportunity_id,
        contract_start_date,
        row_number() over (
            partition by account_id
            order by contract_start_date, close_date, opportunity_id
        ) as contract_rank
    from opportunities
    where opportunity_type = 'new'
        and is_contract

),

first_contract as (

    select
        account_id,
        opportunity_id as first_contract_opportunity_id,
        contract_start_date as first_contract_start_date
    from ranked_new_contracts
    where contract_rank = 1

),

first_key_feature_use as (

    select
        feature_months.account_id,
        min(feature_months.first_active_date) as first_key_feature_use_date
    from feature_months
    inner join key_features
        on feature_months.feature_key = key_features.feature_key
    group by feature_months.account_id

),

final as (

    select
        accounts.account_id,
        first_mrr.first_mrr_date,
        first_contract.first_contract_opportunity_id,
        first_contract.first_contract_start_date,
        coalesce(first_mrr.first_mrr_date, first_contract.first_contract_start_date)
            as value_clock_start_date,
        first_key_feature_use.first_key_feature_use_date,
        {{ cs_metrics.days_between(
            'coalesce(first_mrr.first_mrr_date, first_contract.first_contract_start_date)',
            'first_key_feature_use.first_key_feature_use_date') }} as time_to_first_value_days
    from accounts
    left join first_mrr
        on accounts.account_id = first_mrr.account_id
    left join first_contract
        on accounts.account_id = first_contract.account_id
    left join first_key_feature_use
        on accounts.account_id = first_key_feature_use.account_id

)

select * from final
