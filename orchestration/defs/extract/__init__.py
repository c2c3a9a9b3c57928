from orchestration.defs.extract.assets import build_export_specs, build_extract_assets

__all__ = ["build_extract_assets", "build_export_specs"]
