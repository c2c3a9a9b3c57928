"""The same dbt project on Spark gives the same relations as on DuckDB.

A small generated company is loaded and contract-checked in DuckDB, built with ``dbt build`` on
the DuckDB target, exported to Parquet (``orchestration.lib.raw_parquet``) and built with
``dbt build`` on the Spark target (dbt-spark, ``method: session``, Spark local). Then every
relation dbt materialized on both (tables, seeds and views, found in the manifest, not listed
by hand) is compared in DuckDB: same columns, same rows in any order; decimals to the cent,
doubles to 1e-9, everything else exactly.

Spark's tables are read straight from the Parquet files of its warehouse folder; its views,
which exist only in the metastore, are written out to Parquet by a pyspark session (in a child
process) once dbt has finished.

With ``CS_SPARK_PARITY_ALL_TESTS=1`` (``make test-spark``), then the same under other
configurations of the vars (``OTHER_CONFIGURATIONS``): the models whose compiled SQL a
configuration changes are rebuilt under it on both engines, with their data tests, and compared.

By default (``make test``) both builds skip the tests: the models and seeds are built on both
and compared. The data tests check the inputs, which are the same on both engines, and the
DuckDB build runs them in every other end-to-end test; the unit tests run on DuckDB in
tests/test_dbt_checks.py. On Spark the data tests are two thirds of the statements, and the 57
unit tests took 60% of the build's time (217 s with them, 113 s without, on two cores: Spark
analyses each test's fixture query, some for 15-25 s). ``CS_SPARK_PARITY_ALL_TESTS=1`` (set by
``make test-spark``) runs both kinds on both engines as well.

Needs the ``spark`` extra (``make install-spark``) and Java 17; ``make test`` installs the extra.
"""

from __future__ import annotations

import concurrent.futures
import json
import math
import multiprocessing
import os
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.loader import load_all
from orchestration.lib.raw_parquet import export_build_db_to_parquet
from sample_company.generator import generate
from tests.conftest import BIN, DBT_DIR, SMALL_SEED
from tests.fixtures_support import dbt_build
from tests.spark_views import write_spark_views

pytest.importorskip("pyspark", reason="needs the spark extra: make install-spark")
pytest.importorskip("dbt.adapters.spark", reason="needs the spark extra: make install-spark")

pytestmark = [pytest.mark.spark, pytest.mark.timeout(900)]

# A small company; usage events at a fifth of the usual rate keep the adoption models quick on
# Spark local without leaving any of them empty.
# Data and unit tests too (make test-spark), or models and seeds only (the default run).
WITH_ALL_TESTS = os.environ.get("CS_SPARK_PARITY_ALL_TESTS") == "1"
EXCLUDE = [] if WITH_ALL_TESTS else ["--exclude", "test_type:data", "test_type:unit"]
ACCOUNTS = 35
USAGE_SCALE = 0.2
DOUBLE_TOLERANCE = 1e-9
SAMPLE_ROWS = 3
DUCKDB_CATALOG = "cs_metrics"  # the catalog name dbt builds under (profiles.yml)
PROJECT = "cs_metrics"  # dbt's project name: compiled SQL is under target/compiled/<project>/

# Settings that change the SQL a model compiles to, not only the values in it: a select list
# built from a list var (an empty one gave Spark a trailing comma that DuckDB accepts), columns
# named after buckets, a branch per basis. The parity of the default settings says nothing of
# these branches, so each configuration below rebuilds, on both engines, the models whose
# compiled SQL differs from the defaults' and compares them (test_other_configurations_agree).
# Vars that only change a literal (reporting_currency, thresholds, windows) are left out: the
# same SQL shape, already compared, and each model they reach costs Spark build time.
# They run with make test-spark, not in the default suite: about two minutes each on two cores
# (a compile, a DuckDB build and a Spark build of their models), which the default suite's 15
# minutes do not have room for.
OTHER_CONFIGURATIONS: dict[str, dict[str, object]] = {
    "edges": {
        "benchmark_peer_group_columns": [],  # no peer columns: one level, all accounts
        "include_contact_personal_data": True,
        "collections_aging_buckets": [15, 45],
        "renewals_upcoming_buckets": [45, 90],
        "health_backtest_horizons_days": [60],
        "csm_load_basis": "weighted_accounts",
        "csm_capacity_basis": "accounts",
    },
    "every peer column": {
        "benchmark_peer_group_columns":
            ["segment", "lifecycle_stage", "acv_band", "industry", "region", "plan_name"],
    },
}


