{{ config(severity='warn') }}
{#- Payments are summed in the invoice's currency (DECISIONS.md, Collections): a succeeded
    payment in another currency would be added as if it were the invoice's. Warns with the
    payments that differ. -#}
select
    payments.payment_id,
    payments.invoice_id,
    payments.currency as payment_currency,
    invoices.currency as invoice_currency
from {{ ref('stg_billing__payments') }} as payments
inner join {{ ref('stg_billing__invoices') }} as invoices
    on payments.invoice_id = invoices.invoice_id
where payments.is_succeeded
    and payments.currency <> invoices.currency
