{#- One row per NPS survey response up to the as-of date: the account, the respondent contact
    (and their role), the response date, the score 0-10, its NPS band and the comment ("reason
    for score") kept beside the score (METRICS.md, voice of the customer). The band comes from
    the score through the macro nps_category (vars nps_promoter_min, nps_detractor_max), the
    rule staging uses too. The account's current segment, owner and plan (dim_accounts) and its
    lifecycle stage in the response month are carried for slicing. -#}
with

as_of as (

    select as_of_date from {{ ref('int_as_of_date') }}

),

responses as (

    select
        response_id,
        account_id,
        contact_id,
        responded_date,
        score,
        comment
    from {{ ref('stg_surveys__nps_responses') }}

),

contacts as (

    select contact_id, role from {{ ref('stg_crm__contacts') }}

),

accounts as (

    select account_id, segment, owner_csm_id, plan_name
    from {{ ref('dim_accounts') }}

),

lifecycle as (

    select account_id, month, lifecycle_stage
    from {{ ref('int_account_lifecycle_monthly') }}

),

-- responses dated after the as-of date do not exist yet for this reporting date
banded as (

    select
        responses.response_id,
        responses.account_id,
        responses.contact_id,
        responses.responded_date,
        {{ cs_metrics.month_start('responses.responded_date') }} as responded_month,
        responses.score,
        {{ cs_metrics.nps_category('responses.score') }} as nps_category,
        responses.comment
    from responses
    cross join as_of
    where responses.responded_date <= as_of.as_of_date

),

final as (

    select
        banded.response_id,
        banded.account_id,
        banded.contact_id,
        contacts.role as contact_role,
        banded.responded_date,
        banded.responded_month,
        banded.score,
        banded.nps_category,
        banded.nps_category = 'promoter' as is_promoter,
        banded.nps_category = 'passive' as is_passive,
        banded.nps_category = 'detractor' as is_detractor,
        banded.comment,
        coalesce(trim(banded.comment) <> '', false) as has_comment,
        accounts.segment,
        accounts.owner_csm_id,
        accounts.plan_name,
        lifecycle.lifecycle_stage
    from banded
    left join contacts
        on banded.contact_id = contacts.contact_id
    left join accounts
        on banded.account_id = accounts.account_id
    left join lifecycle
        on banded.account_id = lifecycle.account_id
        and banded.responded_month = lifecycle.month

)

select * from final