@dataclass(frozen=True)
class Relation:
    kind: str  # "table" (tables, incremental models, seeds) or "view"
    partition_by: tuple[str, ...] = ()  # Spark puts these columns last


@dataclass
class Builds:
    tmp: Path
    duckdb_file: Path
    relations: dict[str, Relation]  # schema.name -> what dbt built there, on both targets
    spark_data: dict[str, Path]  # schema.name -> Spark's rows as a Parquet folder
    seconds: dict[str, float] = field(default_factory=dict)
    # other configurations rebuilt since (their models then hold that configuration's rows)
    reconfigured: list[str] = field(default_factory=list)


def _dbt_relations(target_dir: Path) -> dict[str, Relation]:
    """Every model and seed the dbt run in ``target_dir`` built, by ``schema.name``."""
    manifest = json.loads((target_dir / "manifest.json").read_text())
    results = json.loads((target_dir / "run_results.json").read_text())["results"]
    built = {r["unique_id"] for r in results if r["status"] == "success"}
    relations = {}
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed") or uid not in built:
            continue
        materialized = node["config"]["materialized"]
        if materialized == "ephemeral":
            continue
        partition_by = node["config"].get("partition_by") or ()
        relations[f"{node['schema']}.{node['alias']}"] = Relation(
            "view" if materialized == "view" else "table",
            (partition_by,) if isinstance(partition_by, str) else tuple(partition_by),
        )
    return relations


def _spark_env(tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DBT_TARGET": "spark",
        "DBT_SPARK_METHOD": "session",
        "CS_SPARK_WAREHOUSE_DIR": str(tmp / "spark"),
        "CS_RAW_PARQUET_DIR": str(tmp / "raw_parquet"),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }


def _export_spark_views(warehouse: Path, views: list[str], out: Path) -> dict[str, Path]:
    """Write each Spark view (schema.name) to ``out/<schema>.<name>`` as Parquet.

    In a child process: its Spark session's JVM holds the warehouse's Derby metastore until the
    process ends (``spark.stop()`` does not shut Derby down), and a later dbt run on Spark
    (test_other_configurations_agree) could not open it. The child imports only
    tests/spark_views.py."""
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
        return child.submit(write_spark_views, warehouse, views, out).result()


