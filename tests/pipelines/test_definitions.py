"""Dagster: the definitions load and validate, and the asset graph materializes in-process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from auditoryx.settings import PROJECT_ROOT
from operational.db import create_schema, make_engine
from operational.generator import generate
from warehouse.layout import current_version


def _definitions() -> dg.Definitions:
    from pipelines.definitions import defs

    return defs()


def test_definitions_validate_from_workspace(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"], cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_asset_graph_materializes_and_publishes(app_env):
    defs = _definitions()
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"operational_raw", "dbt_marts", "tenant_snapshots"} <= keys
    assert defs.resolve_job_def("refresh_all_tenants") is not None
    assert any(s.name.startswith("refresh_all_tenants") for s in defs.schedules)

    engine = make_engine(app_env.operational_database_url)
    create_schema(engine)
    tenants = generate(engine, tenants=2, seed=5, as_of=app_env.as_of, password="pw", scale=0.2)
    result = defs.resolve_job_def("refresh_all_tenants").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checks and all(e.event_specific_data.passed for e in checks)
    for tenant in tenants:
        assert current_version(app_env.published_dir, tenant.id) is not None
