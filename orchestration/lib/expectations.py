"""Great Expectations suites for the raw tables: generated from the export contract, run two ways.

One suite per raw table lives in ``expectations/<system>_<entity>.json`` (GX 1.x
``ExpectationSuite`` JSON: ``name``, ``expectations`` with ``type`` / ``kwargs`` / ``meta`` /
``severity``, ``meta``). The suites are written by ``python -m orchestration.lib.expectations``
from ``orchestration/lib/contract.py``; a test keeps the committed files equal to what the
generator produces. Hand-written expectations go in ``expectations/overrides/<table>.json`` (a
JSON list of expectations, or an object with an ``expectations`` list); the generator appends them
to the table's suite, so the committed suite is always the full set that runs.

What the contract turns into (per table, in this order):

* key columns not null, then the key unique (``expect_column_values_to_be_unique`` for one
  column, ``expect_compound_columns_to_be_unique`` for several);
* per column, in contract order: required -> not null; ``enum`` -> in set; ``min_value`` /
  ``max_value`` -> between (so a negative amount fails); a ``date_range_columns`` column ->
  between ``DATE_RANGE_MIN`` and ``DATE_RANGE_MAX``; a ``not_future`` column -> at most
  tomorrow (UTC), a bound that moves with the calendar and so is a GX suite parameter
  (``{"$PARAMETER": "latest_plausible_date"}``) that the runners fill in (``suite_parameters``);
* per ``ordered_columns`` pair (earlier, later): later >= earlier where both are given
  (``expect_column_pair_values_a_to_be_greater_than_b``).

Foreign keys (``references``) need two tables and are not expectations: the quality checks test
them in SQL (``orchestration/defs/quality/checks.py``).

Two runners evaluate a suite and return the same ``SuiteResult``:

* ``run_suite_on_dataframe``: Great Expectations itself, on a pandas DataFrame, through one
  ephemeral context built once per process (pandas data source, dataframe asset, whole-dataframe
  batch definition). Used for the small tables.
* ``run_suite_in_duckdb``: the same expectation types translated to SQL (a count of violating
  rows and a sample) and run in DuckDB against ``raw.<table>``. Used for ``large`` tables, which
  are never pulled into pandas; it works for any table, and a test checks that both runners agree.

Great Expectations is imported lazily (importing it takes several seconds), so loading the Dagster
code location stays fast.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import hashlib
import json
import math
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from orchestration.lib.contract import TABLES, TableSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
OVERRIDES_SUBDIR = "overrides"

# The one place that says what a plausible date is. Dates outside are typos or sentinel values
# (1900-01-01, 9999-12-31) that would distort every period-based metric.
DATE_RANGE_MIN = "2000-01-01"
DATE_RANGE_MAX = "2100-12-31"
# A timestamp column may take any time of day on the last date.
TIMESTAMP_RANGE_MIN = f"{DATE_RANGE_MIN} 00:00:00"
TIMESTAMP_RANGE_MAX = f"{DATE_RANGE_MAX} 23:59:59.999999"

# Suite parameters: names of the bounds that depend on the day the suite runs.
LATEST_DATE_PARAMETER = "latest_plausible_date"
LATEST_TIMESTAMP_PARAMETER = "latest_plausible_timestamp"
PAIR_EXPECTATION = "expect_column_pair_values_a_to_be_greater_than_b"

SAMPLE_SIZE = 10  # offending values / rows kept per failing expectation

CRITICAL = "critical"  # a failure blocks; "warning" and "info" failures are reported only


# --------------------------------------------------------------------------------- generation


def _expectation(type_: str, rule: str, **kwargs: Any) -> dict:
    return {
        "type": type_,
        "kwargs": kwargs,
        "meta": {"rule": rule, "source": "contract"},
        "severity": CRITICAL,
    }


def _bound(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def contract_expectations(spec: TableSpec) -> list[dict]:
    """The expectations the contract implies for one table (see the module docstring)."""
    out: list[dict] = []
    key = list(spec.primary_key)
    for col in key:
        out.append(_expectation("expect_column_values_to_not_be_null", "key_not_null", column=col))
    if len(key) == 1:
        out.append(_expectation("expect_column_values_to_be_unique", "key_unique", column=key[0]))
    else:
        out.append(
            _expectation("expect_compound_columns_to_be_unique", "key_unique", column_list=key)
        )
    for c in spec.columns:
        if c.required and c.name not in key:
            out.append(
                _expectation("expect_column_values_to_not_be_null", "required", column=c.name)
            )
        if c.enum:
            out.append(
                _expectation(
                    "expect_column_values_to_be_in_set", "enum", column=c.name,
                    value_set=list(c.enum),
                )
            )
        if c.min_value is not None or c.max_value is not None:
            bounds = {}
            if c.min_value is not None:
                bounds["min_value"] = _bound(c.min_value)
            if c.max_value is not None:
                bounds["max_value"] = _bound(c.max_value)
            out.append(
                _expectation("expect_column_values_to_be_between", "range", column=c.name, **bounds)
            )
        if c.name in spec.date_range_columns:
            lo, hi = (
                (TIMESTAMP_RANGE_MIN, TIMESTAMP_RANGE_MAX)
                if c.type == "timestamp"
                else (DATE_RANGE_MIN, DATE_RANGE_MAX)
            )
            out.append(
                _expectation(
                    "expect_column_values_to_be_between", "date_range", column=c.name,
                    min_value=lo, max_value=hi,
                )
            )
        if c.not_future:
            parameter = (
                LATEST_TIMESTAMP_PARAMETER if c.type == "timestamp" else LATEST_DATE_PARAMETER
            )
            out.append(
                _expectation(
                    "expect_column_values_to_be_between", "not_future", column=c.name,
                    max_value={"$PARAMETER": parameter},
                )
            )
    for earlier, later in spec.ordered_columns:
        out.append(
            _expectation(
                PAIR_EXPECTATION, "date_order", column_A=later, column_B=earlier, or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
        )
    return out


def suite_parameters(today: dt.date | None = None) -> dict[str, str]:
    """Values of the suite parameters on ``today`` (default: the current UTC date).

    An event cannot have happened after the export was written; one day of slack covers time
    zones and clocks."""
    today = today or dt.datetime.now(dt.UTC).date()
    latest = today + dt.timedelta(days=1)
    return {
        LATEST_DATE_PARAMETER: latest.isoformat(),
        LATEST_TIMESTAMP_PARAMETER: f"{latest.isoformat()} 23:59:59.999999",
    }


def resolve_parameters(expectations: list[dict], parameters: dict[str, str] | None = None
                       ) -> list[dict]:
    """The expectations with every ``{"$PARAMETER": name}`` kwarg replaced by its value."""
    parameters = suite_parameters() if parameters is None else parameters
    out = []
    for e in expectations:
        kwargs = e.get("kwargs", {})
        if any(isinstance(v, dict) and "$PARAMETER" in v for v in kwargs.values()):
            e = {**e, "kwargs": {
                k: parameters[v["$PARAMETER"]] if isinstance(v, dict) and "$PARAMETER" in v else v
                for k, v in kwargs.items()
            }}
        out.append(e)
    return out


def resolve_suite(suite: dict, parameters: dict[str, str] | None = None) -> dict:
    """``suite`` with its parameters filled in (see ``resolve_parameters``)."""
    return {**suite, "expectations": resolve_parameters(suite["expectations"], parameters)}


def load_overrides(table: str, expectations_dir: Path = EXPECTATIONS_DIR) -> list[dict]:
    """Hand-written expectations for ``table`` (``expectations/overrides/<table>.json``)."""
    path = Path(expectations_dir) / OVERRIDES_SUBDIR / f"{table}.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    items = data["expectations"] if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise TypeError(f"{path}: expected a list of expectations or {{'expectations': [...]}}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "type" not in item:
            raise ValueError(f"{path}: expectation {i} needs at least a 'type' (and 'kwargs')")
        out.append(
            {
                "type": item["type"],
                "kwargs": item.get("kwargs", {}),
                "meta": {"rule": "override", **item.get("meta", {}), "source": "override"},
                "severity": item.get("severity", CRITICAL),
            }
        )
    return out


def build_suite(spec: TableSpec, expectations_dir: Path = EXPECTATIONS_DIR) -> dict:
    """The full suite of one table: contract expectations, then its overrides."""
    return {
        "name": spec.name,
        "expectations": contract_expectations(spec) + load_overrides(spec.name, expectations_dir),
        "meta": {
            "table": f"raw.{spec.name}",
            "primary_key": list(spec.primary_key),
            "large": spec.large,
            "generated_by": "python -m orchestration.lib.expectations",
            "notes": (
                "Generated from orchestration/lib/contract.py: do not edit. Add expectations in "
                f"expectations/{OVERRIDES_SUBDIR}/{spec.name}.json and regenerate."
            ),
        },
    }


def render_suite(suite: dict) -> str:
    return json.dumps(suite, indent=2) + "\n"


def suite_path(table: str, expectations_dir: Path = EXPECTATIONS_DIR) -> Path:
    return Path(expectations_dir) / f"{table}.json"


def write_suites(
    expectations_dir: Path = EXPECTATIONS_DIR, specs: tuple[TableSpec, ...] = TABLES
) -> list[Path]:
    """Write one suite file per table; every suite is checked to load in Great Expectations."""
    expectations_dir = Path(expectations_dir)
    expectations_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in specs:
        suite = build_suite(spec, expectations_dir)
        to_gx_suite(resolve_suite(suite))  # fails here, not at run time, on a bad expectation
        path = suite_path(spec.name, expectations_dir)
        path.write_text(render_suite(suite))
        written.append(path)
    return written


def load_suite(table: str, expectations_dir: Path = EXPECTATIONS_DIR) -> dict:
    path = suite_path(table, expectations_dir)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no expectation suite for {table}; run `python -m orchestration.lib.expectations`"
        )
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------------ results


@dataclass
class ExpectationResult:
    index: int  # position in the suite
    type: str
    kwargs: dict
    meta: dict
    severity: str
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    sample_values: list = field(default_factory=list)  # distinct offending values
    sample_rows: list[dict] = field(default_factory=list)  # key columns + offending column(s)
    error: str | None = None  # the expectation could not be evaluated
    # A uniqueness expectation: the first rows (``rowid`` order) already known to hold it, of
    # which only the later rows' values were looked up (run_suite_in_duckdb's known_unique).
    rows_known: int = 0

    @property
    def columns(self) -> list[str]:
        if "column" in self.kwargs:
            return [self.kwargs["column"]]
        if "column_A" in self.kwargs:
            return [self.kwargs["column_A"], self.kwargs["column_B"]]
        return list(self.kwargs.get("column_list", []))

    @property
    def label(self) -> str:
        return f"{self.type}({', '.join(self.columns)})"

    @property
    def blocking(self) -> bool:
        return self.severity == CRITICAL

    def as_dict(self) -> dict:
        return {
            "expectation": self.type,
            "kwargs": json_safe(self.kwargs),
            "rule": self.meta.get("rule"),
            "severity": self.severity,
            "success": self.success,
            "element_count": self.element_count,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": json_safe(self.unexpected_percent),
            "sample_values": self.sample_values,
            "sample_rows": self.sample_rows,
            "error": self.error,
        }


@dataclass
class SuiteResult:
    suite_name: str
    engine: str  # "great_expectations" or "duckdb_sql"
    row_count: int
    seconds: float
    results: list[ExpectationResult]
    # A result kept from an earlier validation of the same rows by the same suite
    # (``kept_result``): when that validation ran (ISO time, UTC).
    kept_from: str | None = None
    # The suite parameters it was validated with, when one of them has moved since (a later
    # latest plausible date): name -> value then.
    kept_parameters_moved: dict[str, str] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """True when every critical expectation passed (warnings do not block)."""
        return all(r.success for r in self.results if r.blocking)

    @property
    def failures(self) -> list[ExpectationResult]:
        return [r for r in self.results if not r.success]

    def by_label(self) -> dict[str, ExpectationResult]:
        return {r.label: r for r in self.results}

    def markdown(self) -> str:
        """One row per expectation, failures first."""
        lines = [
            "| # | expectation | column(s) | rule | result | unexpected | sample |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in sorted(self.results, key=lambda r: (r.success, r.index)):
            if r.error:
                outcome = "ERROR"
            elif r.success:
                outcome = "pass"
            else:
                outcome = "FAIL" if r.blocking else f"fail ({r.severity})"
            sample = ", ".join(_md_cell(v) for v in r.sample_values[:5])
            lines.append(
                f"| {r.index} | `{r.type}` | {', '.join(r.columns)} | {r.meta.get('rule', '')} | "
                f"{outcome} | {'' if r.unexpected_count is None else r.unexpected_count} | "
                f"{_md_cell(r.error) if r.error else sample} |"
            )
        return "\n".join(lines)


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")[:80]


def json_safe(value: Any) -> Any:
    """Plain JSON values: NaN/NaT/NA -> None, numpy scalars -> Python, dates -> ISO text."""
    import numpy as np
    import pandas as pd

    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # also numpy.str_
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value) if not np.isnat(value) else None
        return None if value is None else value.isoformat(sep=" ")
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else float(value)
    return str(value)


def _distinct(values: list, limit: int) -> list:
    out: list = []
    for v in values:
        v = json_safe(v)
        if v not in out:
            out.append(v)
        if len(out) >= limit:
            break
    return out


# -------------------------------------------------------------------------- Great Expectations

_GX_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _gx_batch_definition():
    """One ephemeral context, pandas data source, dataframe asset and whole-frame batch
    definition per process; every validation reuses it with its own DataFrame."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # tqdm bars would flood the Dagster compute logs.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_pandas("raw_quality").add_dataframe_asset("raw_table")
    return asset.add_batch_definition_whole_dataframe("whole_table")