def _spark_dbt_build(tmp: Path, target_dir: Path, args: list[str]) -> None:
    """``dbt build <args>`` on the Spark target of the session in ``tmp``."""
    done = subprocess.run(
        [str(BIN / "dbt"), "build",
         "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
         "--target-path", str(target_dir / "target"), "--log-path", str(target_dir / "logs"),
         *args],
        cwd=tmp, env=_spark_env(tmp), capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, (
        f"dbt build on Spark failed:\n{done.stdout[-20000:]}\n{done.stderr[-5000:]}"
    )


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> Builds:
    tmp = tmp_path_factory.mktemp("spark_parity")
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    raw_dir = tmp / "raw"
    generate(raw_dir, accounts=ACCOUNTS, seed=SMALL_SEED, usage_scale=USAGE_SCALE)
    duckdb_file = tmp / "build.duckdb"
    load_all(duckdb_file, raw_dir)
    seconds["generate + load (DuckDB)"] = time.perf_counter() - started

    started = time.perf_counter()
    dbt_build(duckdb_file, tmp / "dbt_duckdb", exclude=EXCLUDE[1:])
    seconds["dbt build, DuckDB"] = time.perf_counter() - started

    started = time.perf_counter()
    export_build_db_to_parquet(duckdb_file, tmp / "raw_parquet")
    seconds["export raw to Parquet"] = time.perf_counter() - started

    started = time.perf_counter()
    spark_target = tmp / "dbt_spark"
    _spark_dbt_build(tmp, spark_target, EXCLUDE)
    seconds["dbt build, Spark"] = time.perf_counter() - started

    relations = _built_on_both(tmp / "dbt_duckdb", spark_target)
    started = time.perf_counter()
    spark_data = _spark_rows(tmp, relations, tmp / "spark_views")
    seconds["read Spark views (pyspark)"] = time.perf_counter() - started

    return Builds(tmp, duckdb_file, relations, spark_data, seconds)


def _built_on_both(duckdb_dir: Path, spark_dir: Path) -> dict[str, Relation]:
    """The relations the dbt runs in ``duckdb_dir`` and ``spark_dir`` built, the same on both."""
    on_duckdb = {n: r.kind for n, r in _dbt_relations(duckdb_dir / "target").items()}
    relations = _dbt_relations(spark_dir / "target")
    assert on_duckdb == {n: r.kind for n, r in relations.items()}, (
        "DuckDB and Spark built different relations"
    )
    return relations


def _spark_rows(tmp: Path, relations: dict[str, Relation], views_out: Path) -> dict[str, Path]:
    """Where Spark's rows of each relation are, as Parquet. Spark's managed tables are Parquet
    folders in its warehouse (<schema>.db/<name>); views live in the metastore only, so a Spark
    session writes their rows out to ``views_out``."""
    warehouse = tmp / "spark"
    spark_data = {
        name: warehouse / f"{name.split('.')[0]}.db" / name.split(".")[1]
        for name, relation in relations.items() if relation.kind == "table"
    }
    views = sorted(name for name, relation in relations.items() if relation.kind == "view")
    if views:
        spark_data.update(_export_spark_views(warehouse, views, views_out))
    return spark_data


# --------------------------------------------------------------------------- comparison


def _family(duckdb_type: str) -> str:
    t = duckdb_type.upper()
    if t.startswith("DECIMAL"):
        return "decimal"
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return "double"
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"):
        return "integer"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    return t  # VARCHAR, DATE, BOOLEAN ...


def _canonical(column: str, family: str) -> str:
    """A column as compared: decimals to the cent, doubles to 9 places (the tolerance is then
    checked on the rows that still differ), timestamps as UTC wall clock."""
    q = '"' + column.replace('"', '""') + '"'
    if family == "decimal":
        return f"cast(round({q}, 2) as decimal(38, 2)) as {q}"
    if family == "double":
        return f"round(cast({q} as double), 9) as {q}"
    if family == "integer":
        return f"cast({q} as bigint) as {q}"
    if family == "timestamp":
        return f"cast({q} as timestamp) as {q}"
    return q


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"describe select * from {relation}").fetchall()]


