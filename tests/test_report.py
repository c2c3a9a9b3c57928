"""The KPI report: written by the refresh from the published file, self-contained, and showing
the marts' numbers. Expected values come from SQL written here against the published marts,
formatted by SQL (printf), not by the report's own Python."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.report import build_report
from orchestration.lib.warehouse import Warehouse

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

# The tiles' period: the latest closed month of the KPI summary.
LATEST_MONTH = """
    select max(period_end) from marts.metrics_kpi_summary where period_type = 'month' and not is_partial
"""

# The report's formatting rules, in SQL: fractions as percent with one decimal, money as whole
# dollars with thousands separators, NPS points without decimals, missing as n/a.
EXPECTED_TILES = f"""
    select kpi,
           case
               when value is null then 'n/a'
               when unit = 'fraction' then printf('%.1f%%', value * 100)
               when unit = 'money' and value < 0 then '-$' || format('{{:,.0f}}', -value)
               when unit = 'money' then '$' || format('{{:,.0f}}', value)
               else printf('%.0f', value)
           end as shown,
           is_better_than_prior, change_from_prior, is_on_target
    from marts.metrics_kpi_summary
    where period_type = 'month' and not is_partial and period_end = ({LATEST_MONTH})
"""


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(self.text_parts).strip()

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, attr: str | None = None):
        return [e for e in self.iter()
                if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
                and (attr is None or attr in e.attrs)]


class TreeBuilder(HTMLParser):
    """A small DOM: enough to find tiles, table rows and images by their attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        for element in self.stack:  # text belongs to every open ancestor
            element.text_parts.append(data)


def parse(page: str) -> Element:
    builder = TreeBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


@pytest.fixture(scope="module")
def report(published_run) -> tuple[str, Element]:
    path = Warehouse(warehouse_dir=str(published_run.warehouse_dir)).report_path
    assert path == published_run.warehouse_dir / "cs_kpi_report.html"
    assert path.is_file(), "the refresh job did not write the KPI report"
    page = path.read_text(encoding="utf-8")
    return page, parse(page)


def test_refresh_materializes_the_report_with_metadata(published_run):
    [materialization] = published_run.result.asset_materializations_for_node("kpi_report")
    meta = materialization.metadata
    assert meta["path"].value == str(published_run.warehouse_dir / "cs_kpi_report.html")
    with duckdb.connect(str(published_run.published_db), read_only=True) as con:
        as_of = con.execute("select max(period_end) from marts.metrics_retention").fetchone()[0]
        kpis = con.execute(f"select count(*) from ({EXPECTED_TILES})").fetchone()[0]
    assert meta["as_of_date"].value == as_of.isoformat()
    assert meta["tiles"].value == kpis == 7   # seed_kpi_summary: seven enabled KPIs


def test_report_is_self_contained(report):
    page, root = report
    links = [(e.tag, name, value) for e in root.iter() for name, value in e.attrs.items()
             if name in ("src", "href", "srcset", "action", "data")]
    assert links, "the charts are images with a src"
    assert all(value.startswith(("data:", "#")) for _, _, value in links), links
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert not root.find_all("script") and not root.find_all("link")
    assert "@import" not in page and "url(" not in page


def test_charts_are_inline_svg_images(report):
    _, root = report
    images = [e for e in root.find_all("img") if e.attrs["src"].startswith("data:image/svg+xml;base64,")]
    assert len(images) == 4   # ARR, GRR / NRR, health bands, adoption
    assert {c.attrs["data-chart"] for c in root.find_all(attr="data-chart")} == {
        "arr", "retention", "health", "adoption"}
    for img in images:
        svg = base64.b64decode(img.attrs["src"].split(",", 1)[1]).decode("utf-8")
        assert "<svg" in svg and "</svg>" in svg
        # matplotlib's own references stay inside the image (xlink:href="#...")
        assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', svg))