def to_gx_suite(suite: dict, expectations: list[dict] | None = None):
    """A GX ``ExpectationSuite`` (validates every type and its kwargs)."""
    import great_expectations as gx

    return gx.ExpectationSuite(
        name=suite["name"],
        expectations=copy.deepcopy(suite["expectations"] if expectations is None else expectations),
        meta=copy.deepcopy(suite.get("meta", {})),
    )


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _prepare_frame(df):
    """Work around two GX pandas quirks (see ``_gx_expectations`` for the third).

    DuckDB returns DATE and TIMESTAMP columns as ``datetime64[us]``; GX's ``between`` only
    takes its vectorised path for ``datetime64[ns]`` and otherwise compares value by value in
    Python (and raises on ``pd.Timestamp`` against a ``datetime.date`` bound). Columns go to
    ``[ns]`` unless they hold a date outside the nanosecond range (years 1678-2261): those stay
    as they are, which is slower but still finds the bad date. Columns of ``datetime.date``
    objects (``df(date_as_object=True)``) are treated the same way.

    The result is consolidated: GX copies the whole frame for every column metric, and a frame
    left with one block per column is re-consolidated on every copy (seconds per 100k rows).
    """
    import pandas as pd

    out = df.copy(deep=False)
    for name in out.columns:
        s = out[name]
        if pd.api.types.is_datetime64_dtype(s.dtype) and str(s.dtype) != "datetime64[ns]":
            lo, hi = s.min(), s.max()
            if pd.isna(lo) or (pd.Timestamp.min <= lo and hi <= pd.Timestamp.max):
                out[name] = s.astype("datetime64[ns]")
            # else: a date outside 1678-2261; GX compares value by value (slower)
        elif s.dtype == object:
            first = s.dropna().head(1).tolist()
            if first and isinstance(first[0], dt.date) and not isinstance(first[0], dt.datetime):
                try:
                    out[name] = pd.to_datetime(s).astype("datetime64[ns]")
                except (pd.errors.OutOfBoundsDatetime, OverflowError):
                    pass  # left as datetime.date objects: compared one by one
    return out.copy()


