"""The Dagster UI and the KPI report in a real browser: Debian's Chromium, headless, via Playwright.

The module starts what it needs itself:

* Chromium: ``/usr/bin/chromium`` (Debian's ``chromium`` package). When it is missing and the
  tests run as root on a machine with ``apt-get``, they install it (``apt-get install
  --no-install-recommends chromium``, with an ``apt-get update`` when that fails). Playwright
  drives that binary; it never downloads a browser of its own (no ``playwright install``). Where
  Chromium cannot be installed the tests are skipped, with what was tried and what failed.
* A Dagster instance: a copy of the ``published_run`` warehouse, where the publish asset (and
  whatever is downstream of it: the KPI report) is materialized again, recorded in a temporary
  ``DAGSTER_HOME``.
* ``dagster-webserver`` for this repository's code location on a free localhost port, with that
  ``DAGSTER_HOME`` and ``CS_RAW_DIR`` / ``CS_WAREHOUSE_DIR`` pointing at the copy.

Each page is checked against values worked out without the browser (the asset graph, the dbt
YAML, the published file) and saved as a full-page screenshot in ``test-artifacts/browser/``,
also when an assertion fails; the webserver's log is saved beside them.

Environment:
    CS_BROWSER_TEST_CHROMIUM  the Chromium binary to drive (default ``/usr/bin/chromium``)
    CS_BROWSER_TEST_NO_APT=1  never install Chromium: skip when the binary is missing
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import duckdb
import pytest
import yaml

from tests.conftest import DBT_DIR, REPO, RunOutcome, pipeline_env

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1800)]

CHROMIUM_ENV = "CS_BROWSER_TEST_CHROMIUM"
NO_APT_ENV = "CS_BROWSER_TEST_NO_APT"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
APT_TIMEOUT_S = 600
SERVER_TIMEOUT_S = 180
# The UI is heavy for a 2-core machine that also runs the rest of the suite.
PAGE_TIMEOUT_MS = 120_000
VIEWPORT = {"width": 1920, "height": 1200}

PUBLISH_KEY = ("published", "cs_metrics")
MART_KEY = ("marts", "metrics_retention")
RAW_KEY = ("raw", "crm_accounts")


# --- Chromium ---------------------------------------------------------------------------------


def _run(cmd: list[str], timeout: int) -> tuple[bool, str]:
    """(succeeded, a short account of what happened)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"`{' '.join(cmd)}` timed out after {timeout} s"
    if done.returncode == 0:
        return True, ""
    tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
    return False, f"`{' '.join(cmd)}` exited {done.returncode}: {tail}"


def _apt_install_chromium() -> str | None:
    """Install Debian's chromium; None when it worked, else what was tried and what failed."""
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    install = ["apt-get", "install", "-y", "--no-install-recommends", *lock, "chromium"]
    ok, first = _run(install, APT_TIMEOUT_S)
    if ok:
        return None
    # A fresh image has no package lists ("Unable to locate package chromium"): update, retry.
    ok, update = _run(["apt-get", "update", *lock], APT_TIMEOUT_S)
    if not ok:
        return f"{first}; then {update}"
    ok, second = _run(install, APT_TIMEOUT_S)
    return None if ok else f"{first}; after apt-get update, {second}"


def find_or_install_chromium() -> tuple[str | None, str]:
    """(path of a Chromium binary, "") or (None, why there is none)."""
    path = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    if os.access(path, os.X_OK):
        return path, ""
    missing = f"Chromium not found at {path}"
    if os.environ.get(NO_APT_ENV):
        return None, f"{missing}; installing it is disabled ({NO_APT_ENV} is set)"
    if shutil.which("apt-get") is None:
        return None, f"{missing} and there is no apt-get to install Debian's chromium package"
    if os.geteuid() != 0:
        return None, f"{missing} and apt-get install chromium needs root (running as uid {os.geteuid()})"
    failure = _apt_install_chromium()
    if failure:
        return None, f"{missing}; could not install it: {failure}"
    if not os.access(path, os.X_OK):
        return None, f"apt-get installed chromium, but {path} is still missing"
    return path, ""


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path, why = find_or_install_chromium()
    if path is None:
        pytest.skip(why)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # Playwright gives the browser a fresh, empty profile (user-data-dir) of its own.
        chromium = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


