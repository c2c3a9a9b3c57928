{#- One row per account per day, from the account's first provisioned user or first usage event
    to the as-of date: DAU, WAU (7 days), MAU (28 days, trailing), events, minutes, provisioned
    users, seats purchased and the day-level ratios (METRICS.md, Adoption).

    Incremental (DECISIONS.md, Adoption): a run rewrites whole months, from the month of the
    first day after the latest stored day (the as-of month when nothing is new), and reads
    events only from 27 days before that month, which is all a 28-day window needs. The
    bounds are computed before the query runs, so they reach the events scan as literals.
    Time is summed in whole seconds and turned into minutes last, so an incremental run and a
    full rebuild give the same numbers to the last bit.

    Distinct users in a window without a range join: a user's active days at most 28 (7)
    days apart form one stretch, counted from its first active day to 27 (6) days after its
    last; a user's stretches never overlap, so MAU on a day = stretches covering it = running
    sum of stretch starts minus stretch ends (DECISIONS.md, Adoption). -#}
{{ config(
    materialized='incremental',
    unique_key='usage_month',
    partition_by=(['usage_month'] if target.type == 'spark' else none),
    on_schema_change='fail',
) }}

{%- set rewrite_from = none -%}
{%- set scan_from = none -%}
{%- if is_incremental() and execute -%}
    {%- set bounds_query -%}
        select
            {{ cs_metrics.month_start(
                'least(' ~ cs_metrics.add_days('max(stored.usage_date)', 1)
                ~ ', max(as_of.as_of_date))'
            ) }} as rewrite_from
        from {{ this }} as stored
        cross join {{ ref('int_as_of_date') }} as as_of
    {%- endset -%}
    {%- set found = run_query(bounds_query).columns[0].values()[0] -%}
    {%- if found is not none -%}
        {%- set rewrite_from = found | string -%}
        {%- set scan_from = (modules.datetime.date.fromisoformat(rewrite_from[:10])
                             - modules.datetime.timedelta(days=27)) | string -%}
        {%- set rewrite_from = rewrite_from[:10] -%}
    {%- endif -%}
{%- endif %}
{{- cs_metrics.record_rewritten_from('usage_month', rewrite_from) }}

with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

-- read three times below: inlined on DuckDB rather than materialized (macros/query_hints.sql)
activity as {{ cs_metrics.inline_cte() }} (

    select
        activity.account_id,
        activity.user_id,
        activity.activity_date,
        activity.events,
        activity.seconds
    from {{ ref('int_user_activity_daily') }} as activity
    cross join as_of
    where activity.activity_date <= as_of.as_of_date
    {%- if scan_from %}
        and activity.activity_date >= cast('{{ scan_from }}' as date)
    {%- endif %}

),

users as (

    select account_id, provisioned_date, deactivated_date
    from {{ ref('stg_product__users') }}

),

-- seats purchased: quantity of the recurring, non-zero invoice lines whose service period
-- [start, end) covers the day (the billed seat history; DECISIONS.md, Adoption)
seat_lines as (

    select account_id, service_period_start, service_period_end, quantity
    from {{ ref('int_invoice_lines_normalized_to_months') }}
    where is_recurring
        and mrr_amount > 0
        and account_id is not null

),

account_first_days as (

    select
        account_id,
        min(first_day) as first_day
    from (
        select account_id, min(provisioned_date) as first_day
        from users
        group by account_id
        union all
        select account_id, min(activity_date) as first_day
        from activity
        group by account_id
        {%- if rewrite_from %}
        union all
        select account_id, min(usage_date) as first_day
        from {{ this }}
        group by account_id
        {%- endif %}
    ) as candidates
    where account_id is not null
    group by account_id

),

spine_bounds as (

    select
        account_first_days.account_id,
        {%- if scan_from %}
        greatest(account_first_days.first_day, cast('{{ scan_from }}' as date)) as start_day,
        {%- else %}
        account_first_days.first_day as start_day,
        {%- endif %}
        as_of.as_of_date as end_day
    from account_first_days
    cross join as_of

),

spine as (

    {{ cs_metrics.date_series('spine_bounds', 'start_day', 'end_day', 'day', 'usage_date',
                              carry=['account_id']) }}

),

account_activity as (

    select
        account_id,
        activity_date,
        count(*) as dau,
        sum(events) as events,
        sum(seconds) as seconds
    from activity
    group by account_id, activity_date

),

user_activity_spans as (

    select
        account_id,
        activity_date,
        lag(activity_date) over user_days as previous_activity_date,
        lead(activity_date) over user_days as next_activity_date
    from activity
    window user_days as (partition by account_id, user_id order by activity_date)

),

-- a user's active days at most 28 (7) days apart join into one stretch counted in MAU (WAU):
-- it starts on an active day with no active day in the 28 (7) days before, and stops counting
-- 28 (7) days after an active day with none in the 28 (7) days after
span_edges as (

    select
        account_id,
        activity_date,
        previous_activity_date is null
            or {{ cs_metrics.add_days('previous_activity_date', 28) }} < activity_date as starts_mau,
        previous_activity_date is null
            or {{ cs_metrics.add_days('previous_activity_date', 7) }} < activity_date as starts_wau,
        next_activity_date is null
            or next_activity_date > {{ cs_metrics.add_days('activity_date', 28) }} as ends_mau,
        next_activity_date is null
            or next_activity_date > {{ cs_metrics.add_days('activity_date', 7) }} as ends_wau
    from user_activity_spans

),

-- only the user-days where a stretch starts or ends (a tenth of them on the sample company); a
-- MAU stretch starts (ends) where a WAU one does, so the WAU flags select them all
span_boundaries as (

    select * from span_edges
    where starts_wau or ends_wau

),

-- +n / -n on the day stretches (or provisioned users, or billed seats) start / stop counting
-- (a stretch that starts counting in MAU starts in WAU too: 28 days without activity include 7)
changes as (

    select account_id, activity_date as change_date,
        case when starts_mau then 1 else 0 end as mau_change, 1 as wau_change,
        0 as provisioned_change, 0 as seats_change
    from span_boundaries
    where starts_wau
    union all
    select account_id, {{ cs_metrics.add_days('activity_date', 28) }} as change_date,
        -1 as mau_change, 0 as wau_change, 0 as provisioned_change, 0 as seats_change
    from span_boundaries
    where ends_mau
    union all
    select account_id, {{ cs_metrics.add_days('activity_date', 7) }} as change_date,
        0 as mau_change, -1 as wau_change, 0 as provisioned_change, 0 as seats_change
    from span_boundaries
    where ends_wau
    union all
    select account_id, provisioned_date as change_date,
        0 as mau_change, 0 as wau_change, 1 as provisioned_change, 0 as seats_change
    from users
    where provisioned_date is not null
    union all
    select account_id, deactivated_date as change_date,
        0 as mau_change, 0 as wau_change, -1 as provisioned_change, 0 as seats_change
    from users
    where provisioned_date is not null
        and deactivated_date is not null
    union all
    select account_id, service_period_start as change_date,
        0 as mau_change, 0 as wau_change, 0 as provisioned_change, quantity as seats_change
    from seat_lines
    union all
    select account_id, service_period_end as change_date,
        0 as mau_change, 0 as wau_change, 0 as provisioned_change, -quantity as seats_change
    from seat_lines

),

daily_changes as (

    select
        changes.account_id,
        changes.change_date,
        sum(changes.mau_change) as mau_change,
        sum(changes.wau_change) as wau_change,
        sum(changes.provisioned_change) as provisioned_change,
        sum(changes.seats_change) as seats_change
    from changes
    inner join spine_bounds
        on changes.account_id = spine_bounds.account_id
        and changes.change_date <= spine_bounds.end_day
    group by changes.account_id, changes.change_date

),

-- what had already changed before the spine's first day (users and seats; activity is never
-- read before the first day, so the span counts start at 0)
baselines as (

    select
        daily_changes.account_id,
        sum(daily_changes.provisioned_change) as provisioned_users,
        sum(daily_changes.seats_change) as seats_purchased
    from daily_changes
    inner join spine_bounds
        on daily_changes.account_id = spine_bounds.account_id
        and daily_changes.change_date < spine_bounds.start_day
    group by daily_changes.account_id

),

