"""The dbt models as Dagster assets (dagster-dbt); dbt tests become asset checks.

The manifest is prepared (``dbt parse``) into the var folder when missing or older than the
project, never fetched; `dbt build` covers all tenants in one invocation.
"""
import json
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from auditoryx.settings import DBT_PROJECT_DIR, Settings, get_settings
from pipelines.defs.assets.ingest import raw_asset_key
from pipelines.defs.partitions import BUILD_DB_TAGS, single_run, tenant_partitions
from pipelines.defs.resources import AuditoryxSettings
from pipelines.retries import retry_transient
from warehouse.dbt_runner import project_fingerprint, record_build, run_dbt, stored_fingerprint

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


@contextmanager
def build_db_environment(settings: Settings) -> Iterator[None]:
    """The dbt profile reads AUDITORYX_BUILD_DB; the dbt subprocess inherits it from here."""
    previous = os.environ.get("AUDITORYX_BUILD_DB")
    os.environ["AUDITORYX_BUILD_DB"] = str(settings.build_database_path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("AUDITORYX_BUILD_DB", None)
        else:
            os.environ["AUDITORYX_BUILD_DB"] = previous


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


def dbt_cli_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                          dbt_executable=str(Path(sys.executable).with_name("dbt")))


def build_dbt_definitions(manifest: Path) -> dg.Definitions:
    @dbt_assets(manifest=manifest, dagster_dbt_translator=AuditoryxDbtTranslator(),
                partitions_def=tenant_partitions, backfill_policy=single_run, op_tags=BUILD_DB_TAGS,
                retry_policy=dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL))
    def auditoryx_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                             auditoryx: AuditoryxSettings):
        settings = auditoryx.settings()
        as_of = settings.effective_as_of()
        # unit tests check the SQL logic, not the data: `make test` runs them, refreshes need not
        args = ["build", "--vars", json.dumps({"as_of": as_of.isoformat()}),
                "--threads", str(settings.dbt_threads), "--exclude-resource-type", "unit_test"]
        fingerprint = project_fingerprint()
        full_refresh = stored_fingerprint(settings.build_database_path) != fingerprint
        if full_refresh:  # project or FX rates changed since the last build: rebuild incrementals
            args.append("--full-refresh")
        with build_db_environment(settings), retry_transient():
            yield from dbt.cli(args, context=context, target_path=_run_target(settings, context.run.run_id)).stream()
        record_build(settings.build_database_path, fingerprint, as_of, full_refresh)

    return dg.Definitions(assets=[auditoryx_dbt_models], resources={"dbt": dbt_cli_resource()})


@dg.definitions
def dbt_definitions() -> dg.Definitions:
    return build_dbt_definitions(prepare_manifest(get_settings()))
