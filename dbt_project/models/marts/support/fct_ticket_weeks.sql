{#- One row per week (Monday to Sunday) per account with tickets, and per week for the whole
    company, from the week the account (the company: its first account) started to the as-of
    week: tickets created that week, the mean and sample standard deviation of the
    ticket_spike_trailing_weeks weeks before it, and the spike flag (METRICS.md, Ticket spike):
    tickets strictly above mean + ticket_spike_std_devs * standard deviation, with at least
    ticket_spike_min_tickets tickets, judged only once the full trailing window exists
    (DECISIONS.md, Support). The comparison is exact, in integers and DECIMAL. -#}
{%- set trailing_weeks = var('ticket_spike_trailing_weeks') | int %}
{%- set std_devs = var('ticket_spike_std_devs') %}
{%- set min_tickets = var('ticket_spike_min_tickets') | int %}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

weekly as (

    select scope, scope_id, account_id, week_start, tickets
    from {{ ref('int_ticket_counts_weekly') }}

),

-- integer sums over the trailing weeks (exact, order-independent)
trailing_sums as (

    select
        weekly.*,
        count(*) over (
            partition by scope, scope_id order by week_start
            rows between {{ trailing_weeks }} preceding and 1 preceding
        ) as trailing_weeks,
        sum(tickets) over (
            partition by scope, scope_id order by week_start
            rows between {{ trailing_weeks }} preceding and 1 preceding
        ) as trailing_tickets,
        sum(tickets * tickets) over (
            partition by scope, scope_id order by week_start
            rows between {{ trailing_weeks }} preceding and 1 preceding
        ) as trailing_tickets_squared
    from weekly

),

judged as (

    select
        trailing_sums.*,
        trailing_weeks = {{ trailing_weeks }} as has_full_trailing_window,
        -- tickets > mean + k * sd  <=>  n*T - S > 0 and
        -- (n*T - S)^2 * (n - 1) > k^2 * n * (n*SS - S^2), with n weeks, S and SS the sums of
        -- the trailing counts and of their squares (sample variance (n*SS - S^2) / (n*(n-1)))
        trailing_weeks = {{ trailing_weeks }}
            and tickets >= {{ min_tickets }}
            and {{ trailing_weeks }} * tickets - trailing_tickets > 0
            and cast(
                ({{ trailing_weeks }} * tickets - trailing_tickets)
                * ({{ trailing_weeks }} * tickets - trailing_tickets)
                * {{ trailing_weeks - 1 }} as decimal(38, 6)
            ) > cast({{ std_devs }} as decimal(20, 6)) * cast({{ std_devs }} as decimal(20, 6))
                * cast(
                    {{ trailing_weeks }}
                    * ({{ trailing_weeks }} * trailing_tickets_squared
                        - trailing_tickets * trailing_tickets)
                    as decimal(38, 6)
                )
            as is_ticket_spike
    from trailing_sums

),

final as (

    select
        scope,
        scope_id,
        account_id,
        week_start,
        {{ cs_metrics.add_days('week_start', 6) }} as week_end,
        {{ cs_metrics.month_start('week_start') }} as week_month,
        {{ cs_metrics.add_days('week_start', 6) }} > as_of.as_of_date as is_partial_week,
        tickets,
        cast(trailing_weeks as {{ dbt.type_bigint() }}) as trailing_weeks,
        cast(trailing_tickets as {{ dbt.type_bigint() }}) as trailing_tickets,
        case
            when has_full_trailing_window
                then cast(trailing_tickets as double) / {{ trailing_weeks }}
        end as trailing_mean_tickets,
        case
            when has_full_trailing_window
                then sqrt(
                    cast({{ trailing_weeks }} * trailing_tickets_squared
                        - trailing_tickets * trailing_tickets as double)
                    / {{ trailing_weeks * (trailing_weeks - 1) }}
                )
        end as trailing_std_dev_tickets,
        case
            when has_full_trailing_window
                then cast(trailing_tickets as double) / {{ trailing_weeks }}
                    + {{ std_devs }} * sqrt(
                        cast({{ trailing_weeks }} * trailing_tickets_squared
                            - trailing_tickets * trailing_tickets as double)
                        / {{ trailing_weeks * (trailing_weeks - 1) }}
                    )
        end as spike_threshold_tickets,
        has_full_trailing_window,
        coalesce(is_ticket_spike, false) as is_ticket_spike
    from judged
    cross join as_of

)

select * from final
