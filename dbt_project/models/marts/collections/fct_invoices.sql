{#- One row per invoice issued on or before the as-of date, every status (void and draft kept
    and flagged; they never count in the collection figures): its account, dates, amounts in
    its own and the reporting currency, what was paid and when it was fully paid, whether it
    was paid by its due date, and what is still outstanding at the as-of date with its days
    overdue and age bucket (METRICS.md, Collection; DECISIONS.md, Collections). -#}
with

invoices as (

    select * from {{ ref('int_invoices_settled') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

at_as_of as (

    select
        invoices.*,
        as_of.as_of_date,
        case
            when invoices.outstanding_amount > 0 and as_of.as_of_date > invoices.due_date
                then {{ cs_metrics.days_between('invoices.due_date', 'as_of.as_of_date') }}
            else 0
        end as days_overdue,
        -- paid by the due date (the due date itself is on time); NULL while not yet decided
        -- (unpaid and not yet due) and for invoices with nothing to collect
        case
            when not invoices.is_collectible then null
            when invoices.fully_paid_date is not null
                then invoices.fully_paid_date <= invoices.due_date
            when as_of.as_of_date > invoices.due_date then false
        end as is_paid_on_time,
        case
            when invoices.fully_paid_date is not null and invoices.is_collectible
                then {{ cs_metrics.days_between('invoices.due_date', 'invoices.fully_paid_date') }}
        end as days_paid_after_due
    from invoices
    cross join as_of

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

        -- dates
        invoice_date,
        invoice_month,
        due_date,
        {{ cs_metrics.month_start('due_date') }} as due_month,
        {{ cs_metrics.days_between('invoice_date', 'due_date') }} as payment_terms_days,

        -- amounts in the invoice's currency
        currency,
        total_amount,
        tax_amount,
        amount_due,
        amount_paid,
        outstanding_amount,

        -- amounts in the reporting currency
        reporting_currency,
        fx_rate_to_reporting,
        total_amount_reporting,
        amount_due_reporting,
        amount_paid_reporting,
        outstanding_amount_reporting,

        -- payment
        payments,
        failed_payment_attempts,
        first_payment_date,
        fully_paid_date,
        paid_date_basis,
        fully_paid_date is not null as is_fully_paid,
        days_paid_after_due,
        is_paid_on_time,

        -- status at the as-of date
        as_of_date,
        outstanding_amount > 0 as is_outstanding,
        days_overdue,
        days_overdue > 0 as is_overdue,
        {{ cs_metrics.collections_age_bucket('days_overdue') }} as age_bucket

    from at_as_of

)

select * from final
