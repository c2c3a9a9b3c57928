"""`cs-metrics`: every command called in process through `main([...])`, checked against values
worked out independently (line counts of the files, a SQL query on the published marts), plus
`--help` once as a separate process. The two `run` tests cost a gate run each (~30 s, more on a
busy machine) and one of them a one-model dbt build."""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import SelectionError, dbt_problem_lines, main, plan_phases, translate_selection
from orchestration.lib.contract import TABLES
from tests.conftest import REPO, copy_company

COMMANDS = ("generate", "validate", "run", "kpis", "report")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    """No outside folder, reporting date or Dagster instance leaks into a test."""
    for var in ("CS_RAW_DIR", "CS_WAREHOUSE_DIR", "CS_AS_OF_DATE", "DAGSTER_HOME"):
        monkeypatch.delenv(var, raising=False)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def contract_files(raw_dir: Path) -> dict[str, Path]:
    """``system/entity.ext`` -> path, for every export of the contract present in ``raw_dir``."""
    out = {}
    for spec in TABLES:
        for ext in ("csv", "parquet", "json"):
            path = raw_dir / spec.system / f"{spec.entity}.{ext}"
            if path.exists():
                out[f"{spec.system}/{spec.entity}.{ext}"] = path
    return out


def records_in(path: Path) -> int:
    """Records of an export, counted without the loader: CSV lines minus the header, or the
    row count in the Parquet footer."""
    if path.suffix == ".csv":
        return len(path.read_bytes().splitlines()) - 1
    import pyarrow.parquet as pq

    return pq.read_metadata(path).num_rows


def table_rows(text: str) -> dict[str, list[str]]:
    """The rows of a tabulate table in ``text``, keyed by the first cell (a file name)."""
    rows = {}
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells and re.fullmatch(r"\w+/\w+\.(csv|parquet|json|\*)", cells[0]):
            rows[cells[0]] = cells[1:]
    return rows


def number(cell: str) -> int:
    return int(cell.replace(",", ""))


# ------------------------------------------------------------------------------------ help