def _gx_expectations(expectations: list[dict], frame) -> list[dict]:
    """The suite's expectations ready for GX on ``frame``, each tagged with its position.

    GX parses a bound like ``"2000-01-01"`` into a ``datetime.date``, which pandas refuses to
    compare with timestamps; on datetime columns such bounds become midnight datetimes.
    """
    out = []
    for i, e in enumerate(expectations):
        e = copy.deepcopy(e)
        e.setdefault("meta", {})["__index"] = i
        kwargs = e.setdefault("kwargs", {})
        column = kwargs.get("column")
        if column in frame.columns and _is_datetime_column(frame[column]):
            for bound in ("min_value", "max_value"):
                if isinstance(kwargs.get(bound), str) and _DATE_ONLY.match(kwargs[bound]):
                    kwargs[bound] += " 00:00:00"
        out.append(e)
    return out


def _is_datetime_column(s) -> bool:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return True
    first = s.dropna().head(1).tolist() if s.dtype == object else []
    return bool(first) and isinstance(first[0], dt.datetime)


def _gx_error(validation_result) -> str | None:
    info = validation_result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():  # keyed by metric id in GX 1.x
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def run_suite_on_dataframe(
    suite: dict, df, sample_size: int = SAMPLE_SIZE, key_columns: list[str] | None = None,
    parameters: dict[str, str] | None = None,
) -> SuiteResult:
    """Validate ``df`` against ``suite`` with Great Expectations.

    A first pass computes every expectation with ``SUMMARY`` results. If some fail, a second
    pass over just those asks GX for the key columns of the offending rows
    (``unexpected_index_column_names``), which costs several times more, so a clean table
    does not pay for it. Suite parameters are filled in from ``parameters`` (default:
    ``suite_parameters()``).
    """
    suite = resolve_suite(suite, parameters)
    with _GX_LOCK:
        batch_definition = _gx_batch_definition()  # the first call imports GX: not timed
    started = time.perf_counter()
    key_columns = list(key_columns or suite.get("meta", {}).get("primary_key", []))
    frame = _prepare_frame(df)
    expectations = _gx_expectations(suite["expectations"], frame)
    results: dict[int, ExpectationResult] = {}
    with _GX_LOCK:
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        first = batch.validate(
            to_gx_suite(suite, expectations),
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": sample_size},
        )
        for r in first.results:
            i = r.expectation_config.meta["__index"]
            spec = suite["expectations"][i]
            res = r.result or {}
            results[i] = ExpectationResult(
                index=i,
                type=spec["type"],
                kwargs=spec.get("kwargs", {}),
                meta=spec.get("meta", {}),
                severity=spec.get("severity", CRITICAL),
                success=bool(r.success),
                element_count=res.get("element_count", res.get("observed_value")),
                unexpected_count=res.get("unexpected_count"),
                unexpected_percent=res.get("unexpected_percent"),
                sample_values=_distinct(res.get("partial_unexpected_list") or [], sample_size),
                error=_gx_error(r),
            )
        failed = [
            expectations[i] for i, r in sorted(results.items())
            if not r.success and not r.error and r.unexpected_count
        ]
        usable_keys = [k for k in key_columns if k in frame.columns]
        if failed and usable_keys:
            second = batch.validate(
                to_gx_suite(suite, failed),
                result_format={
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": sample_size,
                    "unexpected_index_column_names": usable_keys,
                },
            )
            for r in second.results:
                rows = (r.result or {}).get("partial_unexpected_index_list") or []
                results[r.expectation_config.meta["__index"]].sample_rows = [
                    json_safe(row) for row in rows[:sample_size]
                ]
    return SuiteResult(
        suite_name=suite["name"],
        engine="great_expectations",
        row_count=len(df),
        seconds=time.perf_counter() - started,
        results=[results[i] for i in sorted(results)],
    )


