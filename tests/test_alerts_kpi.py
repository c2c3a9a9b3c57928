"""Playbook alerts and the KPI summary on the generated company, end to end.

One fixture runs the whole pipeline twice into the same warehouse: as of 7 days before the
company's as-of date, then as of the as-of date (``CS_AS_OF_DATE``, as tests/test_health.py
does). The alert history must hold both dates, alerts that hold on both keep their first_seen
and id, alerts that stop holding are closed on the second date, and the alerts open on the
as-of date match the planted truth (planted.json) for the rules the generator plants.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import pytest

KPIS = ["grr", "nrr", "logo_churn_rate", "renewal_rate", "expansion_arr", "share_of_arr_green",
        "nps"]


@pytest.fixture(scope="module")
def two_runs(two_runs, small_company):
    """(earlier date, as-of date, planted truth, published fct_alerts of the first run, a
    read-only connection to the published file of the second run); the runs are the shared
    session fixture of tests/conftest.py."""
    runs = two_runs
    planted = json.loads((small_company / "_ground_truth" / "planted.json").read_text())
    con = duckdb.connect(str(runs.second.published_db), read_only=True)
    yield runs.earlier, runs.as_of, planted, runs.first_alerts, con
    con.close()


def test_history_has_both_dates(two_runs):
    earlier, as_of, _, _, con = two_runs
    runs = con.execute("select snapshot_date, rules_enabled, customers_evaluated "
                       "from marts.fct_alert_runs order by 1").fetchall()
    assert [r[0] for r in runs] == [earlier, as_of]
    assert all(r[1] == 13 and r[2] > 0 for r in runs)
    hit_dates = {r[0] for r in con.execute(
        "select distinct snapshot_date from marts.fct_alert_hits").fetchall()}
    assert hit_dates == {earlier, as_of}
    health_dates = [r[0] for r in con.execute(
        "select distinct snapshot_date from marts.fct_account_health_daily order by 1").fetchall()]
    assert health_dates == [earlier, as_of]


def test_alerts_keep_first_seen_or_close(two_runs):
    earlier, as_of, _, first_alerts, con = two_runs
    hits = {}
    for rule, account, day in con.execute(
            "select rule_id, account_id, snapshot_date from marts.fct_alert_hits").fetchall():
        hits.setdefault((rule, account), set()).add(day)
    alerts = {(r[1], r[2], r[3]): r for r in con.execute(
        "select alert_id, rule_id, account_id, first_seen, last_seen, closed_at, status "
        "from marts.fct_alerts").fetchall()}
    expected = {}
    for (rule, account), days in hits.items():
        if days == {earlier, as_of}:
            expected[(rule, account, earlier)] = (as_of, None, "open")
        elif days == {earlier}:
            expected[(rule, account, earlier)] = (earlier, as_of, "closed")
        else:
            expected[(rule, account, as_of)] = (as_of, None, "open")
    assert {k: v[4:] for k, v in alerts.items()} == expected
    kept = [k for k, v in expected.items() if k[2] == earlier and v[2] == "open"]
    closed = [k for k, v in expected.items() if v[2] == "closed"]
    print(f"{len(kept)} alerts kept, {len(closed)} closed, "
          f"{len(expected) - len(kept) - len(closed)} new")
    assert kept and closed
    # an alert open on the first run that still holds keeps its id and first_seen
    first_open = {(rule, account): (alert_id, first_seen)
                  for alert_id, rule, account, first_seen, _, closed_at in first_alerts}
    assert set(first_open) == {(r, a) for r, a, d in expected if d == earlier}
    for rule, account, first_seen in kept:
        alert_id = alerts[(rule, account, first_seen)][0]
        assert first_open[(rule, account)] == (alert_id, earlier)


def open_accounts(con, rule: str) -> set[str]:
    return {r[0] for r in con.execute(
        "select account_id from marts.fct_alerts where rule_id = ? and is_open", [rule]
    ).fetchall()}


def test_open_alerts_match_the_planted_truth(two_runs):
    _, as_of, planted, _, con = two_runs
    assert open_accounts(con, "usage_drop") == set(
        planted["adoption_drop_measured"]["by_active_users"])
    assert set(planted["adoption_drop"]) <= open_accounts(con, "usage_drop")
    champions = {a for a, left in planted["champion_left"].items()
                 if (as_of - date.fromisoformat(left)).days <= 90}
    assert champions and open_accounts(con, "champion_left") == champions
    assert open_accounts(con, "overdue_invoice") == set(planted["overdue_over_30_days"])
    assert open_accounts(con, "recent_detractor") == set(planted["detractor_accounts"])


def test_alerts_carry_owner_severity_evidence_and_action(two_runs):
    _, _, _, _, con = two_runs
    rows = con.execute("""
        select alerts.account_id, alerts.owner_csm_id, accounts.owner_csm_id, alerts.severity,
            alerts.evidence_text, alerts.recommended_action, alerts.alert_id
        from marts.fct_alerts as alerts
        left join marts.dim_accounts as accounts on alerts.account_id = accounts.account_id
    """).fetchall()
    assert rows
    for _, owner, dim_owner, severity, text, action, alert_id in rows:
        assert owner == dim_owner
        assert severity in ("high", "medium", "low") and text and action
        assert len(alert_id) == 32


def test_kpi_summary_current_periods(two_runs):
    _, as_of, _, _, con = two_runs
    rows = con.execute("""
        select kpi, period_type, value, prior_value, target, is_on_target, direction,
            indicator_type, is_partial
        from marts.metrics_kpi_summary where is_current
    """).fetchall()
    assert sorted({r[0] for r in rows}) == sorted(KPIS)
    assert sorted({r[1] for r in rows}) == ["month", "quarter", "year_to_date"]
    assert len(rows) == len(KPIS) * 3
    assert all(r[8] for r in rows)  # the as-of date is mid-month: every current period is open
    by_key = {(r[0], r[1]): r for r in rows}
    for _, _, value, _, target, on_target, direction, _, _ in rows:
        if value is None or target is None:
            assert on_target is None
        else:
            assert on_target == (value >= target if direction == "higher_is_better"
                                 else value <= target)
    # the values are those of the source marts
    grr, logo = con.execute(
        "select grr, logo_churn_rate from marts.metrics_retention where period_type = 'month' "
        "and slice_type = 'all' and period_end = ?", [as_of]).fetchone()
    assert by_key[("grr", "month")][2] == grr
    assert by_key[("logo_churn_rate", "month")][2] == logo
    green = con.execute(
        "select share_of_arr_green from marts.metrics_health where snapshot_date = ? "
        "and slice_type = 'all'", [as_of]).fetchone()[0]
    assert by_key[("share_of_arr_green", "month")][2] == pytest.approx(green, abs=1e-12)
    nps = con.execute(
        "select nps from marts.metrics_nps where slice_type = 'all' and month = ?",
        [as_of.replace(day=1)]).fetchone()[0]
    assert by_key[("nps", "month")][2] == pytest.approx(nps, abs=1e-12)
    # the prior month is the month before: its value is the previous month's row
    prior_month = (as_of.replace(day=1) - timedelta(days=1)).replace(day=1)
    previous = con.execute(
        "select value from marts.metrics_kpi_summary where kpi = 'grr' "
        "and period_type = 'month' and period_start = ?", [prior_month]).fetchone()[0]
    assert by_key[("grr", "month")][3] == previous


def test_a_rerun_with_no_hits_clears_that_dates_old_hits(two_runs, tmp_path):
    """Rerun the as-of date with every rule disabled: the date's old hits must go (they used to
    stay, as delete+insert / insert_overwrite only replace the dates a run writes), and the
    earlier date's hits must stay."""
    import csv
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import tests.conftest as cf
    from orchestration.lib.warehouse import BUILD_DB_NAME
    from tests.fixtures_support import reuse_last_parse

    earlier, as_of, _, _, con = two_runs
    before = dict(con.execute("select snapshot_date, count(*) from marts.fct_alert_hits group by 1").fetchall())
    assert before[as_of] > 0 and before[earlier] > 0

    project = shutil.copytree(cf.DBT_DIR, tmp_path / "dbt_project", ignore=shutil.ignore_patterns("target", "logs"))
    reuse_last_parse(project / "target")  # dbt parses again only the changed seed's file
    rules = project / "seeds" / "seed_alert_rules.csv"
    with rules.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with rules.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "enabled": "false"} for row in rows)
    build = tmp_path / "build.duckdb"
    published = Path(con.execute("select path from duckdb_databases() where database_name = current_database()")
                     .fetchone()[0])
    # the second run's build database, beside its published file: int_alert_hits reads
    # intermediate models, which are not published
    shutil.copyfile(published.with_name(BUILD_DB_NAME), build)
    env = {**os.environ, "CS_BUILD_DB": str(build), "CS_AS_OF_DATE": as_of.isoformat(),
           "CS_DUCKDB_TEMP_DIR": str(tmp_path / "spill")}
    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "build", "--quiet", "--project-dir", str(project),
         "--profiles-dir", str(project), "--select", "seed_alert_rules", "int_alert_hits", "fct_alert_hits",
         "--exclude", "test_type:data"],
        check=True, env=env, cwd=project,
    )
    after = dict(duckdb.connect(str(build), read_only=True).execute(
        "select snapshot_date, count(*) from marts.fct_alert_hits group by 1").fetchall())
    assert as_of not in after
    assert after[earlier] == before[earlier]
