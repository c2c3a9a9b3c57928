{#- One row per CSM per month (METRICS.md, CS team): the CSM's book on the month's measurement
    day (accounts, ARR, segment-weighted accounts, accounts in onboarding, renewals due in the
    next csm_renewals_due_days days, accounts and ARR in the red health band, mean health), the
    touches logged in the month, the quarterly figures of the month's calendar quarter (GRR, NRR
    and expansion ARR from metrics_retention, renewal achievement from metrics_renewals, mean
    days to onboard and time to first value) and the load index against the team median.
    Accounts belong to their CURRENT owner (dim_accounts), as in every other csm_owner slice;
    accounts without one are on an 'unassigned' row, so the rows of a month add up to the
    company. A CSM has a row in a month when employed on its measurement day (roster) or when
    owning a customer that day. -#}
{%- set load_basis = var('csm_load_basis') -%}
{%- if load_basis not in ['arr', 'weighted_accounts'] -%}
    {{ exceptions.raise_compiler_error("csm_load_basis must be arr or weighted_accounts, not '" ~ load_basis ~ "'") }}
{%- endif -%}
{%- set renewals_days = var('csm_renewals_due_days') | int -%}
with

months as (

    select distinct month, measured_on, is_partial
    from {{ ref('fct_mrr_monthly') }}

),

roster as (

    select csm_id, csm_name, team, is_current, start_date, end_date
    from {{ ref('stg_crm__csm_roster') }}

),

accounts as (

    select
        account_id,
        coalesce(owner_csm_id, 'unassigned') as csm_id,
        coalesce(segment, 'unknown') as segment
    from {{ ref('dim_accounts') }}

),

segment_weights as (

    select segment, weight from {{ ref('seed_csm_segment_weights') }}

),

customer_months as (

    select account_id, month, measured_on, arr
    from {{ ref('fct_mrr_monthly') }}
    where is_customer

),

lifecycle as (

    select account_id, month, lifecycle_stage
    from {{ ref('int_account_lifecycle_monthly') }}

),

health as (

    select account_id, snapshot_date, health_score, health_band
    from {{ ref('int_account_health_scores') }}

),

relationship as (

    select account_id, month, touches
    from {{ ref('fct_account_relationship_monthly') }}

),

renewals as (

    select account_id, due_date, expiring_arr
    from {{ ref('fct_renewals') }}

),

first_value as (

    select
        account_id,
        first_contract_start_date,
        first_key_feature_use_date,
        time_to_first_value_days
    from {{ ref('int_account_first_value') }}

),

onboarding_exits as (

    select account_id, min(left_date) as onboarded_date
    from {{ ref('fct_lifecycle_stages') }}
    where stage = 'onboarding'
        and left_date is not null
    group by account_id

),

retention_quarters as (

    select
        slice_value as csm_id,
        period_start as quarter_start,
        is_partial,
        retained_base_arr,
        grr,
        nrr,
        expansion_mrr
    from {{ ref('metrics_retention') }}
    where period_type = 'quarter'
        and slice_type = 'csm_owner'

),

renewal_quarters as (

    select
        slice_value as csm_id,
        quarter_start,
        renewal_quota,
        renewed_arr,
        renewal_quota_achievement
    from {{ ref('metrics_renewals') }}
    where slice_type = 'csm_owner'

),

-- book on the measurement day ----------------------------------------------------------------
book_accounts as (

    select
        accounts.csm_id,
        customer_months.account_id,
        customer_months.month,
        customer_months.arr,
        coalesce(segment_weights.weight, 1) as segment_weight,
        case when lifecycle.lifecycle_stage = 'onboarding' then 1 else 0 end as is_onboarding,
        health.health_score,
        health.health_band
    from customer_months
    inner join accounts
        on customer_months.account_id = accounts.account_id
    left join segment_weights
        on accounts.segment = segment_weights.segment
    left join lifecycle
        on customer_months.account_id = lifecycle.account_id
        and customer_months.month = lifecycle.month
    left join health
        on customer_months.account_id = health.account_id
        and customer_months.measured_on = health.snapshot_date

),

