"""Security basics: the UI stays on this machine, analysts open the published file read-only,
personal data of customer contacts stays out of the published marts, no credentials in the
repository. (No credentials in a run's logs: tests/test_killed_runs.py, which runs the pipeline
with canary secrets in its environment.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap

import duckdb
import pytest

from orchestration.lib.arrivals import published_baseline
from orchestration.run import headline
from tests.conftest import BIN, REPO

EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# Column names that would hold a person's contact details.
# (A count such as email_touches is not one: the name must end with the personal attribute.)
PERSONAL_COLUMN = re.compile(
    r"(^|_)(e_?mail(_address)?|phone(_number)?|mobile|full_name|first_name|last_name|contact_name)$")
# Name columns allowed in the marts: companies, plans, features, and the company's own staff (the
# CSM who owns an account: work routing, DECISIONS.md, Personal data in the marts).
ALLOWED_NAME_COLUMNS = {"account_name", "plan_name", "feature_name", "owner_csm_name", "csm_name"}


def _tracked_text_files():
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        path = REPO / name
        if not name or not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        try:
            yield name, path.read_text()
        except UnicodeDecodeError:
            continue


# --- the Dagster UI ----------------------------------------------------------------------------

def test_the_dagster_ui_listens_on_localhost_unless_told_otherwise():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^DEV_HOST \?= 127\.0\.0\.1$", makefile, re.M)
    recipe = re.search(r"^dev:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    command = next(line for line in recipe.splitlines() if "dagster dev" in line)
    assert re.search(r"\s-h \$\(DEV_HOST\)(\s|$)", command), command
    # No other place starts the UI or a webserver on every interface.
    for name, text in _tracked_text_files():
        for line in text.splitlines():
            if re.search(r"dagster(-webserver| dev)\b", line) and not line.lstrip().startswith("#"):
                assert "0.0.0.0" not in line, f"{name}: {line}"
    readme = (REPO / "README.md").read_text()
    assert "make dev    # the Dagster UI on http://127.0.0.1:3000" in readme


# --- read-only access to the published file ------------------------------------------------------

HOLD_READ_ONLY = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print("held", flush=True)
    sys.stdin.readline()
    """
)


def _readme_python_snippet() -> str:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```python\n(import duckdb\n.*?)```", readme, re.S).group(1)
    assert 'duckdb.connect("data/warehouse/cs_metrics.duckdb", read_only=True)' in block
    return block


def _readme_first_sql_query() -> str:
    readme = (REPO / "README.md").read_text()
    sql = re.search(r"```sql\n(.*?)```", readme, re.S).group(1)
    return sql.split(";")[0] + ";"


def test_the_documented_query_paths_open_the_published_file_read_only(published_run, tmp_path):
    """Another process keeps the file open read-only: a read-write open is then impossible, so
    every documented path that still works opens it read-only."""
    published = tmp_path / "cs_metrics.duckdb"
    shutil.copy(published_run.published_db, published)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_READ_ONLY, str(published)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(published))  # the control: writing is locked out

        # README, "Query the marts": the DuckDB CLI with -readonly, and the Python snippet.
        cli = subprocess.run([str(BIN / "duckdb"), "-readonly", str(published), "-csv", "-c",
                              _readme_first_sql_query()], capture_output=True, text=True, timeout=120)
        assert cli.returncode == 0, cli.stderr
        assert cli.stdout.splitlines()[0] == "period_start,starting_arr,ending_arr,grr,nrr,logo_churn"
        namespace: dict = {}
        exec(_readme_python_snippet().replace("data/warehouse/cs_metrics.duckdb", str(published)), namespace)
        assert len(namespace["df"]) > 0
        # The pipeline's own readers of the published file: make run's headline, the sensor.
        assert headline(published).startswith("Headline retention")
        assert published_baseline(published, published_run.raw_dir)
    finally:
        holder.communicate("done\n", timeout=30)
    readme = (REPO / "README.md").read_text()
    assert ".venv/bin/duckdb -readonly data/warehouse/cs_metrics.duckdb" in readme
    assert 'print(f"Query it:  duckdb -readonly {warehouse.published_db}")' in (
        REPO / "orchestration" / "run.py").read_text()


# --- personal data ---------------------------------------------------------------------------------

def _varchar_columns(con, schema: str) -> list[tuple[str, str]]:
    return con.execute(
        "select c.table_name, c.column_name from information_schema.columns c "
        "join information_schema.tables t using (table_catalog, table_schema, table_name) "
        "where c.table_schema = ? and c.data_type = 'VARCHAR' and t.table_type = 'BASE TABLE' "
        "order by 1, 2", [schema]).fetchall()