@contextmanager
def screenshot(tab, name: str) -> Iterator[None]:
    """Save a full-page screenshot of ``tab`` when the block ends, passed or failed."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        target = ARTIFACTS / (f"{name}.failed.png" if failed else f"{name}.png")
        stale = ARTIFACTS / (f"{name}.png" if failed else f"{name}.failed.png")
        stale.unlink(missing_ok=True)
        try:
            tab.screenshot(path=str(target), full_page=True)
            print(f"screenshot: {target}")
        except Exception:
            if not failed:  # never hide the assertion that failed behind a screenshot error
                raise


# --- The Dagster instance and the webserver --------------------------------------------------


@dataclass
class UiWarehouse:
    """A copy of the published run's warehouse, with a Dagster instance that has materialized
    the publish asset (and what is downstream of it) there."""

    dagster_home: Path
    raw_dir: Path
    warehouse_dir: Path
    materialized: list[tuple[str, ...]]
    run_id: str

    @property
    def published_db(self) -> Path:
        return self.warehouse_dir / "cs_metrics.duckdb"

    @property
    def report_path(self) -> Path:
        return self.warehouse_dir / "cs_kpi_report.html"


@pytest.fixture(scope="session")
def ui_warehouse(published_run: RunOutcome, tmp_path_factory) -> UiWarehouse:
    import dagster as dg

    from orchestration.definitions import defs

    root = tmp_path_factory.mktemp("browser")
    warehouse = root / "warehouse"
    shutil.copytree(published_run.warehouse_dir, warehouse, ignore=shutil.ignore_patterns("tmp"))
    home = root / "dagster_home"
    home.mkdir()
    # The instance settings `make dev` uses (its event log storage among them), so the UI
    # under test reads the run history as it is written in production.
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    graph = defs.resolve_asset_graph()
    keys = dg.AssetSelection.assets(dg.AssetKey(list(PUBLISH_KEY))).downstream().resolve(graph)
    with (pipeline_env(published_run.raw_dir, warehouse),
          mock.patch.dict(os.environ, {"DAGSTER_HOME": str(home)}),
          dg.DagsterInstance.get() as instance):
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=sorted(keys), raise_on_error=False
        )
    failures = {e.step_key: e.event_specific_data.error.message for e in result.all_events if e.is_step_failure}
    assert result.success, failures
    return UiWarehouse(home, published_run.raw_dir, warehouse, sorted(tuple(k.path) for k in keys),
                       result.run_id)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(base_url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base_url}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


WORKSPACE_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus displayMetadata { key value }
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


@dataclass
class Webserver:
    url: str
    location: str
    log: Path


@pytest.fixture(scope="session")
def webserver(ui_warehouse: UiWarehouse, dbt_manifest) -> Iterator[Webserver]:
    """``dagster-webserver`` for this repository's code location, until the session ends."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = ui_warehouse.dagster_home / "webserver.log"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(ui_warehouse.dagster_home),
        "CS_RAW_DIR": str(ui_warehouse.raw_dir),
        "CS_WAREHOUSE_DIR": str(ui_warehouse.warehouse_dir),
    }
    # `python -m` from the repository root, with it as the working directory of the code
    # location: `orchestration` is imported from the checkout under test, not an installed copy.
    cmd = [sys.executable, "-m", "dagster_webserver", "-m", "orchestration.definitions",
           "-d", str(REPO), "-h", "127.0.0.1", "-p", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        location = _wait_until_loaded(proc, url, log)
        # Mark the first-visit "Join the Dagster community" dialog as seen (what its Skip does).
        _graphql(url, "mutation { setNuxSeen }")
        yield Webserver(url, location, log)
    finally:
        _stop(proc)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, ARTIFACTS / "dagster-webserver.log")


