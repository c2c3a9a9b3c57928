"""One Dagster asset check per dbt model (``dbt_tests``) carrying its data tests' results
(orchestration/defs/dbt/checks.py)."""

import json

import dagster as dg
import pytest

from orchestration.defs.dbt.checks import DBT_TESTS_CHECK, DbtTestIndex, DbtTestResults


def _test(name: str, parents: list[str], attached: str | None = None,
          severity: str = "ERROR") -> dict:
    return {"resource_type": "test", "name": name, "attached_node": attached,
            "depends_on": {"nodes": parents}, "config": {"enabled": True, "severity": severity}}


# A small manifest: orders <- customers; a mart reading both; a seed with a warn-only test.
MANIFEST = {
    "nodes": {
        "model.p.customers": {"resource_type": "model", "name": "customers"},
        "model.p.orders": {"resource_type": "model", "name": "orders"},
        "model.p.mart": {"resource_type": "model", "name": "mart"},
        "seed.p.bands": {"resource_type": "seed", "name": "bands"},
        "test.p.not_null_orders_id": _test("not_null_orders_id", ["model.p.orders"], "model.p.orders"),
        "test.p.unique_orders_id": _test("unique_orders_id", ["model.p.orders"], "model.p.orders"),
        "test.p.rel_orders_customer": _test(
            "rel_orders_customer", ["model.p.customers", "model.p.orders"], "model.p.orders"),
        # Singular, reading the mart and both of its parents: it belongs to the mart.
        "test.p.assert_mart_reconciles": _test(
            "assert_mart_reconciles", ["model.p.orders", "model.p.mart", "model.p.customers"]),
        "test.p.bands_cover": _test("bands_cover", ["seed.p.bands"], severity="warn"),
    },
    "sources": {},
    "parent_map": {
        "model.p.customers": [],
        "model.p.orders": ["model.p.customers"],
        "model.p.mart": ["model.p.orders"],
        "seed.p.bands": [],
    },
}


def key_of(node_id: str) -> dg.AssetKey:
    return dg.AssetKey(["x", node_id.rsplit(".", 1)[1]])


def result_event(test_id: str, status: str, failures: int = 0, seconds: float = 0.5) -> dict:
    return {"data": {"node_info": {"unique_id": test_id}, "status": status,
                     "num_failures": failures, "execution_time": seconds}}


def test_tests_are_grouped_by_the_node_they_belong_to():
    index = DbtTestIndex(MANIFEST)
    assert set(index.by_node) == {"model.p.orders", "model.p.mart", "seed.p.bands"}
    orders = index.by_node["model.p.orders"]
    assert orders.test_ids == ("test.p.not_null_orders_id", "test.p.rel_orders_customer",
                               "test.p.unique_orders_id")
    assert orders.blocking and orders.other_parents == ("model.p.customers",)
    assert index.by_node["model.p.mart"].test_ids == ("test.p.assert_mart_reconciles",)
    assert not index.by_node["seed.p.bands"].blocking  # warn only: the check does not block
    spec = index.check_spec(key_of("model.p.orders"), "model.p.orders", key_of)
    assert spec.name == DBT_TESTS_CHECK and spec.blocking
    assert {d.asset_key for d in spec.additional_deps} == {key_of("model.p.customers")}
    assert spec.metadata["dbt tests"] == 3
    assert index.check_spec(key_of("model.p.customers"), "model.p.customers", key_of) is None


def test_one_result_per_node_when_its_last_test_reports():
    index = DbtTestIndex(MANIFEST)
    selected = [dg.AssetCheckKey(key_of(n), DBT_TESTS_CHECK)
                for n in ("model.p.orders", "model.p.mart", "seed.p.bands")]
    results = DbtTestResults(index, key_of, selected)
    assert list(results.add(result_event("test.p.not_null_orders_id", "pass", seconds=0.25))) == []
    assert list(results.add(result_event("test.p.unique_orders_id", "fail", failures=3))) == []
    (orders,) = results.add(result_event("test.p.rel_orders_customer", "pass", seconds=0.25))
    assert orders.asset_key == key_of("model.p.orders") and orders.check_name == DBT_TESTS_CHECK
    assert orders.passed is False and orders.severity == dg.AssetCheckSeverity.ERROR
    assert orders.description == "unique_orders_id: fail, 3 failing rows"
    meta = {k: getattr(v, "value", v) for k, v in orders.metadata.items()}
    assert (meta["tests run"], meta["tests passed"], meta["tests failed"]) == (3, 2, 1)
    assert meta["Execution Duration"] == 1.0  # 0.25 + 0.5 + 0.25: the tests' own time

    (bands,) = results.add(result_event("test.p.bands_cover", "warn", failures=1))
    assert bands.passed is False and bands.severity == dg.AssetCheckSeverity.WARN

    # dbt skipped the mart's test (its model failed upstream): nothing ran, nothing reported.
    assert list(results.remaining()) == []


