{#- METRICS.md, KPI summary: at most seven headline KPIs (var kpi_summary_max_enabled). Returns a
    row when seed_kpi_summary enables more. -#}
select count(*) as enabled_kpis
from {{ ref('seed_kpi_summary') }}
where enabled
having count(*) > {{ var('kpi_summary_max_enabled') }}
