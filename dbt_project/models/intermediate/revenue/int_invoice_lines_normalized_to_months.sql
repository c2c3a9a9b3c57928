{#- Every non-void invoice line, converted to the reporting currency and, for recurring lines,
    normalised to one month (its MRR contribution on each day of its service period). -#}
with

lines as (

    select * from {{ ref('stg_billing__invoice_lines') }}

),

invoices as (

    select
        invoice_id,
        status,
        is_void,
        is_paid,
        invoice_date
    from {{ ref('stg_billing__invoices') }}

),

customers as (

    select customer_id, account_id from {{ ref('stg_billing__customers') }}

),

plans as (

    select
        plan_id,
        plan_name,
        billing_interval,
        interval_months
    from {{ ref('stg_billing__plans') }}

),

fx_rates as (

    select currency, rate_month, rate_to_reporting
    from {{ ref('int_fx_rates_monthly') }}

),

-- void invoices are charges that did not happen: their lines are dropped here. Lines whose
-- invoice is missing from the export are kept (the relationships test reports them).
non_void_lines as (

    select
        lines.*,
        invoices.status as invoice_status,
        invoices.invoice_date,
        coalesce(invoices.is_paid, false) as is_paid_invoice
    from lines
    left join invoices
        on lines.invoice_id = invoices.invoice_id
    where coalesce(invoices.is_void, false) = false

),

with_context as (

    select
        non_void_lines.*,
        customers.account_id,
        plans.plan_name,
        plans.billing_interval,
        plans.interval_months,
        {{ cs_metrics.month_start('non_void_lines.service_period_start') }} as service_month,
        {{ cs_metrics.months_between_starts(
            'non_void_lines.service_period_start', 'non_void_lines.service_period_end') }}
            as calendar_months_crossed
    from non_void_lines
    left join customers
        on non_void_lines.customer_id = customers.customer_id
    left join plans
        on non_void_lines.plan_id = plans.plan_id

),

-- months the line's service period lasts: the divisor that normalises it to one month.
-- Weekly plans: weeks * 12 / 52. A period of N whole calendar months (the usual full billing
-- period: 1, 3, 6, 12 months): N. Billing anchors past the 28th are clamped to short months
-- (Jan 31 -> Feb 29 -> Mar 31), so a period that starts on a month's last day and ends on or
-- after the same-numbered clamped day N months later is also N whole months. Anything else
-- (a prorated or odd period): days / (365.25 / 12). For a full billing period this equals
-- the plan's interval_months; prorated lines get their own length (DECISIONS.md). Computed
-- in DOUBLE so every engine divides alike (Spark's DECIMAL division stops at 6 places).
with_whole_month_end as (

    select
        with_context.*,
        {{ cs_metrics.add_months('service_period_start', 'calendar_months_crossed') }}
            as start_plus_whole_months,
        service_period_start = {{ cs_metrics.month_end('service_period_start') }}
            as starts_on_month_end
    from with_context

),

with_period_months as (

    select
        with_whole_month_end.*,
        cast(case
            when service_period_days <= 0 then null
            when billing_interval = 'week'
                then cast(service_period_days as double) * 12 / (7 * 52)
            when calendar_months_crossed >= 1
                and (
                    service_period_end = start_plus_whole_months
                    or (starts_on_month_end and service_period_end >= start_plus_whole_months)
                )
                then cast(calendar_months_crossed as double)
            else cast(service_period_days as double) * 12 / 365.25
        end as double) as service_period_months
    from with_whole_month_end

),

converted as (

    select
        with_period_months.*,
        fx_rates.rate_to_reporting as fx_rate_to_reporting,
        {{ cs_metrics.to_reporting_currency(
            'with_period_months.net_amount', 'with_period_months.currency',
            'fx_rates.rate_to_reporting', 'money'
        ) }} as net_amount_reporting
    from with_period_months
    left join fx_rates
        on with_period_months.currency = fx_rates.currency
        and with_period_months.service_month = fx_rates.rate_month

),

final as (

    select
        -- ids
        invoice_line_id,
        invoice_id,
        customer_id,
        account_id,
        subscription_id,
        plan_id,

        -- categories
        line_type,
        is_recurring,
        invoice_status,
        is_paid_invoice,
        plan_name,
        billing_interval,
        interval_months,

        -- dates
        invoice_date,
        service_period_start,
        service_period_end,
        service_period_days,
        service_period_months,
        service_month,

        -- amounts in the line's own currency
        quantity,
        currency,
        amount,
        discount_amount,
        net_amount,
        case
            when is_recurring and service_period_months is not null
                then {{ cs_metrics.to_precise_amount('net_amount / service_period_months') }}
            else {{ cs_metrics.to_precise_amount('0') }}
        end as mrr_amount_original,

        -- amounts in the reporting currency
        '{{ var("reporting_currency", "USD") }}' as reporting_currency,
        fx_rate_to_reporting,
        cast(net_amount_reporting as decimal(18, 2)) as net_amount_reporting,
        case
            when is_recurring and service_period_months is not null
                then {{ cs_metrics.to_precise_amount('net_amount_reporting / service_period_months') }}
            else {{ cs_metrics.to_precise_amount('0') }}
        end as mrr_amount

    from converted

)

select * from final