# ------------------------------------------------------------------------------------ DuckDB

# Expectation types the SQL runner understands. A suite with another type still runs; that
# expectation fails with an error saying it has no SQL translation.
SQL_SUPPORTED_TYPES = (
    "expect_column_to_exist",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
    "expect_table_row_count_to_be_between",
    PAIR_EXPECTATION,
)


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _lit(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, decimal.Decimal)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        value = value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


def _column_condition(type_: str, kwargs: dict) -> tuple[str, bool] | None:
    """(SQL predicate true for a violating row, the SQL aggregate counting the rows considered).
    """
    if type_ == PAIR_EXPECTATION:
        a, b = _q(kwargs["column_A"]), _q(kwargs["column_B"])
        if kwargs.get("ignore_row_if", "both_values_are_missing") != "either_value_is_missing":
            raise ValueError("only ignore_row_if='either_value_is_missing' has a SQL translation")
        both = f"{a} is not null and {b} is not null"
        return (f"{both} and not ({a} {'>=' if kwargs.get('or_equal') else '>'} {b})",
                f"count(*) filter (where {both})")
    col = _q(kwargs["column"])
    every_row, nonmissing = "count(*)", f"count({col})"
    if type_ == "expect_column_values_to_not_be_null":
        return f"{col} is null", every_row
    if type_ == "expect_column_values_to_be_null":
        return f"{col} is not null", every_row
    if type_ in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
        values = list(kwargs.get("value_set") or [])
        inside = f"{col} in ({', '.join(_lit(v) for v in values)})" if values else "false"
        if type_ == "expect_column_values_to_be_in_set":
            return f"{col} is not null and not ({inside})", nonmissing
        return f"{col} is not null and ({inside})", nonmissing
    if type_ == "expect_column_values_to_be_between":
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        if lo is None and hi is None:
            raise ValueError("min_value and max_value cannot both be None")
        ok = []
        if lo is not None:
            ok.append(f"{col} {'>' if kwargs.get('strict_min') else '>='} {_lit(lo)}")
        if hi is not None:
            ok.append(f"{col} {'<' if kwargs.get('strict_max') else '<='} {_lit(hi)}")
        return f"{col} is not null and not ({' and '.join(ok)})", nonmissing
    return None