def test_no_personal_data_of_contacts_in_the_published_marts(published_run, marts):
    mart_columns = marts.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'marts'"
    ).fetchall()
    assert [c for c in mart_columns if PERSONAL_COLUMN.search(c[1])] == []
    assert {c for _, c in mart_columns if c.endswith("_name")} == ALLOWED_NAME_COLUMNS

    # The names and emails to look for: the build database has them as loaded.
    marts.execute(f"attach '{published_run.build_db}' as build_copy (read_only)")
    marts.execute("create temp table crm_contacts as select * from build_copy.raw.crm_contacts")
    marts.execute("detach build_copy")
    try:
        _assert_no_contact_data_in_marts(marts)
    finally:
        marts.execute("drop table temp.crm_contacts")


def _assert_no_contact_data_in_marts(marts) -> None:
    contacts = marts.execute(
        "select count(*), count(full_name), count(email) from temp.crm_contacts").fetchone()
    assert contacts[1] > 0 and contacts[2] > 0, "the sample has names and emails to leak"
    leaks = []
    for table, column in _varchar_columns(marts, "marts"):
        found = marts.execute(
            f"""
            select count(*) filter (where regexp_matches(m.{column}, '{EMAIL}')),
                   (select count(*) from marts.{table} m2
                    join (select distinct full_name from temp.crm_contacts where full_name is not null) c
                      on contains(m2.{column}, c.full_name)),
                   (select count(*) from marts.{table} m3
                    join (select distinct email from temp.crm_contacts where email is not null) e
                      on contains(lower(m3.{column}), lower(e.email)))
            from marts.{table} m
            """).fetchone()
        if any(found):
            leaks.append((table, column, found))
    assert leaks == []


def test_a_champion_who_left_is_named_by_crm_id_in_the_alerts(marts):
    """The one place a contact reaches the marts: champion_left evidence. By default it names the
    contact by id; the id and the role are those of the CRM contact who left."""
    evidence = marts.execute(
        "select account_id, evidence_text from marts.fct_alerts where rule_id = 'champion_left'"
    ).fetchall()
    assert evidence, "the small company has a champion who left"
    for account_id, text in evidence:
        match = re.fullmatch(r"\d+ sponsor or champion contact\(s\) left; latest contact (\S+) "
                             r"\((sponsor|champion)\) on (\d{4}-\d{2}-\d{2})", text)
        assert match, text
        contact = marts.execute(
            "select account_id, role, cast(left_date as varchar) from raw.crm_contacts "
            "where contact_id = ?", [match.group(1)]).fetchone()
        assert contact == (account_id, match.group(2), match.group(3))


def test_personal_columns_outside_the_marts_are_only_the_loaded_exports(marts, published_run):
    """The published file also carries the raw layer (quarantine, load audit; README) and the
    staging views over it, with the export columns as delivered. Personal columns there are
    exactly these (DECISIONS.md, Personal data in the marts), and those of customers' people
    are empty in the published file (the CSM roster is staff). The intermediate models, which
    stay in the build unless CS_PUBLISH_INTERMEDIATE=true publishes them, hold none."""
    found = marts.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema <> 'marts' order by all").fetchall()
    assert "intermediate" not in {s for s, _, _ in found}
    with duckdb.connect(str(published_run.build_db), read_only=True) as build:
        intermediate = build.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'intermediate'").fetchall()
    assert len({t for t, _ in intermediate}) > 20
    assert [f"{t}.{c}" for t, c in intermediate if PERSONAL_COLUMN.search(c)] == []
    personal = {f"{s}.{t}.{c}" for s, t, c in found if PERSONAL_COLUMN.search(c)}
    assert personal == {
        "raw.crm_contacts.full_name", "raw.crm_contacts.email", "raw.crm_csm_roster.email",
        "raw.product_users.email",
        "staging.stg_crm__contacts.full_name", "staging.stg_crm__contacts.email",
        "staging.stg_crm__csm_roster.email", "staging.stg_product__users.email",
    }
    for column in personal - {"raw.crm_csm_roster.email", "staging.stg_crm__csm_roster.email"}:
        schema, table, name = column.split(".")
        rows, values = marts.execute(f"select count(*), count({name}) from {schema}.{table}").fetchone()
        assert rows > 0 and values == 0, column


