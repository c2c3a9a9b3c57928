{#- Every response is counted once per slice type: for each month and slice type the slices add
    up to the `all` row, and the `all` rows of all months hold every response of
    fct_nps_responses, nothing more, nothing less. Returns the rows that disagree. -#}
with

metrics as (

    select month, slice_type, slice_value, responses, promoters, passives, detractors,
        trailing_responses, trailing_promoters, trailing_detractors
    from {{ ref('metrics_nps') }}

),

by_slice_type as (

    select
        month,
        slice_type,
        sum(responses) as responses,
        sum(promoters) as promoters,
        sum(passives) as passives,
        sum(detractors) as detractors,
        sum(trailing_responses) as trailing_responses,
        sum(trailing_promoters) as trailing_promoters,
        sum(trailing_detractors) as trailing_detractors
    from metrics
    group by month, slice_type

),

all_rows as (

    select * from by_slice_type where slice_type = 'all'

),

slice_mismatches as (

    select by_slice_type.month, by_slice_type.slice_type, 'slices vs all' as problem
    from by_slice_type
    inner join all_rows
        on by_slice_type.month = all_rows.month
    where by_slice_type.responses <> all_rows.responses
        or by_slice_type.promoters <> all_rows.promoters
        or by_slice_type.passives <> all_rows.passives
        or by_slice_type.detractors <> all_rows.detractors
        or by_slice_type.trailing_responses <> all_rows.trailing_responses
        or by_slice_type.trailing_promoters <> all_rows.trailing_promoters
        or by_slice_type.trailing_detractors <> all_rows.trailing_detractors

),

response_totals as (

    select
        (select count(*) from {{ ref('fct_nps_responses') }}) as fact_responses,
        (select coalesce(sum(responses), 0) from all_rows) as metric_responses

),

total_mismatch as (

    select cast(null as date) as month, 'all' as slice_type, 'all months vs fct_nps_responses' as problem
    from response_totals
    where fact_responses <> metric_responses

)

select * from slice_mismatches
union all
select * from total_mismatch
