{#- One row per alert: an episode of consecutive runs in which one rule held for one account
    (fct_alert_hits over the run dates of fct_alert_runs). first_seen = the first snapshot of the
    episode, last_seen = its latest, closed_at = the first later run date on which the rule no
    longer held (NULL while open). A rule that holds again after closing opens a new alert.
    alert_id = md5(rule, account, first_seen): stable across runs as long as the alert is the
    same episode. Evidence, owner and severity are those of the latest hit (last_seen).
    (METRICS.md, KPI summary and playbook alerts; DECISIONS.md, KPI summary and alerts.) -#}
with

runs as (

    select
        snapshot_date,
        row_number() over (order by snapshot_date) as run_number
    from {{ ref('fct_alert_runs') }}

),

latest_run as (

    select max(snapshot_date) as latest_run_date from runs

),

-- consecutive runs of one rule and account share episode_key (run number - hit number)
hits as (

    select
        hits.rule_id,
        hits.account_id,
        hits.owner_csm_id,
        hits.severity,
        hits.evidence_metric,
        hits.evidence_value,
        hits.threshold_value,
        hits.evidence_text,
        hits.recommended_action,
        hits.snapshot_date,
        runs.run_number,
        runs.run_number - row_number() over (
            partition by hits.rule_id, hits.account_id order by hits.snapshot_date
        ) as episode_key
    from {{ ref('fct_alert_hits') }} as hits
    inner join runs
        on hits.snapshot_date = runs.snapshot_date

),

episodes as (

    select
        rule_id,
        account_id,
        episode_key,
        min(snapshot_date) as first_seen,
        max(snapshot_date) as last_seen,
        max(run_number) as last_run_number,
        count(*) as runs_seen
    from hits
    group by rule_id, account_id, episode_key

),

accounts as (

    select account_id, account_name, owner_csm_name from {{ ref('dim_accounts') }}

),

final as (

    select
        {{ dbt.hash(dbt.concat(["episodes.rule_id", "'|'", "episodes.account_id", "'|'",
                                cs_metrics.plain_text('episodes.first_seen')])) }} as alert_id,
        episodes.rule_id,
        episodes.account_id,
        accounts.account_name,
        latest_hit.owner_csm_id,
        accounts.owner_csm_name,
        latest_hit.severity,
        case when next_run.snapshot_date is null then 'open' else 'closed' end as status,
        next_run.snapshot_date is null as is_open,
        latest_hit.evidence_metric,
        latest_hit.evidence_value,
        latest_hit.threshold_value,
        latest_hit.evidence_text,
        first_hit.evidence_value as first_evidence_value,
        latest_hit.recommended_action,
        episodes.first_seen,
        episodes.last_seen,
        next_run.snapshot_date as closed_at,
        cast(episodes.runs_seen as {{ dbt.type_bigint() }}) as runs_seen,
        {{ cs_metrics.days_between('episodes.first_seen',
                                   'coalesce(next_run.snapshot_date, latest_run.latest_run_date)') }}
            as days_open
    from episodes
    cross join latest_run
    inner join hits as latest_hit
        on episodes.rule_id = latest_hit.rule_id
        and episodes.account_id = latest_hit.account_id
        and episodes.last_seen = latest_hit.snapshot_date
    inner join hits as first_hit
        on episodes.rule_id = first_hit.rule_id
        and episodes.account_id = first_hit.account_id
        and episodes.first_seen = first_hit.snapshot_date
    left join runs as next_run
        on episodes.last_run_number + 1 = next_run.run_number
    left join accounts
        on episodes.account_id = accounts.account_id

)

select * from final