def _mostly_success(unexpected: int, denominator: int, mostly: float | None) -> bool:
    if mostly is None or mostly >= 1:
        return unexpected == 0
    return denominator == 0 or (denominator - unexpected) / denominator >= mostly


def _percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


UNIQUENESS_TYPES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


def uniqueness_key(spec: dict) -> str | None:
    """What a uniqueness expectation asserts (type, columns, ignore_row_if, mostly), as the key
    under which rows known to hold it are recorded; None for any other expectation."""
    if spec["type"] not in UNIQUENESS_TYPES:
        return None
    kwargs = spec.get("kwargs", {})
    return json.dumps([spec["type"], kwargs.get("column"), kwargs.get("column_list"),
                       kwargs.get("ignore_row_if"), kwargs.get("mostly")])


def run_suite_in_duckdb(
    con,
    suite: dict,
    relation: str | None = None,
    sample_size: int = SAMPLE_SIZE,
    key_columns: list[str] | None = None,
    parameters: dict[str, str] | None = None,
    known_unique: dict[str, int] | None = None,
) -> SuiteResult:
    """Evaluate ``suite`` in DuckDB against ``relation`` (default ``raw.<suite name>``).

    Same semantics as GX's pandas engine: column-map expectations skip nulls (except the null
    checks); ``unique`` counts every row whose value occurs more than once; compound uniqueness
    skips rows whose key columns are all null (GX's ``ignore_row_if`` default); ``mostly`` is
    honoured. All column conditions are counted in one scan; samples are read only for failures.

    ``known_unique`` (``uniqueness_key`` -> N, ``relation`` a table): its first N rows by
    ``rowid`` are known to hold that uniqueness expectation (an appended load of rows that passed
    it before). Only the later rows are then grouped, and looked up among the first N: the
    expensive step on a large table becomes one of the size of the new rows. Should any value
    repeat, the whole table is counted as without it, so a failure reports the same figures.
    """
    started = time.perf_counter()
    suite = resolve_suite(suite, parameters)
    relation = relation or f"raw.{_q(suite['name'])}"
    meta = suite.get("meta", {})
    key_columns = list(key_columns or meta.get("primary_key", []))
    columns = [r[0] for r in con.execute(f"describe select * from {relation}").fetchall()]
    keys = [k for k in key_columns if k in columns]
    row_count = con.execute(f"select count(*) from {relation}").fetchone()[0]

    results: list[ExpectationResult] = []
    conditions: list[tuple[ExpectationResult, str, str]] = []
    for i, spec in enumerate(suite["expectations"]):
        type_, kwargs = spec["type"], spec.get("kwargs", {})
        r = ExpectationResult(
            index=i, type=type_, kwargs=kwargs, meta=spec.get("meta", {}),
            severity=spec.get("severity", CRITICAL), success=False,
        )
        results.append(r)
        missing = [c for c in r.columns if c not in columns]
        if type_ == "expect_column_to_exist":
            r.success = not missing
            continue
        if missing:
            r.error = f"column(s) not in {relation}: {', '.join(missing)}"
            continue
        if type_ not in SQL_SUPPORTED_TYPES:
            r.error = f"{type_} has no SQL translation (supported: {', '.join(SQL_SUPPORTED_TYPES)})"
            continue
        try:
            if type_ == "expect_table_row_count_to_be_between":
                lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
                r.element_count = row_count
                r.success = (lo is None or row_count >= lo) and (hi is None or row_count <= hi)
            elif type_ == "expect_column_values_to_be_unique":
                _sql_unique(con, relation, r, [kwargs["column"]], keys, sample_size, row_count,
                            known_rows=(known_unique or {}).get(uniqueness_key(spec), 0))
            elif type_ == "expect_compound_columns_to_be_unique":
                _sql_unique(con, relation, r, list(kwargs["column_list"]), keys, sample_size,
                            row_count, ignore_row_if=kwargs.get("ignore_row_if",
                                                                "all_values_are_missing"),
                            known_rows=(known_unique or {}).get(uniqueness_key(spec), 0))
            else:
                predicate, considered = _column_condition(type_, kwargs)
                conditions.append((r, predicate, considered))
        except Exception as exc:  # noqa: BLE001 - reported on the expectation, like GX does
            r.error = f"{type(exc).__name__}: {exc}"

    if conditions:
        selects = []
        for _, predicate, considered in conditions:
            selects.append(f"count(*) filter (where {predicate})")
            selects.append(considered)
        try:
            counts = con.execute(f"select {', '.join(selects)} from {relation}").fetchone()
        except Exception as exc:  # noqa: BLE001
            for r, _, _ in conditions:
                r.error = f"{type(exc).__name__}: {exc}"
            counts = None
        for n, (r, predicate, _) in enumerate(conditions):
            if counts is None:
                break
            unexpected, denominator = counts[2 * n], counts[2 * n + 1]
            r.element_count = row_count
            r.unexpected_count = unexpected
            r.unexpected_percent = _percent(unexpected, denominator)
            r.success = _mostly_success(unexpected, denominator, r.kwargs.get("mostly"))
            if unexpected:
                cols = ", ".join(_q(c) for c in r.columns)
                rows = con.execute(
                    f"select distinct {cols} from {relation} where {predicate} "
                    f"order by all nulls first limit {int(sample_size)}"
                ).fetchall()
                r.sample_values = _distinct(
                    [row[0] if len(row) == 1 else list(row) for row in rows], sample_size
                )
                r.sample_rows = _sample_rows(con, relation, predicate, keys, r.columns, sample_size)
    return SuiteResult(
        suite_name=suite["name"],
        engine="duckdb_sql",
        row_count=row_count,
        seconds=time.perf_counter() - started,
        results=results,
    )


