"""One Dagster asset check per dbt model (``dbt_tests``) carrying the results of all its dbt data
tests, instead of one asset check per test.

Why: the project had about 1,300 dbt data tests (most of them ``not_null``, one per column;
since then one ``not_null_columns`` test per model replaces those, about 600 remain). As
one asset check each, Dagster wrote a "planned" event per check before the first step of every
run and an evaluation event per test during the dbt step: more than 20 s of a 33 s run on a
SQLite instance (benchmarks/README.md, "where time goes"). One check per model keeps what the UI
and the run need (a red check on the model whose data is wrong, naming the failing tests and
their failing rows; a blocking check that stops publish) at a tenth of the events.

The tests themselves are unchanged: ``dbt build`` runs each one and stops the models below a
failing one; dbt's own exit status still fails the step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import dagster as dg

DBT_TESTS_CHECK = "dbt_tests"
"""The name of the one asset check per dbt model (and seed) that has data tests."""

FAILED_TESTS_SHOWN = 20
"""How many failing tests a check result names in its description (all are in the metadata)."""


def _ancestors(manifest: Mapping[str, Any], unique_id: str, seen: dict[str, set[str]]) -> set[str]:
    if unique_id in seen:
        return seen[unique_id]
    out: set[str] = set()
    seen[unique_id] = out  # guards against cycles (there are none in a dbt DAG)
    for parent in manifest.get("parent_map", {}).get(unique_id, []):
        out.add(parent)
        out |= _ancestors(manifest, parent, seen)
    return out


def attached_node(manifest: Mapping[str, Any], test: Mapping[str, Any],
                  seen: dict[str, set[str]]) -> str | None:
    """The model or seed a dbt test belongs to: a generic test's attached node; a singular test
    reading one model: that model; reading several: the one downstream of the others (a
    reconciliation of a mart with its inputs belongs to the mart)."""
    if test.get("attached_node"):
        return test["attached_node"]
    parents = [p for p in test.get("depends_on", {}).get("nodes", [])
               if p.split(".", 1)[0] in ("model", "seed", "snapshot")]
    if not parents:
        return None
    downstream = [p for p in parents
                  if not any(p in _ancestors(manifest, q, seen) for q in parents if q != p)]
    return sorted(downstream or parents)[-1]


@dataclass(frozen=True)
class DbtTests:
    """The data tests of one dbt node, from the manifest."""

    node_id: str
    test_ids: tuple[str, ...]
    blocking: bool  # any test of severity error
    other_parents: tuple[str, ...]  # nodes the tests also read (relationships, reconciliations)


class DbtTestIndex:
    """The manifest's data tests grouped by the node they belong to."""

    def __init__(self, manifest: Mapping[str, Any]):
        self.manifest = manifest

    @cached_property
    def by_node(self) -> dict[str, DbtTests]:
        seen: dict[str, set[str]] = {}
        grouped: dict[str, list[str]] = {}
        for unique_id, node in self.manifest["nodes"].items():
            if node.get("resource_type") != "test" or not node.get("config", {}).get("enabled", True):
                continue
            owner = attached_node(self.manifest, node, seen)
            if owner is not None:
                grouped.setdefault(owner, []).append(unique_id)
        out = {}
        for owner, tests in grouped.items():
            nodes = [self.manifest["nodes"][t] for t in sorted(tests)]
            parents = {p for n in nodes for p in n.get("depends_on", {}).get("nodes", [])}
            parents.discard(owner)
            out[owner] = DbtTests(
                node_id=owner,
                test_ids=tuple(sorted(tests)),
                blocking=any(str(n["config"].get("severity", "error")).lower() == "error"
                             for n in nodes),
                other_parents=tuple(sorted(p for p in parents if p in self.manifest["nodes"])),
            )
        return out

    @cached_property
    def owner_of_test(self) -> dict[str, str]:
        return {t: tests.node_id for tests in self.by_node.values() for t in tests.test_ids}

    def check_spec(self, asset_key: dg.AssetKey, node_id: str,
                   key_of: Any) -> dg.AssetCheckSpec | None:
        """The ``dbt_tests`` check of a node, or None when it has no data tests. ``key_of``
        maps a node's unique id to its asset key."""
        tests = self.by_node.get(node_id)
        if tests is None:
            return None
        names = [self.manifest["nodes"][t]["name"] for t in tests.test_ids]
        return dg.AssetCheckSpec(
            name=DBT_TESTS_CHECK,
            asset=asset_key,
            description=(
                f"The {len(names)} dbt data tests of this {node_id.split('.', 1)[0]}, run by dbt "
                "build right after it; fails when any of them fails (naming the tests and their "
                "failing rows). dbt stops the models below a failing test."
            ),
            additional_deps=[key_of(p) for p in tests.other_parents],
            blocking=tests.blocking,
            metadata={"dbt tests": len(names),
                      "dbt test names": dg.MetadataValue.md("\n".join(f"- `{n}`" for n in names))},
        )


