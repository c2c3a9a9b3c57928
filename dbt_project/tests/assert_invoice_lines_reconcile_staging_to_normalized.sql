-- Reconciliation: every invoice line of a non-void invoice that enters staging comes out of
-- int_invoice_lines_normalized_to_months once, with the same net amount, in total and for
-- recurring lines (nothing lost, nothing duplicated). Returns a row when they differ.
with

staged as (

    select
        count(*) as line_count,
        sum(lines.net_amount) as net_amount,
        sum(case when lines.is_recurring then 1 else 0 end) as recurring_line_count,
        sum(case when lines.is_recurring then lines.net_amount else 0 end) as recurring_net_amount
    from {{ ref('stg_billing__invoice_lines') }} as lines
    left join {{ ref('stg_billing__invoices') }} as invoices
        on lines.invoice_id = invoices.invoice_id
    where coalesce(invoices.is_void, false) = false

),

normalized as (

    select
        count(*) as line_count,
        count(distinct invoice_line_id) as distinct_line_count,
        sum(net_amount) as net_amount,
        sum(case when is_recurring then 1 else 0 end) as recurring_line_count,
        sum(case when is_recurring then net_amount else 0 end) as recurring_net_amount
    from {{ ref('int_invoice_lines_normalized_to_months') }}

)

select
    staged.line_count as staged_lines,
    normalized.line_count as normalized_lines,
    normalized.distinct_line_count as normalized_distinct_lines,
    staged.net_amount as staged_net_amount,
    normalized.net_amount as normalized_net_amount,
    staged.recurring_line_count as staged_recurring_lines,
    normalized.recurring_line_count as normalized_recurring_lines,
    staged.recurring_net_amount as staged_recurring_net_amount,
    normalized.recurring_net_amount as normalized_recurring_net_amount
from staged
cross join normalized
where staged.line_count <> normalized.line_count
    or normalized.distinct_line_count <> normalized.line_count
    or coalesce(staged.net_amount, 0) <> coalesce(normalized.net_amount, 0)
    or staged.recurring_line_count <> normalized.recurring_line_count
    or coalesce(staged.recurring_net_amount, 0) <> coalesce(normalized.recurring_net_amount, 0)