def test_every_kpi_of_the_latest_month_is_a_tile_with_the_marts_value(report, marts):
    _, root = report
    expected = {kpi: shown for kpi, shown, *_ in marts.execute(EXPECTED_TILES).fetchall()}
    tiles = {}
    for tile in root.find_all(attr="data-kpi"):
        [value] = tile.find_all(cls="value")
        tiles[tile.attrs["data-kpi"]] = value.text()
    assert tiles == expected
    as_of = marts.execute("select max(period_end) from marts.metrics_retention").fetchone()[0]
    [stamp] = [e for e in root.iter() if e.attrs.get("id") == "as-of"]
    assert stamp.text() == stamp.attrs["data-as-of"] == as_of.isoformat()
    month = marts.execute(LATEST_MONTH).fetchone()[0]
    [period] = [e for e in root.iter() if e.attrs.get("id") == "period"]
    assert month.strftime("%B %Y") in period.text()


def test_tiles_colour_the_change_and_the_target_as_the_mart_judges_them(report, marts):
    _, root = report
    tiles = {t.attrs["data-kpi"]: t for t in root.find_all(attr="data-kpi")}
    for kpi, _, better, change, on_target in marts.execute(EXPECTED_TILES).fetchall():
        [delta] = tiles[kpi].find_all(cls="delta")
        [target] = tiles[kpi].find_all(cls="target")
        if change is None or better is None or change == 0:
            assert "neutral" in delta.classes, kpi
        else:
            assert ("good" if better else "bad") in delta.classes, kpi
            assert delta.text().startswith("\u25b2" if change > 0 else "\u25bc"), kpi
        if on_target is None:
            assert "neutral" in target.classes, kpi
        else:
            assert ("good" if on_target else "bad") in target.classes, kpi
            assert ("met" if on_target else "missed") in target.text(), kpi


def test_top_renewals_are_the_largest_due_in_90_days(report, marts):
    _, root = report
    expected = marts.execute("""
        select account_name, printf('$%s', format('{:,.0f}', expiring_arr))
        from marts.renewals_upcoming
        order by expiring_arr desc, due_date, account_name
        limit 8
    """).fetchall()
    assert expected, "the small company has renewals due in the next 90 days"
    [card] = [e for e in root.iter() if e.attrs.get("id") == "renewals"]
    rows = card.find_all("tr", attr="data-account")
    assert [(r.attrs["data-account"], r.find_all("td")[4].text()) for r in rows] == expected


def test_open_alerts_by_owner_match_a_group_by(report, marts):
    _, root = report
    expected = {
        owner: (high, medium, low, total)
        for owner, high, medium, low, total in marts.execute("""
            select coalesce(owner_csm_name, 'Unassigned'),
                   sum(case when severity = 'high' then 1 else 0 end),
                   sum(case when severity = 'medium' then 1 else 0 end),
                   sum(case when severity = 'low' then 1 else 0 end),
                   count(*)
            from marts.fct_alerts
            where status = 'open'
            group by 1
        """).fetchall()
    }
    assert expected, "the small company has open alerts"
    [card] = [e for e in root.iter() if e.attrs.get("id") == "alerts"]
    shown = {
        r.attrs["data-owner"]: tuple(int(td.text()) for td in r.find_all("td")[1:5])
        for r in card.find_all("tr", attr="data-owner")
    }
    assert shown == expected
    assert f"({sum(t for *_, t in expected.values())})" in card.find_all("h2")[0].text()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_report_reads_the_published_file_only_and_read_only(published_run, tmp_path):
    # A copy of the published file alone (no build database beside it), made read-only.
    db = tmp_path / "cs_metrics.duckdb"
    shutil.copy(published_run.published_db, db)
    db.chmod(0o444)
    before = sha256(db)
    summary = build_report(db, tmp_path / "out" / "report.html")
    assert summary.path.is_file() and summary.bytes == summary.path.stat().st_size
    assert sha256(db) == before
    assert not list((tmp_path / "out").glob(".*.tmp"))   # the temporary file was renamed over


def test_empty_sections_say_so(published_run, tmp_path):
    db = tmp_path / "cs_metrics.duckdb"
    shutil.copy(published_run.published_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("delete from marts.fct_alerts where is_open")
        con.execute("delete from marts.renewals_upcoming")
    summary = build_report(db, tmp_path / "report.html")
    page = summary.path.read_text(encoding="utf-8")
    assert summary.open_alerts == 0 and summary.renewals == 0
    assert "No open alerts" in page
    assert "No renewals due in the next 90 days" in page
    assert summary.tiles == 7 and summary.charts == 4