books as (

    select
        csm_id,
        month,
        count(*) as accounts,
        cast(sum(arr) as decimal(18, 2)) as arr,
        cast(sum(segment_weight) as decimal(18, 4)) as weighted_accounts,
        sum(is_onboarding) as accounts_in_onboarding,
        sum(case when health_score is not null then 1 else 0 end) as accounts_scored,
        sum(case when health_band = 'red' then 1 else 0 end) as accounts_in_red,
        cast(sum(case when health_band = 'red' then arr else 0 end) as decimal(18, 2))
            as arr_in_red,
        {{ cs_metrics.exact_weighted_mean('health_score', '1') }} as mean_health_score,
        {{ cs_metrics.exact_weighted_mean('health_score', 'arr') }}
            as arr_weighted_mean_health_score
    from book_accounts
    group by csm_id, month

),

touches as (

    select accounts.csm_id, relationship.month, sum(relationship.touches) as touches
    from relationship
    inner join accounts
        on relationship.account_id = accounts.account_id
    group by accounts.csm_id, relationship.month

),

renewals_due as (

    select
        accounts.csm_id,
        months.month,
        count(*) as renewals_due,
        cast(sum(renewals.expiring_arr) as decimal(18, 2)) as renewals_due_arr
    from renewals
    inner join accounts
        on renewals.account_id = accounts.account_id
    inner join months
        on renewals.due_date > months.measured_on
        and renewals.due_date <= {{ cs_metrics.add_days('months.measured_on', renewals_days) }}
    group by accounts.csm_id, months.month

),

-- onboarding and first value of the quarter ------------------------------------------------------
value_milestones as (

    select
        account_id,
        {{ cs_metrics.quarter_start('first_key_feature_use_date') }} as quarter_start,
        time_to_first_value_days as days,
        'time_to_first_value' as milestone
    from first_value
    where time_to_first_value_days is not null

    union all

    select
        first_value.account_id,
        {{ cs_metrics.quarter_start('onboarding_exits.onboarded_date') }} as quarter_start,
        {{ cs_metrics.days_between('first_value.first_contract_start_date',
                                   'onboarding_exits.onboarded_date') }} as days,
        'days_to_onboard' as milestone
    from first_value
    inner join onboarding_exits
        on first_value.account_id = onboarding_exits.account_id
    where first_value.first_contract_start_date is not null

),

milestone_quarters as (

    select
        accounts.csm_id,
        value_milestones.quarter_start,
        sum(case when value_milestones.milestone = 'days_to_onboard' then 1 else 0 end)
            as accounts_onboarded,
        avg(case when value_milestones.milestone = 'days_to_onboard'
                 then cast(value_milestones.days as double) end) as mean_days_to_onboard,
        sum(case when value_milestones.milestone = 'time_to_first_value' then 1 else 0 end)
            as accounts_reaching_first_value,
        avg(case when value_milestones.milestone = 'time_to_first_value'
                 then cast(value_milestones.days as double) end)
            as mean_time_to_first_value_days
    from value_milestones
    inner join accounts
        on value_milestones.account_id = accounts.account_id
    group by accounts.csm_id, value_milestones.quarter_start

),

-- one row per CSM and month: employed that day, or owning a customer -----------------------------
csm_months as (

    select roster.csm_id, months.month
    from roster
    inner join months
        on roster.start_date <= months.measured_on
        and (roster.end_date is null or roster.end_date >= months.measured_on)

    union

    select csm_id, month from books

),

joined as (

    select
        csm_months.csm_id,
        roster.csm_name,
        roster.team,
        roster.is_current,
        months.month,
        months.measured_on,
        months.is_partial,
        roster.csm_id is not null
            and roster.start_date <= months.measured_on
            and (roster.end_date is null or roster.end_date >= months.measured_on)
            as is_employed,
        coalesce(books.accounts, 0) as accounts,
        coalesce(books.arr, cast(0 as decimal(18, 2))) as arr,
        coalesce(books.weighted_accounts, cast(0 as decimal(18, 4))) as weighted_accounts,
        coalesce(books.accounts_in_onboarding, 0) as accounts_in_onboarding,
        coalesce(renewals_due.renewals_due, 0) as renewals_due,
        coalesce(renewals_due.renewals_due_arr, cast(0 as decimal(18, 2))) as renewals_due_arr,
        coalesce(books.accounts_in_red, 0) as accounts_in_red,
        coalesce(books.arr_in_red, cast(0 as decimal(18, 2))) as arr_in_red,
        coalesce(books.accounts_scored, 0) as accounts_scored,
        books.mean_health_score,
        books.arr_weighted_mean_health_score,
        coalesce(touches.touches, 0) as touches,
        {{ cs_metrics.quarter_start('months.month') }} as quarter_start
    from csm_months
    inner join months
        on csm_months.month = months.month
    left join roster
        on csm_months.csm_id = roster.csm_id
    left join books
        on csm_months.csm_id = books.csm_id
        and csm_months.month = books.month
    left join touches
        on csm_months.csm_id = touches.csm_id
        and csm_months.month = touches.month
    left join renewals_due
        on csm_months.csm_id = renewals_due.csm_id
        and csm_months.month = renewals_due.month

),

