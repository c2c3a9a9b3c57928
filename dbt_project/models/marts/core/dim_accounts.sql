{#- One row per CRM account, with its owner, its revenue state at the as-of date (MRR, ARR,
    plan, cohort), its ACV from active CRM contracts and its realised revenue to date. -#}
with

accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

csm_roster as (

    select csm_id, csm_name from {{ ref('stg_crm__csm_roster') }}

),

as_of as (

    select as_of_date, as_of_month from {{ ref('int_as_of_date') }}

),

monthly_mrr as (

    select
        account_id,
        month,
        mrr,
        arr,
        is_customer,
        is_paying
    from {{ ref('fct_mrr_monthly') }}

),

lines as (

    select
        account_id,
        invoice_line_id,
        plan_id,
        plan_name,
        currency,
        is_recurring,
        is_paid_invoice,
        invoice_date,
        service_period_start,
        service_period_end,
        net_amount_reporting,
        mrr_amount
    from {{ ref('int_invoice_lines_normalized_to_months') }}

),

opportunities as (

    select
        opportunity_id,
        account_id,
        stage,
        amount,
        currency,
        contract_start_date,
        contract_end_date
    from {{ ref('stg_crm__opportunities') }}

),

fx_rates as (

    select currency, rate_month, rate_to_reporting from {{ ref('int_fx_rates_monthly') }}

),

acv_bands as (

    select acv_band, lower_bound, upper_bound from {{ ref('seed_acv_bands') }}

),

-- MRR state in the as-of month (measured on the as-of date) ---------------------------------
current_mrr as (

    select
        monthly_mrr.account_id,
        monthly_mrr.mrr,
        monthly_mrr.arr,
        monthly_mrr.is_customer,
        monthly_mrr.is_paying
    from monthly_mrr
    inner join as_of
        on monthly_mrr.month = as_of.as_of_month

),

-- signup cohort = month of first month-end MRR > 0
paid_months as (

    select
        account_id,
        min(month) as first_paid_month,
        max(month) as last_paid_month
    from monthly_mrr
    where mrr > 0
    group by account_id

),

-- plan and currency of the largest recurring line covering the as-of date, or else of the
-- latest recurring line that had started by then (the plan a churned account left from)
ranked_recurring_lines as (

    select
        lines.account_id,
        lines.plan_id,
        lines.plan_name,
        lines.currency,
        row_number() over (
            partition by lines.account_id
            order by
                case when lines.service_period_end > as_of.as_of_date then 1 else 0 end desc,
                lines.service_period_start desc,
                lines.mrr_amount desc,
                lines.invoice_line_id
        ) as line_rank_latest,
        row_number() over (
            partition by lines.account_id
            order by
                case when lines.service_period_end > as_of.as_of_date then 1 else 0 end desc,
                lines.mrr_amount desc,
                lines.service_period_start desc,
                lines.invoice_line_id
        ) as line_rank_largest,
        lines.service_period_end > as_of.as_of_date as covers_as_of_date
    from lines
    cross join as_of
    where lines.is_recurring
        and lines.service_period_start <= as_of.as_of_date

),

account_plans as (

    select
        account_id,
        plan_id,
        plan_name,
        currency as billing_currency,
        covers_as_of_date as is_plan_current
    from ranked_recurring_lines
    where (covers_as_of_date and line_rank_largest = 1)
        or (not covers_as_of_date and line_rank_latest = 1)

),

-- realised revenue: recurring lines of paid invoices issued up to the as-of date
realized as (

    select
        lines.account_id,
        sum(lines.net_amount_reporting) as realized_revenue
    from lines
    cross join as_of
    where lines.is_recurring
        and lines.is_paid_invoice
        and lines.invoice_date <= as_of.as_of_date
    group by lines.account_id

),

