from orchestration.defs.report.assets import build_report_asset

__all__ = ["build_report_asset"]
