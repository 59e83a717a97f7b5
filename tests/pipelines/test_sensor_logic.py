"""Pure sensor decisions: partitions follow active tenants; only changed tenants are refreshed."""
from __future__ import annotations

import os

import pytest

from auditoryx.errors import AuditoryxError
from pipelines.retries import is_transient
from pipelines.sensor_logic import changed_tenants, partition_changes, pending_file_drops


def test_partition_changes():
    assert partition_changes(["a", "b"], {"b": "bee", "c": "sea"}) == (["c"], ["a"])
    assert partition_changes([], {}) == ([], [])


def test_changed_tenants_first_tick_and_moves():
    marks = {"a": "2026-01-01T00:00:00.000000+00:00", "b": "2026-01-02T00:00:00.000000+00:00"}
    assert changed_tenants(None, marks, {"a", "b"}) == []
    assert changed_tenants(marks, marks, {"a", "b"}) == []
    moved = {**marks, "b": "2026-01-03T00:00:00.000000+00:00", "c": "2026-01-01T00:00:00.000000+00:00"}
    assert changed_tenants(marks, moved, {"a", "b"}) == ["b"]          # c has no partition yet
    assert changed_tenants(marks, moved, {"a", "b", "c"}) == ["b", "c"]


def test_pending_file_drops_fingerprints(tmp_path):
    tenant_ids = ["tenant-a", "tenant-b"]  # landing folders are named by tenant id, never by slug
    assert pending_file_drops(tmp_path / "missing", tenant_ids) == {}
    (tmp_path / "tenant-a" / "bookings").mkdir(parents=True)
    (tmp_path / "tenant-a" / "bookings" / "upload.csv.part").write_text("id\n")   # still uploading
    (tmp_path / "tenant-a" / "bookings" / ".hidden.csv").write_text("id\n")
    (tmp_path / "stranger" / "bookings").mkdir(parents=True)
    (tmp_path / "stranger" / "bookings" / "x.csv").write_text("id\n")        # unknown tenant
    (tmp_path / "acme" / "bookings").mkdir(parents=True)
    (tmp_path / "acme" / "bookings" / "x.csv").write_text("id\n")            # a slug is not a tenant folder
    assert pending_file_drops(tmp_path, tenant_ids) == {}
    drop = tmp_path / "tenant-a" / "bookings" / "june.csv"
    drop.write_text("id\n1\n")
    first = pending_file_drops(tmp_path, tenant_ids)
    assert list(first) == ["tenant-a"]
    drop.write_text("id\n1\n2\n")
    os.utime(drop, ns=(1, 2))
    assert pending_file_drops(tmp_path, tenant_ids)["tenant-a"] != first["tenant-a"]


def test_pending_file_drops_refuses_bad_tenant_ids(tmp_path):
    with pytest.raises(AuditoryxError):
        pending_file_drops(tmp_path, ["../tenant-a"])


def test_transient_errors():
    assert is_transient(RuntimeError("IO Error: Could not set lock on file build.duckdb"))
    assert is_transient(Exception("(sqlite3.OperationalError) database is locked"))
    assert not is_transient(ValueError("dbt build failed, 1 failing: test unique_x"))
