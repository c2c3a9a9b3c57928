{#- One row per enabled headline KPI per period (period_type month, quarter, year_to_date; every
    period from the first billed month to the as-of month): the value, the prior period's value,
    the target, whether the value is on target, the direction and the leading/lagging tag
    (METRICS.md, KPI summary; DECISIONS.md, KPI summary and alerts). The KPIs, their order, tags
    and targets are seed_kpi_summary; at most seven are enabled.

    Whole company only. Periods are those of int_retention_periods: a month, a calendar quarter,
    the year to date at each month-end; an open period ends at the as-of date (is_partial).
    Prior period: the month before, the quarter before, the same year-to-date months of the
    previous year. Values:
    grr, nrr, logo_churn_rate   metrics_retention, slice all, the same window
    expansion_arr               expansion MRR of the window's movements * 12 (metrics_retention)
    renewal_rate                renewed / (renewed + churned) over fct_renewals due in the
                                calendar period (the whole month / quarter / year-to-date months,
                                as metrics_renewals counts a quarter)
    share_of_arr_green          ARR of green accounts / ARR of scored customers at the period's
                                end (int_account_health_scores: month-end or as-of snapshot)
    nps                         (promoters - detractors) / responses * 100 over the responses
                                dated in the period (fct_nps_responses)
    paid_on_time_rate           invoices paid on time / invoices due in the period's months
                                (fct_account_collections_monthly) -#}
with

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

kpis as (

    select
        kpi,
        kpi_label,
        display_order,
        direction,
        indicator_type,
        unit,
        target_month,
        target_quarter,
        target_year_to_date
    from {{ ref('seed_kpi_summary') }}
    where enabled

),

periods as (

    select
        periods.period_type,
        periods.period_start,
        periods.period_end,
        periods.period_last_month,
        periods.calendar_period_end,
        periods.is_partial,
        periods.period_last_month = as_of.as_of_month as is_current
    from {{ ref('int_retention_periods') }} as periods
    cross join as_of
    where periods.period_type in ('month', 'quarter', 'year_to_date')

),

retention as (

    select
        period_type,
        period_start,
        period_end,
        grr,
        nrr,
        logo_churn_rate,
        expansion_mrr
    from {{ ref('metrics_retention') }}
    where slice_type = 'all'

),

renewal_counts as (

    select
        periods.period_type,
        periods.period_start,
        periods.period_end,
        sum(case when renewals.outcome = 'renewed' then 1 else 0 end) as renewed,
        sum(case when renewals.outcome = 'churned' then 1 else 0 end) as churned
    from periods
    inner join {{ ref('fct_renewals') }} as renewals
        on renewals.due_date >= periods.period_start
        and renewals.due_date <= periods.calendar_period_end
    group by periods.period_type, periods.period_start, periods.period_end

),

green_arr as (

    select
        periods.period_type,
        periods.period_start,
        periods.period_end,
        sum(case when scores.health_band = 'green' then scores.arr else 0 end) as arr_green,
        sum(case when scores.health_score is not null then scores.arr else 0 end) as arr_scored
    from periods
    inner join {{ ref('int_account_health_scores') }} as scores
        on scores.snapshot_date = periods.period_end
        and scores.is_customer
    group by periods.period_type, periods.period_start, periods.period_end

),

nps_counts as (

    select
        periods.period_type,
        periods.period_start,
        periods.period_end,
        sum(case when responses.is_promoter then 1 else 0 end) as promoters,
        sum(case when responses.is_detractor then 1 else 0 end) as detractors,
        count(*) as responses
    from periods
    inner join {{ ref('fct_nps_responses') }} as responses
        on responses.responded_date >= periods.period_start
        and responses.responded_date <= periods.period_end
    group by periods.period_type, periods.period_start, periods.period_end

),

collection_counts as (

    select
        periods.period_type,
        periods.period_start,
        periods.period_end,
        sum(collections.invoices_paid_on_time) as invoices_paid_on_time,
        sum(collections.invoices_due) as invoices_due
    from periods
    inner join {{ ref('fct_account_collections_monthly') }} as collections
        on collections.month >= periods.period_start
        and collections.month <= periods.period_last_month
    group by periods.period_type, periods.period_start, periods.period_end

),

