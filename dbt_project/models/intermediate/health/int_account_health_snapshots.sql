{#- One row per account per snapshot: every month of fct_mrr_monthly (from the account's first
    month with a recurring line to the as-of month, churned months included), taken on the month's
    measurement day: its last day, or the as-of date in the as-of month. So the snapshots are every
    month-end plus the as-of date (the same day when the as-of date is a month end), and every
    input mart of the health score (adoption, support, NPS, relationship, collections) has a row
    measured on exactly that day (DECISIONS.md, Health score). -#}
with

monthly_mrr as (

    select account_id, month, measured_on, arr, is_customer, is_paying, is_partial
    from {{ ref('fct_mrr_monthly') }}

),

final as (

    select
        account_id,
        month as snapshot_month,
        measured_on as snapshot_date,
        measured_on = {{ cs_metrics.month_end('month') }} as is_month_end,
        is_partial,
        arr,
        is_customer,
        is_paying
    from monthly_mrr

)

select * from final
