"""Page answers composed when a version is published, stored in the version's folder.

A page's first view of a version (dashboards/queries.py ``_read_snapshot``) reads its answer here
when the version holds it, instead of reading the marts' Parquet files and composing it: one small
file read and a few Arrow IPC frames decoded (~0.01 ms each), where composing the label dashboard
reads and sums every daily row of the tenant (tens of milliseconds for a large one). What is
stored is exactly what the page's own code composed from the same version at publish time
(dashboards/page_precompute.py); a version without the file, an answer that is not there (a
filtered view, an artist the roster does not hold) or a file written by other code is composed as
before.

The file, ``page_answers.bin`` in the version folder (written before the version's CURRENT names
it, like its Parquet files):

    MAGIC | header length (4 bytes, little endian) | header (JSON) | entries…

The header names the tenant, the version, the format (:func:`answer_format`: a digest of the code
that composes and reads answers, of Polars' version and of the time zone times are shown in: any
change and the file is ignored) and each entry's offset and length by key (the page's memo key,
``queries._answers``). An entry is ``JSON length | JSON | Arrow IPC streams…``: the answer's
values as typed JSON (:func:`encode`; dataclasses only of the registered answer classes, never
arbitrary objects: nothing in the file is executed) and its frames as Arrow IPC streams.

Isolation: the file is read only from the validated version folder of the session's tenant (a
regular file, a link is refused), and an answer is used only when the header and the answer both
name that tenant and version.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import functools
import hashlib
import io
import json
import os
import stat
import struct
import zoneinfo
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

ANSWERS_FILE = "page_answers.bin"
MAGIC = b"AXPAGES1"
_LENGTH = struct.Struct("<I")
_CLASSES: dict[str, type] = {}
_MAX_HEADER = 64 << 20  # bytes: anything larger is not a file this module wrote

# The modules whose code decides what an answer holds: an answer written by other code is ignored.
_COMPOSERS = ("page_answers.py", "queries.py", "parquet_pages.py", "filters.py", "quality_queries.py",
              "roster_queries.py", "page_precompute.py")


class AnswerFileError(ValueError):
    """The file is not one this module wrote (or it is damaged)."""


def answer_class(cls: type) -> type:
    """Register a frozen dataclass whose instances may be stored (a class decorator)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    _CLASSES[cls.__name__] = cls
    return cls


@functools.cache
def answer_format() -> str:
    """Digest of the code composing and reading the answers, Polars' version and the zone times
    are shown in (the host's, as DuckDB gives them): answers are used only by the same."""
    from dashboards.parquet_pages import duckdb_time_zone

    digest = hashlib.sha256()
    folder = Path(__file__).resolve().parent
    for name in _COMPOSERS:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    digest.update(f"polars {pl.__version__}; zone {duckdb_time_zone()}".encode())
    return digest.hexdigest()[:32]


def key_text(key: tuple) -> str:
    """A page's memo key (strings and tuples of them) as the header's text. Pure."""
    return json.dumps(_plain_key(key), separators=(",", ":"))


def _plain_key(key: Any) -> Any:
    if isinstance(key, tuple):
        return [_plain_key(part) for part in key]
    if isinstance(key, str):
        return key
    raise TypeError(f"not a key part: {key!r}")


# ------------------------------------------------------------------------- values as typed JSON


