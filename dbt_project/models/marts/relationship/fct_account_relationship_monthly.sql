{#- One row per account per month, from the account's first month (its first lifecycle month,
    touch or CSM pulse) to the as-of month, read on the month's measurement day (its last day,
    or the as-of date in the open month): touches per type and their sentiment in the month,
    days since the last touch, stakeholder coverage (sponsor, decision maker, technical contact
    touched at most stakeholder_coverage_days before), the champion-left flag (a sponsor or
    champion contact left at most champion_left_days before) and the latest CSM pulse (NULL when
    older than csm_pulse_max_age_days). METRICS.md, relationship; DECISIONS.md. -#}
with

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

activities as (

    select
        activities.activity_id,
        activities.account_id,
        activities.contact_id,
        activities.activity_type,
        activities.sentiment,
        activities.activity_date
    from {{ ref('stg_crm__activities') }} as activities
    cross join as_of
    where activities.activity_date <= as_of.as_of_date

),

contacts as (

    select contact_id, account_id, role, is_key_stakeholder, is_sponsor_or_champion, left_date
    from {{ ref('stg_crm__contacts') }}

),

pulses as (

    select pulses.pulse_id, pulses.account_id, pulses.csm_id, pulses.pulse, pulses.note,
        pulses.pulse_date
    from {{ ref('stg_crm__csm_pulse') }} as pulses
    cross join as_of
    where pulses.pulse_date <= as_of.as_of_date

),

lifecycle as (

    select account_id, month, lifecycle_stage
    from {{ ref('int_account_lifecycle_monthly') }}

),

accounts as (

    select account_id, segment, owner_csm_id from {{ ref('dim_accounts') }}

),

account_first_months as (

    select account_id, min(month) as first_month
    from (
        select account_id, month from lifecycle
        union all
        select account_id, {{ cs_metrics.month_start('activity_date') }} as month
        from activities
        union all
        select account_id, {{ cs_metrics.month_start('pulse_date') }} as month
        from pulses
    ) as account_months_seen
    group by account_id

),

account_bounds as (

    select account_first_months.account_id, account_first_months.first_month,
        as_of.as_of_date as last_day
    from account_first_months
    cross join as_of

),

account_months as (

    select
        account_month_days.account_id,
        {{ cs_metrics.month_start('account_month_days.month_day') }} as month,
        case
            when {{ cs_metrics.month_end('account_month_days.month_day') }} < as_of.as_of_date
                then {{ cs_metrics.month_end('account_month_days.month_day') }}
            else as_of.as_of_date
        end as measured_on,
        as_of.as_of_date < {{ cs_metrics.month_end('account_month_days.month_day') }}
            as is_partial
    from (
        {{ cs_metrics.date_series('account_bounds', 'first_month', 'last_day', 'month',
                                  'month_day', carry=['account_id']) }}
    ) as account_month_days
    cross join as_of

),

-- touches and their sentiment in the calendar month (up to the as-of date)
month_touches as (

    select
        account_id,
        {{ cs_metrics.month_start('activity_date') }} as month,
        count(*) as touches,
        sum(case when activity_type = 'email' then 1 else 0 end) as email_touches,
        sum(case when activity_type = 'call' then 1 else 0 end) as call_touches,
        sum(case when activity_type = 'meeting' then 1 else 0 end) as meeting_touches,
        sum(case when activity_type = 'business_review' then 1 else 0 end)
            as business_review_touches,
        sum(case when sentiment = 'positive' then 1 else 0 end) as positive_touches,
        sum(case when sentiment = 'neutral' then 1 else 0 end) as neutral_touches,
        sum(case when sentiment = 'negative' then 1 else 0 end) as negative_touches,
        sum(case when sentiment is null then 1 else 0 end) as touches_without_sentiment,
        max(activity_date) as last_touch_date_in_month
    from activities
    group by account_id, {{ cs_metrics.month_start('activity_date') }}

),

month_pulses as (

    select
        account_id,
        {{ cs_metrics.month_start('pulse_date') }} as month,
        max(pulse_date) as last_pulse_date_in_month
    from pulses
    group by account_id, {{ cs_metrics.month_start('pulse_date') }}

),

-- latest touch and pulse on or before the measurement day: running maximum over the months
running_latest as (

    select
        account_months.account_id,
        account_months.month,
        max(month_touches.last_touch_date_in_month) over (
            partition by account_months.account_id
            order by account_months.month
            rows between unbounded preceding and current row
        ) as last_touch_date,
        max(month_pulses.last_pulse_date_in_month) over (
            partition by account_months.account_id
            order by account_months.month
            rows between unbounded preceding and current row
        ) as last_recorded_pulse_date
    from account_months
    left join month_touches
        on account_months.account_id = month_touches.account_id
        and account_months.month = month_touches.month
    left join month_pulses
        on account_months.account_id = month_pulses.account_id
        and account_months.month = month_pulses.month

),

-- touches of the account's own key stakeholders (a touch without a contact covers no role)
stakeholder_touches as (

    select activities.account_id, activities.activity_date, contacts.role
    from activities
    inner join contacts
        on activities.contact_id = contacts.contact_id
        and activities.account_id = contacts.account_id
    where contacts.is_key_stakeholder

),

coverage as (

    select
        account_months.account_id,
        account_months.month,
        max(case when stakeholder_touches.role = 'sponsor' then 1 else 0 end) as sponsor_covered,
        max(case when stakeholder_touches.role = 'decision_maker' then 1 else 0 end)
            as decision_maker_covered,
        max(case when stakeholder_touches.role = 'technical' then 1 else 0 end)
            as technical_covered
    from account_months
    inner join stakeholder_touches
        on account_months.account_id = stakeholder_touches.account_id
        and stakeholder_touches.activity_date <= account_months.measured_on
        and stakeholder_touches.activity_date
            >= {{ cs_metrics.add_days('account_months.measured_on',
                                      -var('stakeholder_coverage_days')) }}
    group by account_months.account_id, account_months.month

),

