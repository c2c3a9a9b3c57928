{#- One row per account per month per benchmark metric with a value: the account's value of the
    metric on the month's measurement day (its last day, or the as-of date in the open month)
    and the attributes peer groups are built from. Accounts are benchmarked in the months they
    are customers (a recurring line covers the measurement day, fct_mrr_monthly). Metrics come
    from seed_benchmark_metrics (enabled rows); each metric name has one branch below.
    Segment, industry, region, ACV band and plan are the account's current ones (dim_accounts);
    the lifecycle stage is the month's (int_account_lifecycle_monthly). -#}
{%- set lookback = var('benchmark_support_lookback_months') | int -%}
with

metrics as (

    select metric, metric_order, higher_is_better
    from {{ ref('seed_benchmark_metrics') }}
    where enabled

),

customer_months as (

    select account_id, month, measured_on, is_partial
    from {{ ref('fct_mrr_monthly') }}
    where is_customer

),

accounts as (

    select account_id, segment, industry, region, acv_band, plan_name
    from {{ ref('dim_accounts') }}

),

lifecycle as (

    select account_id, month, lifecycle_stage
    from {{ ref('int_account_lifecycle_monthly') }}

),

adoption as (

    select
        account_id,
        month,
        adoption_rate,
        license_utilization,
        stickiness_dau_mau,
        feature_breadth
    from {{ ref('fct_account_adoption_monthly') }}

),

nps as (

    select account_id, month, nps
    from {{ ref('fct_account_nps_monthly') }}

),

support_months as (

    select account_id, month, tickets, active_users, rated_tickets, satisfied_tickets
    from {{ ref('fct_account_support_monthly') }}

),

first_value as (

    select account_id, first_key_feature_use_date, time_to_first_value_days
    from {{ ref('int_account_first_value') }}

),

health as (

    select account_id, snapshot_date, health_score
    from {{ ref('int_account_health_scores') }}

),

-- CSAT and tickets per 100 active users over the lookback months ending with the month:
-- integer sums, one division each
support_lookback as (

    select
        customer_months.account_id,
        customer_months.month,
        sum(support_months.rated_tickets) as rated_tickets,
        sum(support_months.satisfied_tickets) as satisfied_tickets,
        sum(support_months.tickets) as tickets,
        sum(support_months.active_users) as active_users
    from customer_months
    inner join support_months
        on customer_months.account_id = support_months.account_id
        and support_months.month <= customer_months.month
        and support_months.month
            > {{ cs_metrics.add_months('customer_months.month', -lookback) }}
    group by customer_months.account_id, customer_months.month

),

metric_values as (

    select adoption.account_id, adoption.month, 'adoption_rate' as metric,
        cast(adoption.adoption_rate as double) as metric_value
    from adoption
    union all
    select adoption.account_id, adoption.month, 'license_utilization' as metric,
        cast(adoption.license_utilization as double) as metric_value
    from adoption
    union all
    select adoption.account_id, adoption.month, 'stickiness_dau_mau' as metric,
        cast(adoption.stickiness_dau_mau as double) as metric_value
    from adoption
    union all
    select adoption.account_id, adoption.month, 'feature_breadth' as metric,
        cast(adoption.feature_breadth as double) as metric_value
    from adoption
    union all
    select nps.account_id, nps.month, 'nps' as metric,
        cast(nps.nps as double) as metric_value
    from nps
    union all
    select support_lookback.account_id, support_lookback.month, 'csat' as metric,
        {{ cs_metrics.safe_ratio('support_lookback.satisfied_tickets',
                                 'support_lookback.rated_tickets') }} as metric_value
    from support_lookback
    union all
    select support_lookback.account_id, support_lookback.month,
        'tickets_per_100_active_users' as metric,
        {{ cs_metrics.safe_ratio('100 * support_lookback.tickets',
                                 'support_lookback.active_users') }} as metric_value
    from support_lookback
    union all
    select customer_months.account_id, customer_months.month, 'time_to_first_value_days' as metric,
        cast(first_value.time_to_first_value_days as double) as metric_value
    from customer_months
    inner join first_value
        on customer_months.account_id = first_value.account_id
        and first_value.first_key_feature_use_date <= customer_months.measured_on
    union all
    select customer_months.account_id, customer_months.month, 'health_score' as metric,
        cast(health.health_score as double) as metric_value
    from customer_months
    inner join health
        on customer_months.account_id = health.account_id
        and customer_months.measured_on = health.snapshot_date

),

final as (

    select
        customer_months.account_id,
        customer_months.month,
        customer_months.measured_on,
        customer_months.is_partial,
        metrics.metric,
        metrics.metric_order,
        metrics.higher_is_better,
        metric_values.metric_value,
        coalesce(accounts.segment, 'unknown') as segment,
        coalesce(lifecycle.lifecycle_stage, 'unknown') as lifecycle_stage,
        coalesce(accounts.acv_band, 'unknown') as acv_band,
        coalesce(accounts.industry, 'unknown') as industry,
        coalesce(accounts.region, 'unknown') as region,
        coalesce(accounts.plan_name, 'unknown') as plan_name
    from customer_months
    inner join metric_values
        on customer_months.account_id = metric_values.account_id
        and customer_months.month = metric_values.month
    inner join metrics
        on metric_values.metric = metrics.metric
    left join accounts
        on customer_months.account_id = accounts.account_id
    left join lifecycle
        on customer_months.account_id = lifecycle.account_id
        and customer_months.month = lifecycle.month
    where metric_values.metric_value is not null

)

select * from final
