"""The notebook baseline: the core figures computed the way an analyst would in a notebook.

Plain pandas on the same export files the pipeline reads, no DuckDB, no dbt, nothing from this
repository imported. It is what the pipeline is compared with (``benchmarks/README.md``): a
realistic, readable notebook, not an optimized one (whole files read into DataFrames, one
filter per month). It computes, following ``METRICS.md`` and ``dbt_project/DECISIONS.md``:

1. month-end MRR per account and month in the reporting currency (USD), and its movements
   (new, reactivation, expansion, contraction, churn);
2. GRR and NRR by quarter for the whole company (slice ``all``);
3. DAU/MAU per account and month (mean DAU over the 28 days up to the month's measurement day,
   over the distinct users active in those 28 days).

    python benchmarks/notebook_baseline.py --raw data/raw --out /tmp/baseline [--as-of 2025-12-15]

Writes ``mrr_movements.parquet``, ``retention_quarterly.parquet`` and ``dau_mau_monthly.parquet``
to ``--out``; the benchmark harness compares them with the published marts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPORTING_CURRENCY = "USD"
# The built-in rates the pipeline falls back on for a currency-month the fx export lacks
# (dbt_project/seeds/seed_fx_rates_default.csv, quoted against USD).
DEFAULT_FX = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "seed_fx_rates_default.csv"


# ----------------------------------------------------------------------------- reading


def read_billing(raw: Path) -> dict[str, pd.DataFrame]:
    billing = raw / "billing"
    lines = pd.read_csv(
        billing / "invoice_lines.csv", parse_dates=["service_period_start", "service_period_end"]
    )
    invoices = pd.read_csv(billing / "invoices.csv", parse_dates=["invoice_date", "due_date"])
    customers = pd.read_csv(billing / "customers.csv")
    plans = pd.read_csv(billing / "plans.csv")
    fx_path = billing / "fx_rates.csv"
    fx = (
        pd.read_csv(fx_path, parse_dates=["rate_month"])
        if fx_path.exists()
        else pd.DataFrame({"currency": [], "rate_month": pd.to_datetime([]), "rate_to_reporting": []})
    )
    return {"lines": lines, "invoices": invoices, "customers": customers, "plans": plans, "fx": fx}


def as_of_date(invoices: pd.DataFrame, given: str | None) -> pd.Timestamp:
    """The reporting date: given, else $CS_AS_OF_DATE, else the latest invoice date."""
    given = given or os.environ.get("CS_AS_OF_DATE") or None
    if given:
        return pd.Timestamp(given)
    return invoices["invoice_date"].max()


def month_start(s: pd.Series) -> pd.Series:
    return s.dt.to_period("M").dt.to_timestamp()


def add_months(dates: pd.Series, months: pd.Series) -> pd.Series:
    """dates + N calendar months, the day clamped to the target month's last day."""
    ordinal = dates.dt.year * 12 + dates.dt.month - 1 + months
    first = pd.to_datetime(pd.DataFrame({"year": ordinal // 12, "month": ordinal % 12 + 1, "day": 1}))
    day = np.minimum(dates.dt.day, first.dt.days_in_month)
    return first + pd.to_timedelta(day - 1, unit="D")


# ----------------------------------------------------------------------------- revenue


def recurring_line_mrr(b: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every recurring line of a non-void invoice with its MRR in USD."""
    lines = b["lines"].copy()
    inv = b["invoices"][["invoice_id", "status"]]
    lines = lines.merge(inv, on="invoice_id", how="left")
    lines = lines[lines["status"] != "void"]  # lines whose invoice is missing are kept
    lines = lines.merge(b["customers"][["customer_id", "account_id"]], on="customer_id", how="left")
    lines = lines.merge(b["plans"][["plan_id", "billing_interval"]], on="plan_id", how="left")
    lines = lines[lines["line_type"] == "recurring"].copy()

    lines["net_amount"] = lines["amount"] - lines["discount_amount"].fillna(0)
    start, end = lines["service_period_start"], lines["service_period_end"]
    lines["service_month"] = month_start(start)

    # months the service period lasts: whole calendar months when it is N of them (a period
    # starting on a month's last day may end on the clamped day), weeks * 12 / 52 for weekly
    # plans, otherwise days / (365.25 / 12)
    days = (end - start).dt.days
    crossed = (end.dt.year - start.dt.year) * 12 + (end.dt.month - start.dt.month)
    start_plus = add_months(start, crossed)
    starts_on_month_end = start.dt.is_month_end
    months = np.where(
        lines["billing_interval"] == "week",
        days.astype(float) * 12 / (7 * 52),
        np.where(
            (crossed >= 1) & ((end == start_plus) | (starts_on_month_end & (end >= start_plus))),
            crossed.astype(float),
            days.astype(float) * 12 / 365.25,
        ),
    )
    lines["service_period_months"] = np.where(days <= 0, np.nan, months)

    # fx: the export's rate of the service month, else the built-in rate; USD is 1
    default = pd.read_csv(DEFAULT_FX)
    usd = default.loc[default["currency"] == REPORTING_CURRENCY, "rate_to_reporting"].iloc[0]
    default["default_rate"] = default["rate_to_reporting"] / usd
    fx = b["fx"].copy()
    fx["rate_month"] = month_start(fx["rate_month"])
    lines = lines.merge(
        fx.rename(columns={"rate_month": "service_month", "rate_to_reporting": "export_rate"}),
        on=["currency", "service_month"], how="left",
    )
    lines = lines.merge(default[["currency", "default_rate"]], on="currency", how="left")
    rate = lines["export_rate"].fillna(lines["default_rate"])
    lines["net_amount_usd"] = np.where(
        lines["currency"] == REPORTING_CURRENCY,
        lines["net_amount"],
        (lines["net_amount"] * rate).round(2),
    )
    lines["mrr"] = (lines["net_amount_usd"] / lines["service_period_months"]).round(6).fillna(0)
    return lines


def month_end_mrr(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """MRR of every account at every month-end (the as-of date in the as-of month), from the
    account's first month with a recurring line to the as-of month."""
    lines = lines[lines["service_period_end"] > lines["service_period_start"]]
    first_month = month_start(lines["service_period_start"]).min()
    as_of_month = as_of.to_period("M").to_timestamp()
    months = pd.DataFrame({"month": pd.date_range(first_month, as_of_month, freq="MS")})
    months["measured_on"] = (months["month"] + pd.offsets.MonthEnd(0)).clip(upper=as_of)

    # which lines cover each measurement day
    covered = lines.merge(months, how="cross")
    covered = covered[
        (covered["service_period_start"] <= covered["measured_on"])
        & (covered["measured_on"] < covered["service_period_end"])
    ]
    mrr = covered.groupby(["account_id", "month"], as_index=False)["mrr"].sum()
    mrr["mrr"] = mrr["mrr"].round(2)

    # every month from the account's first month (days up to the as-of date only)
    started = lines[lines["service_period_start"] <= as_of]
    firsts = started.groupby("account_id", as_index=False)["service_period_start"].min()
    firsts["first_month"] = month_start(firsts["service_period_start"])
    grid = firsts[["account_id", "first_month"]].merge(months, how="cross")
    grid = grid[grid["month"] >= grid["first_month"]]
    monthly = grid.merge(mrr, on=["account_id", "month"], how="left")
    monthly["mrr"] = monthly["mrr"].fillna(0.0)
    monthly["arr"] = (monthly["mrr"] * 12).round(2)
    return monthly[["account_id", "month", "measured_on", "mrr", "arr"]].sort_values(
        ["account_id", "month"]
    ).reset_index(drop=True)


def mrr_movements(monthly: pd.DataFrame) -> pd.DataFrame:
    m = monthly.sort_values(["account_id", "month"]).copy()
    by_account = m.groupby("account_id")["mrr"]
    m["start_mrr"] = by_account.shift(1).fillna(0.0)  # every month is there: shift = month before
    m["highest_so_far"] = by_account.cummax()
    m["highest_earlier_mrr"] = m.groupby("account_id")["highest_so_far"].shift(1).fillna(0.0)
    m["end_mrr"] = m["mrr"]
    m = m[(m["start_mrr"] > 0) | (m["end_mrr"] > 0)].copy()
    start, end = m["start_mrr"], m["end_mrr"]
    m["movement"] = np.select(
        [
            (start == 0) & (end > 0) & (m["highest_earlier_mrr"] == 0),
            (start == 0) & (end > 0),
            (start > 0) & (end == 0),
            end > start,
            end < start,
        ],
        ["new", "reactivation", "churn", "expansion", "contraction"],
        default="unchanged",
    )
    mv = m["movement"]
    m["new_mrr"] = np.where(mv == "new", end, 0.0)
    m["reactivation_mrr"] = np.where(mv == "reactivation", end, 0.0)
    m["expansion_mrr"] = np.where(mv == "expansion", (end - start).round(2), 0.0)
    m["contraction_mrr"] = np.where(mv == "contraction", (start - end).round(2), 0.0)
    m["churn_mrr"] = np.where(mv == "churn", start, 0.0)
    return m[["account_id", "month", "movement", "start_mrr", "new_mrr", "reactivation_mrr",
              "expansion_mrr", "contraction_mrr", "churn_mrr", "end_mrr"]].reset_index(drop=True)


def quarterly_retention(monthly: pd.DataFrame, lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """GRR and NRR of every quarter from the first billed month to the as-of month."""
    as_of_month = as_of.to_period("M").to_timestamp()
    first_billed = month_start(lines["service_period_start"]).min()
    quarters = sorted(set(pd.date_range(first_billed, as_of_month, freq="MS").to_period("Q").start_time))
    accounts = monthly[["account_id"]].drop_duplicates()
    rows = []
    for q in quarters:
        last_month = min(q + pd.DateOffset(months=2), as_of_month)
        calendar_end = q + pd.DateOffset(months=3) - pd.Timedelta(days=1)
        t0 = monthly.loc[monthly["month"] == q - pd.DateOffset(months=1), ["account_id", "arr"]]
        t1 = monthly.loc[monthly["month"] == last_month, ["account_id", "arr"]]
        w = accounts.merge(t0.rename(columns={"arr": "start"}), on="account_id", how="left")
        w = w.merge(t1.rename(columns={"arr": "end"}), on="account_id", how="left").fillna(0.0)
        base = w[w["start"] > 0]
        base_arr = base["start"].sum()
        rows.append({
            "period_start": q,
            "period_end": min(calendar_end, as_of),
            "starting_arr": w["start"].sum(),
            "ending_arr": w["end"].sum(),
            "grr": np.minimum(base["start"], base["end"]).sum() / base_arr if base_arr else np.nan,
            "nrr": base["end"].sum() / base_arr if base_arr else np.nan,
            "logo_churn_rate": (base["end"] == 0).sum() / len(base) if len(base) else np.nan,
        })
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- adoption


def dau_mau_monthly(raw: Path, as_of: pd.Timestamp, monthly: pd.DataFrame) -> pd.DataFrame:
    """Per account and month: MAU (distinct users active in the 28 days up to the month's last
    day, the as-of date in the as-of month), mean DAU over those 28 days, and DAU/MAU; for the
    months the account counts in adoption (DECISIONS.md, account-months): a user provisioned on
    or before the measurement day and not deactivated by the month's first day, or month-end
    MRR above zero (``monthly``: month-end MRR per account and month)."""
    events = pd.read_parquet(raw / "product" / "usage_events.parquet")
    events["event_date"] = events["event_at"].dt.normalize()
    events = events[events["event_date"] <= as_of]
    user_days = events[["account_id", "user_id", "event_date"]].drop_duplicates()

    as_of_month = as_of.to_period("M").to_timestamp()
    first_month = user_days["event_date"].min().to_period("M").to_timestamp()
    out = []
    for month in pd.date_range(first_month, as_of_month, freq="MS"):
        measured_on = min(month + pd.offsets.MonthEnd(0), as_of)
        window = user_days[
            (user_days["event_date"] > measured_on - pd.Timedelta(days=28))
            & (user_days["event_date"] <= measured_on)
        ]
        per_account = window.groupby("account_id").agg(
            mau=("user_id", "nunique"), active_user_days=("user_id", "size")
        ).reset_index()
        per_account["month"] = month
        out.append(per_account)
    result = pd.concat(out, ignore_index=True)

    users = pd.read_csv(raw / "product" / "users.csv",
                        parse_dates=["provisioned_date", "deactivated_date"])
    months = result[["month"]].drop_duplicates()
    months["measured_on"] = (months["month"] + pd.offsets.MonthEnd(0)).clip(upper=as_of)
    provisioned = users.merge(months, how="cross")
    provisioned = provisioned[
        (provisioned["provisioned_date"] <= provisioned["measured_on"])
        & (provisioned["deactivated_date"].isna()
           | (provisioned["deactivated_date"] > provisioned["month"]))
    ]
    counted = pd.concat([
        provisioned[["account_id", "month"]],
        monthly.loc[monthly["mrr"] > 0, ["account_id", "month"]],
    ]).drop_duplicates()
    result = result.merge(counted, on=["account_id", "month"], how="inner")
    result["mean_dau"] = result["active_user_days"] / 28
    result["dau_mau"] = result["mean_dau"] / result["mau"]
    return result[["account_id", "month", "mau", "active_user_days", "mean_dau", "dau_mau"]]


# ----------------------------------------------------------------------------- notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", required=True, type=Path, help="the export folder (data/raw)")
    parser.add_argument("--out", required=True, type=Path, help="folder for the result files")
    parser.add_argument("--as-of", help="reporting date (default: $CS_AS_OF_DATE, else the "
                        "latest invoice date)")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    billing = read_billing(args.raw)
    as_of = as_of_date(billing["invoices"], args.as_of)
    lines = recurring_line_mrr(billing)
    monthly = month_end_mrr(lines, as_of)
    movements = mrr_movements(monthly)
    retention = quarterly_retention(monthly, lines, as_of)
    dau_mau = dau_mau_monthly(args.raw, as_of, monthly)

    args.out.mkdir(parents=True, exist_ok=True)
    movements.to_parquet(args.out / "mrr_movements.parquet", index=False)
    retention.to_parquet(args.out / "retention_quarterly.parquet", index=False)
    dau_mau.to_parquet(args.out / "dau_mau_monthly.parquet", index=False)
    latest = retention.iloc[-1]
    print(
        f"as of {as_of.date()}: {len(movements):,} MRR movement rows, {len(retention)} quarters "
        f"(latest from {latest['period_start'].date()}: GRR {latest['grr']:.4f}, NRR "
        f"{latest['nrr']:.4f}), {len(dau_mau):,} account-months with active users; "
        f"{time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
