{#- One row per account per month, from the account's first month (first day of MRR, first
    contract start or first CRM stage entry, whichever is earliest) to the as-of month, with
    the lifecycle stage on the month's measurement day (its last day, or the as-of date).
    The CRM's stage history wins; months it does not cover get the derived stage
    (METRICS.md, Lifecycle; DECISIONS.md, Lifecycle and renewals). -#}
with

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

first_value as (

    select
        account_id,
        first_mrr_date,
        first_contract_start_date,
        first_key_feature_use_date
    from {{ ref('int_account_first_value') }}

),

stage_history as (

    select account_id, stage, stage_order, entered_date
    from {{ ref('stg_crm__lifecycle_stages') }}

),

monthly_mrr as (

    select account_id, month, arr, is_paying from {{ ref('fct_mrr_monthly') }}

),

expansion_movements as (

    select account_id, month
    from {{ ref('fct_mrr_movements') }}
    where expansion_mrr > 0

),

opportunities as (

    select
        account_id,
        opportunity_type,
        stage,
        is_contract,
        is_expansion_or_cross_sell,
        created_date,
        close_date,
        contract_end_date
    from {{ ref('stg_crm__opportunities') }}

),

first_stage_entries as (

    select
        account_id,
        min(entered_date) as first_stage_entered_date
    from stage_history
    group by account_id

),

account_starts as (

    select
        coalesce(first_value.account_id, first_stage_entries.account_id) as account_id,
        least(
            first_value.first_mrr_date,
            first_value.first_contract_start_date,
            first_stage_entries.first_stage_entered_date
        ) as start_date,
        first_value.first_mrr_date,
        first_value.first_key_feature_use_date,
        first_stage_entries.account_id is not null as has_crm_history
    from first_value
    full outer join first_stage_entries
        on first_value.account_id = first_stage_entries.account_id

),

-- onboarding lasts until first value, at most lifecycle_onboarding_max_days
account_bounds as (

    select
        account_starts.account_id,
        account_starts.start_date,
        account_starts.first_mrr_date,
        account_starts.has_crm_history,
        least(
            coalesce(
                account_starts.first_key_feature_use_date,
                {{ cs_metrics.add_days('account_starts.start_date',
                                       var('lifecycle_onboarding_max_days')) }}
            ),
            {{ cs_metrics.add_days('account_starts.start_date',
                                   var('lifecycle_onboarding_max_days')) }}
        ) as onboarding_end_date,
        {{ cs_metrics.month_start('account_starts.start_date') }} as first_month,
        as_of.as_of_month as last_month
    from account_starts
    cross join as_of
    where account_starts.start_date is not null
        and account_starts.start_date <= as_of.as_of_date

),

months as (

    {{ cs_metrics.date_series('account_bounds', 'first_month', 'last_month', 'month', 'month',
                              carry=['account_id']) }}

),

account_months as (

    select
        months.account_id,
        months.month,
        case
            when {{ cs_metrics.month_end('months.month') }} < as_of.as_of_date
                then {{ cs_metrics.month_end('months.month') }}
            else as_of.as_of_date
        end as measured_on,
        as_of.as_of_date < {{ cs_metrics.month_end('months.month') }} as is_partial
    from months
    cross join as_of

),

-- CRM stage on the measured day: the latest entry on or before it
ranked_crm_stages as (

    select
        account_months.account_id,
        account_months.month,
        stage_history.stage,
        row_number() over (
            partition by account_months.account_id, account_months.month
            order by stage_history.entered_date desc, stage_history.stage_order desc
        ) as stage_rank
    from account_months
    inner join stage_history
        on account_months.account_id = stage_history.account_id
        and stage_history.entered_date <= account_months.measured_on

),

crm_stages as (

    select account_id, month, stage as crm_stage
    from ranked_crm_stages
    where stage_rank = 1

),

-- a closed-won contract ends within the renewal window of the measured day
renewal_windows as (

    select distinct
        account_months.account_id,
        account_months.month
    from account_months
    inner join opportunities
        on account_months.account_id = opportunities.account_id
        and opportunities.is_contract
        and opportunities.contract_end_date >= account_months.measured_on
        and opportunities.contract_end_date <= {{ cs_metrics.add_days(
            'account_months.measured_on', var('lifecycle_renewal_window_days')) }}

),

-- an expansion or cross-sell opportunity is open on the measured day
open_expansions as (

    select distinct
        account_months.account_id,
        account_months.month
    from account_months
    inner join opportunities
        on account_months.account_id = opportunities.account_id
        and opportunities.is_expansion_or_cross_sell
        and opportunities.created_date <= account_months.measured_on
        and (
            opportunities.stage = 'open'
            or opportunities.close_date > account_months.measured_on
        )

),

-- an expansion MRR movement whose month ends within the look-back of the measured day
recent_expansions as (

    select distinct
        account_months.account_id,
        account_months.month
    from account_months
    inner join expansion_movements
        on account_months.account_id = expansion_movements.account_id
        and expansion_movements.month <= account_months.month
        and {{ cs_metrics.month_end('expansion_movements.month') }} > {{ cs_metrics.add_days(
            'account_months.measured_on', '-' ~ var('lifecycle_expansion_lookback_days')) }}

),

derived as (

    select
        account_months.account_id,
        account_months.month,
        account_months.measured_on,
        account_months.is_partial,
        account_bounds.has_crm_history,
        coalesce(monthly_mrr.arr, 0) as arr,
        case
            -- logo churn: no MRR on the measured day after having had MRR
            when coalesce(monthly_mrr.is_paying, false) = false
                and account_bounds.first_mrr_date < account_months.measured_on
                then 'churned'
            when account_months.measured_on < account_bounds.onboarding_end_date
                then 'onboarding'
            when renewal_windows.account_id is not null then 'renewal'
            when open_expansions.account_id is not null
                or recent_expansions.account_id is not null
                then 'extending'
            else 'adopting'
        end as derived_stage
    from account_months
    inner join account_bounds
        on account_months.account_id = account_bounds.account_id
    left join monthly_mrr
        on account_months.account_id = monthly_mrr.account_id
        and account_months.month = monthly_mrr.month
    left join renewal_windows
        on account_months.account_id = renewal_windows.account_id
        and account_months.month = renewal_windows.month
    left join open_expansions
        on account_months.account_id = open_expansions.account_id
        and account_months.month = open_expansions.month
    left join recent_expansions
        on account_months.account_id = recent_expansions.account_id
        and account_months.month = recent_expansions.month

),

final as (

    select
        derived.account_id,
        derived.month,
        derived.measured_on,
        coalesce(crm_stages.crm_stage, derived.derived_stage) as lifecycle_stage,
        case
            when crm_stages.crm_stage is not null then 'crm_history'
            else 'derived'
        end as stage_source,
        derived.derived_stage,
        derived.has_crm_history,
        cast(derived.arr as decimal(18, 2)) as arr,
        derived.is_partial
    from derived
    left join crm_stages
        on derived.account_id = crm_stages.account_id
        and derived.month = crm_stages.month

)

select * from final
