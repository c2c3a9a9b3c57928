"""Voice-of-the-customer and relationship marts on the generated company, against its ground truth.

The generator plants, from its own state (``_ground_truth/planted.json``):

* ``detractor_accounts``: the accounts with an NPS score <= 6 responded in the last 30 days
  (``[as_of - 29, as_of]``, the latest survey wave) - an exact list;
* ``champion_left``: ``{account: left date}`` of every sponsor or champion contact whose
  ``left_date`` lies in ``[as_of - 89, as_of]`` - exact too: no such departure lies in
  ``[as_of - 110, as_of - 71]``, so our "at most 90 days old" rule gives the same answer.

The other checks recompute a few figures straight from the export files (not from the
warehouse), as a second, independent computation of the marts' numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter, defaultdict

import pytest


@pytest.fixture(scope="module")
def truth(published_run):
    gt = published_run.raw_dir / "_ground_truth"
    return {
        "planted": json.loads((gt / "planted.json").read_text()),
        "as_of": dt.date.fromisoformat(json.loads((gt / "manifest.json").read_text())["as_of"]),
    }


def read_export(published_run, system: str, entity: str) -> list[dict[str, str]]:
    with open(published_run.raw_dir / system / f"{entity}.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def band(score: int) -> str:
    return "promoter" if score >= 9 else "detractor" if score <= 6 else "passive"


def nps(categories: list[str]) -> float | None:
    if not categories:
        return None
    c = Counter(categories)
    return 100 * (c["promoter"] - c["detractor"]) / len(categories)


# ------------------------------------------------------------------ planted truth


def test_recent_detractor_accounts_are_the_planted_ones(truth, marts):
    expected = set(truth["planted"]["detractor_accounts"])
    assert expected, "the company plants no detractor: the test would prove nothing"
    flagged = {r[0] for r in marts.execute(
        "select account_id from marts.fct_account_nps_monthly "
        "where month = ? and measured_on = ? and has_recent_detractor",
        [truth["as_of"].replace(day=1), truth["as_of"]]).fetchall()}
    assert flagged == expected
    # the same accounts straight from the response fact, with their comments beside the score
    rows = marts.execute(
        "select account_id, score, nps_category, comment from marts.fct_nps_responses "
        "where is_detractor and responded_date > ? ",
        [truth["as_of"] - dt.timedelta(days=30)]).fetchall()
    assert {r[0] for r in rows} == expected
    assert all(score <= 6 and category == "detractor" for _, score, category, _ in rows)
    # the generator writes a comment on every detractor response
    assert all(comment and comment.strip() for *_, comment in rows)


def test_champion_left_accounts_and_dates_are_the_planted_ones(truth, marts):
    expected = truth["planted"]["champion_left"]
    assert expected, "the company plants no champion departure: the test would prove nothing"
    flagged = {
        account: left.isoformat()
        for account, left in marts.execute(
            "select account_id, latest_champion_left_date "
            "from marts.fct_account_relationship_monthly "
            "where month = ? and measured_on = ? and is_champion_left",
            [truth["as_of"].replace(day=1), truth["as_of"]]).fetchall()
    }
    assert flagged == expected
    # one departure each on this company
    counts = dict(marts.execute(
        "select account_id, champions_left from marts.fct_account_relationship_monthly "
        "where month = ? and is_champion_left", [truth["as_of"].replace(day=1)]).fetchall())
    assert counts == {account: 1 for account in expected}


# ------------------------------------------------------------------ NPS from the export file


def test_every_response_is_in_the_fact_with_its_band_and_comment(published_run, truth, marts):
    exported = {
        r["response_id"]: r for r in read_export(published_run, "surveys", "nps_responses")
        if dt.date.fromisoformat(r["responded_date"]) <= truth["as_of"]
    }
    facts = {
        r[0]: r[1:] for r in marts.execute(
            "select response_id, score, nps_category, comment from marts.fct_nps_responses"
        ).fetchall()
    }
    assert set(facts) == set(exported)
    for response_id, (score, category, comment) in facts.items():
        row = exported[response_id]
        assert score == int(row["score"])
        assert category == band(score)
        assert (comment or "") == row["comment"]
    # all three bands and the boundary scores occur on this company
    assert {band(int(r["score"])) for r in exported.values()} == {"promoter", "passive", "detractor"}


def test_trailing_and_monthly_nps_match_the_export(published_run, truth, marts):
    as_of = truth["as_of"]
    responses = [
        (r["account_id"], dt.date.fromisoformat(r["responded_date"]), band(int(r["score"])))
        for r in read_export(published_run, "surveys", "nps_responses")
        if dt.date.fromisoformat(r["responded_date"]) <= as_of
    ]
    window_start = as_of - dt.timedelta(days=179)
    in_window = [(a, c) for a, d, c in responses if window_start <= d <= as_of]

    # per account, as of the as-of date (trailing 180 days)
    by_account: dict[str, list[str]] = defaultdict(list)
    for account, category in in_window:
        by_account[account].append(category)
    actual = {
        account: (responses_, value)
        for account, responses_, value in marts.execute(
            "select account_id, responses, nps from marts.fct_account_nps_monthly "
            "where month = ?", [as_of.replace(day=1)]).fetchall()
    }
    assert set(actual) == set(by_account)
    for account, categories in by_account.items():
        assert actual[account][0] == len(categories)
        assert actual[account][1] == pytest.approx(nps(categories), abs=1e-9)

    # the whole company: the month's own responses and the trailing window
    month_categories = [c for _, d, c in responses if d.replace(day=1) == as_of.replace(day=1)]
    row = marts.execute(
        "select responses, nps, trailing_responses, trailing_nps, trailing_window_start_date "
        "from marts.metrics_nps where month = ? and slice_type = 'all'",
        [as_of.replace(day=1)]).fetchone()
    assert row[0] == len(month_categories) > 0
    assert row[1] == pytest.approx(nps(month_categories), abs=1e-9)
    assert row[2] == len(in_window)
    assert row[3] == pytest.approx(nps([c for _, c in in_window]), abs=1e-9)
    assert row[4] == window_start


def test_nps_is_never_an_average_of_scores(marts):
    # on this company the trailing NPS differs from any rescaled mean score: it is computed
    # from the band counts
    rows = marts.execute(
        "select promoters, passives, detractors, responses, nps from marts.metrics_nps "
        "where responses > 0").fetchall()
    assert rows
    for promoters, passives, detractors, responses, value in rows:
        assert promoters + passives + detractors == responses
        assert value == pytest.approx(100 * (promoters - detractors) / responses, abs=1e-9)
        assert -100 <= value <= 100


# ------------------------------------------------------------------ relationship from the export


def test_touches_recency_and_pulse_at_the_as_of_date_match_the_export(published_run, truth, marts):
    as_of = truth["as_of"]
    month = as_of.replace(day=1)
    activities = [
        r for r in read_export(published_run, "crm", "activities")
        if dt.date.fromisoformat(r["activity_date"]) <= as_of
    ]
    touches: Counter = Counter()
    by_type: Counter = Counter()
    last_touch: dict[str, dt.date] = {}
    for r in activities:
        day = dt.date.fromisoformat(r["activity_date"])
        last_touch[r["account_id"]] = max(day, last_touch.get(r["account_id"], day))
        if day.replace(day=1) == month:
            touches[r["account_id"]] += 1
            by_type[(r["account_id"], r["activity_type"])] += 1

    pulses: dict[str, tuple[dt.date, str, str]] = {}
    for r in read_export(published_run, "crm", "csm_pulse"):
        key = (dt.date.fromisoformat(r["pulse_date"]), r["pulse_id"], r["pulse"])
        if key[0] <= as_of and (r["account_id"] not in pulses or key > pulses[r["account_id"]]):
            pulses[r["account_id"]] = key

    cur = marts.execute(
        "select account_id, touches, email_touches, call_touches, meeting_touches, "
        "business_review_touches, days_since_last_touch, csm_pulse, csm_pulse_date "
        "from marts.fct_account_relationship_monthly where month = ?", [month])
    rows = {r[0]: r[1:] for r in cur.fetchall()}
    assert set(last_touch) <= set(rows)
    assert sum(touches.values()) > 0
    stale = fresh = 0
    for account, (n, email, call, meeting, review, days, pulse, pulse_date) in rows.items():
        assert n == touches[account]
        assert (email, call, meeting, review) == tuple(
            by_type[(account, t)] for t in ("email", "call", "meeting", "business_review"))
        expected_days = (as_of - last_touch[account]).days if account in last_touch else None
        assert days == expected_days
        latest = pulses.get(account)
        if latest and (as_of - latest[0]).days <= 90:
            assert (pulse, pulse_date) == (latest[2], latest[0])
            fresh += 1
        else:
            assert pulse is None and pulse_date is None
            stale += latest is not None
    # both cases occur on this company
    assert fresh > 0 and stale > 0