-- BIGINT before the windows: DuckDB's sums are HUGEINT, and its window sums over HUGEINT took
-- more than twice as long (the running window on the medium company: 8.1 s -> 3.4 s)
days as (

    select
        spine.account_id,
        spine.usage_date,
        cast(coalesce(account_activity.dau, 0) as {{ dbt.type_bigint() }}) as dau,
        cast(coalesce(account_activity.events, 0) as {{ dbt.type_bigint() }}) as events,
        cast(coalesce(account_activity.seconds, 0) as {{ dbt.type_bigint() }}) as seconds,
        cast(coalesce(daily_changes.mau_change, 0) as {{ dbt.type_bigint() }}) as mau_change,
        cast(coalesce(daily_changes.wau_change, 0) as {{ dbt.type_bigint() }}) as wau_change,
        cast(coalesce(daily_changes.provisioned_change, 0) as {{ dbt.type_bigint() }}) as provisioned_change,
        cast(coalesce(daily_changes.seats_change, 0) as {{ dbt.type_bigint() }}) as seats_change,
        cast(coalesce(baselines.provisioned_users, 0) as {{ dbt.type_bigint() }}) as provisioned_baseline,
        cast(coalesce(baselines.seats_purchased, 0) as {{ dbt.type_bigint() }}) as seats_baseline
    from spine
    left join account_activity
        on spine.account_id = account_activity.account_id
        and spine.usage_date = account_activity.activity_date
    left join daily_changes
        on spine.account_id = daily_changes.account_id
        and spine.usage_date = daily_changes.change_date
    left join baselines
        on spine.account_id = baselines.account_id

),

