"""Headline figures of the metrics marts, for the Dagster UI.

Each metrics mart declares its headline in its dbt YAML (``config.meta.headline``):

    headline:
      where: "slice_type = 'all' and period_type = 'quarter' and not is_partial"
      latest_by: period_start
      figures:
        grr: "max(grr)"

``figures`` are SQL aggregates over the mart's rows that match ``where`` and carry the latest
``latest_by`` among them (the latest complete quarter above). The figures land on the mart's
materialization in the UI, so a person sees what changed without opening a query tool.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any

import duckdb


def headline_config(node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``headline`` block of a manifest node, or None."""
    meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
    headline = meta.get("headline")
    return headline if isinstance(headline, Mapping) and headline.get("figures") else None


def headline_sql(relation: str, config: Mapping[str, Any]) -> str:
    where = config.get("where") or "1 = 1"
    latest_by = config["latest_by"]
    figures = ", ".join(f"{expr} as {name}" for name, expr in config["figures"].items())
    return (
        f"select {figures} from {relation} "
        f"where ({where}) and {latest_by} = (select max({latest_by}) from {relation} where ({where}))"
    )


def _plain(value: Any) -> Any:
    """A metadata-friendly value: float for decimals, ISO text for dates, None kept."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def headline_figures(
    con: duckdb.DuckDBPyConnection, relation: str, config: Mapping[str, Any]
) -> dict[str, Any]:
    """Figure name -> value for the mart's latest matching period (empty when no row matches)."""
    cursor = con.execute(headline_sql(relation, config))
    row = cursor.fetchone()
    names = [d[0] for d in cursor.description]
    if row is None or all(v is None for v in row):
        return {}
    return {name: _plain(value) for name, value in zip(names, row, strict=True)}


def row_count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    return con.execute(f"select count(*) from {relation}").fetchone()[0]
