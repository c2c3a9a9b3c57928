{#- One row per month per slice (all, segment, csm_owner) per lifecycle stage, plus one row
    with lifecycle_stage = 'all' for the slice's totals: accounts and ARR in each stage on the
    month's measurement day, the days spent in the stage by the spells that left it during the
    month, and (on the 'all' row) time to first value and days to onboard of the accounts that
    reached them during the month (METRICS.md, Lifecycle and Adoption). -#}
with

as_of as (

    select as_of_month from {{ ref('int_as_of_date') }}

),

lifecycle_monthly as (

    select account_id, month, measured_on, is_partial, lifecycle_stage, arr
    from {{ ref('int_account_lifecycle_monthly') }}

),

spells as (

    select account_id, stage, left_date, days_in_stage
    from {{ ref('fct_lifecycle_stages') }}

),

first_value as (

    select
        account_id,
        first_contract_start_date,
        first_key_feature_use_date,
        time_to_first_value_days
    from {{ ref('int_account_first_value') }}

),

accounts as (

    select account_id, segment, owner_csm_id from {{ ref('dim_accounts') }}

),

stages as (

    select 'onboarding' as lifecycle_stage, 1 as stage_order
    union all select 'training', 2
    union all select 'adopting', 3
    union all select 'extending', 4
    union all select 'renewal', 5
    union all select 'churned', 6
    union all select 'all', 0

),

account_slices as (

    select account_id, 'all' as slice_type, 'all' as slice_value
    from accounts

    union all

    select account_id, 'segment' as slice_type, coalesce(segment, 'unknown') as slice_value
    from accounts

    union all

    select
        account_id,
        'csm_owner' as slice_type,
        coalesce(owner_csm_id, 'unassigned') as slice_value
    from accounts

),

-- accounts and ARR per stage on each month's measurement day ---------------------------------
stage_positions as (

    select
        lifecycle_monthly.month,
        account_slices.slice_type,
        account_slices.slice_value,
        lifecycle_monthly.lifecycle_stage,
        count(*) as accounts,
        sum(lifecycle_monthly.arr) as arr
    from lifecycle_monthly
    inner join account_slices
        on lifecycle_monthly.account_id = account_slices.account_id
    group by
        lifecycle_monthly.month,
        account_slices.slice_type,
        account_slices.slice_value,
        lifecycle_monthly.lifecycle_stage

),

-- spells that left their stage during the month (left_date in the month) -----------------------
ended_spells as (

    select
        {{ cs_metrics.month_start('spells.left_date') }} as month,
        account_slices.slice_type,
        account_slices.slice_value,
        spells.stage as lifecycle_stage,
        spells.days_in_stage
    from spells
    inner join account_slices
        on spells.account_id = account_slices.account_id
    where spells.left_date is not null

),

ended_spell_stats as (

    select
        month,
        slice_type,
        slice_value,
        lifecycle_stage,
        count(*) as spells_ended,
        avg(cast(days_in_stage as double)) as mean_days_in_stage,
        {{ cs_metrics.cs_median('days_in_stage') }} as median_days_in_stage
    from ended_spells
    group by month, slice_type, slice_value, lifecycle_stage

),

-- time to first value, by the month of first value; days to onboard, by the month the account
-- first left onboarding (from the start of its first new-business contract) --------------------
first_onboarding_exits as (

    select
        account_id,
        min(left_date) as onboarded_date
    from spells
    where stage = 'onboarding'
        and left_date is not null
    group by account_id

),

value_milestones as (

    select
        account_id,
        {{ cs_metrics.month_start('first_key_feature_use_date') }} as month,
        time_to_first_value_days as days,
        'time_to_first_value' as milestone
    from first_value
    where time_to_first_value_days is not null

    union all

    select
        first_value.account_id,
        {{ cs_metrics.month_start('first_onboarding_exits.onboarded_date') }} as month,
        {{ cs_metrics.days_between('first_value.first_contract_start_date',
                                   'first_onboarding_exits.onboarded_date') }} as days,
        'days_to_onboard' as milestone
    from first_value
    inner join first_onboarding_exits
        on first_value.account_id = first_onboarding_exits.account_id
    where first_value.first_contract_start_date is not null

),

milestone_stats as (

    select
        value_milestones.month,
        account_slices.slice_type,
        account_slices.slice_value,
        'all' as lifecycle_stage,
        sum(case when value_milestones.milestone = 'time_to_first_value' then 1 else 0 end)
            as accounts_reaching_first_value,
        avg(case when value_milestones.milestone = 'time_to_first_value'
                 then cast(value_milestones.days as double) end)
            as mean_time_to_first_value_days,
        {{ cs_metrics.cs_median("case when value_milestones.milestone = 'time_to_first_value'
                                      then value_milestones.days end") }}
            as median_time_to_first_value_days,
        sum(case when value_milestones.milestone = 'days_to_onboard' then 1 else 0 end)
            as accounts_onboarded,
        avg(case when value_milestones.milestone = 'days_to_onboard'
                 then cast(value_milestones.days as double) end)
            as mean_days_to_onboard,
        {{ cs_metrics.cs_median("case when value_milestones.milestone = 'days_to_onboard'
                                      then value_milestones.days end") }}
            as median_days_to_onboard
    from value_milestones
    inner join account_slices
        on value_milestones.account_id = account_slices.account_id
    group by value_milestones.month, account_slices.slice_type, account_slices.slice_value

),

-- every month of the lifecycle history, for every slice that has accounts in it, every stage
slice_months as (

    select distinct month, slice_type, slice_value from stage_positions

),

scaffold as (

    select
        slice_months.month,
        slice_months.slice_type,
        slice_months.slice_value,
        stages.lifecycle_stage,
        stages.stage_order
    from slice_months
    cross join stages

),

stage_totals as (

    select
        month,
        slice_type,
        slice_value,
        sum(accounts) as accounts,
        sum(arr) as arr
    from stage_positions
    group by month, slice_type, slice_value

),

month_flags as (

    select distinct month, measured_on, is_partial from lifecycle_monthly

),

final as (

    select
        scaffold.month,
        month_flags.measured_on,
        month_flags.is_partial,
        scaffold.slice_type,
        scaffold.slice_value,
        scaffold.lifecycle_stage,
        scaffold.stage_order,
        cast(coalesce(stage_positions.accounts, stage_totals.accounts, 0)
             as {{ dbt.type_bigint() }}) as accounts,
        cast(coalesce(stage_positions.arr, stage_totals.arr, 0) as decimal(18, 2)) as arr,
        cast(case
            when scaffold.lifecycle_stage <> 'all' then coalesce(ended_spell_stats.spells_ended, 0)
        end as {{ dbt.type_bigint() }}) as spells_ended,
        ended_spell_stats.mean_days_in_stage,
        ended_spell_stats.median_days_in_stage,
        cast(case
            when scaffold.lifecycle_stage = 'all' then coalesce(milestone_stats.accounts_reaching_first_value, 0)
        end as {{ dbt.type_bigint() }}) as accounts_reaching_first_value,
        milestone_stats.mean_time_to_first_value_days,
        milestone_stats.median_time_to_first_value_days,
        cast(case
            when scaffold.lifecycle_stage = 'all' then coalesce(milestone_stats.accounts_onboarded, 0)
        end as {{ dbt.type_bigint() }}) as accounts_onboarded,
        milestone_stats.mean_days_to_onboard,
        milestone_stats.median_days_to_onboard
    from scaffold
    inner join month_flags
        on scaffold.month = month_flags.month
    left join stage_positions
        on scaffold.month = stage_positions.month
        and scaffold.slice_type = stage_positions.slice_type
        and scaffold.slice_value = stage_positions.slice_value
        and scaffold.lifecycle_stage = stage_positions.lifecycle_stage
    left join stage_totals
        on scaffold.month = stage_totals.month
        and scaffold.slice_type = stage_totals.slice_type
        and scaffold.slice_value = stage_totals.slice_value
        and scaffold.lifecycle_stage = 'all'
    left join ended_spell_stats
        on scaffold.month = ended_spell_stats.month
        and scaffold.slice_type = ended_spell_stats.slice_type
        and scaffold.slice_value = ended_spell_stats.slice_value
        and scaffold.lifecycle_stage = ended_spell_stats.lifecycle_stage
    left join milestone_stats
        on scaffold.month = milestone_stats.month
        and scaffold.slice_type = milestone_stats.slice_type
        and scaffold.slice_value = milestone_stats.slice_value
        and scaffold.lifecycle_stage = milestone_stats.lifecycle_stage

)

select * from final