def _wait_until_loaded(proc: subprocess.Popen, url: str, log: Path) -> str:
    """The code location's name once the webserver has loaded it; fails with the log otherwise."""
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster-webserver exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            entries = _graphql(url, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, TypeError) as exc:
            last = repr(exc)
        else:
            last = json.dumps(entries)
            if entries and entries[0]["loadStatus"] == "LOADED":
                entry = entries[0]
                loaded = entry["locationOrLoadError"]
                assert loaded["__typename"] == "RepositoryLocation", loaded
                metadata = {m["key"]: m["value"] for m in entry["displayMetadata"]}
                assert metadata["module_name"] == "orchestration.definitions"
                assert Path(metadata["working_directory"]).resolve() == REPO
                return entry["name"]
        time.sleep(1)
    pytest.fail(f"the code location did not load in {SERVER_TIMEOUT_S} s (last: {last}):\n"
                f"{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the webserver's process group (it runs the code server as a child)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _asset_path(key: tuple[str, ...]) -> str:
    return "/assets/" + "/".join(urllib.parse.quote(part) for part in key)


# --- (a) The asset graph -------------------------------------------------------------------


def lineage_selection() -> str:
    """From one export's raw table to the retention mart, and the published file."""
    return (f'key:"{"/".join(RAW_KEY)}"+ and +key:"{"/".join(MART_KEY)}" '
            f'or key:"{"/".join(PUBLISH_KEY)}"')


def label_matches(label: str, name: str) -> bool:
    """A node label is the key's last part, shortened in the middle with '…' when long."""
    if "…" not in label:
        return label == name
    head, _, tail = label.partition("…")
    return len(label) <= len(name) and name.startswith(head) and name.endswith(tail)


def test_asset_graph_shows_the_lineage(page, webserver):
    import dagster as dg
    from playwright.sync_api import expect

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    expected = (
        dg.AssetSelection.assets(dg.AssetKey(list(RAW_KEY))).downstream()
        & dg.AssetSelection.assets(dg.AssetKey(list(MART_KEY))).upstream()
    ) | dg.AssetSelection.assets(dg.AssetKey(list(PUBLISH_KEY)))
    keys = expected.resolve(graph)
    names = sorted(k.path[-1] for k in keys)
    groups = sorted({graph.get(k).group_name for k in keys})
    expanded = ",".join(f"global@global:{g}" for g in groups)  # open every group's box
    url = (f"{webserver.url}/asset-groups~{urllib.parse.quote(lineage_selection(), safe='')}"
           f"?expanded={urllib.parse.quote(expanded, safe='')}")

    with screenshot(page, "asset_graph"):
        page.goto(url)
        nodes = page.locator('[class*="AssetNode_assetName"]')
        for name in (RAW_KEY[-1], MART_KEY[-1], PUBLISH_KEY[-1]):
            expect(nodes.filter(has_text=re.compile(f"^{re.escape(name)}$"))).to_have_count(1)
        expect(nodes).to_have_count(len(names))
        labels = sorted(t.strip() for t in nodes.all_inner_texts())
        unmatched = [label for label in labels if not any(label_matches(label, n) for n in names)]
        assert not unmatched, (unmatched, names)
        assert len({n for n in names for label in labels if label_matches(label, n)}) == len(names)
        for group in groups:
            expect(page.get_by_text(group, exact=True).first).to_be_visible()


# --- (b) A mart's page and the published file's page ------------------------------------------


def dbt_description(model: str) -> str:
    """The first sentence of a model's description in the dbt YAML, whitespace collapsed."""
    for yml in (DBT_DIR / "models").rglob("_*.yml"):
        for entry in (yaml.safe_load(yml.read_text()) or {}).get("models", []):
            if entry["name"] == model:
                text = " ".join(entry["description"].split("{{")[0].split()).replace("`", "")
                return text[: text.index(". ") + 1]
    raise LookupError(model)


def test_mart_page_shows_its_dbt_description(page, webserver):
    import dagster as dg
    from playwright.sync_api import expect

    from orchestration.definitions import defs

    sentence = dbt_description(MART_KEY[-1])
    assert sentence.startswith("One row per")
    group = defs.resolve_asset_graph().get(dg.AssetKey(list(MART_KEY))).group_name
    with screenshot(page, "mart_metrics_retention"):
        page.goto(webserver.url + _asset_path(MART_KEY))
        body = page.locator("body")
        expect(body).to_contain_text(sentence)
        expect(body).to_contain_text(f"Group{group}")  # the Definition panel
        expect(body).to_contain_text("cs_metrics." + ".".join(MART_KEY))  # its storage
        expect(body).to_contain_text("Never materialized")  # no dbt run in this instance


def test_published_page_shows_the_materialization(page, webserver, ui_warehouse):
    from playwright.sync_api import expect

    assert PUBLISH_KEY in ui_warehouse.materialized
    with duckdb.connect(str(ui_warehouse.published_db), read_only=True) as con:
        tables = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_type = 'BASE TABLE'").fetchone()[0]
    with screenshot(page, "published_cs_metrics"):
        page.goto(webserver.url + _asset_path(PUBLISH_KEY) + "?view=events")
        expect(page.locator("body")).to_contain_text("Materialized in run")
        metadata = {"path": str(ui_warehouse.published_db), "tables": str(tables),
                    "bytes": str(ui_warehouse.published_db.stat().st_size)}
        for label, value in metadata.items():
            row = page.locator("tr").filter(has=page.locator("td", has_text=re.compile(f"^{label}$")))
            expect(row.locator("td").nth(1)).to_have_text(value)


def test_run_page_shows_the_run_log(page, webserver, ui_warehouse):
    """The run's page shows the run's events, read from the kept event log
    (``KeptSqliteEventLogStorage``). The run has ended, so this reads its records; the live
    watch of a run in progress is tested in tests/test_event_storage.py."""
    from playwright.sync_api import expect

    with screenshot(page, "run_log"):
        page.goto(f"{webserver.url}/runs/{ui_warehouse.run_id}")
        body = page.locator("body")
        expect(body).to_contain_text("Finished execution of run", timeout=60_000)
        expect(body).to_contain_text("published__cs_metrics")
        expect(body).to_contain_text("Success")


# --- (c) The KPI report ----------------------------------------------------------------------

NUMBER = re.compile(r"([+-]?)\s*[$€£]?\s*(\d[\d,]*(?:\.(\d+))?)\s*([kKmMbB]?)\s*(%?)")
SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9}


