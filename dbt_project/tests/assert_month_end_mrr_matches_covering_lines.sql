-- Reconciliation, by a second path: the month-end MRR of every account and month equals the
-- sum, rounded to the cent, of the monthly-normalised amounts of the recurring lines whose
-- service period covers the measured day (no day spine involved). Returns mismatches.
with

monthly as (

    select account_id, month, measured_on, mrr
    from {{ ref('fct_mrr_monthly') }}

),

recurring_lines as (

    select account_id, service_period_start, service_period_end, mrr_amount
    from {{ ref('int_invoice_lines_normalized_to_months') }}
    where is_recurring

),

recomputed as (

    select
        monthly.account_id,
        monthly.month,
        {{ cs_metrics.to_money('coalesce(sum(recurring_lines.mrr_amount), 0)') }} as mrr
    from monthly
    left join recurring_lines
        on monthly.account_id = recurring_lines.account_id
        and recurring_lines.service_period_start <= monthly.measured_on
        and recurring_lines.service_period_end > monthly.measured_on
    group by monthly.account_id, monthly.month

)

select
    monthly.account_id,
    monthly.month,
    monthly.mrr as month_end_mrr,
    recomputed.mrr as recomputed_mrr
from monthly
inner join recomputed
    on monthly.account_id = recomputed.account_id
    and monthly.month = recomputed.month
where monthly.mrr <> recomputed.mrr
