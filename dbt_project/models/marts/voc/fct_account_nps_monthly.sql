{#- One row per account per month whose trailing NPS window holds at least one response: NPS
    over the responses of the nps_trailing_window_days (180) days ending on the month's
    measurement day (its last day, or the as-of date in the open month), with promoter,
    passive and detractor counts, and whether a detractor answered in the last
    nps_recent_detractor_days (30) days (METRICS.md: NPS per account, trailing 180 days; a
    detractor response in the last 30 days is an alert). Every response counts, also several
    from one contact (DECISIONS.md). -#}
with

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

responses as (

    select
        response_id,
        account_id,
        contact_id,
        responded_date,
        is_promoter,
        is_passive,
        is_detractor
    from {{ ref('fct_nps_responses') }}

),

accounts as (

    select account_id, segment, owner_csm_id, plan_name
    from {{ ref('dim_accounts') }}

),

lifecycle as (

    select account_id, month, lifecycle_stage
    from {{ ref('int_account_lifecycle_monthly') }}

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

-- each response counts in the months whose trailing window [measured_on - (N - 1), measured_on]
-- holds its date
responses_in_window as (

    select
        responses.account_id,
        measured_months.month,
        measured_months.measured_on,
        measured_months.is_partial,
        responses.response_id,
        responses.contact_id,
        responses.responded_date,
        responses.is_promoter,
        responses.is_passive,
        responses.is_detractor,
        responses.responded_date
            > {{ cs_metrics.add_days('measured_months.measured_on',
                                     -var('nps_recent_detractor_days')) }} as is_recent
    from responses
    inner join measured_months
        on responses.responded_date <= measured_months.measured_on
        and responses.responded_date
            > {{ cs_metrics.add_days('measured_months.measured_on',
                                     -var('nps_trailing_window_days')) }}

),

aggregated as (

    select
        account_id,
        month,
        measured_on,
        is_partial,
        count(*) as responses,
        sum(case when is_promoter then 1 else 0 end) as promoters,
        sum(case when is_passive then 1 else 0 end) as passives,
        sum(case when is_detractor then 1 else 0 end) as detractors,
        count(distinct contact_id) as known_respondents,
        sum(case when contact_id is null then 1 else 0 end) as anonymous_responses,
        max(responded_date) as latest_response_date,
        sum(case when is_recent and is_detractor then 1 else 0 end) as recent_detractors
    from responses_in_window
    group by account_id, month, measured_on, is_partial

),

final as (

    select
        aggregated.account_id,
        aggregated.month,
        aggregated.measured_on,
        aggregated.is_partial,
        {{ cs_metrics.add_days('aggregated.measured_on', 1 - var('nps_trailing_window_days')) }}
            as window_start_date,
        accounts.segment,
        accounts.owner_csm_id,
        accounts.plan_name,
        lifecycle.lifecycle_stage,
        cast(aggregated.responses as {{ dbt.type_bigint() }}) as responses,
        cast(aggregated.promoters as {{ dbt.type_bigint() }}) as promoters,
        cast(aggregated.passives as {{ dbt.type_bigint() }}) as passives,
        cast(aggregated.detractors as {{ dbt.type_bigint() }}) as detractors,
        {{ cs_metrics.safe_ratio('aggregated.promoters', 'aggregated.responses') }}
            as promoter_share,
        {{ cs_metrics.safe_ratio('aggregated.detractors', 'aggregated.responses') }}
            as detractor_share,
        {{ cs_metrics.nps('aggregated.promoters', 'aggregated.detractors', 'aggregated.responses') }}
            as nps,
        cast(aggregated.known_respondents as {{ dbt.type_bigint() }}) as known_respondents,
        cast(aggregated.anonymous_responses as {{ dbt.type_bigint() }}) as anonymous_responses,
        aggregated.latest_response_date,
        cast(aggregated.recent_detractors as {{ dbt.type_bigint() }}) as recent_detractors,
        aggregated.recent_detractors > 0 as has_recent_detractor
    from aggregated
    left join accounts
        on aggregated.account_id = accounts.account_id
    left join lifecycle
        on aggregated.account_id = lifecycle.account_id
        and aggregated.month = lifecycle.month

)

select * from final
