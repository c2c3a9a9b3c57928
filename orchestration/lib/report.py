"""The KPI report: one static, self-contained HTML page from the published marts.

    build_report(published_db, out_path) -> ReportSummary

The one slide a customer-success leader sends each week: the headline KPIs of the last closed
month as tiles (value, change from the prior month, target), four trend charts (ARR and its
movements, GRR / NRR by quarter, health bands, adoption by segment), the largest renewals due in
the next 90 days and the open alerts per owner.

Everything comes from the published DuckDB file, opened read-only (the file analysts query); no
number is computed here that a mart does not already hold, apart from ARR = MRR * 12 for the
movements and band shares of ARR. Charts are matplotlib SVGs embedded as data URIs, the CSS is
inline and there is no script: the page opens offline, from a mail attachment or a file share.

Formatting rules (the browser test and tests/test_report.py rely on them):
  fraction     value * 100 with one decimal and '%'          0.998194 -> 99.8%
  money        '$' and thousands separators, no decimals     46869.6  -> $46,870
  nps_points   no decimals                                   20.75    -> 21
  missing      'n/a'
Changes use the same unit (fractions in percentage points: '+0.7 pts').
"""

from __future__ import annotations

import base64
import html
import io
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib is imported where a chart is drawn, not with this module: every process that
# loads the Dagster definitions (each run, the UI) imports this module, and matplotlib adds
# about a second to that for a report drawn once at the end of a run.

TILE_PERIOD_TYPE = "month"  # tiles show the last closed month, compared with the month before
TREND_MONTHS = 12
TREND_QUARTERS = 8
TOP_RENEWALS = 8
CHART_SIZE = (4.2, 2.55)  # inches; the page scales the SVG to its column

MINUS = "\u2212"
BAND_COLOURS = {"green": "#2da44e", "yellow": "#d4a72c", "red": "#cf222e"}
SERIES_COLOURS = ["#0969da", "#8250df", "#bf3989", "#1a7f37", "#bc4c00", "#6e7781"]
FONT_STACK = ["Helvetica Neue", "Helvetica", "Arial", "Liberation Sans", "DejaVu Sans"]

# Deterministic, self-contained SVG: text as <text> in the page's font, stable ids, no date.
CHART_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "cs-metrics-kpi-report",
    "font.family": "sans-serif",
    "font.sans-serif": FONT_STACK,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#d0d7de",
    "axes.labelcolor": "#57606a",
    "xtick.color": "#57606a",
    "ytick.color": "#57606a",
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#eaeef2",
    "grid.linewidth": 0.8,
    "legend.frameon": False,
    "legend.fontsize": 8,
}


@dataclass(frozen=True)
class ReportSummary:
    """What the report holds, for the asset's metadata and the command line."""

    path: Path
    as_of: date | None
    period_label: str
    tiles: int
    charts: int
    renewals: int
    open_alerts: int
    headline: dict[str, str] = field(default_factory=dict)  # KPI label -> value as shown
    bytes: int = 0


# -- formatting ------------------------------------------------------------------------------

def format_value(value: float | None, unit: str) -> str:
    """A KPI value as the tiles show it (see the module docstring)."""
    if value is None or pd.isna(value):
        return "n/a"
    if unit == "fraction":
        return f"{value * 100:.1f}%"
    if unit == "money":
        return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"
    return f"{value:.0f}"


def format_change(change: float | None, unit: str) -> str:
    """A signed change from the prior period, in the KPI's unit (fractions in points)."""
    if change is None or pd.isna(change):
        return "n/a"
    shown = abs(change) * 100 if unit == "fraction" else abs(change)
    sign = "" if round(shown, 1 if unit == "fraction" else 0) == 0 else "+" if change > 0 else MINUS
    if unit == "fraction":
        return f"{sign}{abs(change) * 100:.1f} pts"
    if unit == "money":
        return f"{sign}${abs(change):,.0f}"
    return f"{sign}{abs(change):.0f}"