def encode(value: Any, frames: list[pl.DataFrame]) -> Any:
    """``value`` as JSON-ready data, its frames appended to ``frames`` (referenced by index).
    Types: None, bool, int, float, str, Decimal, date, datetime (naive, UTC or a named zone),
    tuple, list, dict, Polars frames and registered dataclasses. Pure but for ``frames``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return {"$": "float", "v": repr(value)}  # nan and infinities too
    if isinstance(value, Decimal):
        return {"$": "decimal", "v": str(value)}
    if isinstance(value, dt.datetime):
        return {"$": "datetime", "v": value.replace(tzinfo=None).isoformat(), "tz": _zone_name(value.tzinfo)}
    if isinstance(value, dt.date):
        return {"$": "date", "v": value.isoformat()}
    if isinstance(value, pl.DataFrame):
        frames.append(value)
        return {"$": "frame", "i": len(frames) - 1}
    if isinstance(value, tuple):
        return {"$": "tuple", "v": [encode(item, frames) for item in value]}
    if isinstance(value, list):
        return [encode(item, frames) for item in value]
    if isinstance(value, dict):
        return {"$": "dict", "v": [[encode(k, frames), encode(v, frames)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and _CLASSES.get(type(value).__name__) is type(value):
        fields = {f.name: encode(getattr(value, f.name), frames) for f in dataclasses.fields(value)}
        return {"$": "class", "t": type(value).__name__, "v": fields}
    raise TypeError(f"cannot store a {type(value).__name__} in a page answer")


def _zone_name(zone: dt.tzinfo | None) -> str | None:
    if zone is None:
        return None
    if zone is dt.timezone.utc:
        return "UTC"
    if isinstance(zone, zoneinfo.ZoneInfo):
        return zone.key
    raise TypeError(f"cannot store a time in zone {zone!r}")


def _zone(name: str | None) -> dt.tzinfo | None:
    if name is None:
        return None
    return dt.timezone.utc if name == "UTC" else zoneinfo.ZoneInfo(name)


def decode(data: Any, frames: list[pl.DataFrame]) -> Any:
    """The value :func:`encode` gave ``data`` (frames by index into ``frames``). Pure."""
    if isinstance(data, list):
        return [decode(item, frames) for item in data]
    if not isinstance(data, dict):
        return data
    kind = data.get("$")
    if kind == "decimal":
        return Decimal(data["v"])
    if kind == "date":
        return dt.date.fromisoformat(data["v"])
    if kind == "datetime":
        return dt.datetime.fromisoformat(data["v"]).replace(tzinfo=_zone(data["tz"]))
    if kind == "float":
        return float(data["v"])
    if kind == "frame":
        return frames[data["i"]]
    if kind == "tuple":
        return tuple(decode(item, frames) for item in data["v"])
    if kind == "dict":
        return {decode(k, frames): decode(v, frames) for k, v in data["v"]}
    if kind == "class":
        cls = _CLASSES.get(data["t"])
        if cls is None:
            raise AnswerFileError(f"unknown answer class {data['t']!r}")
        return cls(**{name: decode(value, frames) for name, value in data["v"].items()})
    raise AnswerFileError(f"unknown value kind {kind!r}")


def _frame_bytes(frame: pl.DataFrame) -> bytes:
    sink = io.BytesIO()
    frame.write_ipc_stream(sink, compat_level=pl.CompatLevel.newest())
    return sink.getvalue()


def entry_bytes(answer: Any) -> bytes:
    """One answer as an entry: JSON length, JSON, then its frames' IPC streams. Pure."""
    frames: list[pl.DataFrame] = []
    value = encode(answer, frames)
    streams = [_frame_bytes(frame) for frame in frames]
    document = json.dumps({"value": value, "frames": [len(s) for s in streams]},
                          separators=(",", ":")).encode()
    return b"".join((_LENGTH.pack(len(document)), document, *streams))


def entry_answer(entry: bytes | memoryview) -> Any:
    """The answer of :func:`entry_bytes`. Pure."""
    view = memoryview(entry)
    (length,) = _LENGTH.unpack_from(view, 0)
    document = json.loads(bytes(view[4:4 + length]))
    frames, offset = [], 4 + length
    for size in document["frames"]:
        frames.append(pl.read_ipc_stream(io.BytesIO(view[offset:offset + size])))
        offset += size
    if offset != len(view):
        raise AnswerFileError("entry length does not match its frames")
    return decode(document["value"], frames)


# ------------------------------------------------------------------------------ the file


