{#- One row per NPS survey response up to the as-of date: the account, the respondent contact
    (and their role), the response date, the score 0-10, its NPS band (vars nps_promoter_min,
    nps_detractor_max, applied in staging) and the comment ("reason for score") kept beside the
    score (METRICS.md, voice of the customer). The account's current segment, owner and plan
    (dim_accounts) and its lifecycle stage in the response month are carried for slicing. -#}
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
        nps_category,
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
responses_to_date as (

    select responses.*
    from responses
    cross join as_of
    where responses.responded_date <= as_of.as_of_date

),

final as (

    select
        responses_to_date.response_id,
        responses_to_date.account_id,
        responses_to_date.contact_id,
        contacts.role as contact_role,
        responses_to_date.responded_date,
        {{ cs_metrics.month_start('responses_to_date.responded_date') }} as responded_month,
        responses_to_date.score,
        responses_to_date.nps_category,
        responses_to_date.nps_category = 'promoter' as is_promoter,
        responses_to_date.nps_category = 'passive' as is_passive,
        responses_to_date.nps_category = 'detractor' as is_detractor,
        responses_to_date.comment,
        coalesce(trim(responses_to_date.comment) <> '', false) as has_comment,
        accounts.segment,
        accounts.owner_csm_id,
        accounts.plan_name,
        lifecycle.lifecycle_stage
    from responses_to_date
    left join contacts
        on responses_to_date.contact_id = contacts.contact_id
    left join accounts
        on responses_to_date.account_id = accounts.account_id
    left join lifecycle
        on responses_to_date.account_id = lifecycle.account_id
        and {{ cs_metrics.month_start('responses_to_date.responded_date') }} = lifecycle.month

)

select * from final
