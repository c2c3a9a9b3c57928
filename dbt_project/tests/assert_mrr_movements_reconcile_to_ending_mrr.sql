-- Reconciliation of the movements with month-end MRR, per month over all accounts:
--   start + new + reactivation + expansion - contraction - churn = end (the bridge holds);
--   the movements' end MRR = the month-end MRR of fct_mrr_monthly (no account lost);
--   the movements' start MRR = the previous month's month-end MRR (months chain).
-- Returns the months where any of these fails.
with

movements as (

    select
        month,
        sum(start_mrr) as start_mrr,
        sum(new_mrr) as new_mrr,
        sum(reactivation_mrr) as reactivation_mrr,
        sum(expansion_mrr) as expansion_mrr,
        sum(contraction_mrr) as contraction_mrr,
        sum(churn_mrr) as churn_mrr,
        sum(end_mrr) as end_mrr
    from {{ ref('fct_mrr_movements') }}
    group by month

),

monthly as (

    select month, sum(mrr) as mrr
    from {{ ref('fct_mrr_monthly') }}
    group by month

),

compared as (

    select
        monthly.month,
        coalesce(movements.start_mrr, 0) as start_mrr,
        coalesce(movements.new_mrr, 0) as new_mrr,
        coalesce(movements.reactivation_mrr, 0) as reactivation_mrr,
        coalesce(movements.expansion_mrr, 0) as expansion_mrr,
        coalesce(movements.contraction_mrr, 0) as contraction_mrr,
        coalesce(movements.churn_mrr, 0) as churn_mrr,
        coalesce(movements.end_mrr, 0) as end_mrr,
        monthly.mrr as month_end_mrr,
        coalesce(previous_month.mrr, 0) as previous_month_end_mrr
    from monthly
    left join movements
        on monthly.month = movements.month
    left join monthly as previous_month
        on previous_month.month = {{ cs_metrics.add_months('monthly.month', -1) }}

)

select *
from compared
where start_mrr + new_mrr + reactivation_mrr + expansion_mrr - contraction_mrr - churn_mrr
        <> end_mrr
    or end_mrr <> month_end_mrr
    or start_mrr <> previous_month_end_mrr
