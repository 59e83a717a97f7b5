"""The dbt models as Dagster assets (dagster-dbt); dbt tests become asset checks.

The manifest is prepared (``dbt parse``) into the var folder when missing or older than the
project, never fetched; `dbt build` covers all tenants in one invocation. dbt runs in-process
(as `auditoryx refresh` does): no subprocess to start and no project to re-parse per refresh;
the models' outputs and the tests' check results are reported from ``run_results.json``.
Unpartitioned: one step per run records one materialization per model and one result per test.
A run of every model builds what the direct refresh builds (warehouse/dbt_runner.py's plan: only
the pending tenants, only what the raw tables that changed for them feed, or nothing); models it
leaves as they were are reported with metadata ``status: unchanged``.
per-tenant outcomes are the partitioned check `tenant_build_passed` (pipelines/defs/checks.py).
"""
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, dbt_assets
from dagster_dbt.asset_utils import get_checks_on_sources_upstream_of_selected_assets, get_subset_selection_for_context

from auditoryx.errors import AuditoryxError
from auditoryx.settings import DBT_PROJECT_DIR, Settings, get_settings
from pipelines.dbt_events import dbt_run_events, in_build_order, unchanged_outputs
from pipelines.defs.assets.ingest import raw_asset_key
from pipelines.defs.partitions import BUILD_DB_TAGS
from pipelines.defs.resources import AuditoryxSettings
from pipelines.retries import is_transient
from warehouse.dbt_runner import build_planned, invoke_dbt_outcome, plan_build, run_dbt

KEEP_RUN_TARGETS = 5


