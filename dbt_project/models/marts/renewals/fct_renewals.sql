{#- One row per contract renewal event: every closed-won new-business or renewal contract (an
    opportunity with contract dates), due on its contract end date, past or upcoming, with its
    outcome at the as-of date (METRICS.md, Renewals; DECISIONS.md, Lifecycle and renewals). -#}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

opportunities as (

    select
        opportunity_id,
        account_id,
        opportunity_type,
        stage,
        is_contract,
        amount,
        currency,
        close_date,
        contract_start_date,
        contract_end_date,
        contract_length_years,
        owner_id,
        renewed_opportunity_id
    from {{ ref('stg_crm__opportunities') }}

),

daily_mrr as (

    select account_id, date_day, arr from {{ ref('fct_mrr_daily') }}

),

fx_rates as (

    select currency, rate_month, rate_to_reporting from {{ ref('int_fx_rates_monthly') }}

),

accounts as (

    select account_id, owner_csm_id from {{ ref('dim_accounts') }}

),

contracts as (

    select
        opportunities.opportunity_id as contract_opportunity_id,
        opportunities.account_id,
        opportunities.opportunity_type as contract_type,
        opportunities.owner_id as contract_owner_id,
        opportunities.contract_start_date,
        opportunities.contract_end_date as due_date,
        {{ cs_metrics.add_days('opportunities.contract_end_date',
                               var('renewal_grace_days')) }} as grace_end_date,
        -- the days whose ARR decides the outcome, as plain join keys (an expression over the
        -- as-of date in the join condition made the joins to the daily ARR nested loops)
        case
            when opportunities.contract_end_date <= as_of.as_of_date
                then opportunities.contract_end_date
            else as_of.as_of_date
        end as arr_due_day,
        case
            when {{ cs_metrics.add_days('opportunities.contract_end_date',
                                        var('renewal_grace_days')) }} <= as_of.as_of_date
                then {{ cs_metrics.add_days('opportunities.contract_end_date',
                                            var('renewal_grace_days')) }}
        end as arr_grace_day,
        as_of.as_of_date as arr_as_of_day,
        -- contract ACV: amount per contract year, at the contract start month's rate
        {{ cs_metrics.to_reporting_currency(
            'opportunities.amount', 'opportunities.currency', 'fx_rates.rate_to_reporting'
        ) }} / opportunities.contract_length_years as contract_acv
    from opportunities
    left join fx_rates
        on opportunities.currency = fx_rates.currency
        and {{ cs_metrics.month_start('opportunities.contract_start_date') }}
            = fx_rates.rate_month
    cross join as_of
    where opportunities.is_contract
        and opportunities.opportunity_type in ('new', 'renewal')
        -- a contract that has not started yet (a renewal closed early) is not due yet
        and opportunities.contract_start_date <= as_of.as_of_date

),

-- the renewal opportunity that decides a contract: a closed-won one, else a closed-lost one,
-- else an open one (earliest close, then creation, then id)
ranked_renewal_opportunities as (

    select
        renewed_opportunity_id as contract_opportunity_id,
        opportunity_id as renewal_opportunity_id,
        stage as renewal_stage,
        close_date as renewal_close_date,
        owner_id as renewal_owner_id,
        row_number() over (
            partition by renewed_opportunity_id
            order by
                case stage when 'closed_won' then 1 when 'closed_lost' then 2 else 3 end,
                close_date,
                opportunity_id
        ) as renewal_rank
    from opportunities
    where opportunity_type = 'renewal'
        and renewed_opportunity_id is not null

),

renewal_opportunities as (

    select * from ranked_renewal_opportunities
    where renewal_rank = 1

),

