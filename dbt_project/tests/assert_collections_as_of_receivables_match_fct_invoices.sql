{#- The receivables of each account in the as-of month (computed from payment dates, month by
    month) equal what fct_invoices has outstanding at the as-of date, in total and past due.
    Returns the accounts that differ. -#}
with

as_of as (

    select as_of_month from {{ ref('int_as_of_date') }}

),

monthly as (

    select
        account_months.account_id,
        account_months.receivables_amount,
        account_months.overdue_amount
    from {{ ref('fct_account_collections_monthly') }} as account_months
    inner join as_of
        on account_months.month = as_of.as_of_month

),

invoices as (

    select
        account_id,
        cast(sum(outstanding_amount_reporting) as decimal(18, 2)) as receivables_amount,
        cast(sum(case when is_overdue then outstanding_amount_reporting else 0 end)
            as decimal(18, 2)) as overdue_amount
    from {{ ref('fct_invoices') }}
    where is_finalized
    group by account_id

)

select
    coalesce(monthly.account_id, invoices.account_id) as account_id,
    monthly.receivables_amount as monthly_receivables,
    invoices.receivables_amount as invoice_receivables,
    monthly.overdue_amount as monthly_overdue,
    invoices.overdue_amount as invoice_overdue
from monthly
full outer join invoices
    on monthly.account_id = invoices.account_id
where coalesce(monthly.receivables_amount, 0) <> coalesce(invoices.receivables_amount, 0)
    or coalesce(monthly.overdue_amount, 0) <> coalesce(invoices.overdue_amount, 0)
