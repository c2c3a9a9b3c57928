from orchestration.defs.dbt.assets import cs_dbt_assets, dbt_resource

__all__ = ["cs_dbt_assets", "dbt_resource"]