class AuditoryxDbtTranslator(DagsterDbtTranslator):
    """Sources are the extraction assets (raw/<table>); models are keyed by name, grouped by layer."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return raw_asset_key(dbt_resource_props["name"])
        return dg.AssetKey(dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        folders = dbt_resource_props.get("fqn", [])[1:-1]
        return f"dbt_{folders[0]}" if folders else "dbt"


def _project_mtime() -> float:
    return max(p.stat().st_mtime for p in DBT_PROJECT_DIR.rglob("*") if p.suffix in (".sql", ".yml", ".csv"))


def prepare_manifest(settings: Settings) -> Path:
    """`dbt parse` into var/dbt/target when the manifest is missing or stale; return its path."""
    manifest = settings.dbt_work_dir / "target" / "manifest.json"
    if not manifest.is_file() or manifest.stat().st_mtime < _project_mtime():
        run_dbt(["parse"], build_db=settings.build_database_path, work_dir=settings.dbt_work_dir,
                as_of=settings.effective_as_of(), threads=settings.dbt_threads)
    return manifest


def _run_target(settings: Settings, run_id: str) -> Path:
    """A target folder per run (dagster-dbt's convention), seeded with the prepared partial-parse
    state so dbt does not re-parse the whole project on every run."""
    runs = settings.dbt_work_dir / "dagster-runs"
    runs.mkdir(parents=True, exist_ok=True)
    for old in sorted(runs.iterdir(), key=lambda p: p.stat().st_mtime)[:-KEEP_RUN_TARGETS]:
        shutil.rmtree(old, ignore_errors=True)
    target = runs / run_id
    target.mkdir(exist_ok=True)
    partial_parse = settings.dbt_work_dir / "target" / "partial_parse.msgpack"
    if partial_parse.is_file():
        shutil.copyfile(partial_parse, target / partial_parse.name)
    return target


def _selection(context: dg.AssetExecutionContext, manifest: Mapping[str, Any],
               translator: DagsterDbtTranslator) -> list[str]:
    """dbt selection flags for the assets and checks this run selected (all of them, usually)."""
    selection, indirect = get_subset_selection_for_context(
        context, manifest, select="fqn:*", exclude=None, selector=None, dagster_dbt_translator=translator,
        current_dbt_indirect_selection_env=None)
    return [*selection, *(["--indirect-selection", indirect] if indirect else [])]


def build_dbt_definitions(manifest_path: Path) -> dg.Definitions:
    manifest = json.loads(manifest_path.read_text())
    translator = AuditoryxDbtTranslator()

    @dbt_assets(manifest=manifest, dagster_dbt_translator=translator,
                op_tags=BUILD_DB_TAGS,
                retry_policy=dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL))
    def auditoryx_dbt_models(context: dg.AssetExecutionContext, auditoryx: AuditoryxSettings):
        settings = auditoryx.settings()
        as_of = settings.effective_as_of()
        # every model selected (whatever checks): the planned build, as the direct refresh runs it
        every_model = set(context.selected_asset_keys) >= set(context.assets_def.keys)
        plan = plan_build(settings.build_database_path, as_of)  # full refresh when the project changed
        # a run of every model (a refresh) builds what the direct refresh builds: only what the raw
        # tables that changed for the pending tenants feed, or nothing; the rest is reported unchanged.
        # (its data tests run after dbt, as SQL: warehouse/data_tests.py). Unit tests check the SQL
        # logic, not the data: `make test` runs them, refreshes need not
        target = _run_target(settings, context.run.run_id)
        results = target / "run_results.json"
        results.unlink(missing_ok=True)  # a retry of this run writes into the same folder
        started = time.perf_counter()
        if every_model and plan.nothing_to_build:
            failure, failed_tests = None, ()
        else:
            if every_model:
                outcome = build_planned(plan, work_dir=settings.dbt_work_dir, as_of=as_of,
                                        threads=settings.dbt_threads, target_dir=target)
            else:
                selection = _selection(context, manifest, translator)  # a subset: dbt's own selection
                outcome = invoke_dbt_outcome(["build", *selection, *plan.flags(whole_project=False)],
                                             build_db=settings.build_database_path, work_dir=settings.dbt_work_dir,
                                             as_of=as_of, threads=settings.dbt_threads, target_dir=target,
                                             tenant_scope=plan.tenant_scope, row_scope=plan.row_scope)
            failure, failed_tests = outcome.failure, outcome.failed_tests
        context.log.info(f"dbt build finished in {time.perf_counter() - started:.2f}s"
                         f"{' (full refresh)' if plan.full_refresh else ''}"
                         f"{f' (looking at {len(plan.tenant_scope)} changed tenants)' if plan.tenant_scope else ''}"
                         f"{' (nothing changed: nothing built)' if every_model and plan.nothing_to_build else ''}"
                         f": {failure or 'success'}")
        if failure and is_transient(AuditoryxError(failure)):  # a lock held, a database busy: try again
            raise dg.RetryRequested(max_retries=4, seconds_to_wait=2.0) from AuditoryxError(failure)
        run_results = json.loads(results.read_text()) if results.is_file() else {}
        selected_outputs = context.op_execution_context.selected_output_names
        selected_checks = {*context.selected_asset_check_keys, *get_checks_on_sources_upstream_of_selected_assets(
            context.assets_def, context.selected_asset_keys)}
        events = list(dbt_run_events(run_results, manifest, translator, selected_outputs=selected_outputs,
                                     selected_checks=selected_checks))
        if failure:  # failed models or tests: the data is wrong, retrying would not help
            yield from events
            raise dg.Failure(failure, allow_retries=False)
        try:  # failing rows of some tenants fail only those (check tenant_build_passed on their partitions)
            failed = plan.succeeded(as_of, every_model=every_model, failed_tests=failed_tests)
        except AuditoryxError as error:  # failing rows that name no tenant: the whole build failed
            yield from events
            raise dg.Failure(str(error), allow_retries=False) from error
        for tenant_id, reasons in failed.items():
            context.log.warning(f"tenant {tenant_id}: build failed, keeps its last version: {'; '.join(reasons)}")
        if every_model:
            events = in_build_order([*events, *unchanged_outputs(run_results, manifest, translator,
                                                                 selected_outputs=selected_outputs)],
                                    manifest, translator)
        yield from events

    return dg.Definitions(assets=[auditoryx_dbt_models])


@dg.definitions
def dbt_definitions() -> dg.Definitions:
    return build_dbt_definitions(prepare_manifest(get_settings()))
