"""Health score on the generated company, end to end, against the planted truth.

The generator gives every account a latent churn risk that drives its usage, tickets, NPS,
touches and CSM pulses, and plants usage decay before most churns (planted.json
``usage_decay_before_churn``), an adoption drop (``adoption_drop``) and champions who left
(``champion_left``). The score is built from the marts, never from that truth; these tests check
that it sees them, and that the history kept across runs gives the 7-day change.
"""

from __future__ import annotations

import csv
import statistics
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

SEED_COMPONENTS = (Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"
                   / "seed_health_components.csv")
COMPONENTS = ["adoption", "usage_trend", "support", "voice", "relationship", "csm_pulse",
              "financial"]


@pytest.fixture(scope="module")
def as_of(planted) -> date:
    return date.fromisoformat(planted["as_of"])


def month_end_before(month: str) -> date:
    """The last day of the month before 'YYYY-MM'."""
    return date.fromisoformat(month + "-01") - timedelta(days=1)


def test_every_paying_account_has_a_score_on_the_as_of_date(marts, as_of):
    paying = {r[0] for r in marts.execute(
        "select account_id from marts.fct_mrr_monthly where measured_on = ? and arr > 0",
        [as_of]).fetchall()}
    rows = marts.execute(
        "select account_id, health_score, coverage, health_band, health_config_version "
        "from marts.fct_account_health_daily where snapshot_date = ?", [as_of]).fetchall()
    scored = {r[0]: r for r in rows}
    assert paying and paying <= set(scored)
    for account in paying:
        _, score, coverage, band, version = scored[account]
        assert score is not None and 0 <= score <= 100
        assert 0 < coverage <= 1
        assert band == ("red" if score < 40 else "yellow" if score < 70 else "green")
        assert len(version) == 12
    # one configuration version per run; the history holds only this run's date
    assert marts.execute("select count(distinct health_config_version), "
                         "count(distinct snapshot_date) from marts.fct_account_health_daily"
                         ).fetchone() == (1, 1)


def test_score_is_the_weighted_mean_of_the_components_with_data(marts, as_of):
    # the weights from the seed file itself, not from the warehouse
    with SEED_COMPONENTS.open() as f:
        weights = {r["component"]: float(r["weight"]) for r in csv.DictReader(f)
                   if r["enabled"] == "true"}
    cols = ", ".join(f"{c}_score" for c in COMPONENTS)
    rows = marts.execute(
        f"select account_id, {cols}, health_score, coverage, top_drag "
        "from marts.fct_account_health_daily where snapshot_date = ?", [as_of]).fetchall()
    total = sum(weights.values())
    for row in rows:
        scores = dict(zip(COMPONENTS, row[1:8], strict=True))
        present = {c: s for c, s in scores.items() if s is not None}
        with_data = sum(weights[c] for c in present)
        expected = sum(weights[c] * s for c, s in present.items()) / with_data
        assert row[8] == pytest.approx(expected, abs=1e-9)
        assert row[9] == pytest.approx(with_data / total, abs=1e-12)
        drags = {c: weights[c] * (100 - s) for c, s in present.items()}
        if max(drags.values()) > 0:
            assert drags[row[10]] == pytest.approx(max(drags.values()))
        else:
            assert row[10] is None


def test_accounts_with_usage_decay_score_low_before_they_churn(planted, build):
    """At the month-end before the churn month, each planted usage-decay churner scores below
    the median of the other paying accounts and is not green."""
    decay = planted["usage_decay_before_churn"]
    assert decay
    for account, churn_month in decay.items():
        snapshot = month_end_before(churn_month)
        rows = dict(build.execute(
            "select account_id, health_score from intermediate.int_account_health_scores "
            "where snapshot_date = ? and arr > 0 and health_score is not null",
            [snapshot]).fetchall())
        assert account in rows, (account, snapshot)
        others = [s for a, s in rows.items() if a != account]
        print(account, snapshot, rows[account], "median of the others", statistics.median(others))
        assert rows[account] < statistics.median(others)
        assert rows[account] < 70


