"""ADBC SQLite reads in a child process.

ADBC's SQLite driver bundles its own copy of SQLite. Loaded into a process that already uses
Python's ``sqlite3`` (SQLAlchemy, the generator), the two copies clash: stale pages, lost POSIX
locks and segmentation faults were all seen. So the reads run in a child process
(``python -m ingestion.sqlite_child URI FOLDER``) that loads only ADBC. JSON requests (SQL, parameters,
result path) go in on its stdin (length-prefixed); the child writes each result as an Arrow IPC
file at the given path, in a scratch folder on a RAM-backed file system when there is one, and
replies with a status byte (or an error byte and a length-prefixed message). The parent maps the
file into memory: no copy through a pipe (which cost more than the query itself for 1M rows).
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

_OK, _ERROR = b"\x00", b"\x01"
_LENGTH = struct.Struct("!Q")
# infer column types over the whole result, not just the first 1,024 rows (a column that is NULL
# in a first batch would be typed INT64 and fail on the first text value): one batch per query
_WHOLE_RESULT = {"adbc.sqlite.query.batch_rows": str(1 << 30)}
_RAM_FOLDER = Path("/dev/shm")
_RAM_FOLDER_MIN_FREE = 2 << 30  # a container's /dev/shm is often tiny (64 MB): then the temp folder
_MMAP_PRAGMA = f"PRAGMA mmap_size = {1 << 34}"  # SQLite caps it at its compile-time maximum


def _write(stream: BinaryIO, payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _read(stream: BinaryIO) -> bytes | None:
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(header)
    return stream.read(length)


def _query(connection, sql: str, params: list) -> pa.Table:
    import adbc_driver_manager

    statement = adbc_driver_manager.AdbcStatement(connection)
    try:
        statement.set_options(**_WHOLE_RESULT)
        statement.set_sql_query(sql)
        if params:
            statement.bind(pa.record_batch([pa.array([value]) for value in params],
                                           names=[str(i) for i in range(len(params))]))
        stream, _ = statement.execute_query()
        return pa.RecordBatchReader.from_stream(stream).read_all()
    finally:
        statement.close()


def _serve(uri: str, folder: str, requests: BinaryIO, replies: BinaryIO) -> None:
    # the low-level ADBC API: its DB-API module imports pandas and polars (~0.4 s per start)
    import adbc_driver_manager
    import adbc_driver_sqlite

    database = adbc_driver_sqlite.connect(uri)
    connection = adbc_driver_manager.AdbcConnection(database)
    pragma = adbc_driver_manager.AdbcStatement(connection)
    try:  # memory-mapped pages: index lookups without a read() system call per page
        pragma.set_sql_query(_MMAP_PRAGMA)
        pragma.execute_update()
    finally:
        pragma.close()
    try:
        while (request := _read(requests)) is not None:
            sql, params, path = json.loads(request)
            try:
                table = _query(connection, sql, params)
                with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                    writer.write_table(table)
                del table
            except Exception as error:  # report it and keep serving
                replies.write(_ERROR)
                _write(replies, f"{type(error).__name__}: {error}".encode())
                continue
            replies.write(_OK)
            replies.flush()
    finally:
        connection.close()
        database.close()
        shutil.rmtree(folder, ignore_errors=True)  # also when the parent was killed (stdin closed)


def _scratch_folder() -> str:
    ram = None
    if _RAM_FOLDER.is_dir() and os.access(_RAM_FOLDER, os.W_OK):
        ram = _RAM_FOLDER if shutil.disk_usage(_RAM_FOLDER).free >= _RAM_FOLDER_MIN_FREE else None
    return tempfile.mkdtemp(prefix="auditoryx-sqlite-", dir=ram)


class SqliteChildReader:
    """A read-only ADBC SQLite connection living in its own process."""

    def __init__(self, uri: str):
        self._folder = _scratch_folder()
        self._names = itertools.count()
        self._process = subprocess.Popen([sys.executable, "-m", "ingestion.sqlite_child", uri, self._folder],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def fetch(self, sql: str, params: list) -> pa.Table:
        path = os.path.join(self._folder, f"{next(self._names)}.arrow")
        try:
            _write(self._process.stdin, json.dumps([sql, params, path]).encode())
            status = self._process.stdout.read(1)
            if status == _OK:
                # zero-copy: the table's buffers live in the mapping, which outlives the unlink
                return pa.ipc.open_file(pa.memory_map(path)).read_all()
            if status == _ERROR:
                message = _read(self._process.stdout) or b""
                raise RuntimeError(f"SQLite read failed: {message.decode(errors='replace')}")
            raise RuntimeError(f"the SQLite reader process stopped (exit code {self._process.poll()})")
        finally:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout:
            self._process.stdout.close()
        shutil.rmtree(self._folder, ignore_errors=True)


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], sys.stdin.buffer, sys.stdout.buffer)
    sys.stdout.flush()
    os._exit(0)  # nothing left to clean up: skip the interpreter's teardown (~0.1 s)
