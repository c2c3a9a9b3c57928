{#- Every billing invoice issued on or before the as-of date comes out in fct_invoices exactly
    once with the same amounts, and nothing else does; the succeeded payments made by the
    as-of date add up to fct_invoices.amount_paid. Returns the offending invoices. -#}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

staged as (

    select
        invoices.invoice_id,
        cast(invoices.total_amount + invoices.tax_amount as decimal(18, 2)) as amount_due
    from {{ ref('stg_billing__invoices') }} as invoices
    cross join as_of
    where invoices.invoice_date <= as_of.as_of_date

),

staged_payments as (

    select
        payments.invoice_id,
        cast(sum(payments.amount) as decimal(18, 2)) as amount_paid
    from {{ ref('stg_billing__payments') }} as payments
    cross join as_of
    where payments.is_succeeded
        and payments.payment_date <= as_of.as_of_date
    group by payments.invoice_id

),

marts as (

    select invoice_id, amount_due, amount_paid, count(*) over (partition by invoice_id) as copies
    from {{ ref('fct_invoices') }}

)

select
    coalesce(staged.invoice_id, marts.invoice_id) as invoice_id,
    staged.amount_due as staged_amount_due,
    marts.amount_due as mart_amount_due,
    coalesce(staged_payments.amount_paid, 0) as staged_amount_paid,
    marts.amount_paid as mart_amount_paid,
    marts.copies
from staged
full outer join marts
    on staged.invoice_id = marts.invoice_id
left join staged_payments
    on staged.invoice_id = staged_payments.invoice_id
where staged.invoice_id is null
    or marts.invoice_id is null
    or marts.copies <> 1
    or staged.amount_due <> marts.amount_due
    or coalesce(staged_payments.amount_paid, 0) <> marts.amount_paid