def test_adoption_drop_pulls_the_score_down(planted, marts, as_of):
    rows = {r[0]: r[1:] for r in marts.execute(
        "select account_id, health_score, usage_trend_score from marts.fct_account_health_daily "
        "where snapshot_date = ?", [as_of]).fetchall()}
    dropped = planted["adoption_drop"]
    assert dropped
    others = [s for a, (s, _) in rows.items() if a not in dropped and s is not None]
    for account in dropped:
        score, usage_trend = rows[account]
        assert usage_trend < 50
        assert score < statistics.median(others)


def test_champion_left_reaches_the_relationship_component(planted, build, as_of):
    expected = {a for a, left in planted["champion_left"].items()
                if (as_of - date.fromisoformat(left)).days <= 90}
    flagged = {r[0] for r in build.execute(
        "select account_id from intermediate.int_account_health_inputs "
        "where snapshot_date = ? and metric = 'champion_left' and metric_value = 1",
        [as_of]).fetchall()}
    assert expected and flagged == expected


def test_backtest_red_churns_more_than_green(marts):
    rows = {band: (accounts, churned) for band, accounts, churned in marts.execute(
        "select health_band, sum(accounts), sum(churned_accounts_90d) "
        "from marts.metrics_health_backtest where is_horizon_complete_90d "
        "group by health_band").fetchall()}
    print("backtest, pooled over complete snapshots:", rows)
    rate = {band: churned / accounts for band, (accounts, churned) in rows.items() if accounts}
    assert rate["red"] > rate["yellow"] > rate["green"]
    assert rate["red"] >= 3 * rate["green"]
    aucs = [r[0] for r in marts.execute(
        "select auc_logo_churn_90d from marts.metrics_health_backtest "
        "where health_band = 'all' and auc_logo_churn_90d is not null").fetchall()]
    assert aucs and statistics.mean(aucs) > 0.7


def test_metrics_health_rolls_up_the_daily_rows(marts, as_of):
    daily = marts.execute(
        "select arr, health_score, health_band from marts.fct_account_health_daily "
        "where snapshot_date = ?", [as_of]).fetchall()
    row = marts.execute(
        "select accounts, arr, arr_weighted_mean_health_score, accounts_red, accounts_yellow, "
        "accounts_green, arr_green from marts.metrics_health "
        "where snapshot_date = ? and slice_type = 'all'", [as_of]).fetchone()
    arr = sum(r[0] for r in daily)
    assert row[0] == len(daily)
    assert row[1] == arr
    assert row[2] == pytest.approx(
        sum(float(a) * s for a, s, _ in daily) / float(arr), abs=1e-9)
    assert row[3:6] == tuple(sum(1 for r in daily if r[2] == b) for b in ("red", "yellow", "green"))
    assert row[6] == sum(r[0] for r in daily if r[2] == "green")


def test_history_across_two_runs_gives_the_7_day_change(two_runs):
    """A run 7 days before the as-of date, then one on it, into the same warehouse: the history
    keeps both dates and the second run's change is the difference of the two scores."""
    earlier, as_of, second = two_runs.earlier, two_runs.as_of, two_runs.second
    first_rows = two_runs.first_health
    assert first_rows and {r[-1] for r in first_rows} == {earlier}

    con = duckdb.connect(str(second.published_db), read_only=True)
    dates = [r[0] for r in con.execute(
        "select distinct snapshot_date from marts.fct_account_health_daily order by 1").fetchall()]
    assert dates == [earlier, as_of]
    rows = con.execute("""
        select now.account_id, now.health_score, before.health_score,
            now.compared_date_7d, now.health_score_change_7d, now.health_trend
        from marts.fct_account_health_daily as now
        inner join marts.fct_account_health_daily as before
            on now.account_id = before.account_id and before.snapshot_date = ?
        where now.snapshot_date = ?
    """, [earlier, as_of]).fetchall()
    assert rows
    for _, now, before, compared, change, trend in rows:
        assert compared == earlier
        if now is None or before is None:
            assert change is None
            continue
        assert change == pytest.approx(now - before, abs=1e-12)
        assert trend == ("up" if change >= 2 else "down" if change <= -2 else "flat")
    # the earlier date's rows are those of the first run, untouched
    assert con.execute(
        "select * from marts.fct_account_health_daily where snapshot_date = ? "
        "order by account_id", [earlier]).fetchall() == first_rows
    assert con.execute(
        "select count(distinct snapshot_date) from marts.metrics_health").fetchone()[0] == 2
    con.close()
