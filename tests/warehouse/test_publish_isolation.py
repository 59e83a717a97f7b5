"""Fault isolation and durability of publishing: one tenant's damaged CURRENT never stops the
others or the platform, it is reported with tenant and path and repaired by the new version's
flip; every published file and folder is fsynced before a pointer names it."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import pytest

from warehouse import publish as publish_module
from warehouse.build_db import connect_build, ensure_raw_tables
from warehouse.layout import PLATFORM_MARTS, PUBLISHED_MARTS, DamagedPointer, current_version, read_pointer
from warehouse.publish import publish_platform, publish_tenants, remove_stale_versions
from warehouse.reader import SnapshotDamaged, SnapshotNotFound, open_platform_snapshot, open_tenant_snapshot

AS_OF = dt.date(2026, 6, 30)
TENANTS = ("t-garbage", "t-empty", "t-gone", "t-partial", "t-healthy", "t-zz-last")


@pytest.fixture
def build(tmp_path):
    conn = connect_build(tmp_path / "build.duckdb")
    ensure_raw_tables(conn)
    for tenant in TENANTS:
        conn.execute("INSERT INTO raw_organizations (id, name, slug, settings) VALUES (?, ?, ?, ?)",
                     [tenant, tenant.upper(), tenant, '{"base_currency": "USD"}'])
    conn.execute("CREATE SCHEMA marts")
    for mart in PUBLISHED_MARTS:
        conn.execute(f"CREATE TABLE marts.{mart} (tenant_id VARCHAR, label VARCHAR)")
        conn.executemany(f"INSERT INTO marts.{mart} VALUES (?, ?)", [[t, f"row of {t}"] for t in TENANTS])
    for mart in PLATFORM_MARTS:
        conn.execute(f"CREATE TABLE marts.{mart} AS SELECT 'all' AS label")
    yield conn
    conn.close()


def _damage(published: Path) -> dict[str, Path]:
    """Break four tenants' pointers four ways; return the path each warning must name."""
    (published / "t-garbage" / "CURRENT").write_text("garbage-not-a-version\n")
    (published / "t-empty" / "CURRENT").write_text("")
    gone = published / "t-gone" / current_version(published, "t-gone")
    shutil.rmtree(gone)
    partial = published / "t-partial" / current_version(published, "t-partial")
    (partial / "kpi_summary.parquet").unlink()
    return {"t-garbage": published / "t-garbage" / "CURRENT", "t-empty": published / "t-empty" / "CURRENT",
            "t-gone": gone, "t-partial": partial}


def test_damaged_pointers_are_reported_repaired_and_block_nobody(build, tmp_path):
    published = tmp_path / "published"
    first = publish_tenants(build, published, as_of=AS_OF)
    first_platform = publish_platform(build, published, as_of=AS_OF)
    assert first.warnings == () and first.skipped == ()
    broken = _damage(published)

    # readers tell "published but unreadable" apart from "never published"
    for tenant in broken:
        with pytest.raises(SnapshotDamaged) as damaged:
            open_tenant_snapshot(published, tenant)
        assert tenant in str(damaged.value)
    with pytest.raises(SnapshotNotFound) as never:
        open_tenant_snapshot(published, "t-never")
    assert not isinstance(never.value, SnapshotDamaged)

    messages: list[str] = []
    second = publish_tenants(build, published, as_of=AS_OF, progress=messages.append)
    second_platform = publish_platform(build, published, as_of=AS_OF)

    assert sorted(second.tenant_ids) == sorted(TENANTS) and second.skipped == ()
    for tenant in TENANTS:  # every tenant, damaged or not, serves the new version
        assert current_version(published, tenant) == second.version
        assert open_tenant_snapshot(published, tenant).query("SELECT label FROM kpi_summary").rows() == [
            (f"row of {tenant}",)]
    assert second_platform != first_platform
    assert open_platform_snapshot(published).version == second_platform

    assert len(second.warnings) == len(broken)
    for tenant, path in broken.items():
        [warning] = [w for w in second.warnings if w.startswith(f"tenant {tenant}:")]
        assert str(path) in warning and f"repaired by version {second.version}" in warning
        assert any(m == f"warning: {warning}" for m in messages)  # shown as the refresh progresses
    assert "garbage-not-a-version" in next(w for w in second.warnings if "t-garbage" in w)
    assert "empty pointer" in next(w for w in second.warnings if "t-empty" in w)
    assert "missing" in next(w for w in second.warnings if "t-gone" in w)
    assert "kpi_summary" in next(w for w in second.warnings if "t-partial" in w)


def test_retirement_of_old_versions_tolerates_a_damaged_pointer(build, tmp_path):
    published = tmp_path / "published"
    first = publish_tenants(build, published, as_of=AS_OF)
    second = publish_tenants(build, published, as_of=AS_OF, tenant_ids=["t-garbage", "t-healthy"])
    old = time.time() - 3600
    for tenant in ("t-garbage", "t-healthy"):
        os.utime(published / tenant / first.version, (old, old))
    (published / "t-garbage" / "CURRENT").write_text("garbage\n")
    # what a damaged pointer meant to name is unknown: nothing is removed, nothing raises
    assert remove_stale_versions(published, "t-garbage", grace_seconds=0) == 0
    assert (published / "t-garbage" / first.version).is_dir() and (published / "t-garbage" / second.version).is_dir()
    assert remove_stale_versions(published, "t-healthy", grace_seconds=300) == 1
    assert remove_stale_versions(published, "t-nobody", grace_seconds=0) == 0  # no folder at all
    # a garbage platform pointer neither stops the platform publish nor its cleanup
    publish_platform(build, published, as_of=AS_OF)
    (published / "_platform" / "CURRENT").write_text("garbage\n")
    repaired = publish_platform(build, published, as_of=AS_OF, grace_seconds=0)
    assert read_pointer(published / "_platform") == repaired


