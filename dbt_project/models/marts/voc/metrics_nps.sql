{#- One row per month and slice (all, segment, csm_owner, lifecycle_stage, plan) with NPS
    responses: NPS over the responses dated in the calendar month (up to the as-of date), and
    trailing NPS over the nps_trailing_window_days (180) days ending on the month's measurement
    day (METRICS.md: NPS per segment and month). NPS = (promoters - detractors) / responses * 100,
    counted from the bands, never an average of scores; every response counts. A response is
    placed by its account's current segment, owner and plan (dim_accounts, as the other slices)
    and by the account's lifecycle stage in the month it was given. -#}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

responses as (

    select
        response_id,
        account_id,
        responded_date,
        responded_month,
        is_promoter,
        is_passive,
        is_detractor,
        segment,
        owner_csm_id,
        plan_name,
        lifecycle_stage
    from {{ ref('fct_nps_responses') }}

),

response_slices as (

    select response_id, 'all' as slice_type, 'all' as slice_value
    from responses
    union all
    select response_id, 'segment' as slice_type, coalesce(segment, 'unknown') as slice_value
    from responses
    union all
    select response_id, 'csm_owner' as slice_type,
        coalesce(owner_csm_id, 'unassigned') as slice_value
    from responses
    union all
    select response_id, 'lifecycle_stage' as slice_type,
        coalesce(lifecycle_stage, 'unknown') as slice_value
    from responses
    union all
    select response_id, 'plan' as slice_type, coalesce(plan_name, 'unknown') as slice_value
    from responses

),

sliced_responses as (

    select
        response_slices.slice_type,
        response_slices.slice_value,
        responses.response_id,
        responses.account_id,
        responses.responded_date,
        responses.responded_month,
        responses.is_promoter,
        responses.is_passive,
        responses.is_detractor
    from responses
    inner join response_slices
        on responses.response_id = response_slices.response_id

),

bounds as (

    select
        {{ cs_metrics.month_start('min(responses.responded_date)') }} as first_month,
        max(as_of.as_of_date) as last_day
    from responses
    cross join as_of

),

months as (

    select {{ cs_metrics.month_start('month_day') }} as month
    from (
        {{ cs_metrics.date_series('bounds', 'first_month', 'last_day', 'month', 'month_day') }}
    ) as month_days

),

measured_months as (

    select
        months.month,
        case
            when {{ cs_metrics.month_end('months.month') }} < as_of.as_of_date
                then {{ cs_metrics.month_end('months.month') }}
            else as_of.as_of_date
        end as measured_on,
        as_of.as_of_date < {{ cs_metrics.month_end('months.month') }} as is_partial
    from months
    cross join as_of

),

-- each response once in its own month (month figures) and once in every month whose
-- trailing window [measured_on - (N - 1), measured_on] holds its date (trailing figures)
counted as (

    select
        slice_type,
        slice_value,
        responded_month as month,
        response_id,
        account_id,
        is_promoter,
        is_passive,
        is_detractor,
        1 as in_month,
        0 as in_trailing_window
    from sliced_responses
    union all
    select
        sliced_responses.slice_type,
        sliced_responses.slice_value,
        measured_months.month,
        sliced_responses.response_id,
        sliced_responses.account_id,
        sliced_responses.is_promoter,
        sliced_responses.is_passive,
        sliced_responses.is_detractor,
        0 as in_month,
        1 as in_trailing_window
    from sliced_responses
    inner join measured_months
        on sliced_responses.responded_date <= measured_months.measured_on
        and sliced_responses.responded_date
            > {{ cs_metrics.add_days('measured_months.measured_on',
                                     -var('nps_trailing_window_days')) }}

),

aggregated as (

    select
        month,
        slice_type,
        slice_value,
        sum(in_month) as responses,
        sum(case when in_month = 1 and is_promoter then 1 else 0 end) as promoters,
        sum(case when in_month = 1 and is_passive then 1 else 0 end) as passives,
        sum(case when in_month = 1 and is_detractor then 1 else 0 end) as detractors,
        count(distinct case when in_month = 1 then account_id end) as accounts_responding,
        sum(in_trailing_window) as trailing_responses,
        sum(case when in_trailing_window = 1 and is_promoter then 1 else 0 end)
            as trailing_promoters,
        sum(case when in_trailing_window = 1 and is_passive then 1 else 0 end)
            as trailing_passives,
        sum(case when in_trailing_window = 1 and is_detractor then 1 else 0 end)
            as trailing_detractors,
        count(distinct case when in_trailing_window = 1 then account_id end)
            as trailing_accounts_responding
    from counted
    group by month, slice_type, slice_value

),

final as (

    select
        aggregated.month,
        aggregated.slice_type,
        aggregated.slice_value,
        measured_months.measured_on,
        measured_months.is_partial,
        cast(aggregated.responses as {{ dbt.type_bigint() }}) as responses,
        cast(aggregated.promoters as {{ dbt.type_bigint() }}) as promoters,
        cast(aggregated.passives as {{ dbt.type_bigint() }}) as passives,
        cast(aggregated.detractors as {{ dbt.type_bigint() }}) as detractors,
        cast(aggregated.accounts_responding as {{ dbt.type_bigint() }}) as accounts_responding,
        {{ cs_metrics.safe_ratio('aggregated.promoters', 'aggregated.responses') }}
            as promoter_share,
        {{ cs_metrics.safe_ratio('aggregated.passives', 'aggregated.responses') }}
            as passive_share,
        {{ cs_metrics.safe_ratio('aggregated.detractors', 'aggregated.responses') }}
            as detractor_share,
        {{ cs_metrics.nps('aggregated.promoters', 'aggregated.detractors', 'aggregated.responses') }}
            as nps,
        {{ cs_metrics.add_days('measured_months.measured_on',
                               1 - var('nps_trailing_window_days')) }} as trailing_window_start_date,
        cast(aggregated.trailing_responses as {{ dbt.type_bigint() }}) as trailing_responses,
        cast(aggregated.trailing_promoters as {{ dbt.type_bigint() }}) as trailing_promoters,
        cast(aggregated.trailing_passives as {{ dbt.type_bigint() }}) as trailing_passives,
        cast(aggregated.trailing_detractors as {{ dbt.type_bigint() }}) as trailing_detractors,
        cast(aggregated.trailing_accounts_responding as {{ dbt.type_bigint() }})
            as trailing_accounts_responding,
        {{ cs_metrics.nps('aggregated.trailing_promoters', 'aggregated.trailing_detractors',
                          'aggregated.trailing_responses') }} as trailing_nps
    from aggregated
    inner join measured_months
        on aggregated.month = measured_months.month

)

select * from final
