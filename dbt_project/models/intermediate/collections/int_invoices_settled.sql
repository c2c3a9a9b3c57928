{#- One row per invoice issued on or before the as-of date (every status), with its CRM account,
    the amount due (total + tax) in its own and the reporting currency, what the succeeded
    payments known at the as-of date paid, and the day it became fully paid: the day the
    running total of its payments reached the amount due (partial payments add up). Void and
    draft invoices are kept, flagged, and never settle (DECISIONS.md, Collections). -#}
{%- set reporting_currency = var('reporting_currency', 'USD') -%}
with

invoices as (

    select * from {{ ref('stg_billing__invoices') }}

),

customers as (

    select customer_id, account_id from {{ ref('stg_billing__customers') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

fx_rates as (

    select currency, rate_month, rate_to_reporting
    from {{ ref('int_fx_rates_monthly') }}

),

applied_payments as (

    select invoice_id, payment_date, amount, paid_to_date
    from {{ ref('int_invoice_payments_applied') }}

),

failed_attempts as (

    select
        payments.invoice_id,
        count(*) as failed_payment_attempts
    from {{ ref('stg_billing__payments') }} as payments
    cross join as_of
    where payments.status = 'failed'
        and payments.payment_date <= as_of.as_of_date
    group by payments.invoice_id

),

issued as (

    select
        invoices.invoice_id,
        invoices.customer_id,
        customers.account_id,
        invoices.status,
        invoices.is_void,
        invoices.is_draft,
        invoices.status = 'uncollectible' as is_uncollectible,
        not (invoices.is_void or invoices.is_draft) as is_finalized,
        invoices.invoice_date,
        {{ cs_metrics.month_start('invoices.invoice_date') }} as invoice_month,
        invoices.due_date,
        invoices.currency,
        invoices.total_amount,
        invoices.tax_amount,
        cast(invoices.total_amount + invoices.tax_amount as decimal(18, 2)) as amount_due
    from invoices
    cross join as_of
    left join customers
        on invoices.customer_id = customers.customer_id
    where invoices.invoice_date <= as_of.as_of_date

),

payment_totals as (

    select
        invoice_id,
        count(*) as payments,
        cast(sum(amount) as decimal(18, 2)) as amount_paid,
        min(payment_date) as first_payment_date,
        max(payment_date) as last_payment_date
    from applied_payments
    group by invoice_id

),

-- the first payment after which the running total covers the amount due
settling_payments as (

    select
        applied_payments.invoice_id,
        min(applied_payments.payment_date) as settled_by_payments_on
    from applied_payments
    inner join issued
        on applied_payments.invoice_id = issued.invoice_id
    where applied_payments.paid_to_date >= issued.amount_due
    group by applied_payments.invoice_id

),

settled as (

    select
        issued.*,
        coalesce(payment_totals.payments, 0) as payments,
        coalesce(failed_attempts.failed_payment_attempts, 0) as failed_payment_attempts,
        coalesce(payment_totals.amount_paid, cast(0 as decimal(18, 2))) as amount_paid,
        payment_totals.first_payment_date,
        -- what settled the invoice: its payments; nothing to pay; or, when the export says
        -- paid but its payments do not cover it, the status (paid on its last payment, or on
        -- the invoice date without one)
        case
            when not issued.is_finalized then null
            when issued.amount_due = 0 then 'zero_amount'
            when settling_payments.settled_by_payments_on is not null then 'payments'
            when issued.status = 'paid' then 'status_paid'
        end as paid_date_basis,
        case
            when not issued.is_finalized then null
            when issued.amount_due = 0 then issued.invoice_date
            when settling_payments.settled_by_payments_on is not null
                then settling_payments.settled_by_payments_on
            when issued.status = 'paid'
                then coalesce(payment_totals.last_payment_date, issued.invoice_date)
        end as fully_paid_date
    from issued
    left join payment_totals
        on issued.invoice_id = payment_totals.invoice_id
    left join failed_attempts
        on issued.invoice_id = failed_attempts.invoice_id
    left join settling_payments
        on issued.invoice_id = settling_payments.invoice_id

),

with_outstanding as (

    select
        settled.*,
        settled.is_finalized and settled.amount_due > 0 as is_collectible,
        case
            when not settled.is_finalized then cast(0 as decimal(18, 2))
            when settled.fully_paid_date is not null then cast(0 as decimal(18, 2))
            else cast(settled.amount_due - settled.amount_paid as decimal(18, 2))
        end as outstanding_amount
    from settled

),

converted as (

    select
        with_outstanding.*,
        case
            when with_outstanding.currency = '{{ reporting_currency }}' then 1.0
            else fx_rates.rate_to_reporting
        end as fx_rate_to_reporting
    from with_outstanding
    left join fx_rates
        on with_outstanding.currency = fx_rates.currency
        and with_outstanding.invoice_month = fx_rates.rate_month

),

final as (

    select
        -- ids
        invoice_id,
        customer_id,
        account_id,

        -- categories
        status,
        is_void,
        is_draft,
        is_uncollectible,
        is_finalized,
        is_collectible,
        paid_date_basis,

        -- dates
        invoice_date,
        invoice_month,
        due_date,
        first_payment_date,
        fully_paid_date,

        -- counts
        payments,
        failed_payment_attempts,

        -- amounts in the invoice's currency
        currency,
        total_amount,
        tax_amount,
        amount_due,
        amount_paid,
        outstanding_amount,

        -- amounts in the reporting currency (rate of the invoice month), multiplied in
        -- DECIMAL: a DOUBLE product rounds its half-cents differently on DuckDB and Spark
        '{{ reporting_currency }}' as reporting_currency,
        cast(fx_rate_to_reporting as double) as fx_rate_to_reporting,
        {%- for column in ['total_amount', 'amount_due', 'amount_paid', 'outstanding_amount'] %}
        {{ cs_metrics.to_reporting_currency(
            column, 'currency', 'cast(fx_rate_to_reporting as decimal(16, 8))', 'money'
        ) }} as {{ column }}_reporting{{ ',' if not loop.last }}
        {%- endfor %}

    from converted

)

select * from final
