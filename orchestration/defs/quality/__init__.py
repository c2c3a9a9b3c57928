"""The raw data-quality gate (see ``checks.py``): GX suites, foreign keys and volume."""

from orchestration.defs.quality.checks import build_raw_quality_checks

__all__ = ["build_raw_quality_checks", "defs", "raw_quality_checks"]

raw_quality_checks = build_raw_quality_checks()
"""The checks of every contract table, built once at import (the suites are read here)."""


def build_defs():
    import dagster as dg

    return dg.Definitions(asset_checks=raw_quality_checks)


defs = build_defs()
