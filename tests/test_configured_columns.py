"""Vars that name columns: another setting builds, passes the data tests and gives the right
values, not only the default one.

``collections_aging_buckets`` names the collection marts' bucket columns (overdue_amount_1_30,
...) and ``health_backtest_horizons_days`` the backtest's horizon columns (logo_churn_rate_90d,
...). Their data tests name those columns through macros (``collections_age_bucket_columns``,
``health_backtest_columns``, ...), so they follow the vars. Here the models that read the two
vars are rebuilt, with their data tests, on a copy of the small company's build under other
settings, and their values are checked against the default build.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from decimal import Decimal

import duckdb
import pytest

from orchestration.lib.headline import headline_config, headline_figures
from tests.fixtures_support import dbt_build

OTHER_BUCKETS = [15, 45]  # 1-15, 16-45 and 45+ days overdue (default [30, 60, 90])
OTHER_HORIZONS = [30, 90]  # days after each month-end snapshot (default [90, 180])


@pytest.fixture(scope="module")
def reconfigured_root(published_run, tmp_path_factory):
    """The models that read the two vars, rebuilt with their data tests (dbt build fails on a
    failing test) on a copy of the small company's build, under OTHER_BUCKETS and
    OTHER_HORIZONS: the folder of that build database and of dbt's target (its manifest)."""
    root = tmp_path_factory.mktemp("reconfigured")
    db = root / "build.duckdb"
    shutil.copyfile(published_run.build_db, db)
    # Data tests only: the unit tests' expected rows are the default settings'.
    dbt_build(db, root, exclude=["test_type:unit"], select=[
        "int_invoice_balances_monthly", "fct_invoices", "fct_account_collections_monthly",
        "metrics_collections", "metrics_health_backtest",
    ], dbt_vars={
        "collections_aging_buckets": OTHER_BUCKETS,
        "health_backtest_horizons_days": OTHER_HORIZONS,
    })
    return root


@pytest.fixture(scope="module")
def reconfigured(reconfigured_root):
    con = duckdb.connect(str(reconfigured_root / "build.duckdb"), read_only=True)
    yield con
    con.close()


def _columns(con, table: str, prefixes: tuple[str, ...]) -> list[str]:
    return [c for (c,) in con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'marts' and table_name = ? order by ordinal_position",
        [table]).fetchall() if c.startswith(prefixes)]


def test_other_aging_buckets_name_the_columns_and_labels(reconfigured):
    assert _columns(reconfigured, "fct_account_collections_monthly", ("overdue_",)) == [
        "overdue_invoices", "overdue_amount",
        "overdue_amount_1_15", "overdue_amount_16_45", "overdue_amount_45_plus"]
    assert _columns(reconfigured, "metrics_collections", ("overdue_",)) == [
        "overdue_invoices", "overdue_accounts", "overdue_amount",
        "overdue_amount_1_15", "overdue_accounts_1_15", "overdue_amount_16_45",
        "overdue_accounts_16_45", "overdue_amount_45_plus", "overdue_accounts_45_plus"]
    # Every month-end's overdue invoices (the as-of date's alone are all over 45 days overdue
    # in this company), then the as-of date's.
    bounds = {"1-15": (1, 15), "16-45": (16, 45), "45+": (46, None)}
    for relation, labels_seen in (("intermediate.int_invoice_balances_monthly", list(bounds)),
                                  ("marts.fct_invoices", ["45+"])):
        labels = reconfigured.execute(
            f"select age_bucket, min(days_overdue), max(days_overdue) from {relation} "
            "where age_bucket is not null group by 1 order by 2").fetchall()
        assert [label for label, _, _ in labels] == labels_seen, relation
        for label, low, high in labels:
            lower, upper = bounds[label]
            assert low >= lower and (upper is None or high <= upper), (relation, label, low, high)


