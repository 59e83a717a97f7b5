"""Clean-up never masks the real error; settings errors name the variable and its value."""
from __future__ import annotations

import errno

import duckdb
import pytest

from auditoryx.errors import SettingsError
from auditoryx.settings import get_settings
from warehouse.build_db import close_quietly, closing_quietly, rollback_quietly, transaction

NO_SPACE = OSError(errno.ENOSPC, "No space left on device")


class _Aborting:
    """A DuckDB connection whose statement fails the way a full disk does: DuckDB aborts the
    transaction itself, so the ROLLBACK that follows fails with 'no transaction is active'."""

    def __init__(self, conn, fail_on: str):
        self.conn, self.fail_on = conn, fail_on

    def execute(self, sql, *args):
        if self.fail_on in sql:
            self.conn.execute("ROLLBACK")
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.conn.execute(sql, *args)

    def executemany(self, sql, *args):
        return self.execute(sql, *args)

    def close(self):
        raise duckdb.IOException("IO Error: could not checkpoint")


def test_transaction_keeps_the_original_error_when_rollback_fails(tmp_path):
    conn = duckdb.connect(str(tmp_path / "b.duckdb"))
    conn.execute("CREATE TABLE t (x INT)")
    aborting = _Aborting(conn, "INSERT")
    with pytest.raises(OSError, match="No space left on device") as caught:
        with transaction(aborting):
            aborting.execute("INSERT INTO t VALUES (1)")
    assert any("rollback also failed" in note and "no transaction is active" in note
               for note in caught.value.__notes__)
    with transaction(conn):  # the connection is usable again, and a good transaction commits
        conn.execute("INSERT INTO t VALUES (2)")
    assert conn.execute("SELECT x FROM t").fetchall() == [(2,)]


def test_transaction_rolls_back_on_error(tmp_path):
    conn = duckdb.connect(str(tmp_path / "b.duckdb"))
    conn.execute("CREATE TABLE t (x INT)")
    with pytest.raises(ZeroDivisionError):
        with transaction(conn):
            conn.execute("INSERT INTO t VALUES (1)")
            1 / 0
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_quiet_rollback_and_close_never_raise(tmp_path):
    conn = duckdb.connect(str(tmp_path / "b.duckdb"))
    original = OSError(errno.ENOSPC, "No space left on device")
    rollback_quietly(conn, original)  # no transaction: the failure becomes a note
    assert "rollback also failed" in original.__notes__[0]
    close_quietly(_Aborting(conn, "never"), original)
    assert "close also failed" in original.__notes__[1]
    with pytest.raises(OSError, match="No space left"):
        with closing_quietly(_Aborting(conn, "never")):
            raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(duckdb.IOException):  # no error in the block: a failing close raises
        with closing_quietly(_Aborting(conn, "never")):
            pass


def test_bad_settings_name_the_variable_and_value(monkeypatch):
    monkeypatch.setenv("AUDITORYX_AS_OF", "2026-13-45")
    with pytest.raises(SettingsError) as caught:
        get_settings()
    assert str(caught.value) == "AUDITORYX_AS_OF='2026-13-45': not a date (YYYY-MM-DD)"
    monkeypatch.setenv("AUDITORYX_DBT_THREADS", "many")
    monkeypatch.setenv("AUDITORYX_REFRESH_ON_WRITE", "sometimes")
    message = str(pytest.raises(SettingsError, get_settings).value)
    assert "AUDITORYX_DBT_THREADS='many': not a whole number" in message
    assert "AUDITORYX_REFRESH_ON_WRITE='sometimes': must be one of worker, direct, sensor, off" in message
    assert "\n" not in message


def test_empty_path_variables_count_as_unset(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITORYX_VAR_DIR", str(tmp_path / "var"))
    for name in ("WAREHOUSE_DIR", "LANDING_DIR", "ARCHIVE_DIR", "EXPORTS_DIR", "AS_OF"):
        monkeypatch.setenv(f"AUDITORYX_{name}", "")
    settings = get_settings()
    assert settings.resolved_warehouse_dir == (tmp_path / "var" / "warehouse").resolve()
    assert settings.resolved_landing_dir == (tmp_path / "var" / "landing").resolve()
    assert settings.resolved_archive_dir == (tmp_path / "var" / "archive").resolve()
    assert settings.resolved_exports_dir == (tmp_path / "var" / "exports").resolve()
    assert settings.as_of is None
