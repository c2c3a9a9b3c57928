{#- One row per month (METRICS.md, CS team, capacity): the company's book on the measurement day
    (customers and ARR, fct_mrr_monthly), the CSMs employed that day (roster), the book's trend
    (average net change per month over the last csm_capacity_trend_months months: book now minus
    the book that many months before, divided by the months) extrapolated 1 and 3 months ahead,
    and the CSMs needed now and then for the target book per CSM (csm_capacity_basis: ARR
    csm_target_book_arr, or accounts csm_target_book_accounts): the smallest whole number of
    CSMs whose target books hold the book, ceil(book / target). -#}
{%- set basis = var('csm_capacity_basis') -%}
{%- if basis not in ['arr', 'accounts'] -%}
    {{ exceptions.raise_compiler_error("csm_capacity_basis must be arr or accounts, not '" ~ basis ~ "'") }}
{%- endif -%}
{%- set trend_months = var('csm_capacity_trend_months') | int -%}
{%- set target = var('csm_target_book_arr') if basis == 'arr' else var('csm_target_book_accounts') -%}
with

mrr_months as (

    select month, measured_on, is_partial, is_customer, arr
    from {{ ref('fct_mrr_monthly') }}

),

roster as (

    select csm_id, start_date, end_date
    from {{ ref('stg_crm__csm_roster') }}

),

books as (

    select
        month,
        max(measured_on) as measured_on,
        max(case when is_partial then 1 else 0 end) = 1 as is_partial,
        sum(case when is_customer then 1 else 0 end) as book_accounts,
        cast(sum(case when is_customer then arr else 0 end) as decimal(18, 2)) as book_arr
    from mrr_months
    group by month

),

employed as (

    select books.month, count(roster.csm_id) as csms_employed
    from books
    left join roster
        on roster.start_date <= books.measured_on
        and (roster.end_date is null or roster.end_date >= books.measured_on)
    group by books.month

),

-- the book trend_months months before (none before the first month: the company had no book)
trend as (

    select
        books.month,
        coalesce(earlier.book_accounts, 0) as earlier_book_accounts,
        coalesce(earlier.book_arr, cast(0 as decimal(18, 2))) as earlier_book_arr
    from books
    left join books as earlier
        on earlier.month = {{ cs_metrics.add_months('books.month', -trend_months) }}

),

projected as (

    select
        books.month,
        books.measured_on,
        books.is_partial,
        books.book_accounts,
        books.book_arr,
        employed.csms_employed,
        trend.earlier_book_accounts,
        trend.earlier_book_arr,
        cast(books.book_accounts - trend.earlier_book_accounts as double)
            / {{ trend_months }} as net_new_accounts_per_month,
        cast(books.book_arr - trend.earlier_book_arr as double)
            / {{ trend_months }} as net_new_arr_per_month,
        -- book + k * (book - earlier) / n, never below 0
        greatest(cast(books.book_accounts as double)
            + cast(books.book_accounts - trend.earlier_book_accounts as double) / {{ trend_months }},
            0.0) as projected_accounts_in_1_month_value,
        greatest(cast(books.book_accounts as double)
            + cast(3 * (books.book_accounts - trend.earlier_book_accounts) as double) / {{ trend_months }},
            0.0) as projected_accounts_in_3_months_value,
        greatest(cast(books.book_arr as double)
            + cast(books.book_arr - trend.earlier_book_arr as double) / {{ trend_months }},
            0.0) as projected_arr_in_1_month_value,
        greatest(cast(books.book_arr as double)
            + cast(3 * (books.book_arr - trend.earlier_book_arr) as double) / {{ trend_months }},
            0.0) as projected_arr_in_3_months_value
    from books
    inner join employed
        on books.month = employed.month
    inner join trend
        on books.month = trend.month

),

final as (

    select
        month,
        measured_on,
        is_partial,
        cast(book_accounts as {{ dbt.type_bigint() }}) as book_accounts,
        book_arr,
        cast(csms_employed as {{ dbt.type_bigint() }}) as csms_employed,
        '{{ basis }}' as capacity_basis,
        cast({{ target }} as double) as target_book_per_csm,
        {{ trend_months }} as trend_months,
        cast(earlier_book_accounts as {{ dbt.type_bigint() }}) as earlier_book_accounts,
        earlier_book_arr,
        net_new_accounts_per_month,
        net_new_arr_per_month,
        projected_accounts_in_1_month_value as projected_accounts_in_1_month,
        projected_accounts_in_3_months_value as projected_accounts_in_3_months,
        {{ cs_metrics.to_money('projected_arr_in_1_month_value') }} as projected_arr_in_1_month,
        {{ cs_metrics.to_money('projected_arr_in_3_months_value') }} as projected_arr_in_3_months,
        {%- set now_expr = 'cast(book_arr as double)' if basis == 'arr' else 'cast(book_accounts as double)' %}
        {%- set in1_expr = 'projected_arr_in_1_month_value' if basis == 'arr' else 'projected_accounts_in_1_month_value' %}
        {%- set in3_expr = 'projected_arr_in_3_months_value' if basis == 'arr' else 'projected_accounts_in_3_months_value' %}
        cast(ceil({{ now_expr }} / {{ target }}) as {{ dbt.type_bigint() }}) as csms_needed_now,
        cast(ceil({{ in1_expr }} / {{ target }}) as {{ dbt.type_bigint() }})
            as csms_needed_in_1_month,
        cast(ceil({{ in3_expr }} / {{ target }}) as {{ dbt.type_bigint() }})
            as csms_needed_in_3_months,
        cast(ceil({{ now_expr }} / {{ target }}) as {{ dbt.type_bigint() }}) - csms_employed
            as csm_gap_now
    from projected

)

select * from final