def compact_money(value: float) -> str:
    if abs(value) >= 1e6:
        return f"${value / 1e6:.1f}M"
    if abs(value) >= 1e3:
        return f"${value / 1e3:.0f}k"
    return f"${value:,.0f}"


def month_label(d: date) -> str:
    return d.strftime("%B %Y")


def quarter_label(d: date) -> str:
    return f"Q{(d.month - 1) // 3 + 1} {d.year}"


def esc(value: object) -> str:
    return html.escape("" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value))


# -- queries ---------------------------------------------------------------------------------

def _df(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def read_marts(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The few dozen rows the page shows, one query per section."""
    return {
        # The period the tiles show: the latest closed month of the KPI summary.
        "kpis": _df(con, """
            with latest as (
                select max(period_end) as period_end
                from marts.metrics_kpi_summary
                where period_type = ? and not is_partial
            )
            select kpi, kpi_label, display_order, period_start, period_end, value, prior_period_start,
                   prior_value, change_from_prior, is_better_than_prior, target, is_on_target,
                   direction, indicator_type, unit
            from marts.metrics_kpi_summary
            where period_type = ? and not is_partial
              and period_end = (select period_end from latest)
            order by display_order, kpi
        """, [TILE_PERIOD_TYPE, TILE_PERIOD_TYPE]),
        # The open quarter to date, as a second line on each tile.
        "kpis_qtd": _df(con, """
            select kpi, period_start, period_end, is_partial, value, target, is_on_target
            from marts.metrics_kpi_summary
            where period_type = 'quarter' and is_current
        """),
        "as_of": _df(con, """
            select max(period_end) as as_of_date from marts.metrics_kpi_summary where is_current
        """),
        "arr": _df(con, f"""
            select period_start as month, starting_arr, ending_arr,
                   new_mrr * 12 as new_arr, reactivation_mrr * 12 as reactivation_arr,
                   expansion_mrr * 12 as expansion_arr, contraction_mrr * 12 as contraction_arr,
                   churn_mrr * 12 as churn_arr
            from marts.metrics_retention
            where period_type = 'month' and slice_type = 'all' and not is_partial
            order by period_start desc
            limit {TREND_MONTHS}
        """).sort_values("month"),
        "retention_quarters": _df(con, f"""
            select period_start as quarter, grr, nrr
            from marts.metrics_retention
            where period_type = 'quarter' and slice_type = 'all' and not is_partial
            order by period_start desc
            limit {TREND_QUARTERS}
        """).sort_values("quarter"),
        "quarter_targets": _df(con, """
            select kpi, target
            from marts.metrics_kpi_summary
            where period_type = 'quarter' and kpi in ('grr', 'nrr') and target is not null
            qualify row_number() over (partition by kpi order by period_start desc) = 1
        """),
        # Month-end band history (the backtest mart keeps every month-end snapshot).
        "health": _df(con, f"""
            with month_ends as (
                select distinct snapshot_date
                from marts.metrics_health_backtest
                order by snapshot_date desc
                limit {TREND_MONTHS}
            )
            select snapshot_date,
                   sum(arr) filter (where health_band = 'green') as arr_green,
                   sum(arr) filter (where health_band = 'yellow') as arr_yellow,
                   sum(arr) filter (where health_band = 'red') as arr_red,
                   sum(arr) filter (where health_band in ('green', 'yellow', 'red')) as arr_scored
            from marts.metrics_health_backtest
            where snapshot_date in (select snapshot_date from month_ends)
            group by snapshot_date
            order by snapshot_date
        """),
        "adoption": _df(con, f"""
            with months as (
                select distinct month from marts.metrics_adoption
                where slice_type = 'segment' and not is_partial
                order by month desc
                limit {TREND_MONTHS}
            )
            select month, slice_value as segment, arr_weighted_mean_adoption_rate as adoption_rate
            from marts.metrics_adoption
            where slice_type = 'segment' and month in (select month from months)
            order by month, segment
        """),
        "renewals": _df(con, f"""
            select account_name, segment, owner_csm_name, due_date, days_until_due, due_bucket,
                   due_quarter, expiring_arr, outcome, renewal_stage, health_band,
                   arr_rank_in_due_quarter, is_top5_of_quarter
            from marts.renewals_upcoming
            order by expiring_arr desc nulls last, due_date, account_name
            limit {TOP_RENEWALS}
        """),
        "renewals_total": _df(con, """
            select count(*) as renewals, coalesce(sum(expiring_arr), 0) as expiring_arr
            from marts.renewals_upcoming
        """),
        "alerts": _df(con, """
            select coalesce(owner_csm_name, 'Unassigned') as owner,
                   count(*) filter (where severity = 'high') as high,
                   count(*) filter (where severity = 'medium') as medium,
                   count(*) filter (where severity = 'low') as low,
                   count(*) as total,
                   max(days_open) as longest_open_days
            from marts.fct_alerts
            where is_open
            group by all
            order by total desc, owner
        """),
    }


# -- charts ----------------------------------------------------------------------------------

def _svg_data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure() -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=CHART_SIZE, layout="constrained")


def _percent_formatter():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


def _money_axis(ax) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: compact_money(v)))


def _period_ticks(ax, starts: pd.Series, quarters: bool = False) -> None:
    """One tick per period; the year under the first one and under each January."""
    starts = list(pd.to_datetime(starts))
    labels = []
    for i, d in enumerate(starts):
        name = f"Q{(d.month - 1) // 3 + 1}" if quarters else d.strftime("%b")
        # a December followed by a January would print two years side by side: keep January's
        first_with_year = i == 0 and not (len(starts) > 1 and starts[1].month == 1 and d.month != 1)
        labels.append(f"{name}\n{d.year}" if d.month == 1 or first_with_year else name)
    ax.set_xticks(range(len(starts)))
    ax.set_xticklabels(labels)


def chart_arr(df: pd.DataFrame) -> str | None:
    """Month-end ARR (line) over the monthly movements in ARR terms (bars, losses below 0)."""
    if df.empty:
        return None
    x = range(len(df))
    fig = _figure()
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    top.plot(x, df["ending_arr"], color=SERIES_COLOURS[0], marker="o", markersize=3, linewidth=1.8)
    _money_axis(top)
    up = [("new_arr", "New", "#2da44e"), ("reactivation_arr", "Reactivation", "#8bd5a0"),
          ("expansion_arr", "Expansion", "#116329")]
    down = [("contraction_arr", "Contraction", "#f5a3a3"), ("churn_arr", "Churn", "#cf222e")]
    for moves, sign in ((up, 1), (down, -1)):
        base = pd.Series(0.0, index=df.index)
        for col, label, colour in moves:
            bottom.bar(x, sign * df[col], bottom=base, color=colour, width=0.7, label=label)
            base = base + sign * df[col]
    bottom.axhline(0, color="#8c959f", linewidth=0.8)
    _money_axis(bottom)
    _period_ticks(bottom, df["month"])
    fig.legend(loc="outside lower center", ncol=5, fontsize=7, handlelength=1, columnspacing=0.8)
    return _svg_data_uri(fig)


def chart_retention(df: pd.DataFrame, targets: pd.DataFrame) -> str | None:
    """GRR and NRR of each closed quarter, with the quarterly targets as dashed lines."""
    if df.empty:
        return None
    fig = _figure()
    ax = fig.subplots()
    x = range(len(df))
    target = dict(zip(targets["kpi"], targets["target"], strict=True))
    for col, label, colour in [("grr", "GRR", SERIES_COLOURS[0]), ("nrr", "NRR", SERIES_COLOURS[1])]:
        ax.plot(x, df[col], color=colour, marker="o", markersize=3.5, linewidth=1.8, label=label)
        if col in target:
            ax.axhline(target[col], color=colour, linestyle=(0, (4, 3)), linewidth=0.9, alpha=0.7)
            ax.annotate(f"{label} target {target[col] * 100:.0f}%", (len(df) - 1, target[col]),
                        xytext=(0, 3), textcoords="offset points", ha="right", va="bottom",
                        fontsize=7, color=colour)
    ax.yaxis.set_major_formatter(_percent_formatter())
    _period_ticks(ax, df["quarter"], quarters=True)
    fig.legend(loc="outside lower center", ncol=2, handlelength=1.5)
    return _svg_data_uri(fig)


def chart_health(df: pd.DataFrame) -> str | None:
    """Share of scored ARR per health band at each month end (100% stacked bars)."""
    if df.empty:
        return None
    fig = _figure()
    ax = fig.subplots()
    x = range(len(df))
    base = pd.Series(0.0, index=df.index)
    for band in ("green", "yellow", "red"):
        share = df[f"arr_{band}"].fillna(0) / df["arr_scored"]
        ax.bar(x, share, bottom=base, color=BAND_COLOURS[band], width=0.75, label=band.capitalize())
        base = base + share
    ax.yaxis.set_major_formatter(_percent_formatter())
    ax.set_ylim(0, 1)
    ax.grid(False)
    _period_ticks(ax, df["snapshot_date"])
    fig.legend(loc="outside lower center", ncol=3, handlelength=1)
    return _svg_data_uri(fig)


def chart_adoption(wide: pd.DataFrame) -> str | None:
    """ARR-weighted mean adoption rate per segment, month by month (one line per segment)."""
    if wide.empty or wide.isna().all().all():
        return None
    fig = _figure()
    ax = fig.subplots()
    x = range(len(wide))
    for i, segment in enumerate(wide.columns):
        ax.plot(x, wide[segment], color=SERIES_COLOURS[i % len(SERIES_COLOURS)], marker="o",
                markersize=3, linewidth=1.8, label=str(segment).replace("_", " "))
    ax.yaxis.set_major_formatter(_percent_formatter())
    _period_ticks(ax, pd.Series(wide.index))
    fig.legend(loc="outside lower center", ncol=min(len(wide.columns), 4), handlelength=1.5)
    return _svg_data_uri(fig)


# -- page ------------------------------------------------------------------------------------

CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#f6f8fa; --good:#1a7f37; --bad:#cf222e; }
* { box-sizing: border-box; }
body { margin: 0; padding: 18px 24px; background: var(--bg); color: var(--fg);
       font: 14px/1.35 -apple-system, BlinkMacSystemFont, "Segoe UI", "Helvetica Neue", Helvetica,
       Arial, "Liberation Sans", sans-serif; }
header { display: flex; align-items: baseline; justify-content: space-between; gap: 16px;
         margin-bottom: 12px; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 14px; margin: 0 0 6px; }
.chart h2 { margin: 0; }
.chart .sub { font-size: 12px; margin-bottom: 4px; }
.muted, .sub { color: var(--muted); }
.sub { font-size: 13px; }
.grid { display: grid; gap: 12px; margin-bottom: 12px; }
.tiles { grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); }
.charts { grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); }
.tables { grid-template-columns: 3fr 2fr; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.tile .label { font-size: 12.5px; color: var(--muted); min-height: 2.6em; }
.tile .tag { font-size: 10.5px; text-transform: uppercase; letter-spacing: .04em; border: 1px solid var(--line);
             border-radius: 9px; padding: 0 6px; margin-left: 4px; white-space: nowrap; }
.tile .value { font-size: 28px; font-weight: 650; margin: 2px 0; font-variant-numeric: tabular-nums; }
.tile .delta, .tile .target, .tile .qtd { font-size: 12px; }
.good { color: var(--good); } .bad { color: var(--bad); } .neutral { color: var(--muted); }
.chart img { width: 100%; height: auto; display: block; }
.empty { color: var(--muted); padding: 24px 0; text-align: center; }
table { width: 100%; border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; }
tfoot td { font-weight: 600; border-bottom: 0; }
.band { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 5px; }
.band-green { background: #2da44e; } .band-yellow { background: #d4a72c; } .band-red { background: #cf222e; }
.band-none { background: #d1d9e0; }
.star { color: #bf8700; }
.outcome-churned { color: var(--bad); font-weight: 600; } .outcome-renewed { color: var(--good); }
footer { font-size: 12px; color: var(--muted); }
"""


def _tile(row: pd.Series, qtd: pd.Series | None) -> str:
    unit = row["unit"]
    change = row["change_from_prior"]
    better = row["is_better_than_prior"]
    if pd.isna(change):
        delta = '<div class="delta neutral">no prior period</div>'
    else:
        arrow = "\u25b2" if change > 0 else "\u25bc" if change < 0 else "\u25cf"
        tone = "neutral" if change == 0 or pd.isna(better) else "good" if bool(better) else "bad"
        prior = f"{format_value(row['prior_value'], unit)} in {month_label(row['prior_period_start'])}"
        delta = (f'<div class="delta {tone}" title="{esc(prior)}">{arrow} {esc(format_change(change, unit))}'
                 f' <span class="muted">vs {esc(row["prior_period_start"].strftime("%b"))}</span></div>')
    if pd.isna(row["target"]):
        target = '<div class="target neutral">no target</div>'
    elif pd.isna(row["is_on_target"]):
        target = f'<div class="target neutral">target {esc(format_value(row["target"], unit))}</div>'
    else:
        met = bool(row["is_on_target"])
        verdict = "\u2713 met" if met else "\u2717 missed"
        target = (f'<div class="target {"good" if met else "bad"}">{verdict}'
                  f' target {esc(format_value(row["target"], unit))}</div>')
    qtd_html = ""
    if qtd is not None:
        quarter = quarter_label(qtd["period_start"])
        label = quarter.split()[0] + " to date" if bool(qtd["is_partial"]) else quarter
        tone = "neutral" if pd.isna(qtd["is_on_target"]) else "good" if bool(qtd["is_on_target"]) else "bad"
        qtd_html = (f'<div class="qtd muted">{esc(label)}: <span class="{tone}">'
                    f'{esc(format_value(qtd["value"], unit))}</span></div>')
    direction = "higher is better" if row["direction"] == "higher_is_better" else "lower is better"
    return (
        f'<div class="card tile" data-kpi="{esc(row["kpi"])}" data-unit="{esc(unit)}" '
        f'data-direction="{esc(row["direction"])}" title="{esc(direction)}">'
        f'<div class="label">{esc(row["kpi_label"])}<span class="tag">{esc(row["indicator_type"])}</span></div>'
        f'<div class="value">{esc(format_value(row["value"], unit))}</div>'
        f"{delta}{target}{qtd_html}</div>"
    )


def _chart(name: str, title: str, subtitle: str, uri: str | None) -> str:
    body = f'<img src="{uri}" alt="{esc(title)}">' if uri else '<div class="empty">No data yet</div>'
    return (f'<div class="card chart" data-chart="{esc(name)}"><h2>{esc(title)}</h2>'
            f'<div class="sub">{esc(subtitle)}</div>{body}</div>')


def _card(card_id: str, title: str, body: str) -> str:
    return f'<div class="card" id="{card_id}"><h2>{title}</h2>{body}</div>'


def _renewals_table(df: pd.DataFrame, totals: pd.DataFrame) -> str:
    n, arr = int(totals["renewals"].iloc[0]), float(totals["expiring_arr"].iloc[0])
    title = (f'Largest renewals due in the next 90 days <span class="muted">'
             f"({n} due, {esc(compact_money(arr))} ARR)</span>")
    if df.empty:
        return _card("renewals", title, '<div class="empty">No renewals due in the next 90 days</div>')
    rows = []
    for r in df.itertuples(index=False):
        band = r.health_band if isinstance(r.health_band, str) else None
        star = ""
        if bool(r.is_top5_of_quarter):
            star = (f' <span class="star" title="top 5 of {esc(quarter_label(r.due_quarter))} by ARR">'
                    "\u2605</span>")
        rows.append(
            f'<tr data-account="{esc(r.account_name)}"><td>{esc(r.account_name)}{star}</td>'
            f'<td>{esc(str(r.segment).replace("_", " "))}</td><td>{esc(r.owner_csm_name)}</td>'
            f'<td>{esc(r.due_date.isoformat())} <span class="muted">({int(r.days_until_due)} d)</span></td>'
            f'<td class="num">{esc(format_value(r.expiring_arr, "money"))}</td>'
            f'<td><span class="band band-{band or "none"}"></span>{esc(band or "no score")}</td>'
            f'<td class="outcome-{esc(r.outcome)}">{esc(r.outcome)}</td></tr>'
        )
    head = ("<tr><th>Account</th><th>Segment</th><th>Owner</th><th>Due</th><th class=num>Expiring ARR</th>"
            "<th>Health</th><th>Outcome</th></tr>")
    note = '<div class="sub">\u2605 one of the five largest renewals of its quarter</div>'
    return _card("renewals", title,
                 f'<table><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>{note}')


def _alerts_table(df: pd.DataFrame) -> str:
    if df.empty:
        return _card("alerts", "Open alerts by owner", '<div class="empty">No open alerts</div>')
    total = int(df["total"].sum())
    rows = "".join(
        f'<tr data-owner="{esc(r.owner)}"><td>{esc(r.owner)}</td><td class="num">{int(r.high)}</td>'
        f'<td class="num">{int(r.medium)}</td><td class="num">{int(r.low)}</td>'
        f'<td class="num total">{int(r.total)}</td><td class="num">{int(r.longest_open_days)}</td></tr>'
        for r in df.itertuples(index=False)
    )
    head = ("<tr><th>Owner</th><th class=num>High</th><th class=num>Medium</th><th class=num>Low</th>"
            "<th class=num>Total</th><th class=num>Longest open (days)</th></tr>")
    foot = (f'<tr><td>All owners</td><td class="num">{int(df["high"].sum())}</td>'
            f'<td class="num">{int(df["medium"].sum())}</td><td class="num">{int(df["low"].sum())}</td>'
            f'<td class="num">{total}</td><td></td></tr>')
    return _card("alerts", f'Open alerts by owner <span class="muted">({total})</span>',
                 f"<table><thead>{head}</thead><tbody>{rows}</tbody><tfoot>{foot}</tfoot></table>")


def render_html(data: dict[str, pd.DataFrame], generated_at: datetime) -> tuple[str, dict]:
    """The page and the facts the summary reports."""
    kpis = data["kpis"]
    as_of = data["as_of"]["as_of_date"].iloc[0] if not data["as_of"].empty else None
    as_of = None if as_of is None or pd.isna(as_of) else pd.Timestamp(as_of).date()
    for col in ("period_start", "period_end", "prior_period_start"):
        kpis[col] = pd.to_datetime(kpis[col]).dt.date
    qtd = data["kpis_qtd"].assign(period_start=lambda d: pd.to_datetime(d["period_start"]).dt.date)
    qtd_by_kpi = {r["kpi"]: r for _, r in qtd.iterrows()}

    if kpis.empty:
        period_label = "no closed month yet"
        tiles_html = '<div class="card empty">No KPIs yet: the KPI summary has no closed month</div>'
    else:
        start = kpis["period_start"].iloc[0]
        period_label = month_label(start)
        tiles_html = "".join(_tile(r, qtd_by_kpi.get(r["kpi"])) for _, r in kpis.iterrows())

    renewals = data["renewals"].assign(
        due_date=lambda d: pd.to_datetime(d["due_date"]).dt.date,
        due_quarter=lambda d: pd.to_datetime(d["due_quarter"]).dt.date,
    )
    arr, health = data["arr"], data["health"][data["health"]["arr_scored"] > 0]
    adoption = data["adoption"].pivot(index="month", columns="segment", values="adoption_rate").sort_index()
    arr_title = "ARR"
    if not arr.empty:
        arr_title = f"ARR {compact_money(arr['ending_arr'].iloc[-1])}"
    health_title = "Health bands"
    if not health.empty:
        green = health["arr_green"].fillna(0).iloc[-1] / health["arr_scored"].iloc[-1]
        health_title += f" \u00b7 {green * 100:.0f}% of ARR green"
    charts = [
        ("arr", arr_title, "month end; bars: movements (MRR \u00d7 12)", chart_arr(arr)),
        ("retention", "GRR and NRR by quarter", "closed quarters; dashed: targets",
         chart_retention(data["retention_quarters"], data["quarter_targets"])),
        ("health", health_title, "share of scored ARR at month end", chart_health(health)),
        ("adoption", "Adoption rate by segment", "ARR-weighted mean, per month",
         chart_adoption(adoption)),
    ]
    as_of_text = as_of.isoformat() if as_of else "n/a"
    period_html = "No closed month yet."
    if not kpis.empty:
        period_html = (f"Tiles: <strong>{esc(period_label)}</strong> (last closed month) against the month "
                       "before, and the current quarter to date.")
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Customer success KPIs, {esc(period_label)} (data as of {esc(as_of_text)})</title>
<style>{CSS}</style>
</head>
<body>
<header>
  <div><h1>Customer success KPIs</h1>
  <div class="sub" id="period">{period_html}</div></div>
  <div class="sub">Data as of <strong id="as-of" data-as-of="{esc(as_of_text)}">{esc(as_of_text)}</strong>
  &middot; generated <span id="generated-at">{esc(generated_at.strftime("%Y-%m-%d %H:%M UTC"))}</span></div>
</header>
<section class="grid tiles" id="kpis">{tiles_html}</section>
<section class="grid charts" id="charts">{"".join(_chart(*c) for c in charts)}</section>
<section class="grid tables">
{_renewals_table(renewals, data["renewals_total"])}
{_alerts_table(data["alerts"])}
</section>
<footer>From the published marts (metrics_kpi_summary, metrics_retention, metrics_health_backtest,
metrics_adoption, renewals_upcoming, fct_alerts). Rates are for the whole company; ARR movements are
monthly MRR movements &times; 12.</footer>
</body>
</html>
"""
    facts = {
        "as_of": as_of,
        "period_label": period_label,
        "tiles": len(kpis),
        "charts": sum(c[-1] is not None for c in charts),
        "renewals": len(renewals),
        "open_alerts": int(data["alerts"]["total"].sum()) if not data["alerts"].empty else 0,
        "headline": {r["kpi_label"]: format_value(r["value"], r["unit"]) for _, r in kpis.iterrows()},
    }
    return page, facts


def write_atomically(path: Path, text: str) -> int:
    """Write to a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(data)


def build_report(published_db: Path, out_path: Path) -> ReportSummary:
    """Read the published marts (read-only) and write the KPI report to ``out_path``."""
    published_db, out_path = Path(published_db), Path(out_path)
    if not published_db.is_file():
        raise FileNotFoundError(f"no published warehouse at {published_db}")
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        data = read_marts(con)
    finally:
        con.close()
    import matplotlib

    with matplotlib.rc_context(CHART_RC):
        page, facts = render_html(data, datetime.now(UTC))
    size = write_atomically(out_path, page)
    return ReportSummary(path=out_path, bytes=size, **facts)
