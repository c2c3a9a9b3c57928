from orchestration.defs.extract.assets import build_extract_assets, build_export_specs

__all__ = ["build_extract_assets", "build_export_specs"]