period_values as (

    select
        periods.period_type,
        periods.period_start,
        periods.period_end,
        periods.period_last_month,
        periods.is_partial,
        periods.is_current,
        retention.grr,
        retention.nrr,
        retention.logo_churn_rate,
        cast(retention.expansion_mrr * 12 as double) as expansion_arr,
        {{ cs_metrics.safe_ratio('renewal_counts.renewed',
                                 'renewal_counts.renewed + renewal_counts.churned') }}
            as renewal_rate,
        {{ cs_metrics.safe_ratio('green_arr.arr_green', 'green_arr.arr_scored') }}
            as share_of_arr_green,
        {{ cs_metrics.nps('nps_counts.promoters', 'nps_counts.detractors',
                          'nps_counts.responses') }} as nps,
        {{ cs_metrics.safe_ratio('collection_counts.invoices_paid_on_time',
                                 'collection_counts.invoices_due') }} as paid_on_time_rate
    from periods
    left join retention
        on periods.period_type = retention.period_type
        and periods.period_start = retention.period_start
        and periods.period_end = retention.period_end
    left join renewal_counts
        on periods.period_type = renewal_counts.period_type
        and periods.period_start = renewal_counts.period_start
        and periods.period_end = renewal_counts.period_end
    left join green_arr
        on periods.period_type = green_arr.period_type
        and periods.period_start = green_arr.period_start
        and periods.period_end = green_arr.period_end
    left join nps_counts
        on periods.period_type = nps_counts.period_type
        and periods.period_start = nps_counts.period_start
        and periods.period_end = nps_counts.period_end
    left join collection_counts
        on periods.period_type = collection_counts.period_type
        and periods.period_start = collection_counts.period_start
        and periods.period_end = collection_counts.period_end

),

{%- set kpi_names = ['grr', 'nrr', 'logo_churn_rate', 'renewal_rate', 'expansion_arr',
                     'share_of_arr_green', 'nps', 'paid_on_time_rate'] %}

-- one row per KPI and period
kpi_values as (

    {%- for kpi in kpi_names %}
    select
        '{{ kpi }}' as kpi,
        period_type,
        period_start,
        period_end,
        period_last_month,
        is_partial,
        is_current,
        cast({{ kpi }} as double) as kpi_value
    from period_values
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

-- the prior period: month - 1, quarter - 3 months, the same year-to-date months a year before
with_prior as (

    select
        kpi_values.*,
        prior.period_start as prior_period_start,
        prior.period_end as prior_period_end,
        prior.kpi_value as prior_value
    from kpi_values
    left join kpi_values as prior
        on kpi_values.kpi = prior.kpi
        and kpi_values.period_type = prior.period_type
        and (
            (kpi_values.period_type = 'month'
                and prior.period_start = {{ cs_metrics.add_months('kpi_values.period_start', -1) }})
            or (kpi_values.period_type = 'quarter'
                and prior.period_start = {{ cs_metrics.add_months('kpi_values.period_start', -3) }})
            or (kpi_values.period_type = 'year_to_date'
                and prior.period_start = {{ cs_metrics.add_months('kpi_values.period_start', -12) }}
                and prior.period_last_month
                    = {{ cs_metrics.add_months('kpi_values.period_last_month', -12) }})
        )

),

with_target as (

    select
        with_prior.*,
        kpis.kpi_label,
        kpis.display_order,
        kpis.direction,
        kpis.indicator_type,
        kpis.unit,
        cast(case with_prior.period_type
            when 'month' then kpis.target_month
            when 'quarter' then kpis.target_quarter
            when 'year_to_date' then kpis.target_year_to_date
        end as double) as target
    from with_prior
    inner join kpis
        on with_prior.kpi = kpis.kpi

),

final as (

    select
        kpi,
        kpi_label,
        display_order,
        period_type,
        period_start,
        period_end,
        is_partial,
        is_current,
        kpi_value as value,
        prior_period_start,
        prior_period_end,
        prior_value,
        kpi_value - prior_value as change_from_prior,
        case
            when kpi_value is null or prior_value is null then null
            when direction = 'higher_is_better' then kpi_value > prior_value
            else kpi_value < prior_value
        end as is_better_than_prior,
        target,
        case
            when kpi_value is null or target is null then null
            when direction = 'higher_is_better' then kpi_value >= target
            else kpi_value <= target
        end as is_on_target,
        direction,
        indicator_type,
        unit
    from with_target

)

select * from final