def _close(a: object, b: object) -> bool:
    """Doubles (already rounded to 9 places) within the tolerance: two values 1e-16 apart can
    round to neighbours 1e-9 apart, so one unit in the 9th place passes, plus the float noise of
    that subtraction (about 1e-14 for values near 100, hence the 0.1% slack)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= DOUBLE_TOLERANCE * 1.001
    return a == b


def _pair_within_tolerance(left: list[tuple], right: list[tuple], doubles: list[int]
                           ) -> tuple[list[tuple], list[tuple]]:
    """Match rows that differ only by doubles within the tolerance; return the unmatched."""
    exact = [i for i in range(len(left[0]) if left else 0) if i not in doubles]
    by_key: dict[tuple, list[tuple]] = defaultdict(list)
    for row in right:
        by_key[tuple(row[i] for i in exact)].append(row)
    unmatched_left = []
    for row in left:
        candidates = by_key.get(tuple(row[i] for i in exact), [])
        match = next((c for c in candidates if all(_close(row[i], c[i]) for i in doubles)), None)
        if match is None:
            unmatched_left.append(row)
        else:
            candidates.remove(match)
    return unmatched_left, [row for rows in by_key.values() for row in rows]


def compare(con: duckdb.DuckDBPyConnection, name: str, relation: Relation, spark_path: Path
            ) -> str | None:
    """None when DuckDB's ``name`` and Spark's rows (Parquet at ``spark_path``, partition
    folders included) agree, else what differs."""
    duck = f"{DUCKDB_CATALOG}.{name}"
    spark = f"read_parquet('{spark_path}/**/*.parquet', hive_partitioning = true)"
    duck_columns, spark_columns = _columns(con, duck), _columns(con, spark)
    # Spark stores the partition columns of a table last; that order is Spark's, not a difference.
    expected_order = (
        [c for c, _ in duck_columns if c not in relation.partition_by]
        + [c for c, _ in duck_columns if c in relation.partition_by]
    )
    if expected_order != [c for c, _ in spark_columns]:
        return (f"columns differ: DuckDB {[c for c, _ in duck_columns]}, "
                f"Spark {[c for c, _ in spark_columns]}")
    spark_types = dict(spark_columns)
    families = [_family(t) for _, t in duck_columns]
    type_diffs = [
        f"{c}: DuckDB {t}, Spark {spark_types[c]}"
        for (c, t), fam in zip(duck_columns, families, strict=True)
        if _family(spark_types[c]) != fam
    ]
    if type_diffs:
        return "column types differ: " + "; ".join(type_diffs)

    select = ", ".join(_canonical(c, f) for (c, _), f in zip(duck_columns, families, strict=True))
    duck_rows = con.execute(f"select count(*) from {duck}").fetchone()[0]
    spark_rows = con.execute(f"select count(*) from {spark}").fetchone()[0]
    only_duck = con.execute(
        f"select {select} from {duck} except all select {select} from {spark}").fetchall()
    only_spark = con.execute(
        f"select {select} from {spark} except all select {select} from {duck}").fetchall()
    doubles = [i for i, f in enumerate(families) if f == "double"]
    if doubles and (only_duck or only_spark):
        only_duck, only_spark = _pair_within_tolerance(only_duck, only_spark, doubles)
    if not only_duck and not only_spark and duck_rows == spark_rows:
        return None
    columns = [c for c, _ in duck_columns]
    # The columns whose values differ between the unmatched rows: where to look first.
    suspects = [
        c for i, c in enumerate(columns)
        if sorted(repr(r[i]) for r in only_duck) != sorted(repr(r[i]) for r in only_spark)
    ]
    return (
        f"{duck_rows} rows on DuckDB, {spark_rows} on Spark; {len(only_duck)} only on DuckDB, "
        f"{len(only_spark)} only on Spark; values differ in {suspects}\n"
        f"      columns: {columns}\n"
        f"      only DuckDB: {sorted(only_duck, key=repr)[:SAMPLE_ROWS]}\n"
        f"      only Spark:  {sorted(only_spark, key=repr)[:SAMPLE_ROWS]}"
    )


def differences(duckdb_file: Path, relations: dict[str, Relation], spark_data: dict[str, Path]
                ) -> dict[str, str]:
    """What differs between DuckDB's and Spark's rows of each relation, by name."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"attach '{duckdb_file}' as {DUCKDB_CATALOG} (read_only)")
    try:
        return {
            name: why
            for name, relation in sorted(relations.items())
            if (why := compare(con, name, relation, spark_data[name])) is not None
        }
    finally:
        con.close()


