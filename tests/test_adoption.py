"""Adoption marts against the generator's ground truth, and the incremental daily usage model.

The generator counts active users, events, provisioned users and seats at the as-of date from
its own state (``_ground_truth/account_usage_at_as_of.csv``), not from the files it wrote, so
these are two independent computations.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.fixtures_support import BIN, DBT_DIR, reuse_last_parse

USAGE_COLUMNS = ("seats", "provisioned_users", "active_users_last_28_days",
                 "active_users_previous_28_days", "events_last_28_days", "events_previous_28_days")


@pytest.fixture(scope="module")
def usage_truth(published_run):
    gt = published_run.raw_dir / "_ground_truth"
    with open(gt / "account_usage_at_as_of.csv", newline="") as fh:
        rows = {r["account_id"]: {c: int(r[c]) for c in USAGE_COLUMNS} for r in csv.DictReader(fh)}
    return {
        "usage": rows,
        "planted": json.loads((gt / "planted.json").read_text()),
        "as_of": dt.date.fromisoformat(json.loads((gt / "manifest.json").read_text())["as_of"]),
    }


def as_of_month_rows(marts, as_of: dt.date) -> dict[str, dict[str, object]]:
    cur = marts.execute(
        "select account_id, measured_on, seats_purchased as seats, provisioned_users, "
        "mau, active_users_last_28_days, active_users_previous_28_days, events_last_28_days, "
        "events_previous_28_days, is_usage_drop, is_events_drop "
        "from marts.fct_account_adoption_monthly where month = ?", [as_of.replace(day=1)])
    names = [d[0] for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def test_as_of_month_usage_matches_ground_truth(usage_truth, marts):
    actual = as_of_month_rows(marts, usage_truth["as_of"])
    assert usage_truth["usage"], "ground truth lists no account"
    for account, expected in usage_truth["usage"].items():
        row = actual.get(account)
        if row is None:
            # no provisioned user and no MRR in the as-of month: nothing to measure
            assert all(v == 0 for v in expected.values()), (account, expected)
            continue
        assert row["measured_on"] == usage_truth["as_of"]
        assert row["mau"] == row["active_users_last_28_days"]
        assert {c: row[c] for c in USAGE_COLUMNS} == expected, account
    assert len(actual) >= len(usage_truth["usage"]) - 10


def test_planted_adoption_drops_are_flagged(usage_truth, marts):
    actual = as_of_month_rows(marts, usage_truth["as_of"])
    planted = usage_truth["planted"]
    assert planted["adoption_drop"], "the generator plants at least one adoption drop"
    for account in planted["adoption_drop"]:
        assert actual[account]["is_usage_drop"], account
    # the measured lists name every account meeting the rule (exact comparison in both)
    flagged = {a for a, r in actual.items() if r["is_usage_drop"]}
    assert flagged == set(planted["adoption_drop_measured"]["by_active_users"])
    events_flagged = {a for a, r in actual.items() if r["is_events_drop"]}
    assert events_flagged == set(planted["adoption_drop_measured"]["by_events"])


def test_metrics_adoption_all_slice_counts_every_measured_account(marts):
    mismatches = marts.execute("""
        select m.month
        from marts.metrics_adoption as m
        inner join (
            select month, count(*) as accounts
            from marts.fct_account_adoption_monthly
            group by month
        ) as f
            on m.month = f.month
        where m.slice_type = 'all' and m.accounts <> f.accounts
    """).fetchall()
    assert mismatches == []
    slices = {r[0] for r in marts.execute(
        "select distinct slice_type from marts.metrics_adoption").fetchall()}
    assert slices == {"all", "segment", "csm_owner", "lifecycle_stage", "plan"}


# ----------------------------------------------------------------------- incremental model


def _dbt(db: Path, work: Path, *args: str, env: dict[str, str] | None = None) -> None:
    reuse_last_parse(work / "target")
    env = {**os.environ, "CS_BUILD_DB": str(db), "CS_DUCKDB_TEMP_DIR": str(work / "duckdb_tmp"),
           "DBT_TARGET": "duckdb", **(env or {})}
    done = subprocess.run(
        [str(BIN / "dbt"), *args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        check=False, env=env, capture_output=True, text=True,
    )
    assert done.returncode == 0, f"dbt {args} failed:\n{done.stdout[-20000:]}\n{done.stderr}"


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _daily_rows(db: Path) -> list[tuple]:
    return _rows(db, "select * from marts.fct_account_usage_daily order by account_id, usage_date")


def _activity_rows(db: Path) -> list[tuple]:
    return _rows(db, "select account_id, user_id, activity_date, activity_month, events, seconds "
                     "from intermediate.int_user_activity_daily order by all")


def _test_sql(target: Path, model: str) -> dict[str, str]:
    """The executed SQL of the data tests that read ``model``, by file name (a relationships
    test as "relationships")."""
    relation = f'"{"intermediate" if model.startswith("int_") else "marts"}"."{model}"'
    out = {}
    for path in (target / "run").rglob("*.sql"):
        if path.parent.name.endswith(".yml") and relation in (sql := path.read_text()):
            out["relationships" if path.stem.startswith("relationships") else path.stem] = sql
    return out


def _feature_month_rows(db: Path) -> list[tuple]:
    return _rows(db, "select * from intermediate.int_user_feature_activity_monthly order by all")


def test_incremental_run_recomputes_only_the_new_window(published_run, usage_truth, tmp_path):
    as_of = usage_truth["as_of"]
    new_day = as_of + dt.timedelta(days=1)
    rewrite_from = new_day.replace(day=1)
    scan_from = rewrite_from - dt.timedelta(days=27)

    db = tmp_path / "build.duckdb"
    shutil.copy(published_run.build_db, db)
    before = _daily_rows(db)
    assert max(r[1] for r in before) == as_of

    # one new day of events: the as-of day's events again, a day later
    con = duckdb.connect(str(db))
    con.execute("""
        insert into raw.product_usage_events
        select * replace (event_id || '-next' as event_id, event_at + interval 1 day as event_at)
        from raw.product_usage_events
        where cast(event_at as date) = ?
    """, [as_of])
    new_events = con.execute("select count(*) from raw.product_usage_events "
                             "where cast(event_at as date) = ?", [new_day]).fetchone()[0]
    con.close()
    assert new_events > 0

    vars_arg = "{as_of_date: '" + new_day.isoformat() + "'}"
    activity_before = _activity_rows(db)
    feature_months_before = _feature_month_rows(db)
    _dbt(db, tmp_path / "incremental", "build", "--exclude-resource-type", "unit_test",
         "--select", "int_as_of_date", "int_user_activity_daily",
         "int_user_feature_activity_monthly", "fct_account_usage_daily", "--vars", vars_arg)

    # the run was incremental, and its bounds reached the events scan as literals
    target = tmp_path / "incremental" / "target"
    executed = next((target / "run").rglob("fct_account_usage_daily.sql")).read_text()
    assert "delete from" in executed.lower()  # delete+insert into the existing table
    activity = next((target / "compiled").rglob("int_user_activity_daily.sql")).read_text()
    assert f"where event_date >= cast('{as_of.replace(day=1).isoformat()}' as date)" in activity
    activity_after = _activity_rows(db)
    month = as_of.replace(day=1)
    assert [r for r in activity_after if r[3] < month] == [
        r for r in activity_before if r[3] < month]
    assert {r[:2] for r in activity_after if r[2] == new_day} == {
        r[:2] for r in activity_before if r[2] == as_of}
    # the users' months of use of each feature: the same, from the same month on
    feature_months = next((target / "compiled").rglob("int_user_feature_activity_monthly.sql"))
    assert (f"where event_date >= cast('{month.isoformat()}' as date)"
            in feature_months.read_text())
    feature_months_after = _feature_month_rows(db)
    assert [r for r in feature_months_after if r[3] < month] == [
        r for r in feature_months_before if r[3] < month]
    assert {r[:3] for r in feature_months_after if r[5] == new_day} == {
        r[:3] for r in feature_months_before if r[5] == as_of}
    compiled = next((target / "compiled").rglob("fct_account_usage_daily.sql")).read_text()
    assert f"activity.activity_date >= cast('{scan_from.isoformat()}' as date)" in compiled
    assert f"where usage_date >= cast('{rewrite_from.isoformat()}' as date)" in compiled

    after = _daily_rows(db)
    # rows before the rewritten month are untouched, byte for byte
    assert [r for r in after if r[1] < rewrite_from] == [r for r in before if r[1] < rewrite_from]
    # the new day exists for every account that had the as-of day
    accounts_on_as_of = {r[0] for r in before if r[1] == as_of}
    assert {r[0] for r in after if r[1] == new_day} == accounts_on_as_of
    assert sum(r[3] for r in after if r[1] == new_day) == sum(r[3] for r in after if r[1] == as_of)

    # the models' data tests read the months the run rewrote, except the one that reads
    # another model (rewritten_partitions.sql)
    rewritten = {
        "int_user_activity_daily": f"where activity_month >= cast('{month.isoformat()}' as date)",
        "int_user_feature_activity_monthly":
            f"where activity_month >= cast('{month.isoformat()}' as date)",
        "fct_account_usage_daily": f"where usage_month >= cast('{rewrite_from.isoformat()}' as date)",
    }
    for model, scope in rewritten.items():
        tests = _test_sql(target, model)
        assert len(tests) >= 3, model
        whole = {name for name, sql in tests.items() if scope not in sql}
        assert whole == ({"relationships"} if model == "fct_account_usage_daily" else set()), (
            model, whole)

    # after a dbt build that did not pass (the pipeline sets the variable then), the same run
    # tests every row: its failed rows may lie in months it does not rewrite
    _dbt(db, tmp_path / "after_failure", "build", "--exclude-resource-type", "unit_test",
         "--select", "int_as_of_date", "int_user_activity_daily",
         "int_user_feature_activity_monthly", "fct_account_usage_daily", "--vars", vars_arg,
         env={"CS_DBT_TESTS_WHOLE_TABLES": "true"})
    for model in rewritten:
        assert all(" >= cast(" not in sql for sql in _test_sql(
            tmp_path / "after_failure" / "target", model).values())

    # and the result equals a full rebuild exactly, whose tests read every row
    _dbt(db, tmp_path / "full", "build", "--exclude-resource-type", "unit_test", "--select",
         "int_user_activity_daily", "int_user_feature_activity_monthly",
         "fct_account_usage_daily", "--full-refresh", "--vars", vars_arg)
    for model in rewritten:
        assert all(" >= cast(" not in sql
                   for sql in _test_sql(tmp_path / "full" / "target", model).values())
    assert _daily_rows(db) == after
    assert _activity_rows(db) == activity_after
    assert _feature_month_rows(db) == feature_months_after


def test_partition_tests_read_every_row_unless_the_last_build_passed(published_run, tmp_path):
    """The pipeline's dbt step lets the month-partitioned models' tests read only the rewritten
    months when its last build of every model passed (a marker it writes then), and takes the
    marker away while it builds."""
    from orchestration.defs.dbt.assets import (
        BUILD_TESTED_MARKER,
        WHOLE_TABLE_TESTS_ENV,
        record_build_tested,
        whole_table_tests_env,
    )

    assert (published_run.warehouse_dir / BUILD_TESTED_MARKER).exists()  # a passing pipeline
    assert whole_table_tests_env(tmp_path) == {WHOLE_TABLE_TESTS_ENV: "true"}  # never built
    record_build_tested(tmp_path)
    assert whole_table_tests_env(tmp_path) == {WHOLE_TABLE_TESTS_ENV: "false"}
    # taken away until this build passes: a build that fails or is stopped leaves none
    assert not (tmp_path / BUILD_TESTED_MARKER).exists()
    assert whole_table_tests_env(tmp_path) == {WHOLE_TABLE_TESTS_ENV: "true"}
