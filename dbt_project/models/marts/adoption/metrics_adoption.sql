{#- One row per month and slice (all, segment, csm_owner, lifecycle_stage, plan): the
    accounts measured (fct_account_adoption_monthly), the median and ARR-weighted mean of
    adoption rate, license utilization, stickiness, feature breadth and time in product per
    active user, and the share of accounts below the adoption-rate threshold
    (METRICS.md, Adoption and Conventions). An account's segment, owner and plan are its
    current ones (dim_accounts, as the revenue slices); its lifecycle stage is the month's. -#}
with

account_months as (

    select
        account_id,
        month,
        measured_on,
        is_partial,
        segment,
        owner_csm_id,
        plan_name,
        arr,
        adoption_rate,
        is_below_adoption_threshold,
        license_utilization,
        stickiness_dau_mau,
        feature_breadth,
        time_in_product_minutes_per_active_user,
        is_usage_drop
    from {{ ref('fct_account_adoption_monthly') }}

),

lifecycle as (

    select account_id, month, lifecycle_stage
    from {{ ref('int_account_lifecycle_monthly') }}

),

account_slices as (

    select account_id, month, 'all' as slice_type, 'all' as slice_value
    from account_months
    union all
    select account_id, month, 'segment' as slice_type,
        coalesce(segment, 'unknown') as slice_value
    from account_months
    union all
    select account_id, month, 'csm_owner' as slice_type,
        coalesce(owner_csm_id, 'unassigned') as slice_value
    from account_months
    union all
    select account_months.account_id, account_months.month, 'lifecycle_stage' as slice_type,
        coalesce(lifecycle.lifecycle_stage, 'unknown') as slice_value
    from account_months
    left join lifecycle
        on account_months.account_id = lifecycle.account_id
        and account_months.month = lifecycle.month
    union all
    select account_id, month, 'plan' as slice_type,
        coalesce(plan_name, 'unknown') as slice_value
    from account_months

),

account_facts as (

    select
        account_slices.slice_type,
        account_slices.slice_value,
        account_slices.month,
        account_months.account_id,
        account_months.measured_on,
        account_months.is_partial,
        account_months.arr,
        account_months.adoption_rate,
        account_months.is_below_adoption_threshold,
        account_months.license_utilization,
        account_months.stickiness_dau_mau,
        account_months.feature_breadth,
        account_months.time_in_product_minutes_per_active_user,
        account_months.is_usage_drop
    from account_months
    inner join account_slices
        on account_months.account_id = account_slices.account_id
        and account_months.month = account_slices.month

),

aggregated as (

    select
        account_facts.month,
        account_facts.slice_type,
        account_facts.slice_value,
        max(account_facts.measured_on) as measured_on,
        max(case when account_facts.is_partial then 1 else 0 end) = 1 as is_partial,
        count(*) as accounts,
        cast(sum(account_facts.arr) as decimal(18, 2)) as arr,
        sum(case when account_facts.adoption_rate is not null then 1 else 0 end)
            as accounts_with_provisioned_users,
        sum(case when account_facts.is_below_adoption_threshold then 1 else 0 end)
            as accounts_below_adoption_threshold,
        sum(case when account_facts.is_usage_drop then 1 else 0 end) as accounts_with_usage_drop,
        {{ cs_metrics.cs_median('account_facts.adoption_rate') }} as median_adoption_rate,
        {{ cs_metrics.exact_weighted_mean('account_facts.adoption_rate', 'account_facts.arr') }}
            as arr_weighted_mean_adoption_rate,
        {{ cs_metrics.cs_median('account_facts.license_utilization') }}
            as median_license_utilization,
        {{ cs_metrics.exact_weighted_mean('account_facts.license_utilization', 'account_facts.arr') }}
            as arr_weighted_mean_license_utilization,
        {{ cs_metrics.cs_median('account_facts.stickiness_dau_mau') }} as median_stickiness_dau_mau,
        {{ cs_metrics.exact_weighted_mean('account_facts.stickiness_dau_mau', 'account_facts.arr') }}
            as arr_weighted_mean_stickiness_dau_mau,
        {{ cs_metrics.cs_median('account_facts.feature_breadth') }} as median_feature_breadth,
        {{ cs_metrics.exact_weighted_mean('account_facts.feature_breadth', 'account_facts.arr') }}
            as arr_weighted_mean_feature_breadth,
        {{ cs_metrics.cs_median('account_facts.time_in_product_minutes_per_active_user') }}
            as median_time_in_product_minutes_per_active_user,
        {{ cs_metrics.exact_weighted_mean('account_facts.time_in_product_minutes_per_active_user', 'account_facts.arr') }}
            as arr_weighted_mean_time_in_product_minutes_per_active_user
    from account_facts
    group by
        account_facts.month,
        account_facts.slice_type,
        account_facts.slice_value

),

final as (

    select
        month,
        slice_type,
        slice_value,
        measured_on,
        is_partial,
        cast(accounts as {{ dbt.type_bigint() }}) as accounts,
        arr,
        cast(accounts_with_provisioned_users as {{ dbt.type_bigint() }})
            as accounts_with_provisioned_users,
        cast(accounts_below_adoption_threshold as {{ dbt.type_bigint() }})
            as accounts_below_adoption_threshold,
        {{ cs_metrics.safe_ratio('accounts_below_adoption_threshold',
                                 'accounts_with_provisioned_users') }}
            as share_of_accounts_below_adoption_threshold,
        cast(accounts_with_usage_drop as {{ dbt.type_bigint() }}) as accounts_with_usage_drop,
        cast(median_adoption_rate as double) as median_adoption_rate,
        cast(arr_weighted_mean_adoption_rate as double) as arr_weighted_mean_adoption_rate,
        cast(median_license_utilization as double) as median_license_utilization,
        cast(arr_weighted_mean_license_utilization as double)
            as arr_weighted_mean_license_utilization,
        cast(median_stickiness_dau_mau as double) as median_stickiness_dau_mau,
        cast(arr_weighted_mean_stickiness_dau_mau as double)
            as arr_weighted_mean_stickiness_dau_mau,
        cast(median_feature_breadth as double) as median_feature_breadth,
        cast(arr_weighted_mean_feature_breadth as double) as arr_weighted_mean_feature_breadth,
        cast(median_time_in_product_minutes_per_active_user as double)
            as median_time_in_product_minutes_per_active_user,
        cast(arr_weighted_mean_time_in_product_minutes_per_active_user as double)
            as arr_weighted_mean_time_in_product_minutes_per_active_user
    from aggregated

)

select * from final