def test_a_tenant_that_cannot_be_written_is_skipped_without_blocking_the_others(build, tmp_path, monkeypatch):
    published = tmp_path / "published"
    first = publish_tenants(build, published, as_of=AS_OF)
    real = publish_module._assemble_version

    def failing(conn, staging, published_dir, tenant_id, version, tables):
        real(conn, staging, published_dir, tenant_id, version, tables)
        if tenant_id == "t-empty":
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish_module, "_assemble_version", failing)
    second = publish_tenants(build, published, as_of=AS_OF)
    assert second.skipped == ("t-empty",) and "t-empty" not in second.tenant_ids
    assert [w for w in second.warnings if w.startswith("tenant t-empty: skipped")]
    assert current_version(published, "t-empty") == first.version  # its old version keeps serving
    assert not (published / "t-empty" / second.version).exists()  # the half-written one is gone
    for tenant in set(TENANTS) - {"t-empty"}:
        assert current_version(published, tenant) == second.version


def test_damaged_pointer_error_names_the_path(tmp_path):
    (tmp_path / "CURRENT").write_text("garbage-not-a-version\n")
    with pytest.raises(DamagedPointer) as damaged:
        read_pointer(tmp_path)
    assert str(tmp_path / "CURRENT") in str(damaged.value) and "garbage-not-a-version" in str(damaged.value)
    assert read_pointer(tmp_path / "nothing-here") is None


def test_files_and_folders_are_fsynced_before_each_pointer_flips(build, tmp_path, monkeypatch):
    published = tmp_path / "published"
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    result = publish_tenants(build, published, as_of=AS_OF, tenant_ids=["t-healthy", "t-garbage"])
    platform_version = publish_platform(build, published, as_of=AS_OF)
    root = published.resolve()

    def last(path: Path) -> int:
        assert str(path) in synced, f"{path} never fsynced"
        return len(synced) - 1 - synced[::-1].index(str(path))

    def first(path: Path) -> int:
        assert str(path) in synced, f"{path} never fsynced"
        return synced.index(str(path))

    for folder, version, tables in [
        (root / "t-healthy", result.version, (*PUBLISHED_MARTS, "meta")),
        (root / "t-garbage", result.version, (*PUBLISHED_MARTS, "meta")),
        (root / "_platform", platform_version, (*PLATFORM_MARTS, "meta")),
    ]:
        pointer_tmp = first(folder / "CURRENT.tmp")
        for table in tables:  # every file of the version…
            assert last(folder / version / f"{table}.parquet") < pointer_tmp
        assert last(folder / version) < pointer_tmp  # …and its folder, before the pointer is written
        assert first(folder) < pointer_tmp  # the tenant folder holds the new version's entry
        assert last(folder) > pointer_tmp  # and is synced again after the rename
    assert str(root) in synced  # a new tenant folder's entry in published/
    # one pass: each published file is fsynced once
    files = [p for p in synced if p.endswith(".parquet")]
    assert len(files) == len(set(files))


def test_a_tenant_whose_files_cannot_be_synced_keeps_its_old_version(build, tmp_path, monkeypatch):
    published = tmp_path / "published"
    first = publish_tenants(build, published, as_of=AS_OF)
    real_fsync = os.fsync

    def failing_fsync(fd):
        if "/t-healthy/" in os.readlink(f"/proc/self/fd/{fd}") and "CURRENT" not in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(5, "Input/output error")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    second = publish_tenants(build, published, as_of=AS_OF)
    assert second.skipped == ("t-healthy",)
    assert any(w.startswith("tenant t-healthy: skipped") and "synced" in w for w in second.warnings)
    assert current_version(published, "t-healthy") == first.version
    assert not (published / "t-healthy" / second.version).exists()
    for tenant in set(TENANTS) - {"t-healthy"}:
        assert current_version(published, tenant) == second.version


def test_snapshot_health_pins_a_damaged_pointer_on_its_tenant(tmp_path):
    """The Dagster check reads every tenant: one garbage CURRENT is that tenant's failure only."""
    from types import SimpleNamespace

    from pipelines.snapshot_health import snapshot_health

    published = tmp_path / "published"
    (published / "0a1b2c3d-aaaa-4000-8000-00000000000a").mkdir(parents=True)
    (published / "0a1b2c3d-aaaa-4000-8000-00000000000a" / "CURRENT").write_text("garbage\n")
    (published / "0b1b2c3d-bbbb-4000-8000-00000000000b").mkdir(parents=True)
    health = snapshot_health(SimpleNamespace(published_dir=published))
    assert "garbage" in health["0a1b2c3d-aaaa-4000-8000-00000000000a"].problem
    assert health["0b1b2c3d-bbbb-4000-8000-00000000000b"].problem == "no CURRENT version"