def _sample_rows(con, relation, predicate, keys, columns, sample_size) -> list[dict]:
    cols = list(dict.fromkeys([*keys, *columns]))
    order = ", ".join(_q(c) for c in keys or columns)
    cur = con.execute(
        f"select {', '.join(_q(c) for c in cols)} from {relation} where {predicate} "
        f"order by {order} limit {int(sample_size)}"
    )
    names = [d[0] for d in cur.description]
    return [json_safe(dict(zip(names, row, strict=False))) for row in cur.fetchall()]


def _sql_unique(con, relation, r, cols, keys, sample_size, row_count,
                ignore_row_if="all_values_are_missing", known_rows: int = 0) -> None:
    """Rows whose value (or value combination) occurs more than once, like GX counts them.

    The duplicate groups are aggregated once into a temp table (the expensive step on a large
    table; temp tables work on read-only connections too), then counted and sampled from there.
    With ``known_rows`` (rows ``rowid < known_rows`` hold the expectation already): first, are
    the later rows' values unique among themselves and not among the first rows? If so the
    expectation holds; else the whole table is counted as above.
    """
    qcols = [_q(c) for c in cols]
    if len(cols) == 1 or ignore_row_if == "any_value_is_missing":
        considered = " and ".join(f"{c} is not null" for c in qcols)
    elif ignore_row_if == "all_values_are_missing":
        considered = "not (" + " and ".join(f"{c} is null" for c in qcols) + ")"
    elif ignore_row_if == "never":
        considered = "true"
    else:
        raise ValueError(f"unknown ignore_row_if {ignore_row_if!r}")
    known_rows = min(int(known_rows), row_count)
    if known_rows and _later_rows_unique(con, relation, qcols, considered, known_rows):
        nonmissing = con.execute(f"select count(*) from {relation} where {considered}").fetchone()[0]
        r.element_count, r.unexpected_count = row_count, 0
        r.unexpected_percent = _percent(0, nonmissing)
        r.success, r.rows_known = True, known_rows
        return
    dups = f"_quality_dups_{uuid.uuid4().hex[:12]}"
    con.execute(
        f"create temp table {dups} as select {', '.join(qcols)}, count(*) as _n from {relation} "
        f"where {considered} group by all having count(*) > 1"
    )
    try:
        unexpected = int(con.execute(f"select coalesce(sum(_n), 0) from {dups}").fetchone()[0])
        nonmissing = con.execute(f"select count(*) from {relation} where {considered}").fetchone()[0]
        r.element_count = row_count
        r.unexpected_count = unexpected
        r.unexpected_percent = _percent(unexpected, nonmissing)
        r.success = _mostly_success(unexpected, nonmissing, r.kwargs.get("mostly"))
        if not unexpected:
            return
        top = (
            f"select {', '.join(qcols)} from {dups} order by _n desc, {', '.join(qcols)} "
            f"limit {int(sample_size)}"
        )
        values = con.execute(top).fetchall()
        if len(cols) == 1:
            r.sample_values = _distinct([row[0] for row in values], sample_size)
        else:
            r.sample_values = [json_safe(dict(zip(cols, row, strict=False))) for row in values]
        match = " and ".join(f"d.{c} is not distinct from t.{c}" for c in qcols)
        r.sample_rows = _sample_rows(
            con, f"{relation} t semi join ({top}) d on {match}", "true", keys, cols, sample_size
        )
    finally:
        con.execute(f"drop table if exists {dups}")



