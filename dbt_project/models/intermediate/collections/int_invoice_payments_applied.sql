{#- One row per succeeded payment made on or before the as-of date, with the running total paid
    on its invoice after it (payments in date order, then by id). Failed and refunded attempts
    move no money and are left out (DECISIONS.md, Collections). -#}
with

payments as (

    select
        payment_id,
        invoice_id,
        payment_date,
        amount,
        currency
    from {{ ref('stg_billing__payments') }}
    where is_succeeded

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

known_payments as (

    select payments.*
    from payments
    cross join as_of
    where payments.payment_date <= as_of.as_of_date

),

final as (

    select
        payment_id,
        invoice_id,
        payment_date,
        currency,
        amount,
        cast(sum(amount) over (
            partition by invoice_id
            order by payment_date, payment_id
            rows between unbounded preceding and current row
        ) as decimal(18, 2)) as paid_to_date
    from known_payments

)

select * from final
