{#- One row per account per lifecycle stage spell (a run of days in one stage). From the CRM's
    stage history when the account has one; otherwise from the stages derived month by month
    in int_account_lifecycle_monthly, consecutive equal months collapsed into one spell
    (METRICS.md, Lifecycle; DECISIONS.md, Lifecycle and renewals). -#}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

stage_history as (

    select account_id, stage, entered_date
    from {{ ref('stg_crm__lifecycle_stages') }}
    cross join as_of
    where entered_date <= as_of.as_of_date

),

lifecycle_monthly as (

    select account_id, month, derived_stage, has_crm_history
    from {{ ref('int_account_lifecycle_monthly') }}

),

first_value as (

    select
        account_id,
        least(first_mrr_date, first_contract_start_date) as start_date
    from {{ ref('int_account_first_value') }}

),

-- CRM history: one entry per account and day (the latest stage in the journey wins a tie),
-- then repeats of the same stage dropped
crm_entries_per_day as (

    select
        account_id,
        stage,
        entered_date,
        row_number() over (
            partition by account_id, entered_date
            order by
                case stage
                    when 'onboarding' then 1
                    when 'training' then 2
                    when 'adopting' then 3
                    when 'extending' then 4
                    when 'renewal' then 5
                    when 'churned' then 6
                end desc
        ) as entry_rank
    from stage_history

),

crm_entries as (

    select
        account_id,
        stage,
        entered_date,
        lag(stage) over (partition by account_id order by entered_date) as previous_stage
    from crm_entries_per_day
    where entry_rank = 1

),

crm_spells as (

    select
        account_id,
        stage,
        entered_date,
        'crm_history' as stage_source
    from crm_entries
    where previous_stage is null
        or previous_stage <> stage

),

-- derived stages, for accounts without CRM history: islands of equal consecutive months
derived_months as (

    select
        account_id,
        month,
        derived_stage,
        row_number() over (partition by account_id order by month)
        - row_number() over (partition by account_id, derived_stage order by month)
            as island
    from lifecycle_monthly
    where not has_crm_history

),

derived_islands as (

    select
        account_id,
        derived_stage as stage,
        min(month) as first_month
    from derived_months
    group by account_id, derived_stage, island

),

-- a spell enters on the first day of its first month; the account's first spell on the
-- account's start date
derived_spells as (

    select
        derived_islands.account_id,
        derived_islands.stage,
        case
            when first_value.start_date > derived_islands.first_month
                then first_value.start_date
            else derived_islands.first_month
        end as entered_date,
        'derived' as stage_source
    from derived_islands
    left join first_value
        on derived_islands.account_id = first_value.account_id

),

spells as (

    select account_id, stage, entered_date, stage_source from crm_spells
    union all
    select account_id, stage, entered_date, stage_source from derived_spells

),

with_next as (

    select
        account_id,
        stage,
        entered_date,
        stage_source,
        lead(entered_date) over (partition by account_id order by entered_date) as left_date,
        row_number() over (partition by account_id order by entered_date) as spell_number
    from spells

),

final as (

    select
        with_next.account_id,
        with_next.spell_number,
        with_next.stage,
        case with_next.stage
            when 'onboarding' then 1
            when 'training' then 2
            when 'adopting' then 3
            when 'extending' then 4
            when 'renewal' then 5
            when 'churned' then 6
        end as stage_order,
        with_next.entered_date,
        with_next.left_date,
        {{ cs_metrics.days_between('with_next.entered_date',
                                   'coalesce(with_next.left_date, as_of.as_of_date)') }}
            as days_in_stage,
        with_next.left_date is null as is_current,
        with_next.stage_source
    from with_next
    cross join as_of

)

select * from final
