{#- One row per period (calendar month and quarter) and slice (all, segment, csm_owner,
    lifecycle_stage, plan, signup_cohort): invoices due and paid by their due date, billed
    amount, receivables and overdue receivables at the period end (amount and account count
    per age bucket), and DSO (METRICS.md, Collection; DECISIONS.md, Collections). Flows (due,
    paid on time, billed) add up over the period's months; stocks (receivables, overdue) are
    those of the period's last measurement day. -#}
{%- set buckets = cs_metrics.collections_age_buckets() -%}
{%- set flow_columns = ['invoices_due', 'invoices_paid_on_time', 'amount_due', 'amount_paid_on_time',
                        'invoices_billed', 'billed_amount', 'billed_revenue'] -%}
{%- set stock_columns = ['receivable_invoices', 'receivables_amount', 'overdue_invoices',
                         'overdue_amount']
                        + cs_metrics.collections_age_bucket_columns(['overdue_amount']) -%}
with

account_months as (

    select * from {{ ref('fct_account_collections_monthly') }}

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

month_periods as (

    select
        account_id,
        'month' as period_type,
        month as period_start,
        month as stock_month,
        measured_on as period_end,
        is_partial,
        days_in_period,
        {%- for column in flow_columns %}
        {{ column }},
        {%- endfor %}
        {%- for column in stock_columns %}
        {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from account_months

),

-- quarters: the months' flows summed, the stocks of the quarter's last month (every account
-- has a row in every month up to the as-of month, so that month is the same for all)
quarter_flows as (

    select
        account_id,
        {{ cs_metrics.quarter_start('month') }} as period_start,
        max(month) as stock_month,
        max(measured_on) as period_end,
        max(case when is_partial then 1 else 0 end) = 1 as is_partial,
        {%- for column in flow_columns %}
        sum({{ column }}) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from account_months
    group by
        account_id,
        {{ cs_metrics.quarter_start('month') }}

),

quarter_periods as (

    select
        quarter_flows.account_id,
        'quarter' as period_type,
        quarter_flows.period_start,
        quarter_flows.stock_month,
        quarter_flows.period_end,
        quarter_flows.is_partial,
        {{ cs_metrics.days_between('quarter_flows.period_start', 'quarter_flows.period_end') }} + 1
            as days_in_period,
        {%- for column in flow_columns %}
        quarter_flows.{{ column }},
        {%- endfor %}
        {%- for column in stock_columns %}
        account_months.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from quarter_flows
    inner join account_months
        on quarter_flows.account_id = account_months.account_id
        and quarter_flows.stock_month = account_months.month

),

account_periods as (

    select * from month_periods
    union all
    select * from quarter_periods

),

-- segment, owner, plan and cohort are the account's current ones; the lifecycle stage is the
-- one of the period's last month
account_slices as (

    select account_periods.account_id, account_periods.period_type, account_periods.period_start,
        'all' as slice_type, 'all' as slice_value
    from account_periods
    union all
    select account_periods.account_id, account_periods.period_type, account_periods.period_start,
        'segment' as slice_type, coalesce(accounts.segment, 'unknown') as slice_value
    from account_periods
    left join accounts on account_periods.account_id = accounts.account_id
    union all
    select account_periods.account_id, account_periods.period_type, account_periods.period_start,
        'csm_owner' as slice_type, coalesce(accounts.owner_csm_id, 'unassigned') as slice_value
    from account_periods
    left join accounts on account_periods.account_id = accounts.account_id
    union all
    select account_periods.account_id, account_periods.period_type, account_periods.period_start,
        'lifecycle_stage' as slice_type, coalesce(lifecycle.lifecycle_stage, 'unknown') as slice_value
    from account_periods
    left join lifecycle
        on account_periods.account_id = lifecycle.account_id
        and account_periods.stock_month = lifecycle.month
    union all
    select account_periods.account_id, account_periods.period_type, account_periods.period_start,
        'plan' as slice_type, coalesce(accounts.plan_name, 'unknown') as slice_value
    from account_periods
    left join accounts on account_periods.account_id = accounts.account_id
    union all
    select account_periods.account_id, account_periods.period_type, account_periods.period_start,
        'signup_cohort' as slice_type,
        coalesce(
            substring(cast(accounts.signup_cohort as {{ dbt.type_string() }}), 1, 7),
            'never_paid'
        ) as slice_value
    from account_periods
    left join accounts on account_periods.account_id = accounts.account_id

),

aggregated as (

    select
        account_periods.period_type,
        account_periods.period_start,
        account_slices.slice_type,
        account_slices.slice_value,
        max(account_periods.period_end) as period_end,
        max(case when account_periods.is_partial then 1 else 0 end) = 1 as is_partial,
        max(account_periods.days_in_period) as days_in_period,
        count(*) as accounts,
        {%- for column in flow_columns + stock_columns %}
        sum(account_periods.{{ column }}) as {{ column }},
        {%- endfor %}
        sum(case when account_periods.invoices_billed > 0 then 1 else 0 end) as accounts_billed,
        sum(case when account_periods.receivables_amount > 0 then 1 else 0 end)
            as accounts_with_receivables,
        sum(case when account_periods.overdue_amount > 0 then 1 else 0 end) as overdue_accounts,
        {%- for bucket in buckets %}
        sum(case when account_periods.overdue_amount_{{ bucket.suffix }} > 0 then 1 else 0 end)
            as overdue_accounts_{{ bucket.suffix }}{{ ',' if not loop.last }}
        {%- endfor %}
    from account_periods
    inner join account_slices
        on account_periods.account_id = account_slices.account_id
        and account_periods.period_type = account_slices.period_type
        and account_periods.period_start = account_slices.period_start
    group by
        account_periods.period_type,
        account_periods.period_start,
        account_slices.slice_type,
        account_slices.slice_value

),

final as (

    select
        -- period and slice
        period_type,
        period_start,
        period_end,
        is_partial,
        cast(days_in_period as {{ dbt.type_bigint() }}) as days_in_period,
        slice_type,
        slice_value,
        cast(accounts as {{ dbt.type_bigint() }}) as accounts,

        -- paid on time (invoices due in the period)
        cast(invoices_due as {{ dbt.type_bigint() }}) as invoices_due,
        cast(invoices_paid_on_time as {{ dbt.type_bigint() }}) as invoices_paid_on_time,
        {{ cs_metrics.safe_ratio('invoices_paid_on_time', 'invoices_due') }} as paid_on_time_rate,
        cast(amount_due as decimal(18, 2)) as amount_due,
        cast(amount_paid_on_time as decimal(18, 2)) as amount_paid_on_time,
        {{ cs_metrics.safe_ratio('amount_paid_on_time', 'amount_due') }} as amount_paid_on_time_rate,

        -- billed in the period
        cast(invoices_billed as {{ dbt.type_bigint() }}) as invoices_billed,
        cast(accounts_billed as {{ dbt.type_bigint() }}) as accounts_billed,
        cast(billed_amount as decimal(18, 2)) as billed_amount,
        cast(billed_revenue as decimal(18, 2)) as billed_revenue,

        -- receivables at the period end
        cast(receivable_invoices as {{ dbt.type_bigint() }}) as receivable_invoices,
        cast(accounts_with_receivables as {{ dbt.type_bigint() }}) as accounts_with_receivables,
        cast(receivables_amount as decimal(18, 2)) as receivables_amount,
        cast(overdue_invoices as {{ dbt.type_bigint() }}) as overdue_invoices,
        cast(overdue_accounts as {{ dbt.type_bigint() }}) as overdue_accounts,
        cast(overdue_amount as decimal(18, 2)) as overdue_amount,
        {%- for bucket in buckets %}
        cast(overdue_amount_{{ bucket.suffix }} as decimal(18, 2)) as overdue_amount_{{ bucket.suffix }},
        cast(overdue_accounts_{{ bucket.suffix }} as {{ dbt.type_bigint() }})
            as overdue_accounts_{{ bucket.suffix }},
        {%- endfor %}

        -- days sales outstanding
        {{ cs_metrics.safe_ratio('receivables_amount', 'billed_amount') }} * days_in_period
            as dso_days

    from aggregated

)

select * from final