running as (

    select
        account_id,
        usage_date,
        dau,
        events,
        seconds,
        sum(wau_change) over running_total as wau,
        sum(mau_change) over running_total as mau,
        provisioned_baseline + sum(provisioned_change) over running_total as provisioned_users,
        seats_baseline + sum(seats_change) over running_total as seats_purchased,
        sum(dau) over last_28_days as active_user_days_last_28_days,
        sum(events) over last_28_days as events_last_28_days,
        sum(seconds) over last_28_days as seconds_last_28_days
    from days
    window
        running_total as (
            partition by account_id order by usage_date
            rows between unbounded preceding and current row
        ),
        last_28_days as (
            partition by account_id order by usage_date
            rows between 27 preceding and current row
        )

),

final as (

    select
        account_id,
        usage_date,
        {{ cs_metrics.month_start('usage_date') }} as usage_month,
        cast(dau as {{ dbt.type_bigint() }}) as dau,
        cast(wau as {{ dbt.type_bigint() }}) as wau,
        cast(mau as {{ dbt.type_bigint() }}) as mau,
        cast(events as {{ dbt.type_bigint() }}) as events,
        cast(seconds as double) / 60 as minutes,
        cast(provisioned_users as {{ dbt.type_bigint() }}) as provisioned_users,
        cast(seats_purchased as {{ dbt.type_bigint() }}) as seats_purchased,
        cast(active_user_days_last_28_days as {{ dbt.type_bigint() }})
            as active_user_days_last_28_days,
        cast(events_last_28_days as {{ dbt.type_bigint() }}) as events_last_28_days,
        cast(seconds_last_28_days as double) / 60 as minutes_last_28_days,
        {{ cs_metrics.safe_ratio('dau', 'mau') }} as dau_mau_ratio,
        {{ cs_metrics.safe_ratio('wau', 'mau') }} as wau_mau_ratio,
        {{ cs_metrics.safe_ratio('mau', 'provisioned_users') }} as adoption_rate,
        {{ cs_metrics.safe_ratio('mau', 'seats_purchased') }} as license_utilization
    from running
    {%- if rewrite_from %}
    where usage_date >= cast('{{ rewrite_from }}' as date)
    {%- endif %}

)

select * from final
