{#- One row per renewal due after the as-of date and within renewals_upcoming_days (90) of it:
    the renewals due in the next 30, 60 and 90 days with expiring ARR, owner and health band,
    and whether each is one of the top renewals of its quarter by ARR (METRICS.md, Renewals). -#}
{%- set buckets = var('renewals_upcoming_buckets') -%}
with

renewals as (

    select
        contract_opportunity_id,
        account_id,
        owner_csm_id,
        contract_owner_id,
        due_date,
        due_quarter,
        days_until_due,
        expiring_arr,
        expiring_arr_basis,
        outcome,
        renewal_opportunity_id,
        renewal_stage,
        arr_rank_in_due_quarter,
        is_top5_of_quarter
    from {{ ref('fct_renewals') }}
    where days_until_due > 0
        and days_until_due <= {{ var('renewals_upcoming_days') }}

),

accounts as (

    select account_id, account_name, segment, owner_csm_name from {{ ref('dim_accounts') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

-- the health band on the as-of date (the snapshot this run publishes)
health as (

    select scores.account_id, scores.health_band
    from {{ ref('int_account_health_scores') }} as scores
    inner join as_of
        on scores.snapshot_date = as_of.as_of_date

),

final as (

    select
        renewals.contract_opportunity_id,
        renewals.account_id,
        accounts.account_name,
        accounts.segment,
        renewals.owner_csm_id,
        accounts.owner_csm_name,
        renewals.contract_owner_id,
        renewals.due_date,
        renewals.due_quarter,
        renewals.days_until_due,
        case
            {%- for upper in buckets %}
            when renewals.days_until_due <= {{ upper }}
                then '{{ (buckets[loop.index0 - 1] + 1) if not loop.first else 0 }}-{{ upper }}'
            {%- endfor %}
        end as due_bucket,
        renewals.expiring_arr,
        renewals.expiring_arr_basis,
        renewals.outcome,
        renewals.renewal_opportunity_id,
        renewals.renewal_stage,
        health.health_band,
        renewals.arr_rank_in_due_quarter,
        renewals.is_top5_of_quarter
    from renewals
    left join accounts
        on renewals.account_id = accounts.account_id
    left join health
        on renewals.account_id = health.account_id

)

select * from final
