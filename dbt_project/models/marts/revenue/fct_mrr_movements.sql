{#- MRR movements per account per month, comparing month-end MRR of M-1 (start) and M (end);
    one row per account per month where either is above zero (METRICS.md, Revenue). -#}
with

monthly as (

    select
        account_id,
        month,
        mrr,
        is_partial
    from {{ ref('fct_mrr_monthly') }}

),

with_history as (

    select
        account_id,
        month,
        mrr as end_mrr,
        is_partial,
        lag(month) over (partition by account_id order by month) as previous_month,
        lag(mrr) over (partition by account_id order by month) as previous_mrr,
        -- highest month-end MRR of any earlier month: tells reactivation from new
        max(mrr) over (
            partition by account_id
            order by month
            rows between unbounded preceding and 1 preceding
        ) as highest_earlier_mrr
    from monthly

),

with_start as (

    select
        account_id,
        month,
        -- the previous month-end, or 0 when the account had no row that month
        cast(
            case
                when previous_month = {{ cs_metrics.add_months('month', -1) }}
                    then previous_mrr
                else 0
            end
            as decimal(18, 2)
        ) as start_mrr,
        end_mrr,
        coalesce(highest_earlier_mrr, 0) as highest_earlier_mrr,
        is_partial
    from with_history

),

classified as (

    select
        account_id,
        month,
        start_mrr,
        end_mrr,
        is_partial,
        case
            when start_mrr = 0 and end_mrr > 0 and highest_earlier_mrr = 0 then 'new'
            when start_mrr = 0 and end_mrr > 0 then 'reactivation'
            when start_mrr > 0 and end_mrr = 0 then 'churn'
            when end_mrr > start_mrr then 'expansion'
            when end_mrr < start_mrr then 'contraction'
            else 'unchanged'
        end as movement
    from with_start
    where start_mrr > 0 or end_mrr > 0

),

final as (

    select
        account_id,
        month,
        movement,
        start_mrr,
        cast(case when movement = 'new' then end_mrr else 0 end as decimal(18, 2)) as new_mrr,
        cast(case when movement = 'reactivation' then end_mrr else 0 end as decimal(18, 2))
            as reactivation_mrr,
        cast(case when movement = 'expansion' then end_mrr - start_mrr else 0 end as decimal(18, 2))
            as expansion_mrr,
        cast(case when movement = 'contraction' then start_mrr - end_mrr else 0 end as decimal(18, 2))
            as contraction_mrr,
        cast(case when movement = 'churn' then start_mrr else 0 end as decimal(18, 2)) as churn_mrr,
        end_mrr,
        cast(end_mrr - start_mrr as decimal(18, 2)) as net_change_mrr,
        is_partial
    from classified

)

select * from final