def test_other_aging_buckets_split_the_overdue_amounts_by_days(build, reconfigured):
    """Each account-month's bucket amounts equal its overdue invoices' outstanding amounts
    grouped by days overdue (1-15, 16-45, over 45), from the default build's month-end balances
    (whose days overdue tests/test_collections.py checks against the payment file)."""
    expected = defaultdict(lambda: [Decimal(0)] * 3)
    for account, month, days, amount in build.execute(
            "select account_id, month, days_overdue, outstanding_amount_reporting "
            "from intermediate.int_invoice_balances_monthly where days_overdue >= 1").fetchall():
        expected[(account, month)][0 if days <= 15 else 1 if days <= 45 else 2] += amount
    actual = {
        (account, month): list(amounts)
        for account, month, *amounts in reconfigured.execute(
            "select account_id, month, overdue_amount_1_15, overdue_amount_16_45, "
            "overdue_amount_45_plus from marts.fct_account_collections_monthly "
            "where overdue_amount > 0").fetchall()
    }
    assert len(expected) > 10
    assert any(v[0] for v in expected.values()) and any(v[2] for v in expected.values())
    assert actual == dict(expected)


def test_other_horizons_name_the_columns(reconfigured):
    assert _columns(reconfigured, "metrics_health_backtest", ("is_horizon", "logo_churn")) == [
        "is_horizon_complete_30d", "logo_churn_rate_30d",
        "is_horizon_complete_90d", "logo_churn_rate_90d"]


def test_other_horizons_keep_the_shared_horizon_and_count_the_new_one(build, reconfigured):
    """The 90-day columns, in both settings, are the same; the 30-day churn on the 'all' rows is
    the scored paying accounts of each month-end with no ARR 30 days later."""
    columns = ("snapshot_date, health_band, accounts, is_horizon_complete_90d, "
               "churned_accounts_90d, arr_loss_accounts_90d, auc_logo_churn_90d")
    query = f"select {columns} from marts.metrics_health_backtest order by 1, 2"
    default_rows = build.execute(query).fetchall()
    assert default_rows and reconfigured.execute(query).fetchall() == default_rows

    expected = dict(build.execute("""
        select s.snapshot_date, count(*) filter (where coalesce(f.arr, 0) = 0)
        from intermediate.int_account_health_scores s
        cross join intermediate.int_as_of_date a
        left join marts.fct_mrr_daily f
            on f.account_id = s.account_id and f.date_day = s.snapshot_date + 30
        where s.is_month_end and s.arr > 0 and s.health_score is not null
            and s.snapshot_date + 30 <= a.as_of_date
        group by 1""").fetchall())
    actual = dict(reconfigured.execute(
        "select snapshot_date, churned_accounts_30d from marts.metrics_health_backtest "
        "where health_band = 'all' and is_horizon_complete_30d").fetchall())
    assert len(expected) >= 6 and any(expected.values())
    assert actual == expected


def _backtest_headline(manifest_path):
    manifest = json.loads(manifest_path.read_text())
    return headline_config(manifest["nodes"]["model.cs_metrics.metrics_health_backtest"])


def test_the_backtest_headline_follows_the_shortest_horizon(dbt_manifest, reconfigured,
                                                           reconfigured_root):
    """The UI's headline of the backtest is the latest month-end complete over the shortest
    configured horizon: 90 days by default, 30 under [30, 90] (a later month-end than 90's)."""
    assert _backtest_headline(dbt_manifest)["figures"]["logo_churn_rate"] \
        == "max(logo_churn_rate_90d)"
    figures = headline_figures(reconfigured, "marts.metrics_health_backtest",
                               _backtest_headline(reconfigured_root / "target" / "manifest.json"))
    latest_30, accounts, rate, auc = reconfigured.execute(
        "select snapshot_date, accounts, logo_churn_rate_30d, auc_logo_churn_30d "
        "from marts.metrics_health_backtest where health_band = 'all' and is_horizon_complete_30d "
        "order by snapshot_date desc limit 1").fetchone()
    latest_90 = reconfigured.execute(
        "select max(snapshot_date) from marts.metrics_health_backtest "
        "where is_horizon_complete_90d").fetchone()[0]
    assert latest_30 > latest_90 and accounts > 0 and rate is not None
    # The AUC is NULL when no account churned within 30 days of that month-end.
    assert figures == {"snapshot_date": latest_30.isoformat(), "horizon_days": 30,
                       "accounts": accounts, "logo_churn_rate": float(rate),
                       "auc_logo_churn": None if auc is None else float(auc)}
