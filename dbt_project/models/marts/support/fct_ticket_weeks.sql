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

    select
        as_of_date,
        cast({{ dbt.date_trunc('week', 'as_of_date') }} as date) as as_of_week
    from {{ ref('int_as_of_date') }}

),

tickets as (

    select account_id, created_date, created_week
    from {{ ref('fct_tickets') }}

),

accounts as (

    select account_id, created_date from {{ ref('dim_accounts') }}

),

account_bounds as (

    select
        tickets.account_id,
        cast({{ dbt.date_trunc('week',
            'least(min(tickets.created_date), coalesce(min(accounts.created_date), min(tickets.created_date)))') }}
            as date) as first_week,
        max(as_of.as_of_week) as last_week
    from tickets
    left join accounts
        on tickets.account_id = accounts.account_id
    cross join as_of
    group by tickets.account_id

),

scope_bounds as (

    select 'account' as scope, account_id as scope_id, account_id, first_week, last_week
    from account_bounds
    union all
    select 'company' as scope, 'all' as scope_id, null as account_id,
        min(first_week) as first_week, max(last_week) as last_week
    from account_bounds

),

-- every week of every scope (first_week is a Monday; steps of one week)
scope_weeks as (

    select scope, scope_id, account_id, week_day as week_start
    from (
        {{ cs_metrics.date_series('scope_bounds', 'first_week', 'last_week', 'week', 'week_day',
                                  carry=['scope', 'scope_id', 'account_id']) }}
    ) as scope_days

),

ticket_counts as (

    select 'account' as scope, account_id as scope_id, created_week, count(*) as tickets
    from tickets
    group by account_id, created_week
    union all
    select 'company' as scope, 'all' as scope_id, created_week, count(*) as tickets
    from tickets
    group by created_week

),

weekly as (

    select
        scope_weeks.scope,
        scope_weeks.scope_id,
        scope_weeks.account_id,
        scope_weeks.week_start,
        cast(coalesce(ticket_counts.tickets, 0) as {{ dbt.type_bigint() }}) as tickets
    from scope_weeks
    left join ticket_counts
        on scope_weeks.scope = ticket_counts.scope
        and scope_weeks.scope_id = ticket_counts.scope_id
        and scope_weeks.week_start = ticket_counts.created_week

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
