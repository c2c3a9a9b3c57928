"""The corpus of broken exports (tests/reliability/make_corpus.py), each case run through the
loader and the raw quality gate (orchestration/lib/reliability.py): the documented outcome and
rule, the file / line / column in the reason where there is one, and rows read = rows loaded +
rows quarantined for every table.

Expected values come from the case (what the generator changed, where) and from the files
themselves (line breaks and rows counted in the bytes), not from the loader.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration.lib import reliability as rl
from orchestration.lib.contract import get_table
from orchestration.lib.loader import (
    ExportError,
    SourceMapping,
    load_table,
    path_literal,
    stray_files,
)
from tests.reliability import make_corpus as mc

FAST_CASES = [c for c in mc.CASES if not c.slow]
SLOW_CASES = [c for c in mc.CASES if c.slow]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(small_company, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    mc.generate(out, base=small_company)
    return out


@pytest.fixture(scope="module")
def baseline(small_company, tmp_path_factory) -> rl.Baseline:
    return rl.prepare_baseline(small_company, tmp_path_factory.mktemp("baseline"))


@pytest.fixture(scope="module")
def rows(corpus, baseline, tmp_path_factory) -> dict[str, rl.CaseRow]:
    """Every fast case run once (the parametrized tests below only read the results)."""
    work = tmp_path_factory.mktemp("reliability")
    return {
        d.name: rl.run_case(d, work / d.name, baseline=baseline) for d in rl.case_dirs(corpus)
    }


def base_rows(path: Path) -> int:
    """Data rows of an export of the base company, counted in its bytes (no value of the base
    company spans lines) or, for Parquet, in its footer."""
    if path.suffix == ".parquet":
        with duckdb.connect() as con:
            return con.execute(
                f"select sum(row_group_num_rows) from (select distinct row_group_id, "
                f"row_group_num_rows from parquet_metadata({path_literal(path)}))").fetchone()[0]
    return path.read_bytes().count(b"\n") - 1


def test_the_base_company_is_accepted_without_findings(baseline):
    assert baseline.row.outcome == "accepted", baseline.row.findings
    assert baseline.row.findings == []
    assert baseline.row.balanced
    assert baseline.row.rows_read == baseline.row.rows_loaded > 300_000


@pytest.mark.parametrize("case", FAST_CASES, ids=[c.name for c in FAST_CASES])
def test_case_has_its_documented_outcome(case, rows, corpus, small_company):
    row = rows[case.name]
    spec = rl.read_case(corpus / case.name)
    expect = spec["expect"]
    assert (row.outcome, row.expected) == (case.outcome, case.outcome), row.findings
    if case.rule:
        assert case.rule in row.rules, (row.rules, row.findings)
    assert row.findings_at("crashed") == []

    # read = loaded + quarantined, overall and for every table, and the raw tables agree.
    assert row.balanced
    assert row.rows_read == row.rows_loaded + row.rows_quarantined
    for table, (read, loaded, quarantined) in row.counts.items():
        assert read == loaded + quarantined, table

    blocked_on_load = [f for f in row.findings_at("blocked") if f.source == "load"]
    if blocked_on_load:
        (finding,) = blocked_on_load
        assert finding.table == case.table
        assert row.table_read is None  # the table never loaded
        assert str(corpus / case.name) in finding.message  # the file is named in full
    else:
        # The table's rows, worked out from the files: the base export's rows, plus what the
        # case added, or the rows up to the cut of a truncated file.
        table = get_table(case.table)
        (base_file,) = (small_company / table.system).glob(f"{table.entity}.*")
        assert row.table_read == expect.get("rows_read", base_rows(base_file)
                                            + expect.get("rows_added", 0))
        assert row.table_quarantined == expect.get("rows_quarantined", 0)
        assert row.table_read == row.table_loaded + row.table_quarantined

    for text in expect.get("message_contains", []):
        assert any(text in f.message for f in row.findings), (text, row.findings)
    if "sample_value" in expect:
        assert any(str(expect["sample_value"]) in f.message for f in row.findings_at("blocked"))

    if expect.get("rows_quarantined"):
        q = [r for r in row.quarantine if r[0] == case.table]
        assert len(q) == expect["rows_quarantined"]
        lines = expect.get("lines") or [expect["line"]]
        for (_table, source, line, column, rule, reason), want in zip(q, lines, strict=True):
            assert Path(source) == corpus / case.name / case.raw_dir / case.file
            assert line == want
            assert rule == expect.get("quarantine_rule", case.rule) and reason
            if "column" in expect:
                assert column == expect["column"]
                assert reason.startswith(f"{column}: ")
        if case.outcome == "quarantined":  # the message the table shows names file, line, column
            assert row.message.startswith(f"{q[0][1]}, line {lines[0]}, column {q[0][3]}: ")


def test_no_case_dropped_or_altered_the_load_tables(rows):
    for name, row in rows.items():
        with duckdb.connect(str(row.build_db), read_only=True) as con:
            tables = {r[0] for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()}
        assert {"quarantine", "load_audit", "crm_accounts", "support_tickets"} <= tables, name


def query(rows: dict, case: str, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(rows[case].build_db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_values_are_loaded_exactly(rows, corpus, small_company):
    # Quoted line breaks survive.
    spec = rl.read_case(corpus / "quoted_newlines")
    assert query(rows, "quoted_newlines",
                 "select comment from raw.surveys_nps_responses where response_id = ?",
                 [spec["expect"]["key"]]) == [(mc.NEWLINE_COMMENT,)]
    # SQL in a value is a value.
    spec = rl.read_case(corpus / "sql_in_values")
    assert query(rows, "sql_in_values",
                 "select account_name from raw.crm_accounts where account_id = ?",
                 [spec["expect"]["key"]]) == [(mc.SQL_VALUE,)]
    # A BOM does not stick to the first column name or value.
    base_ids = sorted(line.split(",")[0] for line in
                      (small_company / "crm/accounts.csv").read_text().splitlines()[1:])
    assert [r[0] for r in query(rows, "utf8_bom", "select account_id from raw.crm_accounts "
                                "order by 1")] == base_ids
    # The cut record of the truncated file is not loaded; the ones before it are.
    spec = rl.read_case(corpus / "truncated_file")
    loaded = query(rows, "truncated_file", "select count(*), count(*) filter (where ticket_id "
                   "= ?) from raw.support_tickets", [spec["expect"]["key"]])
    assert loaded == [(spec["expect"]["rows_read"] - 1, 0)]
    # The file with 10,000 columns has 10,000 columns, and its contract columns load.
    header = (corpus / "ten_thousand_columns/raw/support/tickets.csv").open().readline()
    assert header.count(",") + 1 == 10_000
    assert rows["ten_thousand_columns"].table_loaded == base_rows(
        small_company / "support/tickets.csv")


def test_the_right_raw_folder_is_read_when_its_name_has_quotes_and_glob_characters(rows, corpus):
    raw = corpus / "raw_dir_with_sql_and_glob" / mc.SQL_RAW_DIR
    assert query(rows, "raw_dir_with_sql_and_glob",
                 "select source_file from raw.load_audit where table_name = 'crm_accounts'"
                 ) == [(str(raw / "crm" / "accounts.csv"),)]
    # The decoy the unescaped glob would match has a duplicate key: it was not read.
    assert rows["raw_dir_with_sql_and_glob"].table_read == 40


def test_stray_files_are_reported_and_never_loaded(rows, corpus, small_company):
    for name in ("same_file_two_names", "stray_sql_name", "stray_link_outside"):
        assert rows[name].counts["support_tickets"][0] == base_rows(
            small_company / "support/tickets.csv")
    assert rows["stray_quote_name"].counts["crm_accounts"][0] == 40
    found = {s.path: s for s in stray_files(corpus / "stray_sql_name" / "raw")}
    assert found[f"support/{mc.SQL_NAME}"].table_name == "support_tickets"


def test_render_table_shows_every_input(rows):
    text = rl.render_table(list(rows.values()))
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["case", "input", "expected", "outcome"]
    assert lines[-1] == f"{len(rows)} inputs, {len(rows)} as documented"
    by_case = {line.split()[0]: line for line in lines[2:-1]}
    assert set(by_case) == set(rows)
    truncated = rows["truncated_file"]
    cells = by_case["truncated_file"].split()
    assert cells[1:5] == ["support/tickets.csv", "quarantined", "quarantined", "truncated"]
    assert f"{truncated.table_read}/{truncated.table_loaded}/1" in cells
    assert "n/a" in cells  # published file: the fast variant does not publish
    md = rl.render_table([truncated], markdown=True)
    assert md.splitlines()[2].startswith("| truncated_file | support/tickets.csv | quarantined |")


def test_corpus_is_generated_by_a_seeded_script(small_company, tmp_path):
    names = ["negative_amount", "truncated_file", "field_count"]

    def digest(folder: Path) -> str:
        h = hashlib.sha256()
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
        return h.hexdigest()

    first = [digest(d) for d in mc.generate(tmp_path / "a", small_company, only=names)]
    again = [digest(d) for d in mc.generate(tmp_path / "b", small_company, only=names)]
    other = [digest(d) for d in mc.generate(tmp_path / "c", small_company, only=names, seed=8)]
    assert first == again
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_every_case_is_documented():
    doc = (REPO / "docs" / "reliability.md").read_text()
    assert mc.docs_table() in doc, "docs/reliability.md: paste tests.reliability.make_corpus.docs_table()"
    assert {c.outcome for c in mc.CASES} == set(mc.OUTCOMES)


# ----------------------------------------------------------- names that try to reach SQL


def test_file_and_folder_names_reach_sql_escaped(tmp_path):
    """Quotes, semicolons and glob characters in the raw folder's path; a vendor mapping whose
    codes and formats hold SQL; a link through ``..`` out of the raw folder."""
    header = "account_id,account_name,segment,industry,region,owner_csm_id,created_date\n"
    for folder, row in (("r'; drop table raw.quarantine;--[a]?*", "A1,Acme,smb,,,,2024-01-01\n"),
                        ("r'; drop table raw.quarantine;--ab1", "EVIL,Evil,smb,,,,2024-01-01\n")):
        (tmp_path / folder / "crm").mkdir(parents=True)
        (tmp_path / folder / "crm" / "accounts.csv").write_text(header + row)
    raw = tmp_path / "r'; drop table raw.quarantine;--[a]?*"
    mapping = SourceMapping(values={"segment": {"smb'); drop table raw.load_audit; --": "smb"}},
                            formats={"created_date": "%Y-%m-%d'; --"})
    with duckdb.connect() as con:
        result = load_table(con, get_table("crm_accounts"), raw, mapping)
        assert (result.rows_read, result.rows_quarantined) == (1, 1)  # the format does not parse
        assert con.execute("select count(*) from raw.load_audit").fetchone() == (1,)
        assert con.execute("select raw_record from raw.quarantine").fetchone()[0].startswith(
            '{"account_id":"A1"')
        # Relative paths with .. are fine while they stay inside; a link out is refused.
        inside = raw / ".." / raw.name
        assert load_table(con, get_table("crm_accounts"), inside).rows_read == 1
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "elsewhere" / "accounts.csv").write_text(header + "A9,X,smb,,,,2024-01-01\n")
        (raw / "crm" / "accounts.csv").unlink()
        (raw / "crm" / "accounts.csv").symlink_to("../../elsewhere/accounts.csv")
        with pytest.raises(ExportError) as err:
            load_table(con, get_table("crm_accounts"), raw)
        assert err.value.rule == "outside_raw_dir" and "outside the raw folder" in str(err.value)


def test_stray_files_are_attributed_and_never_opened(tmp_path):
    raw = tmp_path / "raw"
    (raw / "support").mkdir(parents=True)
    (raw / "crm").mkdir()
    (raw / "_ground_truth").mkdir()
    (raw / "support" / "tickets.csv").write_text("x\n")
    (raw / "support" / "tickets'; drop table raw.x;--.csv").write_text("x\n")
    (raw / "crm" / 'a"b.csv').write_text("y\n")
    (raw / "crm" / ".DS_Store").write_text("")
    (raw / "_ground_truth" / "planted.json").write_text("{}")
    (raw / "notes.txt").write_text("")
    os_fifo = raw / "support" / "incidents_pipe.csv"  # reading it would hang the test
    import os

    os.mkfifo(os_fifo)
    found = {s.path: (s.table_name, s.reason) for s in stray_files(raw)}
    assert set(found) == {"support/tickets'; drop table raw.x;--.csv", 'crm/a"b.csv', "notes.txt",
                          "support/incidents_pipe.csv"}
    assert found["support/tickets'; drop table raw.x;--.csv"][0] == "support_tickets"
    assert "same content as support/tickets.csv" in found["support/tickets'; drop table raw.x;--.csv"][1]
    assert found['crm/a"b.csv'][0] == "crm_accounts"
    assert found["support/incidents_pipe.csv"][0] == "support_incidents"
    assert found["notes.txt"][0] == "crm_accounts"


# ------------------------------------------------------------------------------- slow tier


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW_CASES, ids=[c.name for c in SLOW_CASES])
def test_slow_case(case, small_company, baseline, tmp_path):
    (case_dir,) = mc.generate(tmp_path / "corpus", small_company, only=[case.name])
    assert (case_dir / "raw" / case.file).stat().st_size >= mc.RANDOM_BYTES_MB << 20
    row = rl.run_case(case_dir, tmp_path / "warehouse", baseline=baseline)
    assert row.outcome == case.outcome and case.rule in row.rules, row.findings
    assert row.balanced and row.rows_read == row.rows_loaded + row.rows_quarantined
    assert row.seconds < 60
    shutil.rmtree(case_dir)


@pytest.mark.slow
def test_end_to_end_variant_keeps_the_published_file(published_run, small_company, tmp_path):
    """The whole refresh job: a blocked case leaves the published file byte-identical, an
    accepted one publishes a complete new one."""
    for d in mc.generate(tmp_path / "corpus", small_company, only=["nps_11", "extra_column"]):
        row = rl.run_case(d, tmp_path / d.name, full_pipeline=True,
                          published_db=published_run.published_db)
        case = mc.CASES_BY_NAME[d.name]
        assert row.outcome == case.outcome and case.rule in row.rules, row.findings
        assert row.published_intact is True
        assert row.balanced
