{#- One row per account, snapshot and health input metric that has a value at the snapshot: the
    raw inputs of the health score, read from the marts on the snapshot day (DECISIONS.md, Health
    score). A metric without data has no row, so it can never be scored as 0. Which component a
    metric feeds, its weight and its points come from the seeds (int_account_health_component_scores).

    adoption      adoption_rate, license_utilization, stickiness_dau_mau (fct_account_adoption_monthly)
    usage_trend   active_users_trend, events_trend (last 28 days vs the 28 before), usage_drop
                  (1 / 0, is_usage_drop; only when there were active users before)
    support       over the health_lookback_months months ending with the snapshot month, when the
                  account had a ticket in them or has an open breaching ticket: csat,
                  sla_attainment (first-response and resolution targets met / decided),
                  ticket_spike_weeks; open_breaching_tickets at the snapshot
                  (fct_account_support_monthly)
    voice         nps, trailing 180 days (fct_account_nps_monthly; no row without a response)
    relationship  days_since_last_touch, stakeholder_roles_covered (0-3), champion_left (1 / 0),
                  sentiment_balance = (positive - negative) / touches with a sentiment, over the
                  health_lookback_months months (fct_account_relationship_monthly)
    csm_pulse     csm_pulse_level: red 0, yellow 1, green 2 (NULL when older than 90 days)
    financial     arr_trend = ARR on the snapshot / ARR health_arr_trend_days before - 1 (when it
                  was > 0; fct_mrr_daily), max_days_overdue (fct_account_collections_monthly) -#}
with

snapshots as (

    select account_id, snapshot_month, snapshot_date, arr
    from {{ ref('int_account_health_snapshots') }}

),

adoption as (

    select
        account_id,
        month,
        adoption_rate,
        license_utilization,
        stickiness_dau_mau,
        usage_trend,
        events_trend,
        is_usage_drop,
        active_users_previous_28_days
    from {{ ref('fct_account_adoption_monthly') }}

),

support_months as (

    select
        account_id,
        month,
        tickets,
        rated_tickets,
        satisfied_tickets,
        first_response_sla_decided_tickets,
        first_response_sla_met_tickets,
        resolution_sla_decided_tickets,
        resolution_sla_met_tickets,
        ticket_spike_weeks,
        open_breaching_tickets
    from {{ ref('fct_account_support_monthly') }}

),

nps as (

    select account_id, month, nps from {{ ref('fct_account_nps_monthly') }}

),

relationship_months as (

    select
        account_id,
        month,
        days_since_last_touch,
        stakeholder_roles_covered,
        is_champion_left,
        positive_touches,
        neutral_touches,
        negative_touches,
        csm_pulse
    from {{ ref('fct_account_relationship_monthly') }}

),

collections as (

    select account_id, month, max_days_overdue
    from {{ ref('fct_account_collections_monthly') }}

),

daily_mrr as (

    select account_id, date_day, arr from {{ ref('fct_mrr_daily') }}

),

-- support over the lookback months ending with the snapshot month
support_window as (

    select
        snapshots.account_id,
        snapshots.snapshot_date,
        sum(support_months.tickets) as tickets,
        sum(support_months.rated_tickets) as rated_tickets,
        sum(support_months.satisfied_tickets) as satisfied_tickets,
        sum(support_months.first_response_sla_decided_tickets
            + support_months.resolution_sla_decided_tickets) as sla_decided,
        sum(support_months.first_response_sla_met_tickets
            + support_months.resolution_sla_met_tickets) as sla_met,
        sum(support_months.ticket_spike_weeks) as ticket_spike_weeks,
        sum(case
            when support_months.month = snapshots.snapshot_month
                then support_months.open_breaching_tickets
            else 0
        end) as open_breaching_tickets
    from snapshots
    inner join support_months
        on snapshots.account_id = support_months.account_id
        and support_months.month <= snapshots.snapshot_month
        and support_months.month > {{ cs_metrics.add_months('snapshots.snapshot_month',
                                                            - var('health_lookback_months')) }}
    group by snapshots.account_id, snapshots.snapshot_date

),

-- sentiment of the touches over the lookback months ending with the snapshot month
sentiment_window as (

    select
        snapshots.account_id,
        snapshots.snapshot_date,
        sum(relationship_months.positive_touches) as positive_touches,
        sum(relationship_months.negative_touches) as negative_touches,
        sum(relationship_months.positive_touches + relationship_months.neutral_touches
            + relationship_months.negative_touches) as touches_with_sentiment
    from snapshots
    inner join relationship_months
        on snapshots.account_id = relationship_months.account_id
        and relationship_months.month <= snapshots.snapshot_month
        and relationship_months.month > {{ cs_metrics.add_months('snapshots.snapshot_month',
                                                                 - var('health_lookback_months')) }}
    group by snapshots.account_id, snapshots.snapshot_date

),

wide as (

    select
        snapshots.account_id,
        snapshots.snapshot_month,
        snapshots.snapshot_date,
        adoption.adoption_rate,
        adoption.license_utilization,
        adoption.stickiness_dau_mau,
        adoption.usage_trend as active_users_trend,
        adoption.events_trend,
        case
            when adoption.active_users_previous_28_days > 0
                then case when adoption.is_usage_drop then 1 else 0 end
        end as usage_drop,
        case
            when support_window.tickets > 0 or support_window.open_breaching_tickets > 0
                then support_window.ticket_spike_weeks
        end as ticket_spike_weeks,
        case
            when support_window.tickets > 0 or support_window.open_breaching_tickets > 0
                then support_window.open_breaching_tickets
        end as open_breaching_tickets,
        {{ cs_metrics.safe_ratio('support_window.satisfied_tickets',
                                 'support_window.rated_tickets') }} as csat,
        {{ cs_metrics.safe_ratio('support_window.sla_met', 'support_window.sla_decided') }}
            as sla_attainment,
        nps.nps,
        relationship_months.days_since_last_touch,
        relationship_months.stakeholder_roles_covered,
        case
            when relationship_months.is_champion_left then 1
            when relationship_months.is_champion_left = false then 0
        end as champion_left,
        {{ cs_metrics.safe_ratio(
            'sentiment_window.positive_touches - sentiment_window.negative_touches',
            'sentiment_window.touches_with_sentiment') }} as sentiment_balance,
        case relationship_months.csm_pulse
            when 'red' then 0
            when 'yellow' then 1
            when 'green' then 2
        end as csm_pulse_level,
        case
            when coalesce(trend_base.arr, 0) > 0
                then cast(snapshots.arr as double) / cast(trend_base.arr as double) - 1
        end as arr_trend,
        collections.max_days_overdue
    from snapshots
    left join adoption
        on snapshots.account_id = adoption.account_id
        and snapshots.snapshot_month = adoption.month
    left join support_window
        on snapshots.account_id = support_window.account_id
        and snapshots.snapshot_date = support_window.snapshot_date
    left join nps
        on snapshots.account_id = nps.account_id
        and snapshots.snapshot_month = nps.month
    left join relationship_months
        on snapshots.account_id = relationship_months.account_id
        and snapshots.snapshot_month = relationship_months.month
    left join sentiment_window
        on snapshots.account_id = sentiment_window.account_id
        and snapshots.snapshot_date = sentiment_window.snapshot_date
    left join daily_mrr as trend_base
        on snapshots.account_id = trend_base.account_id
        and trend_base.date_day = {{ cs_metrics.add_days('snapshots.snapshot_date',
                                                         - var('health_arr_trend_days')) }}
    left join collections
        on snapshots.account_id = collections.account_id
        and snapshots.snapshot_month = collections.month

),

{%- set metrics = [
    'adoption_rate', 'license_utilization', 'stickiness_dau_mau',
    'active_users_trend', 'events_trend', 'usage_drop',
    'csat', 'sla_attainment', 'ticket_spike_weeks', 'open_breaching_tickets',
    'nps',
    'days_since_last_touch', 'stakeholder_roles_covered', 'sentiment_balance', 'champion_left',
    'csm_pulse_level',
    'arr_trend', 'max_days_overdue',
] %}

metric_names as (

    {%- for metric in metrics %}
    select '{{ metric }}' as metric
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

-- one scan of `wide`, one row per metric (a portable unpivot)
long as (

    select
        wide.account_id,
        wide.snapshot_month,
        wide.snapshot_date,
        metric_names.metric,
        case metric_names.metric
            {%- for metric in metrics %}
            when '{{ metric }}' then cast(wide.{{ metric }} as double)
            {%- endfor %}
        end as metric_value
    from wide
    cross join metric_names

),

final as (

    select account_id, snapshot_month, snapshot_date, metric, metric_value
    from long
    where metric_value is not null

)

select * from final
