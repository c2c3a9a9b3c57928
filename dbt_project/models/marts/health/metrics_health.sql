{#- One row per snapshot date (every date fct_account_health_daily holds) and slice (all,
    segment, lifecycle_stage, csm_owner): customers, their ARR, the ARR-weighted mean health score,
    and accounts and ARR per band (METRICS.md, Health score, roll-ups). Slices use the attributes
    stored with each history row (segment, owner and lifecycle stage on that snapshot date), so a
    past date keeps the roll-up it had. -#}
{%- set bands = ['red', 'yellow', 'green'] %}
with

health as (

    select
        snapshot_date,
        account_id,
        segment,
        owner_csm_id,
        lifecycle_stage,
        arr,
        health_score,
        coverage,
        health_band
    from {{ ref('fct_account_health_daily') }}

),

account_slices as (

    select snapshot_date, account_id, 'all' as slice_type, 'all' as slice_value
    from health
    union all
    select snapshot_date, account_id, 'segment' as slice_type,
        coalesce(segment, 'unknown') as slice_value
    from health
    union all
    select snapshot_date, account_id, 'lifecycle_stage' as slice_type,
        coalesce(lifecycle_stage, 'unknown') as slice_value
    from health
    union all
    select snapshot_date, account_id, 'csm_owner' as slice_type,
        coalesce(owner_csm_id, 'unassigned') as slice_value
    from health

),

aggregated as (

    select
        account_slices.snapshot_date,
        account_slices.slice_type,
        account_slices.slice_value,
        count(*) as accounts,
        sum(case when health.health_score is not null then 1 else 0 end) as accounts_scored,
        cast(sum(health.arr) as decimal(18, 2)) as arr,
        cast(sum(case when health.health_score is not null then health.arr else 0 end)
            as decimal(18, 2)) as arr_scored,
        {{ cs_metrics.exact_weighted_mean('health.health_score', 'health.arr') }}
            as arr_weighted_mean_health_score,
        cast(sum(cast(round(health.health_score, 12) as decimal(28, 12))) as double)
            / nullif(sum(case when health.health_score is not null then 1 else 0 end), 0)
            as mean_health_score,
        cast(sum(cast(round(health.coverage, 12) as decimal(28, 12))) as double)
            / count(*) as mean_coverage
        {%- for band in bands %},
        sum(case when health.health_band = '{{ band }}' then 1 else 0 end) as accounts_{{ band }},
        cast(sum(case when health.health_band = '{{ band }}' then health.arr else 0 end)
            as decimal(18, 2)) as arr_{{ band }}
        {%- endfor %}
    from account_slices
    inner join health
        on account_slices.snapshot_date = health.snapshot_date
        and account_slices.account_id = health.account_id
    group by
        account_slices.snapshot_date,
        account_slices.slice_type,
        account_slices.slice_value

),

final as (

    select
        snapshot_date,
        slice_type,
        slice_value,
        cast(accounts as {{ dbt.type_bigint() }}) as accounts,
        cast(accounts_scored as {{ dbt.type_bigint() }}) as accounts_scored,
        arr,
        arr_scored,
        cast(arr_weighted_mean_health_score as double) as arr_weighted_mean_health_score,
        cast(mean_health_score as double) as mean_health_score,
        cast(mean_coverage as double) as mean_coverage,
        {%- for band in bands %}
        cast(accounts_{{ band }} as {{ dbt.type_bigint() }}) as accounts_{{ band }},
        arr_{{ band }},
        {{ cs_metrics.safe_ratio('arr_' ~ band, 'arr_scored') }} as share_of_arr_{{ band }},
        {%- endfor %}
        cast(accounts - accounts_scored as {{ dbt.type_bigint() }}) as accounts_unscored
    from aggregated

)

select * from final
