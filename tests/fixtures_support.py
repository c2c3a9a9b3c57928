"""Helpers that turn hand-made or outside fixtures into export files, and build dbt on them.

- ``write_export`` writes one contract table as CSV (columns in contract order, missing values
  empty), so a test only spells out the columns it cares about.
- ``write_empty_exports`` writes a header-only CSV for every required table not already
  written, so a test can load a partial company with ``orchestration.lib.loader.load_all``.
- ``write_mrr_playbook_exports`` turns the dbt-labs mrr-playbook subscription periods
  (``../shared/fixtures/mrr_playbook``) into billing and CRM exports.
- ``dbt_build`` runs ``dbt build`` against a DuckDB file in a temporary folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from orchestration.lib.contract import TABLES, get_table

REPO = Path(__file__).resolve().parents[1]
DBT_DIR = REPO / "dbt_project"
FIXTURES = REPO.parent / "shared" / "fixtures"
MRR_PLAYBOOK = FIXTURES / "mrr_playbook"
BIN = Path(sys.executable).parent


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_export(raw_dir: Path, table: str, rows: Iterable[Mapping[str, object]]) -> Path:
    """Write ``rows`` as the export of contract table ``table`` (e.g. ``billing_invoices``).

    The header is the table's full column list in contract order; a column a row leaves out
    is written empty. Unknown keys are an error, so a typo cannot silently drop a value.
    """
    spec = get_table(table)
    columns = spec.column_names
    path = Path(raw_dir) / spec.system / f"{spec.entity}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            unknown = set(row) - set(columns)
            if unknown:
                raise KeyError(f"{table}: no column(s) {sorted(unknown)} in the contract")
            writer.writerow([_cell(row.get(c)) for c in columns])
    return path


def write_empty_exports(raw_dir: Path, include_optional: bool = False) -> list[Path]:
    """A header-only CSV for every required contract table that has no export yet.

    Optional tables are left out (the loader loads them empty) unless ``include_optional``.
    Returns the files written.
    """
    written = []
    for spec in TABLES:
        if spec.optional and not include_optional:
            continue
        folder = Path(raw_dir) / spec.system
        if any((folder / f"{spec.entity}.{ext}").exists() for ext in ("csv", "parquet", "json")):
            continue
        written.append(write_export(raw_dir, spec.name, []))
    return written


# --------------------------------------------------------------------------- mrr playbook


@dataclass(frozen=True)
class SubscriptionPeriod:
    subscription_id: str
    customer_id: str
    start_date: dt.date
    end_date: dt.date  # exclusive
    monthly_amount: str


def account_id_for(customer_id: str | int) -> str:
    """The CRM account id a playbook customer becomes (customer 7 -> ``acct_007``)."""
    return f"acct_{int(customer_id):03d}"


def customer_id_for_account(account_id: str) -> str:
    """Inverse of ``account_id_for``: ``acct_007`` -> ``7``."""
    return str(int(account_id.removeprefix("acct_")))


def read_subscription_periods(path: Path = MRR_PLAYBOOK / "subscription_periods.csv"
                              ) -> list[SubscriptionPeriod]:
    with Path(path).open(newline="") as fh:
        return [
            SubscriptionPeriod(
                subscription_id=r["subscription_id"],
                customer_id=r["customer_id"],
                start_date=dt.date.fromisoformat(r["start_date"]),
                end_date=dt.date.fromisoformat(r["end_date"]),
                monthly_amount=r["monthly_amount"],
            )
            for r in csv.DictReader(fh)
        ]


def _month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months from ``start`` up to, not including, ``end``."""
    months, current = [], start.replace(day=1)
    while current < end:
        months.append(current)
        current = (current.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return months


def write_mrr_playbook_exports(raw_dir: Path, as_of: dt.date,
                               periods: list[SubscriptionPeriod] | None = None) -> None:
    """Billing and CRM exports for the mrr-playbook subscription periods.

    Each period becomes a subscription on one monthly USD plan, and each month of the period
    (end exclusive) one paid invoice with one recurring line at the period's monthly amount,
    service period = that calendar month. Each playbook customer becomes a billing customer
    ``cus_<n>`` of CRM account ``account_id_for(n)``, owned by one CSM. Every other required
    table is written header-only.
    """
    periods = periods if periods is not None else read_subscription_periods()
    raw_dir = Path(raw_dir)
    first_start: dict[str, dt.date] = {}
    for p in periods:
        first_start[p.customer_id] = min(p.start_date, first_start.get(p.customer_id, p.start_date))
    customers = sorted(first_start, key=int)

    write_export(raw_dir, "crm_csm_roster", [
        {"csm_id": "csm_1", "csm_name": "Playbook CSM", "start_date": "2017-01-01"},
    ])
    write_export(raw_dir, "crm_accounts", [
        {"account_id": account_id_for(c), "account_name": f"Playbook customer {c}",
         "segment": "smb", "region": "NA", "owner_csm_id": "csm_1",
         "created_date": first_start[c]}
        for c in customers
    ])
    write_export(raw_dir, "billing_customers", [
        {"customer_id": f"cus_{c}", "account_id": account_id_for(c),
         "customer_name": f"Playbook customer {c}", "currency": "USD",
         "created_date": first_start[c]}
        for c in customers
    ])
    write_export(raw_dir, "billing_plans", [
        {"plan_id": "plan_monthly", "plan_name": "Monthly", "billing_interval": "month",
         "interval_count": 1, "currency": "USD"},
    ])
    write_export(raw_dir, "billing_subscriptions", [
        {"subscription_id": f"sub_{p.subscription_id}", "customer_id": f"cus_{p.customer_id}",
         "plan_id": "plan_monthly",
         "status": "canceled" if p.end_date <= as_of else "active",
         "seats": 1, "start_date": p.start_date,
         "canceled_date": p.end_date if p.end_date <= as_of else None}
        for p in periods
    ])

    invoices, lines, payments = [], [], []
    for p in periods:
        for month in _month_starts(p.start_date, p.end_date):
            key = f"{p.subscription_id}_{month:%Y%m}"
            next_month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            invoices.append({
                "invoice_id": f"inv_{key}", "customer_id": f"cus_{p.customer_id}",
                "invoice_date": month, "due_date": month + dt.timedelta(days=30),
                "status": "paid", "currency": "USD", "total_amount": p.monthly_amount,
                "tax_amount": 0,
            })
            lines.append({
                "invoice_line_id": f"il_{key}", "invoice_id": f"inv_{key}",
                "customer_id": f"cus_{p.customer_id}",
                "subscription_id": f"sub_{p.subscription_id}", "plan_id": "plan_monthly",
                "line_type": "recurring", "quantity": 1, "amount": p.monthly_amount,
                "discount_amount": 0, "currency": "USD",
                "service_period_start": month, "service_period_end": next_month,
            })
            payments.append({
                "payment_id": f"pay_{key}", "invoice_id": f"inv_{key}", "payment_date": month,
                "amount": p.monthly_amount, "currency": "USD", "status": "succeeded",
            })
    write_export(raw_dir, "billing_invoices", invoices)
    write_export(raw_dir, "billing_invoice_lines", lines)
    write_export(raw_dir, "billing_payments", payments)
    write_empty_exports(raw_dir)


# --------------------------------------------------------------------------- dbt


def reuse_last_parse(target_path: Path) -> None:
    """Start a dbt target folder from the project's last parse (the session's ``dbt parse``,
    tests/conftest.py), as every refresh does (``start_from_latest_parse``)."""
    from orchestration.lib.dbt_project import start_from_latest_parse

    target_path.mkdir(parents=True, exist_ok=True)
    start_from_latest_parse(target_path, [DBT_DIR / "target"])


def dbt_build(db_path: Path, target_dir: Path, select: list[str] | None = None,
              dbt_vars: Mapping[str, object] | None = None, command: str = "build",
              indirect_selection: str = "buildable", exclude: list[str] | None = None,
              full_refresh: bool = False) -> subprocess.CompletedProcess:
    """Run ``dbt <command>`` on the DuckDB file ``db_path`` (already loaded into ``raw``).

    Target and log folders go under ``target_dir`` so parallel runs never share state. With a
    selection, tests are picked ``buildable`` by default: a test runs when all the models it
    reads are built, so a relationships test from an unselected model (say support tickets ->
    accounts) does not run against a table that was never built.
    Raises ``AssertionError`` with dbt's output when dbt fails.
    """
    target_dir = Path(target_dir)
    reuse_last_parse(target_dir / "target")
    env = {
        **os.environ,
        "CS_BUILD_DB": str(db_path),
        "CS_DUCKDB_TEMP_DIR": str(target_dir / "duckdb_tmp"),
        "DBT_TARGET": "duckdb",
    }
    args = [
        str(BIN / "dbt"), command,
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
        "--target-path", str(target_dir / "target"), "--log-path", str(target_dir / "logs"),
    ]
    if select:
        args += ["--select", *select, "--indirect-selection", indirect_selection]
    if exclude:
        args += ["--exclude", *exclude]
    if full_refresh:
        args.append("--full-refresh")
    if dbt_vars:
        inner = ", ".join(f"{k}: {_cell(v)}" for k, v in dbt_vars.items())
        args += ["--vars", "{" + inner + "}"]
    done = subprocess.run(args, check=False, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"dbt {command} failed:\n{done.stdout[-20000:]}\n{done.stderr}")
    return done
