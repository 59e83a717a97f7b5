"""ADBC SQLite reads in a child process.

ADBC's SQLite driver bundles its own copy of SQLite. Loaded into a process that already uses
Python's ``sqlite3`` (SQLAlchemy, the generator), the two copies clash: stale pages, lost POSIX
locks and segmentation faults were all seen. So the reads run in a child process
(``python -m ingestion.sqlite_child URI``) that loads only ADBC: JSON requests go in on its
stdin (length-prefixed); each reply is a status byte, then an Arrow IPC stream written straight
to stdout (no intermediate copy) or a length-prefixed error message.
"""
from __future__ import annotations

import json
import struct
import subprocess
import sys
from typing import BinaryIO

import pyarrow as pa

_OK, _ERROR = b"\x00", b"\x01"
_LENGTH = struct.Struct("!Q")
# infer column types over the whole result, not just the first 1,024 rows
_WHOLE_RESULT = {"adbc.sqlite.query.batch_rows": str(1 << 30)}


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


def _serve(uri: str, requests: BinaryIO, replies: BinaryIO) -> None:
    import adbc_driver_sqlite.dbapi as sqlite_adbc

    database = sqlite_adbc.connect(uri)
    try:
        while (request := _read(requests)) is not None:
            sql, params = json.loads(request)
            try:
                cursor = database.cursor()
                try:
                    cursor.adbc_statement.set_options(**_WHOLE_RESULT)
                    cursor.execute(sql, params or None)
                    table = cursor.fetch_arrow_table()
                finally:
                    cursor.close()
            except Exception as error:  # report it and keep serving
                replies.write(_ERROR)
                _write(replies, f"{type(error).__name__}: {error}".encode())
                continue
            replies.write(_OK)
            with pa.ipc.new_stream(replies, table.schema) as writer:
                writer.write_table(table, max_chunksize=65536)
            replies.flush()
    finally:
        database.close()


class SqliteChildReader:
    """A read-only ADBC SQLite connection living in its own process."""

    def __init__(self, uri: str):
        self._process = subprocess.Popen([sys.executable, "-m", "ingestion.sqlite_child", uri],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def fetch(self, sql: str, params: list) -> pa.Table:
        _write(self._process.stdin, json.dumps([sql, params]).encode())
        status = self._process.stdout.read(1)
        if status == _OK:
            return pa.ipc.open_stream(self._process.stdout).read_all()
        if status == _ERROR:
            message = _read(self._process.stdout) or b""
            raise RuntimeError(f"SQLite read failed: {message.decode(errors='replace')}")
        raise RuntimeError(f"the SQLite reader process stopped (exit code {self._process.poll()})")

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


if __name__ == "__main__":
    _serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
