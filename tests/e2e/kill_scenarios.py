"""The SIGKILL scenarios of test_kill.py and test_kill_publish.py (two files: xdist --dist loadfile
runs them on both workers). A refresh killed with SIGKILL at any stage leaves every served snapshot
readable and unchanged (or already complete in its new version); the next run repairs everything
with no clean-up."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

from sqlalchemy import update
from sqlalchemy.orm import Session

from auditoryx.pipeline import refresh
from auditoryx.settings import Settings
from operational.db import make_engine
from operational.models import Booking
from tests.conftest import AS_OF
from warehouse.layout import PUBLISHED_MARTS, current_version
from warehouse.reader import open_tenant_snapshot

# Each scenario patches one function so that the refresh process kills itself (SIGKILL) at that point.
SCENARIOS = {
    # the first raw insert: change numbers read only the changed bookings (one insert for the world)
    "during extraction": ("ingestion.extract", "_insert_incoming", 1),
    "during dbt build": ("warehouse.dbt_runner", "_release_build_database", 1),
    "while moving files": ("warehouse.publish", "_assemble_version", 1),
    "between two pointer flips": ("warehouse.publish", "_flip_current", 2),
}
EARLY = ["during extraction", "during dbt build"]                  # test_kill.py
PUBLISHING = ["while moving files", "between two pointer flips"]    # test_kill_publish.py

KILLER = textwrap.dedent("""
    import importlib, os, signal, sys
    module_name, function_name, kill_on_call = sys.argv[1], sys.argv[2], int(sys.argv[3])
    module = importlib.import_module(module_name)
    original = getattr(module, function_name)
    calls = 0
    def killing(*args, **kwargs):
        global calls
        calls += 1
        if calls == kill_on_call:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)
    setattr(module, function_name, killing)
    from auditoryx.pipeline import refresh
    from auditoryx.settings import get_settings
    refresh(get_settings())
""")


def _marts(settings: Settings, tenant_id: str) -> dict[str, list[tuple]]:
    snap = open_tenant_snapshot(settings.published_dir, tenant_id)
    try:
        return {m: snap.query(f"SELECT * FROM {m} ORDER BY ALL").rows() for m in PUBLISHED_MARTS}
    finally:
        snap.close()


def _change_every_tenant(url: str) -> None:
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.execute(update(Booking).where(Booking.status == "COMPLETED").values(payment_status="PAID"))
    engine.dispose()


def prepare(tmp_path_factory, refreshed_template):
    """A refreshed var folder (the 'before' state: the worker's generated + refreshed template, only
    ever copied) and the marts a clean run gives after the change."""
    base, tenants = refreshed_template
    clean_dir = tmp_path_factory.mktemp("kill-clean") / "var"
    clean_dir.mkdir()
    shutil.copyfile(base / "operational.sqlite", clean_dir / "operational.sqlite")
    clean = Settings(var_dir=clean_dir, as_of=AS_OF)
    _change_every_tenant(clean.operational_database_url)
    refresh(clean)
    return base, tenants, {t.id: _marts(clean, t.id) for t in tenants}


def check_sigkill_keeps_snapshots_and_rerun_repairs(prepared, tmp_path, monkeypatch, scenario: str) -> None:
    base, tenants, clean_marts = prepared
    var_dir = tmp_path / "var"
    shutil.copytree(base, var_dir)
    monkeypatch.setenv("AUDITORYX_VAR_DIR", str(var_dir))
    monkeypatch.setenv("AUDITORYX_AS_OF", AS_OF.isoformat())
    monkeypatch.delenv("AUDITORYX_OPERATIONAL_URL", raising=False)
    monkeypatch.delenv("AUDITORYX_WAREHOUSE_DIR", raising=False)
    settings = Settings()
    before = {t.id: (current_version(settings.published_dir, t.id), _marts(settings, t.id)) for t in tenants}
    _change_every_tenant(settings.operational_database_url)

    module, function, call = SCENARIOS[scenario]
    killed = subprocess.run([sys.executable, "-c", KILLER, module, function, str(call)],
                            env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]

    for tenant in tenants:  # every tenant is served: its old version untouched, or a complete new one
        version = current_version(settings.published_dir, tenant.id)
        marts = _marts(settings, tenant.id)
        if version == before[tenant.id][0]:
            assert marts == before[tenant.id][1]
        else:
            assert scenario == "between two pointer flips"
            assert marts == clean_marts[tenant.id]
    refresh(settings)  # no manual clean-up
    for tenant in tenants:
        assert _marts(settings, tenant.id) == clean_marts[tenant.id]

