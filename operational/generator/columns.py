"""Vectorised column helpers: seeded RNGs, UUID text, Arrow arrays in the canonical types.

Canonical types (what every generated table uses before a writer adapts it to its backend):
ids and text → ``string``, money → ``decimal128(18, 2)``, timestamps → ``timestamp[us, UTC]``,
dates → ``date32``, JSON → ``string`` holding ``json.dumps`` text.
"""
from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np
import pyarrow as pa

US_PER_SECOND = 1_000_000
SECONDS_PER_DAY = 86_400


def rng_for(seed: int, *key: int | str) -> np.random.Generator:
    """An independent PCG64 stream for (seed, key…): the same key gives the same numbers, whatever
    else was generated before (so chunking and tenant order never change a tenant's rows)."""
    words = [seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF]
    for part in key:
        words.append(zlib.crc32(part.encode()) if isinstance(part, str) else int(part) & 0xFFFFFFFF)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


_HEX_PAIRS = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), dtype=np.uint8).reshape(256, 2)


def fixed_width_strings(matrix: np.ndarray) -> pa.StringArray:
    """An Arrow string array from an (n, width) uint8 matrix of ASCII bytes, without Python objects."""
    n, width = matrix.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(np.ascontiguousarray(matrix))])


def uuid4_strings(rng: np.random.Generator, n: int) -> pa.StringArray:
    """``n`` random version-4 UUIDs as canonical lower-case text (36 characters)."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = _HEX_PAIRS[raw].reshape(n, 32)
    out = np.empty((n, 36), dtype=np.uint8)
    out[:, 0:8] = hexed[:, 0:8]
    out[:, 9:13] = hexed[:, 8:12]
    out[:, 14:18] = hexed[:, 12:16]
    out[:, 19:23] = hexed[:, 16:20]
    out[:, 24:36] = hexed[:, 20:32]
    out[:, [8, 13, 18, 23]] = ord("-")
    return fixed_width_strings(out)


def money(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """DECIMAL(18, 2) from integer cents (the Arrow decimal128 layout is the 128-bit unscaled value)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    wide = np.empty((len(cents), 2), dtype=np.int64)
    wide[:, 0] = cents
    wide[:, 1] = cents >> 63  # sign extension
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [_validity(valid), pa.py_buffer(wide)],
                                 null_count=-1 if valid is not None else 0)


def timestamps(seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """timestamp[us, UTC] from whole seconds since the epoch."""
    us = np.asarray(seconds, dtype=np.int64) * US_PER_SECOND
    return pa.array(us, type=pa.timestamp("us", tz="UTC"), mask=None if valid is None else ~valid)


def dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """date32 from days since the epoch."""
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32(), mask=None if valid is None else ~valid)


def pick(values: pa.Array | list, index: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """values[index] (null where ``valid`` is False), as an Arrow array."""
    if not isinstance(values, pa.Array):
        values = pa.array(list(values), type=pa.string())
    index = pa.array(np.asarray(index, dtype=np.int32), mask=None if valid is None else ~np.asarray(valid))
    return values.take(index)


def _validity(valid: np.ndarray | None):
    if valid is None:
        return None
    return pa.py_buffer(np.packbits(np.asarray(valid, dtype=bool), bitorder="little"))


# --- text forms used by the SQLite writer (what SQLAlchemy stores there) ---------------------------

@lru_cache(maxsize=1)
def _time_of_day_table() -> np.ndarray:
    text = b"".join(b" %02d:%02d:%02d.000000" % (h, m, s) for h in range(24) for m in range(60) for s in range(60))
    return np.frombuffer(text, dtype=np.uint8).reshape(SECONDS_PER_DAY, 16)


def _day_table(first: int, last: int) -> np.ndarray:
    days = np.arange(first, last + 1).astype("M8[D]")
    return np.frombuffer(np.datetime_as_string(days).astype("S10").tobytes(), dtype=np.uint8).reshape(-1, 10)


def sqlite_timestamp_text(array: pa.Array) -> pa.Array:
    """timestamp[us, UTC] → 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC), the text SQLAlchemy writes."""
    n = len(array)
    valid = None if array.null_count == 0 else np.asarray(array.is_valid())
    us = array.cast(pa.int64()).fill_null(0).to_numpy()
    seconds, micros = np.divmod(us, US_PER_SECOND)
    days, tod = np.divmod(seconds, SECONDS_PER_DAY)
    if n == 0:
        return pa.array([], type=pa.string())
    first, last = int(days.min()), int(days.max())
    if not (-719162 <= first and last < 2932897):  # years 1..9999
        raise ValueError("timestamp out of range")
    out = np.empty((n, 26), dtype=np.uint8)
    out[:, 0:10] = _day_table(first, last)[days - first]
    out[:, 10:26] = _time_of_day_table()[tod]
    if micros.any():
        digits = micros.copy()
        for column in range(25, 19, -1):
            out[:, column] = ord("0") + digits % 10
            digits //= 10
    text = fixed_width_strings(out)
    return text if valid is None else _with_validity(text, valid)


def sqlite_date_text(array: pa.Array) -> pa.Array:
    """date32 → 'YYYY-MM-DD'."""
    n = len(array)
    if n == 0:
        return pa.array([], type=pa.string())
    valid = None if array.null_count == 0 else np.asarray(array.is_valid())
    days = array.cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64)
    first, last = int(days.min()), int(days.max())
    text = fixed_width_strings(_day_table(first, last)[days - first])
    return text if valid is None else _with_validity(text, valid)


def _with_validity(array: pa.Array, valid: np.ndarray) -> pa.Array:
    buffers = array.buffers()
    return pa.Array.from_buffers(array.type, len(array), [_validity(valid), *buffers[1:]], null_count=-1)

