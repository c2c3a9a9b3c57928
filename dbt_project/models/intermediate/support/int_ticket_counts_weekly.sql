{#- One row per week (Monday to Sunday) per account with tickets, and per week for the whole
    company, from the week the account (the company: its first account) started to the as-of
    week, with the tickets created that week (zero-ticket weeks included, so a trailing window
    of N rows is N weeks). The input of the ticket-spike rule in fct_ticket_weeks. -#}
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

)

select * from weekly