def _later_rows_unique(con, relation: str, qcols: list[str], considered: str, known: int) -> bool:
    """No value of the rows from ``rowid`` ``known`` on occurs twice among them or among the
    rows before (null equal to null, as GROUP BY has it)."""
    cols = ", ".join(qcols)
    repeated_within, repeated_before = con.execute(
        f"select (select count(*) from (select 1 from {relation} where rowid >= {known} "
        f"and {considered} group by {cols} having count(*) > 1)), "
        f"(select count(*) from {relation} n where n.rowid >= {known} and {considered} "
        f"and exists (select 1 from {relation} o where o.rowid < {known} and "
        + " and ".join(f"o.{c} is not distinct from n.{c}" for c in qcols)
        + "))"
    ).fetchone()
    return repeated_within == 0 and repeated_before == 0

# ------------------------------------------------------------------------------ kept results

# What a Great Expectations validation decides is a fact about the rows it read and the suite it
# ran: the same rows and the same suite give the same result. A result is kept (a JSON file per
# table) and given again while both stay the same, so a daily run does not load an unchanged
# table into pandas, nor import GX, to learn what it already knows. Bump on any change to how a
# result is computed or stored.
KEPT_RESULT_VERSION = 1


def table_fingerprint(con, schema: str, table: str) -> str:
    """A digest of a table's content: its columns and their types, its rows and the sum of its
    rows' hashes (independent of row order, duplicates counted), under this DuckDB version.
    One scan, in DuckDB. Empty when the table does not exist."""
    import duckdb

    columns = con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = "
        "current_database() and schema_name = ? and table_name = ? order by column_index",
        [schema, table],
    ).fetchall()
    if not columns:
        return ""
    values = ", ".join(_q(c) for c, _ in columns)
    rows, checksum = con.execute(
        f"select count(*), coalesce(sum(hash({values})::hugeint), 0)::varchar "
        f"from {_q(schema)}.{_q(table)}"
    ).fetchone()
    text = json.dumps([duckdb.__version__, [list(c) for c in columns], rows, checksum])
    return hashlib.sha256(text.encode()).hexdigest()


def suite_digest(suite: dict, engine: str, sample_size: int = SAMPLE_SIZE,
                 key_columns: list[str] | None = None) -> str:
    """A digest of what decides a result besides the rows: the suite as written (parameters
    unresolved), the engine and its version, the sample size and key columns."""
    from importlib.metadata import PackageNotFoundError, version

    versions = []
    for package in (("great_expectations", "pandas", "numpy", "pyarrow")
                    if engine == "great_expectations" else ()):
        try:
            versions.append(f"{package}=={version(package)}")
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            versions.append(f"{package} missing")
    text = json.dumps([KEPT_RESULT_VERSION, engine, versions, _runner_source(), suite,
                       sample_size, key_columns], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=1)
