"""Dagster events from a finished dbt invocation's ``run_results.json``.

The dbt asset runs dbt in-process (no `dbt` subprocess to start and re-parse on every refresh)
and reports afterwards what dagster-dbt would have streamed: an output per built model or seed,
an asset check result per test attached to a selected asset. Pure: dictionaries in, events out.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator
from dagster_dbt.asset_utils import get_asset_check_key_for_test

BUILT = frozenset({"success"})
MATERIALIZED_TYPES = frozenset({"model", "seed", "snapshot"})


def _metadata(result: Mapping[str, Any], invocation_id: str) -> dict[str, Any]:
    metadata = {"unique_id": result["unique_id"], "invocation_id": invocation_id, "status": result["status"],
                "execution_duration": round(float(result.get("execution_time") or 0.0), 3)}
    if result.get("failures") is not None:
        metadata["dagster_dbt/failed_row_count"] = result["failures"]
    if result.get("message"):
        metadata["message"] = str(result["message"])[:500]
    return metadata


def dbt_run_events(
    run_results: Mapping[str, Any],
    manifest: Mapping[str, Any],
    translator: DagsterDbtTranslator,
    *,
    selected_outputs: Collection[str],
    selected_checks: Collection[dg.AssetCheckKey],
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """One ``Output`` per successfully built model/seed among ``selected_outputs`` (output names as
    @dbt_assets names them) and one ``AssetCheckResult`` per test whose check is in
    ``selected_checks``; everything else dbt ran (ephemeral models, tests on unselected assets,
    unit tests) has no Dagster event."""
    invocation_id = run_results.get("metadata", {}).get("invocation_id", "")
    for result in run_results.get("results", []):
        unique_id = result["unique_id"]
        node = manifest["nodes"].get(unique_id)
        if node is None:
            continue
        resource_type = node["resource_type"]
        if resource_type in MATERIALIZED_TYPES:
            if result["status"] not in BUILT or node.get("config", {}).get("materialized") == "ephemeral":
                continue
            output_name = translator.get_asset_spec(manifest, unique_id, None).key.to_python_identifier()
            if output_name in selected_outputs:
                yield dg.Output(None, output_name=output_name, metadata=_metadata(result, invocation_id))
        elif resource_type == "test":
            key = get_asset_check_key_for_test(manifest, translator, unique_id, project=None)
            if key is None or key not in selected_checks:
                continue
            yield dg.AssetCheckResult(
                asset_key=key.asset_key, check_name=key.name, passed=result["status"] == "pass",
                severity=dg.AssetCheckSeverity.WARN if result["status"] == "warn" else dg.AssetCheckSeverity.ERROR,
                metadata=_metadata(result, invocation_id),
            )


def unchanged_outputs(
    run_results: Mapping[str, Any],
    manifest: Mapping[str, Any],
    translator: DagsterDbtTranslator,
    *,
    selected_outputs: Collection[str],
) -> Iterator[dg.Output]:
    """One ``Output`` (metadata ``status: unchanged``) per model/seed among ``selected_outputs`` that a
    scoped build did not run at all (absent from ``run_results``): what the run's changed raw
    tables do not feed is left as it was, and is reported so that the assets downstream of it
    (publishing) run. A model dbt ran and did not build (error, skipped) gets no event."""
    ran = {result["unique_id"] for result in run_results.get("results", [])}
    for unique_id, node in manifest["nodes"].items():
        if (node["resource_type"] not in MATERIALIZED_TYPES or unique_id in ran
                or node.get("config", {}).get("materialized") == "ephemeral"):
            continue
        output_name = translator.get_asset_spec(manifest, unique_id, None).key.to_python_identifier()
        if output_name in selected_outputs:
            yield dg.Output(None, output_name=output_name, metadata={"unique_id": unique_id, "status": "unchanged"})


def in_build_order(events: Iterable[dg.Output | dg.AssetCheckResult], manifest: Mapping[str, Any],
                   translator: DagsterDbtTranslator) -> list[dg.Output | dg.AssetCheckResult]:
    """``events`` sorted as Dagster requires of a multi-asset: every model after the models it
    depends on (by depth in the manifest's graph), each check after its asset; stable otherwise."""
    depth: dict[str, int] = {}

    def depth_of(unique_id: str) -> int:
        if unique_id not in depth:
            parents = manifest["nodes"].get(unique_id, {}).get("depends_on", {}).get("nodes", [])
            depth[unique_id] = 1 + max((depth_of(p) for p in parents if p in manifest["nodes"]), default=0)
        return depth[unique_id]

    rank = {translator.get_asset_spec(manifest, uid, None).key.to_python_identifier(): depth_of(uid)
            for uid, node in manifest["nodes"].items() if node["resource_type"] in MATERIALIZED_TYPES}

    def key(event: dg.Output | dg.AssetCheckResult) -> float:
        if isinstance(event, dg.Output):
            return rank.get(event.output_name, 0)
        return rank.get(event.asset_key.to_python_identifier(), 0) + 0.5  # sources' checks first
    return sorted(events, key=key)