with_billing as (

    select
        contracts.contract_opportunity_id,
        contracts.account_id,
        contracts.contract_type,
        contracts.contract_owner_id,
        contracts.contract_start_date,
        contracts.due_date,
        contracts.grace_end_date,
        contracts.contract_acv,
        renewal_opportunities.renewal_opportunity_id,
        renewal_opportunities.renewal_stage,
        renewal_opportunities.renewal_owner_id,
        case
            when renewal_opportunities.renewal_stage in ('closed_won', 'closed_lost')
                then renewal_opportunities.renewal_close_date
        end as renewal_close_date,
        -- ARR on the due date (on the as-of date while the due date is ahead)
        arr_at_due.arr as arr_at_due,
        arr_after_grace.arr as arr_after_grace,
        arr_at_as_of.arr as arr_at_as_of,
        as_of.as_of_date
    from contracts
    cross join as_of
    left join renewal_opportunities
        on contracts.contract_opportunity_id = renewal_opportunities.contract_opportunity_id
    left join daily_mrr as arr_at_due
        on contracts.account_id = arr_at_due.account_id
        and contracts.arr_due_day = arr_at_due.date_day
    left join daily_mrr as arr_after_grace
        on contracts.account_id = arr_after_grace.account_id
        and contracts.arr_grace_day = arr_after_grace.date_day
    left join daily_mrr as arr_at_as_of
        on contracts.account_id = arr_at_as_of.account_id
        and contracts.arr_as_of_day = arr_at_as_of.date_day

),

classified as (

    select
        *,
        case
            when renewal_stage = 'closed_won' then 'crm_closed_won'
            when renewal_stage = 'closed_lost' then 'crm_closed_lost'
            when grace_end_date <= as_of_date and coalesce(arr_after_grace, 0) > 0
                then 'billing_mrr_after_grace'
            when grace_end_date <= as_of_date then 'billing_no_mrr_after_grace'
            else 'pending'
        end as outcome_basis,
        case
            when coalesce(arr_at_due, 0) > 0 then arr_at_due
            else contract_acv
        end as expiring_arr_value,
        case
            when coalesce(arr_at_due, 0) > 0 and due_date <= as_of_date
                then 'billing_arr_on_due_date'
            when coalesce(arr_at_due, 0) > 0 then 'billing_arr_as_of'
            else 'contract_acv'
        end as expiring_arr_basis
    from with_billing

),

ranked as (

    select
        *,
        case
            when outcome_basis in ('crm_closed_won', 'billing_mrr_after_grace') then 'renewed'
            when outcome_basis in ('crm_closed_lost', 'billing_no_mrr_after_grace')
                then 'churned'
            else 'pending'
        end as outcome,
        row_number() over (
            partition by {{ cs_metrics.quarter_start('due_date') }}
            order by expiring_arr_value desc, due_date, contract_opportunity_id
        ) as arr_rank_in_due_quarter
    from classified

),

final as (

    select
        ranked.contract_opportunity_id,
        ranked.account_id,
        ranked.contract_type,
        accounts.owner_csm_id,
        ranked.contract_owner_id,
        ranked.contract_start_date,
        ranked.due_date,
        {{ cs_metrics.quarter_start('ranked.due_date') }} as due_quarter,
        ranked.grace_end_date,
        {{ cs_metrics.to_money('ranked.contract_acv') }} as contract_acv,
        {{ cs_metrics.to_money('ranked.expiring_arr_value') }} as expiring_arr,
        ranked.expiring_arr_basis,
        ranked.outcome,
        ranked.outcome_basis,
        ranked.outcome <> 'pending' as is_decided,
        -- ARR kept: 30 days after the due date, or on the as-of date for a renewal won in the
        -- CRM before that day has come; 0 when churned; NULL while pending
        cast(case
            when ranked.outcome = 'churned' then 0
            when ranked.outcome = 'renewed' and ranked.grace_end_date <= ranked.as_of_date
                then coalesce(ranked.arr_after_grace, 0)
            when ranked.outcome = 'renewed' then coalesce(ranked.arr_at_as_of, 0)
        end as decimal(18, 2)) as renewed_arr,
        ranked.renewal_opportunity_id,
        ranked.renewal_stage,
        ranked.renewal_owner_id,
        ranked.renewal_close_date,
        {{ cs_metrics.days_between('ranked.due_date', 'ranked.renewal_close_date') }}
            as days_early_or_late,
        {{ cs_metrics.days_between('ranked.as_of_date', 'ranked.due_date') }} as days_until_due,
        ranked.arr_rank_in_due_quarter,
        ranked.arr_rank_in_due_quarter <= 5
            as is_top5_of_quarter
    from ranked
    left join accounts
        on ranked.account_id = accounts.account_id

)

select * from final