def _runner_source() -> str:
    """A digest of this project's code between the table and GE's verdict (the frame's
    preparation, the translation of the suite, the validation): a change to it runs every
    suite again, without relying on anyone bumping KEPT_RESULT_VERSION."""
    import inspect

    parts = [inspect.getsource(f) for f in (_prepare_frame, _gx_expectations, to_gx_suite,
                                            run_suite_on_dataframe, resolve_parameters)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _parameters_used(spec: dict) -> dict[str, str]:
    """kwarg -> the suite parameter it takes, for one expectation as written."""
    return {k: v["$PARAMETER"] for k, v in spec.get("kwargs", {}).items()
            if isinstance(v, dict) and "$PARAMETER" in v}


# An upper bound that moves later can only let more rows pass: a kept result where no row was
# above the old bound stands.
_RAISABLE_BOUNDS = {("expect_column_values_to_be_between", "max_value")}


def _result_to_json(result: SuiteResult) -> dict:
    return {"suite_name": result.suite_name, "engine": result.engine,
            "row_count": result.row_count, "seconds": result.seconds,
            "results": [json_safe(vars(r)) for r in result.results]}


def _result_from_json(data: dict) -> SuiteResult:
    return SuiteResult(
        suite_name=data["suite_name"], engine=data["engine"], row_count=int(data["row_count"]),
        seconds=float(data["seconds"]),
        results=[ExpectationResult(**r) for r in data["results"]],
    )


def kept_entry(result: SuiteResult, suite: dict, fingerprint: str, digest: str,
               parameters: dict[str, str], validated_at: str) -> dict | None:
    """What to keep of a validation (``kept_result`` gives it again), or None: only a result
    in which every expectation passed is kept."""
    if not fingerprint or result.failures or any(r.error for r in result.results):
        return None
    used = {name for spec in suite["expectations"] for name in _parameters_used(spec).values()}
    return {"fingerprint": fingerprint, "suite": digest, "validated_at": validated_at,
            "parameters": {k: v for k, v in parameters.items() if k in used},
            "result": _result_to_json(result)}


def kept_result(entry: Any, suite: dict, fingerprint: str, digest: str,
                parameters: dict[str, str]) -> SuiteResult | None:
    """The result kept in ``entry`` as it stands for the rows with ``fingerprint`` under
    ``suite`` and ``parameters`` today, or None when the suite must run.

    It stands when the rows, the suite (and the engine, its version, the sample) are those it
    was computed for, and each suite parameter has its old value or, for an upper bound that
    no row came near (``expect_column_values_to_be_between``'s ``max_value`` with no
    unexpected row), a later one: the bound a daily run moves forward. The kept result is
    given with today's parameter values in its expectations."""
    if not isinstance(entry, dict) or not fingerprint:
        return None
    if entry.get("fingerprint") != fingerprint or entry.get("suite") != digest:
        return None
    try:
        return _standing(entry, suite["expectations"], parameters)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None  # a file that is not what kept_entry writes: the suite runs


def _standing(entry: dict, expectations: list[dict], parameters: dict[str, str]
              ) -> SuiteResult | None:
    kept = _result_from_json(entry["result"])
    if [r.index for r in kept.results] != list(range(len(expectations))):
        return None
    if not all(r.success is True and r.error is None for r in kept.results):
        return None
    validated_at = entry["validated_at"]
    old = entry["parameters"]
    if not isinstance(validated_at, str) or not validated_at or not isinstance(old, dict):
        return None
    moved: dict[str, str] = {}
    for spec, r in zip(expectations, kept.results, strict=True):
        for kwarg, name in _parameters_used(spec).items():
            before, now = old.get(name), parameters.get(name)
            if not isinstance(before, str) or not isinstance(now, str):
                return None
            if now == before:
                continue
            moved[name] = before
            raisable = (spec["type"], kwarg) in _RAISABLE_BOUNDS
            if not (raisable and len(now) == len(before) and now > before
                    and r.unexpected_count == 0):
                return None
    resolved = resolve_parameters(expectations, parameters)
    for r, spec in zip(kept.results, resolved, strict=True):
        r.kwargs = spec.get("kwargs", {})
    kept.kept_from = validated_at
    kept.kept_parameters_moved = moved
    return kept


class KeptResults:
    """The kept validation results of a warehouse: one JSON file per table in ``folder``
    (beside the build database), so that checks running at once never write the same file.
    What a file says is a fact about content (``kept_result``): a stale file can only fail to
    match, never vouch for rows it was not computed on."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, table: str) -> Path:
        return self.folder / f"{table}.json"

    def get(self, table: str) -> Any:
        try:
            return json.loads(self._path(table).read_text())
        except (OSError, ValueError):
            return None

    def put(self, table: str, entry: dict | None) -> str | None:
        """Keep ``entry`` for ``table`` (None: forget the table's). A file that cannot be
        written costs the next run a validation, not this one its result: the reason is
        returned, for the log."""
        path = self._path(table)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            if entry is None:
                path.unlink(missing_ok=True)
                return None
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(entry, indent=1, sort_keys=True))
            os.replace(tmp, path)  # a reader sees the old file or the new one
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            return f"{type(exc).__name__}: {exc}"
        return None


if __name__ == "__main__":  # pragma: no cover
    for written in write_suites():
        print(f"wrote {written.relative_to(REPO_ROOT)}")
