from orchestration.defs.publish.assets import build_publish_asset

__all__ = ["build_publish_asset"]