@dataclass
class _Pending:
    expected: set[str]
    results: dict[str, Mapping[str, Any]] = field(default_factory=dict)


class DbtTestResults:
    """Collects dbt's test results from its event stream and turns each node's into one
    ``AssetCheckResult`` as soon as all its tests have reported (the rest at the end)."""

    def __init__(self, index: DbtTestIndex, key_of: Any, selected: Iterable[dg.AssetCheckKey],
                 log: Any | None = None):
        self.index = index
        self.key_of = key_of
        self.log = log
        checked = {check.asset_key for check in selected if check.name == DBT_TESTS_CHECK}
        self.pending: dict[str, _Pending] = {
            node_id: _Pending(expected=set(tests.test_ids))
            for node_id, tests in index.by_node.items() if key_of(node_id) in checked
        }

    def add(self, raw_event: Mapping[str, Any]) -> Iterator[dg.AssetCheckResult]:
        """One dbt ``LogTestResult`` event (its ``data``: ``node_info``, ``status``,
        ``num_failures``, ``execution_time``)."""
        data = raw_event["data"]
        test_id = data["node_info"]["unique_id"]
        owner = self.index.owner_of_test.get(test_id)
        pending = self.pending.get(owner) if owner else None
        if pending is None:
            # A test dbt's indirect selection ran for a node outside this run's selection.
            if self.log is not None and str(data.get("status", "")).lower() not in ("pass", "success"):
                self.log.warning(f"dbt test {test_id} ({data.get('status')}) belongs to "
                                 f"{owner or 'no model'}, which this run does not check")
            return
        pending.results[test_id] = data
        if pending.expected <= set(pending.results):
            yield self._result(owner, self.pending.pop(owner))

    def remaining(self) -> Iterator[dg.AssetCheckResult]:
        """Results for the nodes some of whose tests did not run (dbt skipped them after a
        failure upstream): those that ran, the rest named as not run."""
        for owner in sorted(self.pending):
            pending = self.pending.pop(owner)
            if pending.results:
                yield self._result(owner, pending)

    def _result(self, owner: str, pending: _Pending) -> dg.AssetCheckResult:
        nodes = self.index.manifest["nodes"]
        failed: list[tuple[str, str, int | None]] = []
        warned = passed = 0
        duration = 0.0
        for test_id, data in sorted(pending.results.items()):
            status = str(data.get("status", "")).lower()
            duration += float(data.get("execution_time") or 0.0)
            if status in ("pass", "success"):
                passed += 1
            elif status == "warn":
                warned += 1
                failed.append((nodes[test_id]["name"], "warn", data.get("num_failures")))
            else:
                failed.append((nodes[test_id]["name"], status or "error", data.get("num_failures")))
        not_run = sorted(nodes[t]["name"] for t in pending.expected - set(pending.results))
        errors = [f for f in failed if f[1] != "warn"]
        table = "| test | status | failing rows |\n|---|---|---:|\n" + "\n".join(
            f"| {name} | {status} | {'' if rows is None else rows} |" for name, status, rows in failed
        )
        metadata: dict[str, Any] = {
            "tests run": len(pending.results),
            "tests passed": passed,
            "tests warned": warned,
            "tests failed": len(errors),
            "tests not run": len(not_run),
            # The sum of the tests' own durations: the benchmark splits dbt's time by it.
            "Execution Duration": round(duration, 6),
        }
        if failed:
            metadata["failing tests"] = dg.MetadataValue.md(table)
        if not_run:
            metadata["tests not run (skipped by dbt)"] = dg.MetadataValue.md(
                "\n".join(f"- `{n}`" for n in not_run))
        description = None
        if failed:
            shown = "; ".join(
                f"{name}: {status}" + ("" if rows is None else f", {rows} failing rows")
                for name, status, rows in failed[:FAILED_TESTS_SHOWN]
            )
            more = len(failed) - FAILED_TESTS_SHOWN
            description = shown + (f"; and {more} more" if more > 0 else "")
        return dg.AssetCheckResult(
            asset_key=self.key_of(owner),
            check_name=DBT_TESTS_CHECK,
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
            metadata=metadata,
            description=description,
        )