champions_left as (

    select
        account_months.account_id,
        account_months.month,
        count(*) as champions_left,
        max(contacts.left_date) as latest_champion_left_date
    from account_months
    inner join contacts
        on account_months.account_id = contacts.account_id
        and contacts.is_sponsor_or_champion
        and contacts.left_date <= account_months.measured_on
        and contacts.left_date
            >= {{ cs_metrics.add_days('account_months.measured_on',
                                      -var('champion_left_days')) }}
    group by account_months.account_id, account_months.month

),

-- pulses young enough to count; the latest one wins (ties: the higher pulse id)
recent_pulses as (

    select
        account_months.account_id,
        account_months.month,
        pulses.pulse_id,
        pulses.csm_id,
        pulses.pulse,
        pulses.note,
        pulses.pulse_date,
        row_number() over (
            partition by account_months.account_id, account_months.month
            order by pulses.pulse_date desc, pulses.pulse_id desc
        ) as recency_rank
    from account_months
    inner join pulses
        on account_months.account_id = pulses.account_id
        and pulses.pulse_date <= account_months.measured_on
        and pulses.pulse_date
            >= {{ cs_metrics.add_days('account_months.measured_on',
                                      -var('csm_pulse_max_age_days')) }}

),

latest_pulse as (

    select account_id, month, pulse_id, csm_id, pulse, note, pulse_date
    from recent_pulses
    where recency_rank = 1

),

final as (

    select
        account_months.account_id,
        account_months.month,
        account_months.measured_on,
        account_months.is_partial,
        accounts.segment,
        accounts.owner_csm_id,
        lifecycle.lifecycle_stage,
        cast(coalesce(month_touches.touches, 0) as {{ dbt.type_bigint() }}) as touches,
        cast(coalesce(month_touches.email_touches, 0) as {{ dbt.type_bigint() }})
            as email_touches,
        cast(coalesce(month_touches.call_touches, 0) as {{ dbt.type_bigint() }}) as call_touches,
        cast(coalesce(month_touches.meeting_touches, 0) as {{ dbt.type_bigint() }})
            as meeting_touches,
        cast(coalesce(month_touches.business_review_touches, 0) as {{ dbt.type_bigint() }})
            as business_review_touches,
        cast(coalesce(month_touches.positive_touches, 0) as {{ dbt.type_bigint() }})
            as positive_touches,
        cast(coalesce(month_touches.neutral_touches, 0) as {{ dbt.type_bigint() }})
            as neutral_touches,
        cast(coalesce(month_touches.negative_touches, 0) as {{ dbt.type_bigint() }})
            as negative_touches,
        cast(coalesce(month_touches.touches_without_sentiment, 0) as {{ dbt.type_bigint() }})
            as touches_without_sentiment,
        {{ cs_metrics.safe_ratio('month_touches.positive_touches',
                                 'month_touches.touches - month_touches.touches_without_sentiment') }}
            as positive_share,
        {{ cs_metrics.safe_ratio('month_touches.neutral_touches',
                                 'month_touches.touches - month_touches.touches_without_sentiment') }}
            as neutral_share,
        {{ cs_metrics.safe_ratio('month_touches.negative_touches',
                                 'month_touches.touches - month_touches.touches_without_sentiment') }}
            as negative_share,
        running_latest.last_touch_date,
        {{ cs_metrics.days_between('running_latest.last_touch_date', 'account_months.measured_on') }}
            as days_since_last_touch,
        coalesce(coverage.sponsor_covered, 0) = 1 as is_sponsor_covered,
        coalesce(coverage.decision_maker_covered, 0) = 1 as is_decision_maker_covered,
        coalesce(coverage.technical_covered, 0) = 1 as is_technical_covered,
        cast(
            coalesce(coverage.sponsor_covered, 0)
            + coalesce(coverage.decision_maker_covered, 0)
            + coalesce(coverage.technical_covered, 0)
            as {{ dbt.type_bigint() }}
        ) as stakeholder_roles_covered,
        coalesce(champions_left.champions_left, 0) > 0 as is_champion_left,
        cast(coalesce(champions_left.champions_left, 0) as {{ dbt.type_bigint() }})
            as champions_left,
        champions_left.latest_champion_left_date,
        latest_pulse.pulse as csm_pulse,
        latest_pulse.pulse_date as csm_pulse_date,
        {{ cs_metrics.days_between('latest_pulse.pulse_date', 'account_months.measured_on') }}
            as csm_pulse_age_days,
        latest_pulse.csm_id as csm_pulse_csm_id,
        latest_pulse.note as csm_pulse_note,
        running_latest.last_recorded_pulse_date
    from account_months
    left join accounts
        on account_months.account_id = accounts.account_id
    left join lifecycle
        on account_months.account_id = lifecycle.account_id
        and account_months.month = lifecycle.month
    left join month_touches
        on account_months.account_id = month_touches.account_id
        and account_months.month = month_touches.month
    left join running_latest
        on account_months.account_id = running_latest.account_id
        and account_months.month = running_latest.month
    left join coverage
        on account_months.account_id = coverage.account_id
        and account_months.month = coverage.month
    left join champions_left
        on account_months.account_id = champions_left.account_id
        and account_months.month = champions_left.month
    left join latest_pulse
        on account_months.account_id = latest_pulse.account_id
        and account_months.month = latest_pulse.month

)

select * from final
