"""Command line: ``python -m sample_company --accounts 200 --seed 7 --out data/raw``."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from sample_company.generator import DEFAULT_AS_OF, generate


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sample_company",
        description=(
            "Generate a deterministic sample SaaS company: every export of the contract "
            "(CRM, billing, support, product, surveys) written to <out>/<system>/<entity>.csv "
            "(usage events as Parquet), plus the ground truth the pipeline must reproduce in "
            "<out>/_ground_truth/ (manifest.json, account_month_mrr.csv, "
            "account_usage_at_as_of.csv, planted.json). Files the generator wrote before are "
            "removed first; nothing else in <out> is touched. Same arguments, same bytes."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=200,
        help="CRM accounts to create (customers, churned customers and trials); "
        "usage events scale with it, about 10,000 per account over 36 months",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--out", default="data/raw", help="export folder (the loader's raw dir)")
    parser.add_argument(
        "--as-of",
        type=_date,
        default=DEFAULT_AS_OF,
        help="export date: nothing happens after it; invoices run up to the "
        "billing period that covers it",
    )
    parser.add_argument(
        "--months", type=int, default=36, help="months of history before the as-of month"
    )
    parser.add_argument(
        "--usage-scale",
        type=float,
        default=1.0,
        help="multiplier on the product usage event rate (e.g. 0.1 for fast tests)",
    )
    args = parser.parse_args(argv)
    if args.accounts < 1:
        parser.error("--accounts must be at least 1")
    if args.months < 3:
        parser.error("--months must be at least 3")
    summary = generate(
        args.out,
        accounts=args.accounts,
        seed=args.seed,
        as_of=args.as_of,
        months=args.months,
        usage_scale=args.usage_scale,
    )
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
