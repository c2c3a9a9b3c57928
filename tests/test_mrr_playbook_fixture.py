"""Conformance with an outside fixture: the dbt-labs mrr-playbook subscriptions.

The 121 subscription periods of ``../shared/fixtures/mrr_playbook`` go through the real path
(export files -> contract-checked loader -> dbt) and the MRR movements mart must equal the
fixture's expected movements row for row, and its monthly sums the expected monthly bridge.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.loader import load_all
from tests.fixtures_support import (
    MRR_PLAYBOOK,
    customer_id_for_account,
    dbt_build,
    write_mrr_playbook_exports,
)

AS_OF = dt.date(2020, 2, 29)
MOVEMENT_COLUMNS = ("new_mrr", "reactivation_mrr", "expansion_mrr", "contraction_mrr",
                    "churn_mrr")


def _read(name: str) -> list[dict[str, str]]:
    with (MRR_PLAYBOOK / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def playbook_db(tmp_path_factory) -> Path:
    """The playbook loaded and built through fct_mrr_movements and metrics_retention."""
    root = tmp_path_factory.mktemp("mrr_playbook")
    raw_dir = root / "raw"
    write_mrr_playbook_exports(raw_dir, as_of=AS_OF)
    db = root / "build.duckdb"
    results = load_all(db, raw_dir)
    assert all(r.rows_quarantined == 0 for r in results), [
        (r.table_name, r.quarantine_by_rule) for r in results if r.rows_quarantined
    ]
    dbt_build(
        db, root,
        select=["+fct_mrr_movements", "+metrics_retention"],
        dbt_vars={"as_of_date": AS_OF},
    )
    return db


def _query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_movements_equal_the_fixture_row_for_row(playbook_db):
    rows = _query(playbook_db, """
        select account_id, month, start_mrr, end_mrr, movement
        from marts.fct_mrr_movements
        order by account_id, month
    """)
    actual = sorted(
        (int(customer_id_for_account(a)), f"{m:%Y-%m}", s, e, mv) for a, m, s, e, mv in rows
    )
    expected = sorted(
        (int(r["customer_id"]), r["month"], Decimal(r["start_mrr"]), Decimal(r["end_mrr"]),
         r["movement"])
        for r in _read("expected_movements.csv")
    )
    assert len(actual) == len(expected) == 410
    missing = [r for r in expected if r not in actual]
    extra = [r for r in actual if r not in expected]
    assert not missing and not extra, {"missing": missing[:10], "extra": extra[:10]}


def test_monthly_bridge_equals_the_fixture(playbook_db):
    rows = _query(playbook_db, """
        select
            strftime(month, '%Y-%m') as month,
            sum(start_mrr), sum(new_mrr), sum(reactivation_mrr), sum(expansion_mrr),
            sum(contraction_mrr), sum(churn_mrr), sum(end_mrr),
            count(*) filter (where end_mrr > 0)
        from marts.fct_mrr_movements
        group by 1
        order by 1
    """)
    columns = ("start_mrr", *MOVEMENT_COLUMNS, "end_mrr", "customers")
    actual = {r[0]: dict(zip(columns, (Decimal(v) for v in r[1:]), strict=False)) for r in rows}
    expected = {
        r["month"]: {c: Decimal(r[c]) for c in columns} for r in _read("expected_monthly.csv")
    }
    assert actual == expected

    totals = defaultdict(Decimal)
    for month in actual.values():
        for c in MOVEMENT_COLUMNS:
            totals[c] += month[c]
    assert dict(totals) == {
        "new_mrr": Decimal(2295), "reactivation_mrr": Decimal(150),
        "expansion_mrr": Decimal(660), "contraction_mrr": Decimal(555),
        "churn_mrr": Decimal(2550),
    }


def test_customer_1_story(playbook_db):
    """README example: new 50 in 2018-11, churn 2019-02, reactivation 50 in 2019-04,
    expansion to 75 in 2019-06, churn 2019-08."""
    rows = _query(playbook_db, """
        select strftime(month, '%Y-%m'), movement, end_mrr
        from marts.fct_mrr_movements
        where account_id = 'acct_001' and movement <> 'unchanged'
        order by month
    """)
    assert rows == [
        ("2018-11", "new", Decimal("50.00")),
        ("2019-02", "churn", Decimal("0.00")),
        ("2019-04", "reactivation", Decimal("50.00")),
        ("2019-06", "expansion", Decimal("75.00")),
        ("2019-08", "churn", Decimal("0.00")),
    ]


def test_retention_agrees_with_the_movements(playbook_db):
    """Company-wide monthly retention: ARR at t0/t1 is the bridge's start/end MRR * 12, and the
    window's movements are the month's movements; the fully churned last month has GRR 0."""
    rows = _query(playbook_db, """
        select strftime(period_start, '%Y-%m'), starting_arr, ending_arr, new_mrr, churn_mrr,
               grr, nrr, logo_churn_rate, is_partial
        from marts.metrics_retention
        where period_type = 'month' and slice_type = 'all'
        order by period_start
    """)
    by_month = {r[0]: r for r in rows}
    for m in _read("expected_monthly.csv"):
        _, starting_arr, ending_arr, new_mrr, churn_mrr, *_ = by_month[m["month"]]
        assert starting_arr == Decimal(m["start_mrr"]) * 12
        assert ending_arr == Decimal(m["end_mrr"]) * 12
        assert new_mrr == Decimal(m["new_mrr"])
        assert churn_mrr == Decimal(m["churn_mrr"])
    last = by_month["2020-02"]
    assert last[5:] == (0.0, 0.0, 1.0, False)
    assert by_month["2017-09"][5] is None  # nothing at t0: GRR is NULL, not 0