def test_the_published_file_holds_no_bytes_of_personal_data(tmp_path):
    """The published file is written table by table, not copied and then masked: a masked value
    would stay readable in the copy's freed blocks. Strings stored uncompressed show that."""
    from orchestration.lib.publish import write_published_copy

    build = tmp_path / "build.duckdb"
    con = duckdb.connect(str(build))
    con.execute("pragma force_compression = 'uncompressed'")
    con.execute("create schema raw; create schema marts")
    con.execute("create table raw.crm_contacts as select 'c' || range as contact_id, "
                "'Person Name ' || range as full_name, 'person' || range || '@example.com' as email "
                "from range(2000)")
    con.execute("create table raw.quarantine (table_name varchar, raw_record varchar)")
    con.execute("insert into raw.quarantine values ('crm_contacts', 'c9,Quarantined Person,q@example.com'), "
                "('support_tickets', 't1,bad date')")
    con.execute("create table marts.m as select 1 as x")
    con.execute("checkpoint")
    con.close()
    assert b"person1999@example.com" in build.read_bytes()

    # What masking a byte-for-byte copy would leave behind.
    masked_copy = tmp_path / "masked_copy.duckdb"
    shutil.copyfile(build, masked_copy)
    con = duckdb.connect(str(masked_copy))
    con.execute("create or replace table raw.crm_contacts as "
                "select * replace (null::varchar as full_name, null::varchar as email) from raw.crm_contacts")
    con.execute("checkpoint")
    con.close()
    assert b"person1999@example.com" in masked_copy.read_bytes()

    published = tmp_path / "published.duckdb"
    write_published_copy(build, published, include_personal=False)
    data = published.read_bytes()
    assert b"@example.com" not in data and b"Person Name" not in data
    con = duckdb.connect(str(published), read_only=True)
    assert con.execute("select count(*), count(full_name), count(email) from raw.crm_contacts").fetchone() == (
        2000, 0, 0)
    assert con.execute("select table_name, raw_record from raw.quarantine order by 1").fetchall() == [
        ("crm_contacts", None), ("support_tickets", "t1,bad date")]
    con.close()

    configured_in = tmp_path / "configured_in.duckdb"
    write_published_copy(build, configured_in, include_personal=True)
    con = duckdb.connect(str(configured_in), read_only=True)
    assert con.execute("select count(email) from raw.crm_contacts").fetchone()[0] == 2000
    con.close()


# --- credentials ----------------------------------------------------------------------------------

# Built from pieces so that this file does not match itself.
SECRET_PATTERNS = {
    "AWS access key id": "AKIA" + r"[0-9A-Z]{16}",
    "private key": "-----BEGIN " + r"[A-Z ]*PRIVATE KEY-----",
    "GitHub token": "gh" + r"[pousr]_[A-Za-z0-9]{30,}",
    "Slack token": "xox" + r"[abprs]-[A-Za-z0-9-]{10,}",
    "Databricks token": "dapi" + r"[0-9a-f]{32}",
    "credentials in a URL": r"[a-z+]+://[^/\s:@'\"]+:[^/\s@'\"{}]+@",
    "assigned secret": r"(?i)\b(password|passwd|secret|token|api_?key|access_?key)\b\s*[:=]\s*"
                       r"['\"]?(?!\{\{|env_var|os\.environ)[A-Za-z0-9/+_\-]{8,}",
}


def find_secrets(text: str) -> list[tuple[str, str]]:
    return [(kind, m.group(0)) for kind, pattern in SECRET_PATTERNS.items()
            for m in re.finditer(pattern, text)]


def test_the_secret_patterns_catch_what_they_should():
    planted = ("aws_key = AKIA" + "ABCDEFGHIJKLMNOP\n" + "token: " + "s3cr3tvalue1234\n"
               + "url = postgres://" + "admin:hunter22@db.example.com/x\n")
    assert {kind for kind, _ in find_secrets(planted)} == {
        "AWS access key id", "assigned secret", "credentials in a URL"}
    assert find_secrets("token: \"{{ env_var('DBT_SPARK_TOKEN', '') }}\"") == []


def test_no_credentials_in_the_repository():
    hits = [(name, kind, value) for name, text in _tracked_text_files()
            for kind, value in find_secrets(text)]
    assert hits == []
    profiles = (REPO / "dbt_project" / "profiles.yml").read_text()
    for key in ("token", "host", "user", "cluster", "organization"):
        line = next(line for line in profiles.splitlines() if line.strip().startswith(f"{key}:"))
        assert "env_var(" in line, line
