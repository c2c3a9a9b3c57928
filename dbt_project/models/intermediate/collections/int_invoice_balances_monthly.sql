{#- One row per collectible invoice per month whose measurement day (the month's last day, or
    the as-of date in the as-of month) finds it issued and not yet fully paid: the amount
    still outstanding that day, from the payments dated on or before it (not from today's
    status), and how many days overdue it was then, with its age bucket. The receivables of a
    past month-end are the rows of that month (DECISIONS.md, Collections). -#}
with

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

invoices as (

    select
        invoice_id,
        account_id,
        invoice_date,
        invoice_month,
        due_date,
        fully_paid_date,
        currency,
        amount_due,
        fx_rate_to_reporting
    from {{ ref('int_invoices_settled') }}
    where is_collectible

),

applied_payments as (

    select invoice_id, payment_date, amount
    from {{ ref('int_invoice_payments_applied') }}

),

bounds as (

    select
        min(invoices.invoice_month) as first_month,
        max(as_of.as_of_month) as last_month
    from invoices
    cross join as_of

),

month_series as (

    {{ cs_metrics.date_series('bounds', 'first_month', 'last_month', 'month', 'month') }}

),

months as (

    select
        month_series.month,
        case
            when month_series.month = as_of.as_of_month then as_of.as_of_date
            else {{ cs_metrics.month_end('month_series.month') }}
        end as measured_on,
        month_series.month = as_of.as_of_month
            and as_of.as_of_date < {{ cs_metrics.month_end('month_series.month') }} as is_partial
    from month_series
    cross join as_of

),

-- invoices issued by the measurement day and not fully paid on it
open_invoice_months as (

    select
        invoices.*,
        months.month,
        months.measured_on,
        months.is_partial
    from invoices
    inner join months
        on invoices.invoice_date <= months.measured_on
        and (invoices.fully_paid_date is null or invoices.fully_paid_date > months.measured_on)

),

paid_by_measurement_day as (

    select
        open_invoice_months.invoice_id,
        open_invoice_months.month,
        cast(sum(applied_payments.amount) as decimal(18, 2)) as amount_paid
    from open_invoice_months
    inner join applied_payments
        on open_invoice_months.invoice_id = applied_payments.invoice_id
        and applied_payments.payment_date <= open_invoice_months.measured_on
    group by
        open_invoice_months.invoice_id,
        open_invoice_months.month

),

balances as (

    select
        open_invoice_months.*,
        coalesce(paid_by_measurement_day.amount_paid, cast(0 as decimal(18, 2))) as amount_paid,
        cast(
            open_invoice_months.amount_due
            - coalesce(paid_by_measurement_day.amount_paid, cast(0 as decimal(18, 2)))
            as decimal(18, 2)
        ) as outstanding_amount,
        case
            when open_invoice_months.measured_on > open_invoice_months.due_date
                then {{ cs_metrics.days_between('open_invoice_months.due_date', 'open_invoice_months.measured_on') }}
            else 0
        end as days_overdue
    from open_invoice_months
    left join paid_by_measurement_day
        on open_invoice_months.invoice_id = paid_by_measurement_day.invoice_id
        and open_invoice_months.month = paid_by_measurement_day.month

),

final as (

    select
        -- ids
        invoice_id,
        account_id,

        -- period
        month,
        measured_on,
        is_partial,

        -- dates
        invoice_date,
        due_date,
        days_overdue,
        days_overdue > 0 as is_overdue,
        {{ cs_metrics.collections_age_bucket('days_overdue') }} as age_bucket,

        -- amounts in the invoice's currency
        currency,
        amount_due,
        amount_paid,
        outstanding_amount,

        -- in the reporting currency (rate of the invoice month, as fct_invoices)
        {{ cs_metrics.to_reporting_currency(
            'outstanding_amount', 'currency', 'cast(fx_rate_to_reporting as decimal(16, 8))', 'money'
        ) }} as outstanding_amount_reporting

    from balances
    where outstanding_amount > 0

)

select * from final
