{#- One row per new customer (an account with a closed-won new-business opportunity): the
    sales handoff from the first such opportunity to delivery sign-off, first payment and first
    value (METRICS.md, Renewals and sales handoff: quote-to-cash, delivery approval). -#}
with

opportunities as (

    select
        opportunity_id,
        account_id,
        owner_id,
        created_date,
        close_date,
        contract_start_date,
        delivery_signoff_date
    from {{ ref('stg_crm__opportunities') }}
    where opportunity_type = 'new'
        and stage = 'closed_won'

),

payments as (

    select invoice_id, payment_date from {{ ref('stg_billing__payments') }}
    where is_succeeded

),

invoices as (

    select invoice_id, customer_id from {{ ref('stg_billing__invoices') }}

),

customers as (

    select customer_id, account_id from {{ ref('stg_billing__customers') }}

),

first_value as (

    select account_id, first_key_feature_use_date, time_to_first_value_days
    from {{ ref('int_account_first_value') }}

),

-- the account's first closed-won new-business opportunity
ranked_opportunities as (

    select
        *,
        row_number() over (
            partition by account_id
            order by close_date, created_date, opportunity_id
        ) as opportunity_rank
    from opportunities

),

first_opportunities as (

    select * from ranked_opportunities
    where opportunity_rank = 1

),

-- the first successful payment on or after the opportunity's creation
first_payments as (

    select
        first_opportunities.account_id,
        min(payments.payment_date) as first_payment_date
    from first_opportunities
    inner join customers
        on first_opportunities.account_id = customers.account_id
    inner join invoices
        on customers.customer_id = invoices.customer_id
    inner join payments
        on invoices.invoice_id = payments.invoice_id
        and payments.payment_date >= first_opportunities.created_date
    group by first_opportunities.account_id

),

final as (

    select
        first_opportunities.account_id,
        first_opportunities.opportunity_id,
        first_opportunities.owner_id,
        first_opportunities.created_date,
        first_opportunities.close_date,
        first_opportunities.contract_start_date,
        first_opportunities.delivery_signoff_date,
        first_payments.first_payment_date,
        first_value.first_key_feature_use_date,
        {{ cs_metrics.days_between('first_opportunities.created_date',
                                   'first_opportunities.close_date') }}
            as days_created_to_close,
        {{ cs_metrics.days_between('first_opportunities.contract_start_date',
                                   'first_opportunities.delivery_signoff_date') }}
            as days_contract_start_to_delivery_signoff,
        {{ cs_metrics.days_between('first_opportunities.created_date',
                                   'first_opportunities.delivery_signoff_date') }}
            as days_created_to_delivery_signoff,
        {{ cs_metrics.days_between('first_opportunities.created_date',
                                   'first_payments.first_payment_date') }}
            as quote_to_cash_days,
        first_value.time_to_first_value_days as days_to_first_value
    from first_opportunities
    left join first_payments
        on first_opportunities.account_id = first_payments.account_id
    left join first_value
        on first_opportunities.account_id = first_value.account_id

)

select * from final