def test_a_node_whose_tests_did_not_all_run_reports_at_the_end():
    index = DbtTestIndex(MANIFEST)
    results = DbtTestResults(index, key_of, [dg.AssetCheckKey(key_of("model.p.orders"), DBT_TESTS_CHECK)])
    assert list(results.add(result_event("test.p.not_null_orders_id", "pass"))) == []
    # A test of a node this run does not check (dbt's indirect selection ran it) is only logged.
    assert list(results.add(result_event("test.p.assert_mart_reconciles", "pass"))) == []
    (orders,) = results.remaining()
    assert orders.passed is True
    meta = {k: getattr(v, "value", v) for k, v in orders.metadata.items()}
    assert (meta["tests run"], meta["tests not run"]) == (1, 2)
    assert "unique_orders_id" in meta["tests not run (skipped by dbt)"]


def test_the_project_has_one_check_per_tested_model(dbt_manifest):
    from orchestration.definitions import defs
    from orchestration.defs.dbt.assets import TRANSLATOR

    manifest = json.loads(dbt_manifest.read_text())
    tests = {k for k, n in manifest["nodes"].items() if n["resource_type"] == "test"}
    index = TRANSLATOR.test_index(manifest)
    # Every data test belongs to exactly one check.
    grouped = [t for g in index.by_node.values() for t in g.test_ids]
    assert sorted(grouped) == sorted(tests)
    owner = index.owner_of_test
    assert owner["test.cs_metrics.assert_mrr_movements_reconcile_to_ending_mrr"] == (
        "model.cs_metrics.fct_mrr_movements")
    assert owner["test.cs_metrics.assert_month_end_mrr_matches_covering_lines"] == (
        "model.cs_metrics.fct_mrr_monthly")

    graph = defs.resolve_asset_graph()
    dbt_checks = {k for k in graph.asset_check_keys if k.name == DBT_TESTS_CHECK}
    assert len(dbt_checks) == len(index.by_node)
    movements = graph.get_check_spec(
        dg.AssetCheckKey(dg.AssetKey(["marts", "fct_mrr_movements"]), DBT_TESTS_CHECK))
    assert movements.blocking
    # Not one check per dbt test any more: the run plans a few dozen, not about 1,300.
    assert len(graph.asset_check_keys) < 250 < len(tests)


NOT_NULL_TEST = "not_null_int_account_health_snapshots"
ACCEPTED_TEST = "accepted_int_invoices_settled"