def parse_shown(text: str) -> tuple[float, float] | None:
    """(value, how far a value may be from it and still be shown so) of a tile's text, e.g.
    '98.7%' -> (0.987, 0.0005), '$12.3k' -> (12300, 50), '-4' -> (-4, 0.5); None for '—'."""
    text = text.replace("\u2212", "-").replace("\u2013", "-").replace("\u00a0", " ").replace("\u202f", " ")
    match = NUMBER.search(text)
    if match is None:
        return None
    sign, digits, decimals, suffix, percent = match.groups()
    scale = SCALE[suffix.lower()] / (100.0 if percent else 1.0)
    value = float(digits.replace(",", "")) * scale * (-1 if sign == "-" else 1)
    return value, 0.5 * 10 ** -len(decimals or "") * scale + 1e-9


def kpi_choices(published_db: Path) -> dict[tuple[str, str], dict[str, tuple[str, object]]]:
    """What a headline tile can show, by choice of period: (period type, 'current' or 'latest
    complete') -> KPI -> (period start, value), read straight from the published file."""
    with duckdb.connect(str(published_db), read_only=True) as con:
        rows = con.execute("""
            with latest_complete as (
                select kpi, period_type, max(period_end) as period_end
                from marts.metrics_kpi_summary where not is_partial group by all
            )
            select period_type, 'current', kpi, period_start, value
            from marts.metrics_kpi_summary where is_current
            union all
            select s.period_type, 'latest complete', s.kpi, s.period_start, s.value
            from marts.metrics_kpi_summary as s join latest_complete using (kpi, period_type, period_end)
        """).fetchall()
    choices: dict[tuple[str, str], dict[str, tuple[str, object]]] = {}
    for period_type, which, kpi, period_start, value in rows:
        choices.setdefault((period_type, which), {})[kpi] = (period_start.isoformat(), value)
    return choices


def shows(text: str, value: object) -> bool:
    parsed = parse_shown(text)
    if parsed is None or value is None:
        return parsed is None and value is None
    return math.isclose(parsed[0], float(value), abs_tol=parsed[1])


def test_kpi_report_shows_the_mart_values(page, ui_warehouse):
    """Every tile shows its KPI's value in metrics_kpi_summary, all for one choice of period (a
    tile's data-period-type / data-period-start, when it has them, narrow the choice)."""
    from playwright.sync_api import expect

    report = ui_warehouse.report_path
    if not report.exists():
        pytest.skip(f"report not built ({report} does not exist)")
    choices = kpi_choices(ui_warehouse.published_db)
    kpis = {kpi for by_kpi in choices.values() for kpi in by_kpi}
    with screenshot(page, "kpi_report"):
        page.goto(report.as_uri())
        tiles = page.locator("[data-kpi]:has(.value)")
        expect(tiles.first).to_be_visible()
        shown = []
        for i in range(tiles.count()):
            tile = tiles.nth(i)
            shown.append((tile.get_attribute("data-kpi"), tile.locator(".value").first.inner_text().strip(),
                          tile.get_attribute("data-period-type"), tile.get_attribute("data-period-start")))
        assert {kpi for kpi, *_ in shown} <= kpis, f"tiles {shown} name KPIs outside {sorted(kpis)}"
        fits = [
            (period_type, which) for (period_type, which), by_kpi in choices.items()
            if all(
                kpi in by_kpi and shows(text, by_kpi[kpi][1]) and tile_type in (None, period_type)
                and tile_start in (None, by_kpi[kpi][0])
                for kpi, text, tile_type, tile_start in shown
            )
        ]
        table = "\n".join(f"  {choice}: {by_kpi}" for choice, by_kpi in sorted(choices.items()))
        assert fits, f"the tiles {shown} match no one period of metrics_kpi_summary:\n{table}"
        print(f"KPI tiles {[(k, t) for k, t, *_ in shown]} = metrics_kpi_summary, {fits}")
