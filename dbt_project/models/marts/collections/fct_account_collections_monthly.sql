{#- One row per account per month, from the month of the account's first finalised invoice to
    the as-of month: invoices due in the month and how many were paid by their due date,
    what was billed in the month, and the receivables on the month's measurement day (its last
    day, or the as-of date), overdue by age bucket, computed from the payments dated by that
    day; DSO = receivables / billed amount * days in the month (METRICS.md, Collection;
    DECISIONS.md, Collections). -#}
{%- set buckets = cs_metrics.collections_age_buckets() -%}
with

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

invoices as (

    select
        invoice_id,
        account_id,
        is_finalized,
        is_collectible,
        invoice_month,
        due_date,
        due_month,
        amount_due_reporting,
        total_amount_reporting,
        is_paid_on_time
    from {{ ref('fct_invoices') }}
    where is_finalized

),

balances as (

    select
        account_id,
        month,
        invoice_id,
        days_overdue,
        age_bucket,
        outstanding_amount_reporting
    from {{ ref('int_invoice_balances_monthly') }}

),

account_bounds as (

    select
        invoices.account_id,
        min(invoices.invoice_month) as first_month,
        max(as_of.as_of_month) as last_month
    from invoices
    cross join as_of
    where invoices.account_id is not null
    group by invoices.account_id

),

account_month_series as (

    {{ cs_metrics.date_series('account_bounds', 'first_month', 'last_month', 'month', 'month',
                              carry=['account_id']) }}

),

account_months as (

    select
        account_month_series.account_id,
        account_month_series.month,
        case
            when account_month_series.month = as_of.as_of_month then as_of.as_of_date
            else {{ cs_metrics.month_end('account_month_series.month') }}
        end as measured_on,
        account_month_series.month = as_of.as_of_month
            and as_of.as_of_date < {{ cs_metrics.month_end('account_month_series.month') }}
            as is_partial
    from account_month_series
    cross join as_of

),

-- collectible invoices due in the month, up to the measurement day (a later due date in the
-- open month is not decided yet)
due_in_month as (

    select
        account_months.account_id,
        account_months.month,
        count(*) as invoices_due,
        sum(case when invoices.is_paid_on_time then 1 else 0 end) as invoices_paid_on_time,
        cast(sum(invoices.amount_due_reporting) as decimal(18, 2)) as amount_due,
        cast(sum(case when invoices.is_paid_on_time then invoices.amount_due_reporting else 0 end)
            as decimal(18, 2)) as amount_paid_on_time
    from account_months
    inner join invoices
        on account_months.account_id = invoices.account_id
        and account_months.month = invoices.due_month
        and invoices.due_date <= account_months.measured_on
    where invoices.is_collectible
    group by
        account_months.account_id,
        account_months.month

),

billed_in_month as (

    select
        account_id,
        invoice_month as month,
        count(*) as invoices_billed,
        cast(sum(amount_due_reporting) as decimal(18, 2)) as billed_amount,
        cast(sum(total_amount_reporting) as decimal(18, 2)) as billed_revenue
    from invoices
    group by
        account_id,
        invoice_month

),

receivables as (

    select
        account_id,
        month,
        count(*) as receivable_invoices,
        cast(sum(outstanding_amount_reporting) as decimal(18, 2)) as receivables_amount,
        sum(case when days_overdue > 0 then 1 else 0 end) as overdue_invoices,
        cast(sum(case when days_overdue > 0 then outstanding_amount_reporting else 0 end)
            as decimal(18, 2)) as overdue_amount,
        {%- for bucket in buckets %}
        cast(sum(case when age_bucket = '{{ bucket.label }}' then outstanding_amount_reporting else 0 end)
            as decimal(18, 2)) as overdue_amount_{{ bucket.suffix }},
        {%- endfor %}
        max(days_overdue) as max_days_overdue
    from balances
    group by
        account_id,
        month

),

joined as (

    select
        account_months.account_id,
        account_months.month,
        account_months.measured_on,
        account_months.is_partial,
        {{ cs_metrics.days_between('account_months.month', 'account_months.measured_on') }} + 1
            as days_in_period,
        coalesce(due_in_month.invoices_due, 0) as invoices_due,
        coalesce(due_in_month.invoices_paid_on_time, 0) as invoices_paid_on_time,
        coalesce(due_in_month.amount_due, 0) as amount_due,
        coalesce(due_in_month.amount_paid_on_time, 0) as amount_paid_on_time,
        coalesce(billed_in_month.invoices_billed, 0) as invoices_billed,
        coalesce(billed_in_month.billed_amount, 0) as billed_amount,
        coalesce(billed_in_month.billed_revenue, 0) as billed_revenue,
        coalesce(receivables.receivable_invoices, 0) as receivable_invoices,
        coalesce(receivables.receivables_amount, 0) as receivables_amount,
        coalesce(receivables.overdue_invoices, 0) as overdue_invoices,
        coalesce(receivables.overdue_amount, 0) as overdue_amount,
        {%- for bucket in buckets %}
        coalesce(receivables.overdue_amount_{{ bucket.suffix }}, 0) as overdue_amount_{{ bucket.suffix }},
        {%- endfor %}
        coalesce(receivables.max_days_overdue, 0) as max_days_overdue
    from account_months
    left join due_in_month
        on account_months.account_id = due_in_month.account_id
        and account_months.month = due_in_month.month
    left join billed_in_month
        on account_months.account_id = billed_in_month.account_id
        and account_months.month = billed_in_month.month
    left join receivables
        on account_months.account_id = receivables.account_id
        and account_months.month = receivables.month

),

final as (

    select
        -- ids and period
        account_id,
        month,
        measured_on,
        is_partial,
        cast(days_in_period as {{ dbt.type_bigint() }}) as days_in_period,

        -- paid on time (invoices due in the month)
        cast(invoices_due as {{ dbt.type_bigint() }}) as invoices_due,
        cast(invoices_paid_on_time as {{ dbt.type_bigint() }}) as invoices_paid_on_time,
        {{ cs_metrics.safe_ratio('invoices_paid_on_time', 'invoices_due') }} as paid_on_time_rate,
        cast(amount_due as decimal(18, 2)) as amount_due,
        cast(amount_paid_on_time as decimal(18, 2)) as amount_paid_on_time,

        -- billed in the month
        cast(invoices_billed as {{ dbt.type_bigint() }}) as invoices_billed,
        cast(billed_amount as decimal(18, 2)) as billed_amount,
        cast(billed_revenue as decimal(18, 2)) as billed_revenue,

        -- receivables on the measurement day
        cast(receivable_invoices as {{ dbt.type_bigint() }}) as receivable_invoices,
        cast(receivables_amount as decimal(18, 2)) as receivables_amount,
        cast(overdue_invoices as {{ dbt.type_bigint() }}) as overdue_invoices,
        cast(overdue_amount as decimal(18, 2)) as overdue_amount,
        {%- for bucket in buckets %}
        cast(overdue_amount_{{ bucket.suffix }} as decimal(18, 2)) as overdue_amount_{{ bucket.suffix }},
        {%- endfor %}
        cast(max_days_overdue as {{ dbt.type_bigint() }}) as max_days_overdue,

        -- days sales outstanding
        {{ cs_metrics.safe_ratio('receivables_amount', 'billed_amount') }} * days_in_period
            as dso_days

    from joined

)

select * from final