def test_every_relation_agrees_with_duckdb(builds, capsys):
    assert not builds.reconfigured, (
        f"runs before the other configurations rebuild models ({builds.reconfigured})"
    )
    started = time.perf_counter()
    differ = differences(builds.duckdb_file, builds.relations, builds.spark_data)
    builds.seconds["compare"] = time.perf_counter() - started

    kinds = defaultdict(int)
    for relation in builds.relations.values():
        kinds[relation.kind] += 1
    with capsys.disabled():
        print(f"\nSpark parity: {len(builds.relations)} relations compared "
              f"({', '.join(f'{n} {k}s' for k, n in sorted(kinds.items()))}); "
              + ", ".join(f"{step} {s:.0f}s" for step, s in builds.seconds.items())
              + f"; total {sum(builds.seconds.values()):.0f}s")

    assert "marts.fct_mrr_movements" in builds.relations and kinds["table"] >= 10, (
        f"the manifest gave too few relations to compare: {sorted(builds.relations)}"
    )
    assert not differ, "Spark and DuckDB differ:\n" + "\n".join(
        f"  {name}: {why}" for name, why in differ.items()
    )


# --------------------------------------------------------------------------- other settings


def _compiled_models(target_dir: Path) -> dict[str, str]:
    """Every model's compiled SQL in a dbt target folder, by model name."""
    manifest = json.loads((target_dir / "manifest.json").read_text())
    compiled = {}
    for node in manifest["nodes"].values():
        path = target_dir / "compiled" / PROJECT / node["original_file_path"]
        if node["resource_type"] == "model" and path.exists():
            compiled[node["name"]] = path.read_text()
    return compiled


@pytest.mark.skipif(not WITH_ALL_TESTS, reason="other configurations: make test-spark")
@pytest.mark.parametrize("configuration", list(OTHER_CONFIGURATIONS))
def test_other_configurations_agree(builds, configuration, capsys):
    """The models whose SQL a configuration changes, rebuilt under it on both engines, agree."""
    dbt_vars = OTHER_CONFIGURATIONS[configuration]
    work = builds.tmp / f"configuration_{len(builds.reconfigured)}"
    builds.reconfigured.append(configuration)
    seconds = {}

    # The default build compiled every model from scratch; compile them the same way (a full
    # refresh: no incremental branch) under the configuration and keep those that differ.
    started = time.perf_counter()
    dbt_build(builds.duckdb_file, work / "compile", command="compile",
              select=["resource_type:model"], dbt_vars=dbt_vars, full_refresh=True)
    default = _compiled_models(builds.tmp / "dbt_duckdb" / "target")
    configured = _compiled_models(work / "compile" / "target")
    assert default.keys() == configured.keys()
    changed = sorted(name for name, sql in configured.items() if sql != default[name])
    seconds["compile"] = time.perf_counter() - started
    # A configuration that changes no model's SQL (its vars misspelt here, or no longer read by
    # the project) would test nothing.
    assert changed, f"{configuration}: no model compiles differently"

    # The unit tests' expected rows are the default settings' (each one that needs another
    # setting sets it itself): under this configuration the data tests only.
    exclude = ["test_type:unit"]
    started = time.perf_counter()
    dbt_build(builds.duckdb_file, work / "duckdb", select=changed, dbt_vars=dbt_vars,
              exclude=exclude, full_refresh=True)
    seconds["dbt build, DuckDB"] = time.perf_counter() - started
    started = time.perf_counter()
    _spark_dbt_build(builds.tmp, work / "spark", [
        "--select", *changed, "--full-refresh", "--vars", json.dumps(dbt_vars),
        "--exclude", *exclude])
    seconds["dbt build, Spark"] = time.perf_counter() - started

    relations = _built_on_both(work / "duckdb", work / "spark")
    started = time.perf_counter()
    spark_data = _spark_rows(builds.tmp, relations, work / "spark_views")
    differ = differences(builds.duckdb_file, relations, spark_data)
    seconds["compare"] = time.perf_counter() - started

    with capsys.disabled():
        print(f"\nSpark parity, {configuration} ({', '.join(sorted(dbt_vars))}): "
              f"{len(relations)} relations rebuilt and compared ({', '.join(changed)}); "
              + ", ".join(f"{step} {s:.0f}s" for step, s in seconds.items()))
    assert not differ, f"Spark and DuckDB differ under {configuration}:\n" + "\n".join(
        f"  {name}: {why}" for name, why in differ.items()
    )