-- load index: the CSM's load basis / the median over the month's team (every CSM row but
-- 'unassigned', empty books included)
with_load as (

    select
        joined.*,
        {%- if load_basis == 'arr' %}
        cast(joined.arr as double) as load_basis_value
        {%- else %}
        cast(joined.weighted_accounts as double) as load_basis_value
        {%- endif %}
    from joined

),

team_medians as (

    select month, {{ cs_metrics.cs_median('load_basis_value') }} as team_median_load
    from with_load
    where csm_id <> 'unassigned'
    group by month

),

final as (

    select
        with_load.csm_id,
        with_load.csm_name,
        with_load.team,
        with_load.is_current,
        with_load.month,
        with_load.measured_on,
        with_load.is_partial,
        with_load.is_employed,
        cast(with_load.accounts as {{ dbt.type_bigint() }}) as accounts,
        with_load.arr,
        with_load.weighted_accounts,
        cast(with_load.accounts_in_onboarding as {{ dbt.type_bigint() }}) as accounts_in_onboarding,
        cast(with_load.renewals_due as {{ dbt.type_bigint() }}) as renewals_due,
        with_load.renewals_due_arr,
        cast(with_load.accounts_in_red as {{ dbt.type_bigint() }}) as accounts_in_red,
        with_load.arr_in_red,
        cast(with_load.accounts_scored as {{ dbt.type_bigint() }}) as accounts_scored,
        cast(with_load.mean_health_score as double) as mean_health_score,
        cast(with_load.arr_weighted_mean_health_score as double) as arr_weighted_mean_health_score,
        cast(with_load.touches as {{ dbt.type_bigint() }}) as touches,
        with_load.quarter_start,
        retention_quarters.is_partial as is_quarter_partial,
        retention_quarters.retained_base_arr as quarter_starting_arr,
        retention_quarters.grr as quarter_grr,
        retention_quarters.nrr as quarter_nrr,
        {{ cs_metrics.to_money('retention_quarters.expansion_mrr * 12') }} as quarter_expansion_arr,
        renewal_quarters.renewal_quota as quarter_renewal_quota,
        renewal_quarters.renewed_arr as quarter_renewed_arr,
        renewal_quarters.renewal_quota_achievement as quarter_renewal_achievement,
        cast(coalesce(milestone_quarters.accounts_onboarded, 0) as {{ dbt.type_bigint() }})
            as quarter_accounts_onboarded,
        cast(milestone_quarters.mean_days_to_onboard as double) as quarter_mean_days_to_onboard,
        cast(coalesce(milestone_quarters.accounts_reaching_first_value, 0) as {{ dbt.type_bigint() }})
            as quarter_accounts_reaching_first_value,
        cast(milestone_quarters.mean_time_to_first_value_days as double)
            as quarter_mean_time_to_first_value_days,
        '{{ load_basis }}' as load_basis,
        with_load.load_basis_value,
        cast(team_medians.team_median_load as double) as team_median_load,
        case
            when with_load.csm_id = 'unassigned' then null
            else {{ cs_metrics.safe_ratio('with_load.load_basis_value',
                                          'team_medians.team_median_load') }}
        end as load_index
    from with_load
    left join team_medians
        on with_load.month = team_medians.month
    left join retention_quarters
        on with_load.csm_id = retention_quarters.csm_id
        and with_load.quarter_start = retention_quarters.quarter_start
    left join renewal_quarters
        on with_load.csm_id = renewal_quarters.csm_id
        and with_load.quarter_start = renewal_quarters.quarter_start
    left join milestone_quarters
        on with_load.csm_id = milestone_quarters.csm_id
        and with_load.quarter_start = milestone_quarters.quarter_start

)

select * from final
