"""A dbt-duckdb plugin (profiles.yml, target ``duckdb``): where dbt builds and spills, read from
the environment when dbt opens its connection rather than written into the profile.

dbt parses the whole project again (about 12 s here, against 4 s when it can reuse its last
parse) whenever the connection settings of the profile differ from those of the last parse:
it hashes them (``ManifestStateCheck.profile_hash``), values included. With the build file
(``CS_BUILD_DB``) and the spill folder (``CS_DUCKDB_TEMP_DIR``) in the profile, every refresh of
a warehouse folder other than the last one parsed the project from scratch: every test's
pipeline, every full run of the benchmark, a second deployment on the same checkout. The
profile now holds the default location only, and this plugin, given the connection before dbt
attaches the profile's databases, puts the environment's in their place:

- ``CS_BUILD_DB``: attached under the profile's catalog name (``database``) first; the
  profile's own attachment of that name (``ATTACH IF NOT EXISTS``) then does nothing;
- ``CS_DUCKDB_TEMP_DIR``: DuckDB's ``temp_directory``, set when the connection opens (a
  ``config_options`` entry of the profile otherwise; not in ``settings``, which dbt-duckdb
  repeats on every cursor and DuckDB refuses once a query has spilled).

Unset (or empty), the profile's defaults apply (``../data/warehouse/`` from ``dbt_project/``).

The variables are read once per DuckDB environment, and dbt-duckdb keeps one environment for
its process as long as the profile is the same, which it now is whatever the variables say:
one dbt process builds one location. The pipeline starts a dbt process per call (dagster-dbt's
subprocess); a caller running dbt in its own process (dbtRunner) twice with another
``CS_BUILD_DB`` would get the first location again.
"""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import escape_sql_string

BUILD_DB_ENV = "CS_BUILD_DB"
TEMP_DIR_ENV = "CS_DUCKDB_TEMP_DIR"


class Plugin(BasePlugin):
    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        temp_dir = os.environ.get(TEMP_DIR_ENV)
        if temp_dir:
            config["temp_directory"] = temp_dir

    def configure_connection(self, conn: Any) -> None:
        build_db = os.environ.get(BUILD_DB_ENV)
        if build_db:
            # quoted as dbt-duckdb quotes the profile's own attachment (Attachment.to_sql)
            conn.execute(f"ATTACH '{escape_sql_string(build_db)}' AS {self.creds.database}")
