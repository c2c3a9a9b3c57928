{#- One row per month-end snapshot and band (red, yellow, green, and 'all'): how the accounts
    scored at the snapshot fared over the next 90 and 180 days (health_backtest_horizons_days), so a
    user can see whether the weights work (METRICS.md, Health score, backtest).

    Accounts: ARR > 0 at the month-end snapshot and a health score (int_account_health_scores).
    Logo churn over H days: ARR on snapshot + H days = 0 (fct_mrr_daily; no covering line = 0).
    ARR loss: ARR on snapshot + H days <= (1 - health_backtest_arr_loss_share) * ARR at the
    snapshot (lost at least half; churns included). Rates only when the horizon is complete
    (snapshot + H <= as-of date), NULL otherwise.

    ROC AUC (on the 'all' row): the probability that an account that churned scored lower than one
    that did not, ties counting 1/2 = the Mann-Whitney U of the non-churners / (churners *
    non-churners). With average ranks r of the scores (ties share the mean of their ranks), computed
    doubled so that they stay integers: 2U = sum over non-churners of 2r - n(n + 1), exact. NULL
    without a churner or a non-churner, or when the horizon is incomplete. -#}
{%- set horizons = var('health_backtest_horizons_days') %}
{%- set bands = ['red', 'yellow', 'green'] %}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

snapshots as (

    select account_id, snapshot_date, arr, health_score, health_band
    from {{ ref('int_account_health_scores') }}
    where is_month_end
        and arr > 0
        and health_score is not null

),

daily_mrr as (

    select account_id, date_day, arr from {{ ref('fct_mrr_daily') }}

),

outcomes as (

    select
        snapshots.account_id,
        snapshots.snapshot_date,
        snapshots.arr,
        snapshots.health_score,
        snapshots.health_band
        {%- for h in horizons %},
        case when coalesce(future_{{ h }}.arr, 0) = 0 then 1 else 0 end as churned_{{ h }}d,
        case
            when coalesce(future_{{ h }}.arr, 0)
                <= (1 - {{ var('health_backtest_arr_loss_share') }}) * snapshots.arr then 1
            else 0
        end as lost_arr_{{ h }}d
        {%- endfor %}
    from snapshots
    cross join as_of
    {%- for h in horizons %}
    left join daily_mrr as future_{{ h }}
        on snapshots.account_id = future_{{ h }}.account_id
        and future_{{ h }}.date_day = {{ cs_metrics.add_days('snapshots.snapshot_date', h) }}
    {%- endfor %}

),

-- doubled average rank of each score in its snapshot (ties share their mean rank)
ranked as (

    select
        outcomes.*,
        2 * rank() over (partition by snapshot_date order by health_score)
            + count(*) over (partition by snapshot_date, health_score) - 1 as doubled_rank
    from outcomes

),

band_rows as (

    select health_band from {{ ref('seed_health_bands') }}
    union all
    select 'all' as health_band

),

snapshot_bands as (

    select distinct outcomes.snapshot_date, band_rows.health_band
    from outcomes
    cross join band_rows

),

per_band as (

    select
        snapshot_bands.snapshot_date,
        snapshot_bands.health_band,
        count(outcomes.account_id) as accounts,
        cast(coalesce(sum(outcomes.arr), 0) as decimal(18, 2)) as arr
        {%- for h in horizons %},
        coalesce(sum(outcomes.churned_{{ h }}d), 0) as churned_accounts_{{ h }}d,
        coalesce(sum(outcomes.lost_arr_{{ h }}d), 0) as lost_arr_accounts_{{ h }}d
        {%- endfor %}
    from snapshot_bands
    left join outcomes
        on snapshot_bands.snapshot_date = outcomes.snapshot_date
        and (snapshot_bands.health_band = 'all'
             or snapshot_bands.health_band = outcomes.health_band)
    group by snapshot_bands.snapshot_date, snapshot_bands.health_band

),

auc_sums as (

    select
        snapshot_date
        {%- for h in horizons %}
        {%- for outcome in ['churned', 'lost_arr'] %},
        sum({{ outcome }}_{{ h }}d) as positives_{{ outcome }}_{{ h }}d,
        sum(1 - {{ outcome }}_{{ h }}d) as negatives_{{ outcome }}_{{ h }}d,
        sum(case when {{ outcome }}_{{ h }}d = 0 then doubled_rank else 0 end)
            as negative_doubled_ranks_{{ outcome }}_{{ h }}d
        {%- endfor %}
        {%- endfor %}
    from ranked
    group by snapshot_date

),

auc as (

    select
        snapshot_date
        {%- for h in horizons %}
        {%- for outcome in ['churned', 'lost_arr'] %},
        {{ cs_metrics.safe_ratio(
            'negative_doubled_ranks_' ~ outcome ~ '_' ~ h ~ 'd - negatives_' ~ outcome ~ '_' ~ h
            ~ 'd * (negatives_' ~ outcome ~ '_' ~ h ~ 'd + 1)',
            '2 * positives_' ~ outcome ~ '_' ~ h ~ 'd * negatives_' ~ outcome ~ '_' ~ h ~ 'd') }}
            as auc_{{ outcome }}_{{ h }}d
        {%- endfor %}
        {%- endfor %}
    from auc_sums

),

final as (

    select
        per_band.snapshot_date,
        per_band.health_band,
        cast(per_band.accounts as {{ dbt.type_bigint() }}) as accounts,
        per_band.arr
        {%- for h in horizons %},
        {{ cs_metrics.add_days('per_band.snapshot_date', h) }} <= as_of.as_of_date
            as is_horizon_complete_{{ h }}d,
        case when {{ cs_metrics.add_days('per_band.snapshot_date', h) }} <= as_of.as_of_date
            then cast(per_band.churned_accounts_{{ h }}d as {{ dbt.type_bigint() }})
        end as churned_accounts_{{ h }}d,
        case when {{ cs_metrics.add_days('per_band.snapshot_date', h) }} <= as_of.as_of_date
            then {{ cs_metrics.safe_ratio('per_band.churned_accounts_' ~ h ~ 'd', 'per_band.accounts') }}
        end as logo_churn_rate_{{ h }}d,
        case when {{ cs_metrics.add_days('per_band.snapshot_date', h) }} <= as_of.as_of_date
            then cast(per_band.lost_arr_accounts_{{ h }}d as {{ dbt.type_bigint() }})
        end as arr_loss_accounts_{{ h }}d,
        case when {{ cs_metrics.add_days('per_band.snapshot_date', h) }} <= as_of.as_of_date
            then {{ cs_metrics.safe_ratio('per_band.lost_arr_accounts_' ~ h ~ 'd', 'per_band.accounts') }}
        end as arr_loss_rate_{{ h }}d,
        case when per_band.health_band = 'all' and {{ cs_metrics.add_days('per_band.snapshot_date', h) }} <= as_of.as_of_date
            then auc.auc_churned_{{ h }}d
        end as auc_logo_churn_{{ h }}d,
        case when per_band.health_band = 'all' and {{ cs_metrics.add_days('per_band.snapshot_date', h) }} <= as_of.as_of_date
            then auc.auc_lost_arr_{{ h }}d
        end as auc_arr_loss_{{ h }}d
        {%- endfor %}
    from per_band
    cross join as_of
    inner join auc
        on per_band.snapshot_date = auc.snapshot_date

)

select * from final
