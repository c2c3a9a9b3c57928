{#- Revenue and logo retention per reporting window and slice (METRICS.md, Revenue): GRR, NRR,
    churn rates, customer counts and the MRR movements of the window. An account's slice is its
    current attribute in dim_accounts, except lifecycle_stage: the stage at the start of the
    window, or at its end for an account that was not yet a customer then (DECISIONS.md). -#}
with

periods as (

    select
        period_type,
        period_start,
        period_end,
        period_last_month,
        starting_month,
        starting_date,
        is_partial
    from {{ ref('int_retention_periods') }}

),

monthly_arr as (

    select account_id, month, arr from {{ ref('fct_mrr_monthly') }}

),

movements as (

    select
        account_id,
        month,
        new_mrr,
        reactivation_mrr,
        expansion_mrr,
        contraction_mrr,
        churn_mrr
    from {{ ref('fct_mrr_movements') }}

),

accounts as (

    select
        account_id,
        segment,
        owner_csm_id,
        plan_name,
        signup_cohort
    from {{ ref('dim_accounts') }}

),

lifecycle as (

    select account_id, month, lifecycle_stage
    from {{ ref('int_account_lifecycle_monthly') }}

),

billed_accounts as (

    select distinct account_id from monthly_arr

),

-- one row per slice an account belongs to; billed accounts unknown to the CRM keep 'unknown'
account_slices as (

    select account_id, 'all' as slice_type, 'all' as slice_value
    from billed_accounts

    union all

    select
        billed_accounts.account_id,
        'segment' as slice_type,
        coalesce(accounts.segment, 'unknown') as slice_value
    from billed_accounts
    left join accounts on billed_accounts.account_id = accounts.account_id

    union all

    select
        billed_accounts.account_id,
        'csm_owner' as slice_type,
        coalesce(accounts.owner_csm_id, 'unassigned') as slice_value
    from billed_accounts
    left join accounts on billed_accounts.account_id = accounts.account_id

    union all

    select
        billed_accounts.account_id,
        'plan' as slice_type,
        coalesce(accounts.plan_name, 'unknown') as slice_value
    from billed_accounts
    left join accounts on billed_accounts.account_id = accounts.account_id

    union all

    select
        billed_accounts.account_id,
        'signup_cohort' as slice_type,
        coalesce(
            substring(cast(accounts.signup_cohort as {{ dbt.type_string() }}), 1, 7),
            'never_paid'
        ) as slice_value
    from billed_accounts
    left join accounts on billed_accounts.account_id = accounts.account_id

),

-- ARR of every billed account at t0 and t1 of every window
account_windows as (

    select
        periods.period_type,
        periods.period_start,
        periods.period_end,
        periods.period_last_month,
        periods.starting_month,
        billed_accounts.account_id,
        coalesce(starting.arr, 0) as starting_arr,
        coalesce(ending.arr, 0) as ending_arr
    from periods
    cross join billed_accounts
    left join monthly_arr as starting
        on billed_accounts.account_id = starting.account_id
        and periods.starting_month = starting.month
    left join monthly_arr as ending
        on billed_accounts.account_id = ending.account_id
        and periods.period_last_month = ending.month

),

-- movements of the window's months, per account
account_window_movements as (

    select
        periods.period_type,
        periods.period_start,
        periods.period_end,
        movements.account_id,
        sum(movements.new_mrr) as new_mrr,
        sum(movements.reactivation_mrr) as reactivation_mrr,
        sum(movements.expansion_mrr) as expansion_mrr,
        sum(movements.contraction_mrr) as contraction_mrr,
        sum(movements.churn_mrr) as churn_mrr
    from periods
    inner join movements
        on movements.month >= periods.period_start
        and movements.month <= periods.period_last_month
    group by
        periods.period_type,
        periods.period_start,
        periods.period_end,
        movements.account_id

),

account_window_facts as (

    select
        account_windows.period_type,
        account_windows.period_start,
        account_windows.period_end,
        account_windows.starting_month,
        account_windows.period_last_month,
        account_windows.account_id,
        account_windows.starting_arr,
        account_windows.ending_arr,
        account_windows.starting_arr > 0 as is_in_starting_base,
        account_windows.starting_arr > 0 and account_windows.ending_arr = 0 as has_churned,
        account_windows.ending_arr > 0 as is_customer_at_end,
        coalesce(account_window_movements.new_mrr, 0) as new_mrr,
        coalesce(account_window_movements.reactivation_mrr, 0) as reactivation_mrr,
        coalesce(account_window_movements.expansion_mrr, 0) as expansion_mrr,
        coalesce(account_window_movements.contraction_mrr, 0) as contraction_mrr,
        coalesce(account_window_movements.churn_mrr, 0) as churn_mrr
    from account_windows
    left join account_window_movements
        on account_windows.period_type = account_window_movements.period_type
        and account_windows.period_start = account_window_movements.period_start
        and account_windows.period_end = account_window_movements.period_end
        and account_windows.account_id = account_window_movements.account_id

),

-- the slices of every account in every window: its current attributes, and its lifecycle
-- stage at t0 (at t1 when it had no stage yet at t0)
account_window_slices as (

    select
        account_window_facts.period_type,
        account_window_facts.period_start,
        account_window_facts.period_end,
        account_window_facts.account_id,
        account_slices.slice_type,
        account_slices.slice_value
    from account_window_facts
    inner join account_slices
        on account_window_facts.account_id = account_slices.account_id

    union all

    select
        account_window_facts.period_type,
        account_window_facts.period_start,
        account_window_facts.period_end,
        account_window_facts.account_id,
        'lifecycle_stage' as slice_type,
        coalesce(
            stage_at_start.lifecycle_stage, stage_at_end.lifecycle_stage, 'unknown'
        ) as slice_value
    from account_window_facts
    left join lifecycle as stage_at_start
        on account_window_facts.account_id = stage_at_start.account_id
        and account_window_facts.starting_month = stage_at_start.month
    left join lifecycle as stage_at_end
        on account_window_facts.account_id = stage_at_end.account_id
        and account_window_facts.period_last_month = stage_at_end.month

),

aggregated as (

    select
        account_window_facts.period_type,
        account_window_facts.period_start,
        account_window_facts.period_end,
        account_window_slices.slice_type,
        account_window_slices.slice_value,
        sum(account_window_facts.starting_arr) as starting_arr,
        sum(account_window_facts.ending_arr) as ending_arr,
        sum(case when account_window_facts.is_in_starting_base
            then account_window_facts.starting_arr else 0 end) as retained_base_arr,
        sum(case when account_window_facts.is_in_starting_base
            then case
                when account_window_facts.ending_arr < account_window_facts.starting_arr
                    then account_window_facts.ending_arr
                else account_window_facts.starting_arr
            end
            else 0 end) as retained_arr,
        sum(case when account_window_facts.is_in_starting_base
            then account_window_facts.ending_arr else 0 end) as retained_arr_with_expansion,
        sum(case when account_window_facts.has_churned
            then account_window_facts.starting_arr else 0 end) as churned_arr,
        sum(case when account_window_facts.is_in_starting_base then 1 else 0 end)
            as starting_customers,
        sum(case when account_window_facts.has_churned then 1 else 0 end) as churned_customers,
        sum(case when account_window_facts.is_customer_at_end then 1 else 0 end)
            as ending_customers,
        sum(account_window_facts.new_mrr) as new_mrr,
        sum(account_window_facts.reactivation_mrr) as reactivation_mrr,
        sum(account_window_facts.expansion_mrr) as expansion_mrr,
        sum(account_window_facts.contraction_mrr) as contraction_mrr,
        sum(account_window_facts.churn_mrr) as churn_mrr
    from account_window_facts
    inner join account_window_slices
        on account_window_facts.period_type = account_window_slices.period_type
        and account_window_facts.period_start = account_window_slices.period_start
        and account_window_facts.period_end = account_window_slices.period_end
        and account_window_facts.account_id = account_window_slices.account_id
    group by
        account_window_facts.period_type,
        account_window_facts.period_start,
        account_window_facts.period_end,
        account_window_slices.slice_type,
        account_window_slices.slice_value

),

final as (

    select
        periods.period_type,
        periods.period_start,
        periods.period_end,
        periods.starting_date,
        periods.is_partial,
        aggregated.slice_type,
        aggregated.slice_value,

        -- ARR (reporting currency)
        cast(aggregated.starting_arr as decimal(18, 2)) as starting_arr,
        cast(aggregated.ending_arr as decimal(18, 2)) as ending_arr,
        cast(aggregated.retained_base_arr as decimal(18, 2)) as retained_base_arr,
        cast(aggregated.retained_arr as decimal(18, 2)) as retained_arr,
        cast(aggregated.retained_arr_with_expansion as decimal(18, 2))
            as retained_arr_with_expansion,
        cast(aggregated.churned_arr as decimal(18, 2)) as churned_arr,

        -- revenue retention (fractions; NULL without a starting base)
        {{ cs_metrics.safe_ratio('aggregated.retained_arr', 'aggregated.retained_base_arr') }}
            as grr,
        {{ cs_metrics.safe_ratio('aggregated.retained_arr_with_expansion',
                                 'aggregated.retained_base_arr') }} as nrr,
        -- 1 - GRR and 1 - NRR, computed from the lost ARR so they stay exact fractions
        {{ cs_metrics.safe_ratio('aggregated.retained_base_arr - aggregated.retained_arr',
                                 'aggregated.retained_base_arr') }} as gross_revenue_churn_rate,
        {{ cs_metrics.safe_ratio(
            'aggregated.retained_base_arr - aggregated.retained_arr_with_expansion',
            'aggregated.retained_base_arr') }} as net_revenue_churn_rate,
        {{ cs_metrics.safe_ratio('aggregated.churned_arr', 'aggregated.retained_base_arr') }}
            as churned_arr_rate,

        -- logo retention
        cast(aggregated.starting_customers as {{ dbt.type_int() }}) as starting_customers,
        cast(aggregated.churned_customers as {{ dbt.type_int() }}) as churned_customers,
        cast(aggregated.ending_customers as {{ dbt.type_int() }}) as ending_customers,
        {{ cs_metrics.safe_ratio('aggregated.churned_customers', 'aggregated.starting_customers') }}
            as logo_churn_rate,
        {{ cs_metrics.safe_ratio('aggregated.starting_customers - aggregated.churned_customers',
                                 'aggregated.starting_customers') }} as customer_retention_rate,

        -- MRR movements over the window's months
        cast(aggregated.new_mrr as decimal(18, 2)) as new_mrr,
        cast(aggregated.reactivation_mrr as decimal(18, 2)) as reactivation_mrr,
        cast(aggregated.expansion_mrr as decimal(18, 2)) as expansion_mrr,
        cast(aggregated.contraction_mrr as decimal(18, 2)) as contraction_mrr,
        cast(aggregated.churn_mrr as decimal(18, 2)) as churn_mrr,
        {{ cs_metrics.safe_ratio(
            'aggregated.new_mrr + aggregated.reactivation_mrr + aggregated.expansion_mrr',
            'aggregated.churn_mrr + aggregated.contraction_mrr') }} as quick_ratio

    from aggregated
    inner join periods
        on aggregated.period_type = periods.period_type
        and aggregated.period_start = periods.period_start
        and aggregated.period_end = periods.period_end
    -- a slice with nothing in the window (say, a later signup cohort) gives no row; the
    -- company-wide row exists for every window
    where aggregated.slice_type = 'all'
        or aggregated.starting_arr > 0
        or aggregated.ending_arr > 0
        or aggregated.new_mrr + aggregated.reactivation_mrr + aggregated.expansion_mrr
            + aggregated.contraction_mrr + aggregated.churn_mrr > 0

)

select * from final