def test_dbt_unit_tests_pass(published_run, tmp_path):
    """The dbt unit tests (fixed inputs, expected rows: METRICS.md's worked examples, every
    alert rule at its limit...) run here rather than in every refresh. The same dbt call runs
    one model-level not-null test (tests/generic/not_null_columns.sql) on planted nulls and one
    model-level test of accepted ranges and values (accepted_values_and_ranges.sql) on planted
    values outside them."""
    import os
    import shutil
    import subprocess

    from orchestration.defs.dbt.assets import UNIT_TESTS_ENV, build_args
    from tests.conftest import BIN, DBT_DIR
    from tests.fixtures_support import reuse_last_parse

    assert "unit_test" in build_args()  # excluded from the runs
    os.environ[UNIT_TESTS_ENV] = "true"
    try:
        assert build_args() == ["build"]
    finally:
        del os.environ[UNIT_TESTS_ENV]

    build = tmp_path / "build.duckdb"
    shutil.copy(published_run.build_db, build)  # unit tests read the inputs' column types
    # Nulls planted in two columns (3 rows and 1 row) for the model-level not-null test, run in
    # the same dbt call: it must fail with one row per column at fault, and dbt must count the
    # null values (4), as one not_null test per column would have.
    import duckdb

    con = duckdb.connect(str(build))
    snapshots = "intermediate.int_account_health_snapshots"
    con.execute(f"update {snapshots} set arr = null where rowid in "
                f"(select rowid from {snapshots} order by all limit 3)")
    con.execute(f"update {snapshots} set is_paying = null where rowid = "
                f"(select max(rowid) from {snapshots})")
    # Two amounts below their range's minimum (0) and one value outside its set, in one model:
    # one row per column at fault, and dbt counts the rows at fault (3).
    settled = "intermediate.int_invoices_settled"
    con.execute(f"update {settled} set outstanding_amount = -0.01 where rowid in "
                f"(select rowid from {settled} order by all limit 2)")
    con.execute(f"update {settled} set paid_date_basis = 'paid_in_kind' where rowid = "
                f"(select max(rowid) from {settled})")
    con.close()
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "CS_BUILD_DB": str(build), "CS_DUCKDB_TEMP_DIR": str(tmp_path / "tmp"),
           "DBT_TARGET": "duckdb"}
    target = tmp_path / "target"
    reuse_last_parse(target)
    done = subprocess.run(
        [str(BIN / "dbt"), "test", "--select", "test_type:unit", NOT_NULL_TEST, ACCEPTED_TEST,
         "--project-dir", str(DBT_DIR),
         "--profiles-dir", str(DBT_DIR), "--target-path", str(target)],
        env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1, done.stdout[-4000:]  # the planted values, nothing else
    run = json.loads((target / "run_results.json").read_text())["results"]
    (not_null,) = [r for r in run if r["unique_id"].startswith(f"test.cs_metrics.{NOT_NULL_TEST}.")]
    assert (not_null["status"], not_null["failures"]) == ("fail", 4)  # null values, 3 + 1
    (accepted,) = [r for r in run if r["unique_id"].startswith(f"test.cs_metrics.{ACCEPTED_TEST}.")]
    assert (accepted["status"], accepted["failures"]) == ("fail", 3)  # rows at fault, 2 + 1
    con = duckdb.connect()
    con.execute(f"attach '{build}' as cs_metrics (read_only)")  # the catalog dbt's SQL names
    failing = {}
    for test in (NOT_NULL_TEST, ACCEPTED_TEST):
        compiled = next((target / "compiled").rglob(f"{test}.sql")).read_text()
        failing[test] = con.execute(f"select * from ({compiled}) order by all").fetchall()
    con.close()
    assert failing[NOT_NULL_TEST] == [("arr", 3), ("is_paying", 1)]
    assert failing[ACCEPTED_TEST] == [("range", "outstanding_amount", 2),
                                      ("values", "paid_date_basis", 1)]
    results = [r for r in run if r["unique_id"].startswith("unit_test.")]  # not the on-run-start hook
    manifest = json.loads((DBT_DIR / "target" / "manifest.json").read_text())
    assert len(results) == len(manifest["unit_tests"]) >= 50
    assert {r["status"] for r in results} == {"pass"}
    assert {r["unique_id"] for r in results} >= {
        "unit_test.cs_metrics.metrics_retention.worked_example_churn_gives_grr_0_90",
        "unit_test.cs_metrics.metrics_retention.worked_example_churn_and_expansion_gives_nrr_1_10",
    }


def test_dbt_sets_the_spill_folder_once_per_connection():
    """dbt-duckdb applies `settings` to every cursor, and DuckDB refuses a second
    `SET temp_directory` once a query has spilled: at 41 million events every model after the
    first spill failed. The folder belongs in `config_options` (set when the connection opens)."""
    import yaml

    from orchestration.lib import dbt_location
    from tests.conftest import DBT_DIR

    duckdb_target = yaml.safe_load((DBT_DIR / "profiles.yml").read_text())["cs_metrics"][
        "outputs"]["duckdb"]
    assert "temp_directory" not in duckdb_target["settings"]
    assert "temp_directory" in duckdb_target["config_options"]  # the default folder
    # CS_DUCKDB_TEMP_DIR: the plugin puts it into the connection's config, not into settings
    config: dict = {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv(dbt_location.TEMP_DIR_ENV, "/spill/here")
        dbt_location.Plugin("dbt_location", {}).update_connection_config(None, config)
    assert config == {"temp_directory": "/spill/here"}


def test_a_second_connection_after_a_spill_keeps_the_spill_folder(tmp_path):
    import duckdb

    from orchestration.lib.loader import connect

    db = tmp_path / "build.duckdb"
    first = connect(db, "100MB")
    # a sort of 160 MB under a 100 MB limit spills into <warehouse>/tmp
    first.execute("create table big as select hash(i) as h, i from range(10000000) t(i) order by h")
    second = connect(db, "100MB")  # same file, same process: the same database instance
    assert second.execute("select count(*) from big").fetchone()[0] == 10_000_000
    with pytest.raises(duckdb.NotImplementedException):
        second.execute(f"set temp_directory = '{tmp_path / 'elsewhere'}'")
    second.close()
    first.close()


def test_a_run_starts_from_the_latest_runs_partial_parse(tmp_path, monkeypatch):
    """Each run has its own dbt target folder; without partial_parse.msgpack in it dbt parses
    the whole project again (about 8 s of every run)."""
    import time
    from types import SimpleNamespace

    from orchestration.defs.dbt import assets
    from orchestration.lib import dbt_project
    from orchestration.lib.dbt_project import PARTIAL_PARSE_FILE

    project = tmp_path / "project"
    runs = project / "target" / "runs"
    (runs / "older-0").mkdir(parents=True)
    (runs / "older-0" / PARTIAL_PARSE_FILE).write_bytes(b"older")
    time.sleep(0.01)
    (runs / "latest-0").mkdir()
    (runs / "latest-0" / PARTIAL_PARSE_FILE).write_bytes(b"latest")
    monkeypatch.setattr(assets, "dbt_project", lambda: SimpleNamespace(project_dir=project))
    context = SimpleNamespace(run=SimpleNamespace(run_id="abcdef12-3456"), retry_number=0)
    path = assets._run_target_path(context)
    assert path == runs / "abcdef12-0"
    assert (path / PARTIAL_PARSE_FILE).read_bytes() == b"latest"
    # the project's own parse (dbt parse) when it is the latest
    time.sleep(0.01)
    (project / "target" / PARTIAL_PARSE_FILE).write_bytes(b"parsed")
    context = SimpleNamespace(run=SimpleNamespace(run_id="bcdef123-4567"), retry_number=0)
    assert (assets._run_target_path(context) / PARTIAL_PARSE_FILE).read_bytes() == b"parsed"

    # the latest parse removed meanwhile (another refresh's clean-up): no copy, the run goes on
    def gone(*_args, **_kwargs):
        raise FileNotFoundError("removed meanwhile")

    monkeypatch.setattr(dbt_project.shutil, "copy2", gone)
    context = SimpleNamespace(run=SimpleNamespace(run_id="cdef1234-5678"), retry_number=0)
    path = assets._run_target_path(context)
    assert path.is_dir() and not (path / PARTIAL_PARSE_FILE).exists()


def test_dbt_reuses_its_parse_whatever_the_build_location(tmp_path):
    """The build file and the spill folder are read when dbt connects (the dbt_location plugin),
    not written into the profile, whose connection settings dbt hashes: a dbt call on another
    build location reuses the last parse (about 4 s) instead of parsing everything (about 12 s).
    And dbt builds in CS_BUILD_DB, spills in CS_DUCKDB_TEMP_DIR, and creates nothing at the
    profile's default location."""
    import os
    import subprocess

    import duckdb

    from tests.conftest import BIN, DBT_DIR
    from tests.fixtures_support import reuse_last_parse

    target = tmp_path / "target"
    reuse_last_parse(target)  # the first call may parse again what differs; the second must not
    default_build = DBT_DIR / ".." / "data" / "warehouse" / "build.duckdb"

    def stamp():
        return default_build.stat().st_mtime_ns if default_build.exists() else None

    before = stamp()
    outputs = []
    for place in ("first", "second"):
        (tmp_path / place / "spill").mkdir(parents=True)
        env = {**os.environ, "CS_BUILD_DB": str(tmp_path / place / "build.duckdb"),
               "CS_DUCKDB_TEMP_DIR": str(tmp_path / place / "spill"), "DBT_TARGET": "duckdb"}
        done = subprocess.run(
            [str(BIN / "dbt"), "seed", "--select", "seed_acv_bands",
             "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
             "--target-path", str(target), "--log-path", str(tmp_path / place / "logs")],
            env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout[-4000:]
        outputs.append(done.stdout)
    assert "Unable to do partial parsing" not in outputs[1], outputs[1][:2000]
    seed_rows = len((DBT_DIR / "seeds" / "seed_acv_bands.csv").read_text().splitlines()) - 1
    for place in ("first", "second"):
        con = duckdb.connect(str(tmp_path / place / "build.duckdb"), read_only=True)
        assert con.execute("select count(*) from reference.seed_acv_bands").fetchone() == (
            seed_rows,)
        con.close()
    assert stamp() == before  # the profile's default location, untouched