def test_help_and_version_of_every_command(capsys):
    for argv in ([], *([c] for c in COMMANDS)):
        with pytest.raises(SystemExit) as exit_:
            main([*argv, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert "examples:" in out and "cs-metrics" in out, argv
    with pytest.raises(SystemExit):
        main(["--version"])
    assert re.fullmatch(r"cs-metrics \S+\n", capsys.readouterr().out)
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--as-of", "2025-13-01"])
    assert exit_.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_installed_script_help(tmp_path):
    """The `cs-metrics` script when it runs this checkout's code (CI installs it from the
    checkout); otherwise (a worktree beside an installed main checkout) the same entry point as
    `python -m orchestration.cli`."""
    script = Path(sys.executable).with_name("cs-metrics")
    where = subprocess.run(
        [sys.executable, "-c", "import orchestration; print(orchestration.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    ).stdout.strip()
    if script.exists() and where and Path(where).resolve().is_relative_to(REPO.resolve()):
        argv, cwd = [str(script), "--help"], tmp_path
    else:
        argv, cwd = [sys.executable, "-m", "orchestration.cli", "--help"], REPO
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: cs-metrics")
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", done.stdout, re.M), command
    assert "CS_WAREHOUSE_DIR" in done.stdout


# ------------------------------------------------------------------------------------ generate


def test_generate_writes_and_lists_the_contract_files(tmp_path, capsys):
    raw = tmp_path / "raw"
    assert main(["generate", "--accounts", "8", "--seed", "5", "--raw-dir", str(raw)]) == 0
    listed = table_rows(capsys.readouterr().out)
    on_disk = contract_files(raw)
    assert set(listed) == set(on_disk)
    assert {f.rsplit(".", 1)[0] for f in listed} >= {
        f"{s.system}/{s.entity}" for s in TABLES if not s.optional
    }
    for name, (rows,) in listed.items():
        assert number(rows) == records_in(on_disk[name]), name

    # Existing exports are kept unless --force.
    before = sha256(raw / "crm" / "accounts.csv")
    assert main(["generate", "--accounts", "9", "--raw-dir", str(raw)]) == 1
    err = capsys.readouterr().err
    assert "--force" in err and str(raw) in err
    assert sha256(raw / "crm" / "accounts.csv") == before
    assert main(["generate", "--accounts", "9", "--raw-dir", str(raw), "--force"]) == 0
    assert records_in(raw / "crm" / "accounts.csv") == 9


# ------------------------------------------------------------------------------------ validate


def test_validate_a_clean_company_counts_every_row(small_company, capsys, monkeypatch):
    monkeypatch.setenv("CS_RAW_DIR", str(small_company))  # the default --raw-dir
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    rows = table_rows(out)
    files = contract_files(small_company)
    assert set(rows) == set(files)
    for name, path in files.items():
        read, loaded, quarantined, status = rows[name]
        expected = records_in(path)
        assert (number(read), number(loaded), number(quarantined)) == (expected, expected, 0), name
        assert status == "ok", name
    assert "OK: every export passes the quality gate" in out


def test_validate_names_file_line_column_and_rule(small_company, tmp_path, capsys):
    raw = copy_company(small_company, tmp_path / "raw")
    lines = read_csv(raw / "billing" / "invoice_lines.csv")
    lines[2][lines[0].index("amount")] = "-120.00"  # file line 3 (line 1 is the header)
    write_csv(raw / "billing" / "invoice_lines.csv", lines)
    assert (raw / "billing" / "invoice_lines.csv").read_text().splitlines()[2].count("-120.00") == 1

    assert main(["validate", "--raw-dir", str(raw)]) == 1
    out = capsys.readouterr().out
    assert ("billing/invoice_lines.csv, line 3, column amount: rule range (blocking): "
            "amount = -120.0 must be between 0 and 10000000000") in out
    read, loaded, quarantined, status = table_rows(out)["billing/invoice_lines.csv"]
    assert number(read) == len(lines) - 1 and number(quarantined) == 0
    assert status == "FAIL: 1 row(s)"
    assert "FAILED: 1 file(s) would stop the run at the quality gate: billing_invoice_lines" in out


def test_validate_quarantined_rows_warn_unless_strict(small_company, tmp_path, capsys):
    raw = copy_company(small_company, tmp_path / "raw")
    rows = read_csv(raw / "crm" / "activities.csv")
    rows[4][rows[0].index("activity_date")] = "2024-02-30"  # file line 5; nothing references it
    write_csv(raw / "crm" / "activities.csv", rows)
    expected = ("crm/activities.csv, line 5, column activity_date: rule bad_type (not blocking): "
                "activity_date: '2024-02-30' is not a valid DATE (row quarantined)")

    assert main(["validate", "--raw-dir", str(raw)]) == 0
    out = capsys.readouterr().out
    assert expected in out
    read, loaded, quarantined, status = table_rows(out)["crm/activities.csv"]
    assert (number(read), number(loaded), number(quarantined)) == (len(rows) - 1, len(rows) - 2, 1)
    assert status == "warn: 1 row(s)"

    assert main(["validate", "--raw-dir", str(raw), "--strict"]) == 1
    assert expected.replace("not blocking", "blocking") in capsys.readouterr().out


def test_validate_missing_file_and_column(small_company, tmp_path, capsys):
    raw = copy_company(small_company, tmp_path / "raw")
    (raw / "crm" / "csm_roster.csv").unlink()
    rows = read_csv(raw / "crm" / "accounts.csv")
    drop = rows[0].index("segment")
    write_csv(raw / "crm" / "accounts.csv", [r[:drop] + r[drop + 1:] for r in rows])
    assert main(["validate", "--raw-dir", str(raw)]) == 1
    out = capsys.readouterr().out
    assert "missing required column 'segment'" in out
    assert f"required export missing: expected {raw / 'crm' / 'csm_roster'}.csv" in out
    assert table_rows(out)["crm/accounts.csv"][-1] == "FAIL: cannot load"


def test_validate_without_exports(tmp_path, capsys):
    assert main(["validate", "--raw-dir", str(tmp_path)]) == 1
    assert "cs-metrics generate" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ kpis


def fmt(value, unit) -> str:
    if value is None:
        return "n/a"
    return {"fraction": f"{value * 100:.1f}%", "money": f"{value:,.0f} USD"}.get(unit, f"{value:.1f}")


def test_kpis_print_the_mart_values(published_run, capsys, monkeypatch):
    con = duckdb.connect(str(published_run.published_db), read_only=True)
    try:
        expected = con.execute(
            "select period_type, kpi_label, unit, value, prior_value, target, is_on_target "
            "from marts.metrics_kpi_summary where is_current order by period_type, display_order"
        ).fetchall()
    finally:
        con.close()
    assert expected

    monkeypatch.setenv("CS_WAREHOUSE_DIR", str(published_run.warehouse_dir))
    assert main(["kpis", "--period", "all"]) == 0
    out = capsys.readouterr().out
    sections = dict(re.findall(r"^(month|quarter|year to date) \d{4}-\d\d-\d\d \.\. .*\n((?:.+\n?)+)",
                               out, re.M))
    assert set(sections) == {"month", "quarter", "year to date"}
    for ptype, label, unit, value, prior, target, on_target in expected:
        line = next(ln for ln in sections[ptype.replace("_", " ")].splitlines()
                    if ln.startswith(label + "  "))
        cells = re.split(r"\s{2,}", line.strip())
        assert cells[1:3] == [fmt(value, unit), fmt(prior, unit)], (ptype, label, cells)
        assert fmt(target, unit) in cells
        if on_target is not None:
            assert ("yes" if on_target else "no") in cells

    # The default: the current month only, and --db gives the same as the environment.
    assert main(["kpis", "--db", str(published_run.published_db)]) == 0
    month_only = capsys.readouterr().out
    assert "quarter" not in month_only and sections["month"].strip() in month_only


def test_kpis_without_a_published_file(tmp_path, capsys):
    assert main(["kpis", "--db", str(tmp_path / "cs_metrics.duckdb")]) == 1
    assert "run `cs-metrics run` first" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ report


def test_report_path_and_open(tmp_path, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.setenv("CS_WAREHOUSE_DIR", str(tmp_path))
    report = tmp_path / "cs_kpi_report.html"

    assert main(["report", "--open"]) == 1
    err = capsys.readouterr().err
    assert str(report) in err and "run `cs-metrics run` first" in err
    assert opened == []

    report.write_text("<html></html>")
    assert main(["report"]) == 0
    assert capsys.readouterr().out.strip() == str(report)
    assert opened == []
    assert main(["report", "--open", "--db", str(tmp_path / "cs_metrics.duckdb")]) == 0
    assert opened == [report.resolve().as_uri()]


# ------------------------------------------------------------------------------------ run


def test_selection_keeps_the_gate(dbt_manifest):
    import dagster as dg

    from orchestration.definitions import defs

    raw = {dg.AssetKey(["raw", s.name]) for s in TABLES}
    publish = dg.AssetKey(["published", "cs_metrics"])
    retention = dg.AssetKey(["marts", "metrics_retention"])

    gate, build = plan_phases(["metrics_retention+"], defs, publish=True)
    assert gate.keys == raw  # every export reloaded and checked, in a run of its own
    assert {retention, dg.AssetKey(["marts", "metrics_kpi_summary"]), publish} <= build.keys
    assert not build.keys & raw

    _, build = plan_phases(["+metrics_retention"], defs, publish=False)
    assert retention in build.keys and publish not in build.keys

    (only,) = plan_phases(["key:raw/crm_*"], defs, publish=True)
    assert only.keys == {k for k in raw if k.path[1].startswith("crm_")}
    (full,) = plan_phases(["kind:dbt"], defs, publish=True)
    assert raw | {retention, publish} <= full.keys

    with pytest.raises(SelectionError, match="publishing without building a model"):
        plan_phases(["key:published/cs_metrics"], defs, publish=True)
    with pytest.raises(SelectionError, match="no asset is called"):
        plan_phases(["metrics_retentoin"], defs, publish=True)
    assert translate_selection("+metrics_retention and not fct_x", {"metrics_retention": "marts/m"}) == (
        '+key:"marts/m" and not fct_x'
    )


def test_dbt_failure_lines_are_picked_from_the_log():
    log = (
        "Running with dbt=1.11.16\n"
        "12 of 40 OK created sql table model marts.fct_mrr_monthly ..... [\x1b[32mOK\x1b[0m in 0.2s]\n"
        "13 of 40 FAIL 3 unique_fct_mrr_monthly_id ..................... [\x1b[31mFAIL 3\x1b[0m in 0.1s]\n"
        "Failure in test unique_fct_mrr_monthly_id (models/marts/revenue/_revenue__models.yml)\n"
        "Done. PASS=38 WARN=0 ERROR=1 SKIP=1 NO-OP=0 TOTAL=40\n"
    )
    assert dbt_problem_lines(log) == [
        "13 of 40 FAIL 3 unique_fct_mrr_monthly_id ..................... [FAIL 3 in 0.1s]",
        "Failure in test unique_fct_mrr_monthly_id (models/marts/revenue/_revenue__models.yml)",
        "Done. PASS=38 WARN=0 ERROR=1 SKIP=1 NO-OP=0 TOTAL=40",
    ]


def test_run_without_exports(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CS_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("CS_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    assert main(["run"]) == 1
    assert "cs-metrics generate" in capsys.readouterr().err


@pytest.mark.slow
def test_run_a_selection_gates_builds_and_publishes(published_run, tmp_path, capsys, monkeypatch):
    raw = copy_company(published_run.raw_dir, tmp_path / "raw")
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    shutil.copy(published_run.build_db, warehouse / "build.duckdb")  # the models it builds on
    monkeypatch.setenv("CS_RAW_DIR", str(raw))
    monkeypatch.setenv("CS_WAREHOUSE_DIR", str(warehouse))

    assert main(["run", "--no-parse", "--select", "metrics_kpi_summary"]) == 0
    captured = capsys.readouterr()
    published = warehouse / "cs_metrics.duckdb"
    assert published.exists()
    assert f"Published {published}" in captured.out
    err = captured.err
    assert "run 1/2: gate: reload and check all 22 exports" in err
    assert re.search(r"done   check billing_invoice_lines: expectations_suite \(\d+\.\d s\)", err)
    assert "start  dbt build (1 models and seeds, with their tests)" in err
    assert "dbt build: 1/1 built" in err
    assert re.search(r"\[\s*\d+/\d+\s+[\d.]+s\] done   publish cs_metrics.duckdb \(\d+\.\d s\)", err)
    assert "Running with dbt" not in captured.out + err  # dbt's own log is kept out

    query = "select * from marts.metrics_kpi_summary order by all"
    with duckdb.connect(str(published), read_only=True) as new, \
            duckdb.connect(str(published_run.published_db), read_only=True) as old:
        assert new.execute(query).fetchall() == old.execute(query).fetchall()


@pytest.mark.slow
def test_a_failed_run_says_where_and_publishes_nothing(published_run, tmp_path, capsys, monkeypatch):
    raw = copy_company(published_run.raw_dir, tmp_path / "raw")
    lines = read_csv(raw / "billing" / "invoice_lines.csv")
    lines[2][lines[0].index("amount")] = "-120.00"  # file line 3
    write_csv(raw / "billing" / "invoice_lines.csv", lines)
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    shutil.copy(published_run.published_db, warehouse / "cs_metrics.duckdb")
    before = sha256(warehouse / "cs_metrics.duckdb")
    monkeypatch.setenv("CS_RAW_DIR", str(raw))
    monkeypatch.setenv("CS_WAREHOUSE_DIR", str(warehouse))

    assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert "FAILED check billing_invoice_lines: expectations_suite" in err
    assert "The quality gate stopped the run: billing_invoice_lines" in err
    assert ("billing/invoice_lines.csv, line 3, column amount: rule range (blocking): "
            "amount = -120.0 must be between 0 and 10000000000") in err
    assert re.search(r"Not run because of the failure: .*dbt build.*publish cs_metrics.duckdb", err)
    assert f"Nothing was published: {warehouse / 'cs_metrics.duckdb'} is unchanged." in err
    assert sha256(warehouse / "cs_metrics.duckdb") == before
