{#- One row per quarter per slice (all, csm_owner): renewals due in the quarter and their
    outcomes, logo, gross and net renewal rates, renewal quota and achievement, and expansion
    bookings against the expansion quota (METRICS.md, Renewals and sales handoff). -#}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

renewals as (

    select
        due_quarter,
        coalesce(owner_csm_id, 'unassigned') as owner_id,
        outcome,
        expiring_arr,
        renewed_arr
    from {{ ref('fct_renewals') }}

),

opportunities as (

    select owner_id, amount, currency, close_date
    from {{ ref('stg_crm__opportunities') }}
    where is_expansion_or_cross_sell
        and stage = 'closed_won'

),

quotas as (

    select owner_id, quarter_start, quota_type, amount, currency
    from {{ ref('stg_crm__quotas') }}

),

fx_rates as (

    select currency, rate_month, rate_to_reporting from {{ ref('int_fx_rates_monthly') }}

),

-- renewals due per quarter and owner (the account's CSM) ------------------------------------
renewal_counts as (

    select
        due_quarter as quarter_start,
        owner_id,
        count(*) as renewals_due,
        sum(case when outcome = 'renewed' then 1 else 0 end) as renewed,
        sum(case when outcome = 'churned' then 1 else 0 end) as churned,
        sum(case when outcome = 'pending' then 1 else 0 end) as pending,
        sum(expiring_arr) as expiring_arr,
        sum(case when outcome <> 'pending' then expiring_arr else 0 end)
            as decided_expiring_arr,
        sum(case when outcome = 'renewed' then renewed_arr else 0 end) as renewed_arr,
        sum(case
            when outcome = 'renewed' and renewed_arr < expiring_arr then renewed_arr
            when outcome = 'renewed' then expiring_arr
            else 0
        end) as renewed_arr_capped
    from renewals
    group by due_quarter, owner_id

),

-- expansion bookings: closed-won expansion and cross-sell, by close quarter and owner --------
expansion_bookings as (

    select
        {{ cs_metrics.quarter_start('opportunities.close_date') }} as quarter_start,
        opportunities.owner_id,
        sum({{ cs_metrics.to_reporting_currency(
            'opportunities.amount', 'opportunities.currency', 'fx_rates.rate_to_reporting', 'precise'
        ) }}) as expansion_bookings
    from opportunities
    cross join as_of
    left join fx_rates
        on opportunities.currency = fx_rates.currency
        and {{ cs_metrics.month_start('opportunities.close_date') }} = fx_rates.rate_month
    where opportunities.close_date <= as_of.as_of_date
    group by {{ cs_metrics.quarter_start('opportunities.close_date') }}, opportunities.owner_id

),

-- quotas in the reporting currency, at the rate of the quarter's first month ------------------
-- (converted amounts are summed in DECIMAL, as the expansion bookings above: a DOUBLE sum's
-- last bit depends on the order rows reach it, and the marts must not change between runs)
quota_amounts as (

    select
        quotas.quarter_start,
        quotas.owner_id,
        sum(case when quotas.quota_type = 'renewal' then
            {{ cs_metrics.to_reporting_currency(
                'quotas.amount', 'quotas.currency', 'fx_rates.rate_to_reporting', 'precise'
            ) }}
        end) as renewal_quota,
        sum(case when quotas.quota_type = 'expansion' then
            {{ cs_metrics.to_reporting_currency(
                'quotas.amount', 'quotas.currency', 'fx_rates.rate_to_reporting', 'precise'
            ) }}
        end) as expansion_quota
    from quotas
    left join fx_rates
        on quotas.currency = fx_rates.currency
        and quotas.quarter_start = fx_rates.rate_month
    group by quotas.quarter_start, quotas.owner_id

),

owner_quarters as (

    select quarter_start, owner_id from renewal_counts
    union
    select quarter_start, owner_id from expansion_bookings
    union
    select quarter_start, owner_id from quota_amounts

),

by_owner as (

    select
        owner_quarters.quarter_start,
        owner_quarters.owner_id,
        coalesce(renewal_counts.renewals_due, 0) as renewals_due,
        coalesce(renewal_counts.renewed, 0) as renewed,
        coalesce(renewal_counts.churned, 0) as churned,
        coalesce(renewal_counts.pending, 0) as pending,
        coalesce(renewal_counts.expiring_arr, 0) as expiring_arr,
        coalesce(renewal_counts.decided_expiring_arr, 0) as decided_expiring_arr,
        coalesce(renewal_counts.renewed_arr, 0) as renewed_arr,
        coalesce(renewal_counts.renewed_arr_capped, 0) as renewed_arr_capped,
        -- the quota file wins; without a renewal quota the expiring ARR due is the quota
        coalesce(quota_amounts.renewal_quota, renewal_counts.expiring_arr, 0) as renewal_quota,
        case when quota_amounts.renewal_quota is not null then 1 else 0 end
            as has_renewal_quota,
        coalesce(expansion_bookings.expansion_bookings, 0) as expansion_bookings,
        quota_amounts.expansion_quota
    from owner_quarters
    left join renewal_counts
        on owner_quarters.quarter_start = renewal_counts.quarter_start
        and owner_quarters.owner_id = renewal_counts.owner_id
    left join expansion_bookings
        on owner_quarters.quarter_start = expansion_bookings.quarter_start
        and owner_quarters.owner_id = expansion_bookings.owner_id
    left join quota_amounts
        on owner_quarters.quarter_start = quota_amounts.quarter_start
        and owner_quarters.owner_id = quota_amounts.owner_id

),

sliced as (

    select
        quarter_start,
        'csm_owner' as slice_type,
        owner_id as slice_value,
        renewals_due,
        renewed,
        churned,
        pending,
        expiring_arr,
        decided_expiring_arr,
        renewed_arr,
        renewed_arr_capped,
        renewal_quota,
        case when has_renewal_quota = 1 then 'quota_file' else 'expiring_arr' end
            as renewal_quota_source,
        expansion_bookings,
        expansion_quota
    from by_owner

    union all

    select
        quarter_start,
        'all' as slice_type,
        'all' as slice_value,
        sum(renewals_due),
        sum(renewed),
        sum(churned),
        sum(pending),
        sum(expiring_arr),
        sum(decided_expiring_arr),
        sum(renewed_arr),
        sum(renewed_arr_capped),
        sum(renewal_quota),
        case
            when min(has_renewal_quota) = 1 then 'quota_file'
            when max(has_renewal_quota) = 1 then 'mixed'
            else 'expiring_arr'
        end,
        sum(expansion_bookings),
        sum(expansion_quota)
    from by_owner
    group by quarter_start

),

final as (

    select
        sliced.quarter_start,
        {{ cs_metrics.add_days(cs_metrics.add_months('sliced.quarter_start', 3), -1) }}
            as quarter_end,
        {{ cs_metrics.add_days(cs_metrics.add_months('sliced.quarter_start', 3), -1) }}
            > as_of.as_of_date as is_partial,
        sliced.slice_type,
        sliced.slice_value,
        cast(sliced.renewals_due as {{ dbt.type_bigint() }}) as renewals_due,
        cast(sliced.renewed as {{ dbt.type_bigint() }}) as renewed,
        cast(sliced.churned as {{ dbt.type_bigint() }}) as churned,
        cast(sliced.pending as {{ dbt.type_bigint() }}) as pending,
        {{ cs_metrics.to_money('sliced.expiring_arr') }} as expiring_arr,
        {{ cs_metrics.to_money('sliced.decided_expiring_arr') }} as decided_expiring_arr,
        {{ cs_metrics.to_money('sliced.renewed_arr') }} as renewed_arr,
        {{ cs_metrics.to_money('sliced.renewed_arr_capped') }} as renewed_arr_capped,
        {{ cs_metrics.safe_ratio('sliced.renewed', 'sliced.renewed + sliced.churned') }}
            as logo_renewal_rate,
        {{ cs_metrics.safe_ratio('sliced.renewed_arr_capped', 'sliced.decided_expiring_arr') }}
            as gross_renewal_rate,
        {{ cs_metrics.safe_ratio('sliced.renewed_arr', 'sliced.decided_expiring_arr') }}
            as net_renewal_rate,
        {{ cs_metrics.to_money('sliced.renewal_quota') }} as renewal_quota,
        sliced.renewal_quota_source,
        {{ cs_metrics.safe_ratio('sliced.renewed_arr', 'sliced.renewal_quota') }}
            as renewal_quota_achievement,
        {{ cs_metrics.to_money('sliced.expansion_bookings') }} as expansion_bookings,
        {{ cs_metrics.to_money('sliced.expansion_quota') }} as expansion_quota,
        {{ cs_metrics.safe_ratio('sliced.expansion_bookings', 'sliced.expansion_quota') }}
            as expansion_quota_achievement
    from sliced
    cross join as_of

)

select * from final
