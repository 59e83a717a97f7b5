"""Pure sensor decisions: partitions follow active tenants; only changed tenants are refreshed."""
from __future__ import annotations

import os

import pytest

from auditoryx.errors import AuditoryxError
from pipelines.retries import is_transient
from pipelines.sensor_logic import change_cursor, partition_changes, pending_file_drops, tenants_to_refresh


def test_partition_changes():
    assert partition_changes(["a", "b"], {"b": "bee", "c": "sea"}) == (["c"], ["a"])
    assert partition_changes([], {}) == ([], [])


def test_change_cursor_reads_the_stored_bound_and_starts_afresh_otherwise():
    assert change_cursor('{"bound": 1234}') == 1234
    assert change_cursor(None) is None and change_cursor("") is None            # the first tick
    marks = '{"a": "3:17/0:0", "b": "5:40/0:0"}'                                 # the earlier format
    for cursor in (marks, "not json", '{"bound": "12"}', '{"bound": true}', "[1]"):
        assert change_cursor(cursor) is None


def test_tenants_to_refresh_are_the_changed_ones_with_a_partition():
    assert tenants_to_refresh({"b", "c", "a"}, {"a", "b"}) == ["a", "b"]   # c has no partition yet
    assert tenants_to_refresh(set(), {"a"}) == []


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