def write_answers(folder: Path, tenant_id: str, version: str, answers: Iterable[tuple[tuple, Any]]) -> int:
    """Write ``answers`` (memo key, answer) into ``folder`` (the version's, not yet named by
    CURRENT) as :data:`ANSWERS_FILE`; returns the number of entries written."""
    entries, offsets, position = [], {}, 0
    for key, answer in answers:
        entry = entry_bytes(answer)
        offsets[key_text(key)] = [position, len(entry)]
        entries.append(entry)
        position += len(entry)
    header = json.dumps({"format": answer_format(), "tenant_id": tenant_id, "version": version,
                         "entries": offsets}, separators=(",", ":")).encode()
    temporary = folder / (ANSWERS_FILE + ".tmp")
    with open(temporary, "wb") as file:
        file.write(MAGIC + _LENGTH.pack(len(header)) + header)
        for entry in entries:
            file.write(entry)
    os.replace(temporary, folder / ANSWERS_FILE)
    return len(entries)


def read_answer(folder: str | Path, tenant_id: str, version: str, key: tuple) -> Any | None:
    """The answer stored for ``key`` in the version folder (resolved and validated by the
    caller), or None: no file, a file of other code (format), of another tenant or version, or
    no such entry. Raises AnswerFileError for a damaged file (the caller composes the answer)."""
    path = os.path.join(folder, ANSWERS_FILE)
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            return None
        raise
    with open(handle, "rb", buffering=0) as file:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            return None
        start = file.read(len(MAGIC) + 4)
        if len(start) != len(MAGIC) + 4 or not start.startswith(MAGIC):
            raise AnswerFileError(f"{path} is not a page answers file")
        (length,) = _LENGTH.unpack_from(start, len(MAGIC))
        if length > _MAX_HEADER:
            raise AnswerFileError(f"{path}: header of {length} bytes")
        try:
            header = json.loads(_read_exactly(handle, length, len(start)))
        except ValueError as error:
            raise AnswerFileError(f"{path}: unreadable header") from error
        if header.get("format") != answer_format() or header.get("tenant_id") != tenant_id \
                or header.get("version") != version:
            return None
        found = header.get("entries", {}).get(key_text(key))
        if found is None:
            return None
        offset, size = found
        entry = _read_exactly(handle, size, len(start) + length + offset)
    try:
        answer = entry_answer(entry)
    except (ValueError, KeyError, TypeError, struct.error, pl.exceptions.PolarsError) as error:
        raise AnswerFileError(f"{path}: entry {key_text(key)} unreadable: {error}") from error
    if getattr(answer, "tenant_id", tenant_id) != tenant_id or getattr(answer, "version", version) != version:
        raise AnswerFileError(f"{path}: entry {key_text(key)} names another tenant or version")
    return answer


def _read_exactly(handle: int, size: int, offset: int) -> bytes:
    data = os.pread(handle, size, offset)
    if len(data) != size:
        raise AnswerFileError("page answers file is truncated")
    return data


def answers_equal(mine: Any, theirs: Any) -> bool:
    """Deep equality with frames compared by schema and values (tests, the benchmark). Pure."""
    if isinstance(mine, pl.DataFrame) or isinstance(theirs, pl.DataFrame):
        return (isinstance(mine, pl.DataFrame) and isinstance(theirs, pl.DataFrame)
                and mine.schema == theirs.schema and mine.equals(theirs, null_equal=True))
    if dataclasses.is_dataclass(mine) and not isinstance(mine, type):
        return type(mine) is type(theirs) and all(
            answers_equal(getattr(mine, f.name), getattr(theirs, f.name)) for f in dataclasses.fields(mine))
    if isinstance(mine, Mapping):
        return isinstance(theirs, Mapping) and list(mine) == list(theirs) and all(
            answers_equal(mine[k], theirs[k]) for k in mine)
    if isinstance(mine, (tuple, list)):
        return type(mine) is type(theirs) and len(mine) == len(theirs) and all(
            answers_equal(a, b) for a, b in zip(mine, theirs))
    if isinstance(mine, float) and isinstance(theirs, float) and mine != mine:
        return theirs != theirs
    return type(mine) is type(theirs) and mine == theirs and str(getattr(mine, "tzinfo", "")) == str(
        getattr(theirs, "tzinfo", ""))
