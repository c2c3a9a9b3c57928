from orchestration.defs.operations.sensors import build_export_arrival_sensor

__all__ = ["build_export_arrival_sensor"]