-- ACV: closed-won contracts whose dates cover the as-of date (end date inclusive); length in
-- whole months (days * 12 / 365.25, rounded, at least 1); amount converted at the rate of
-- the contract's first month. Each contract's annual value is kept to 6 decimals and summed in
-- DECIMAL, rounded to the cent last: a DOUBLE sum's last bit depends on the order the rows reach
-- it, which can move a total on a half cent by a cent (DECISIONS.md, Accounts)
active_contracts as (

    select
        opportunities.account_id,
        opportunities.opportunity_id,
        {{ cs_metrics.to_reporting_currency(
            'opportunities.amount', 'opportunities.currency', 'fx_rates.rate_to_reporting'
        ) }} as amount_reporting,
        greatest(
            1,
            cast(round(
                ({{ cs_metrics.days_between('opportunities.contract_start_date',
                                            'opportunities.contract_end_date') }} + 1)
                * 12 / 365.25
            ) as {{ dbt.type_int() }})
        ) as contract_length_months
    from opportunities
    cross join as_of
    left join fx_rates
        on opportunities.currency = fx_rates.currency
        and {{ cs_metrics.month_start('opportunities.contract_start_date') }} = fx_rates.rate_month
    where opportunities.stage = 'closed_won'
        and opportunities.contract_start_date <= as_of.as_of_date
        and opportunities.contract_end_date >= as_of.as_of_date

),

account_acv as (

    select
        account_id,
        count(*) as active_contracts,
        {{ cs_metrics.to_money('sum(' ~ cs_metrics.to_precise_amount(
            'amount_reporting * 12 / contract_length_months') ~ ')') }} as acv
    from active_contracts
    group by account_id

),

joined as (

    select
        accounts.account_id,
        accounts.account_name,
        accounts.segment,
        accounts.industry,
        accounts.region,
        accounts.owner_csm_id,
        csm_roster.csm_name as owner_csm_name,
        accounts.created_date,
        paid_months.first_paid_month as signup_cohort,
        paid_months.first_paid_month,
        paid_months.last_paid_month,
        cast(coalesce(current_mrr.mrr, 0) as decimal(18, 2)) as current_mrr,
        cast(coalesce(current_mrr.arr, 0) as decimal(18, 2)) as current_arr,
        coalesce(current_mrr.is_paying, false) as is_paying,
        coalesce(current_mrr.is_customer, false) as is_customer,
        account_plans.plan_id,
        account_plans.plan_name,
        coalesce(account_plans.is_plan_current, false) as is_plan_current,
        account_plans.billing_currency,
        coalesce(account_acv.active_contracts, 0) as active_contracts,
        account_acv.acv,
        case
            when account_acv.acv is not null then 'crm_contracts'
            when current_mrr.arr > 0 then 'billing_arr'
        end as acv_band_basis,
        case
            when account_acv.acv is not null then account_acv.acv
            when current_mrr.arr > 0 then current_mrr.arr
        end as acv_band_value,
        cast(coalesce(realized.realized_revenue, 0) as decimal(18, 2)) as realized_revenue,
        as_of.as_of_date
    from accounts
    cross join as_of
    left join csm_roster
        on accounts.owner_csm_id = csm_roster.csm_id
    left join paid_months
        on accounts.account_id = paid_months.account_id
    left join current_mrr
        on accounts.account_id = current_mrr.account_id
    left join account_plans
        on accounts.account_id = account_plans.account_id
    left join account_acv
        on accounts.account_id = account_acv.account_id
    left join realized
        on accounts.account_id = realized.account_id

),

final as (

    select
        joined.account_id,
        joined.account_name,
        joined.segment,
        joined.industry,
        joined.region,
        joined.owner_csm_id,
        joined.owner_csm_name,
        joined.created_date,
        joined.signup_cohort,
        joined.first_paid_month,
        joined.last_paid_month,
        joined.current_mrr,
        joined.current_arr,
        joined.is_paying,
        joined.is_customer,
        joined.plan_id,
        joined.plan_name,
        joined.is_plan_current,
        joined.billing_currency,
        joined.active_contracts,
        joined.acv,
        acv_bands.acv_band,
        joined.acv_band_basis,
        joined.realized_revenue,
        joined.as_of_date
    from joined
    left join acv_bands
        on joined.acv_band_value >= acv_bands.lower_bound
        and (joined.acv_band_value < acv_bands.upper_bound or acv_bands.upper_bound is null)

)

select * from final
