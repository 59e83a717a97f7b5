"""A tenant's ``CURRENT`` pointer and ``CHECKED_AT`` stamp, read again only when their ``stat`` changes.

Readers (the dashboards, the API) ask for a tenant's current version on every call, so that a new
publish is picked up at once. Reading two small files per call costs more than the cached answer
it leads to; a ``stat`` is enough: a file is read again whenever its inode, size or times differ
from the last read, and always while it is younger than ``RACY_SECONDS`` (file times can be as
coarse as a second, so two same-size writes within one tick would leave the same ``stat``; older
than that, a later write is bound to change it). A damaged pointer is never remembered.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

from warehouse.layout import CHECKED_STAMP, CURRENT_POINTER, read_checked, read_pointer

RACY_SECONDS = 2.0
_MISSING = object()


class Lru:
    """A small thread-safe LRU mapping (values are shared, never mutated)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, default=None):
        # no lock: each dictionary operation is atomic; an entry evicted in between is still returned
        value = self._items.get(key, _MISSING)
        if value is _MISSING:
            return default
        try:
            self._items.move_to_end(key)
        except KeyError:
            pass
        return value

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def pop(self, key) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def stat_signature(path: str):
    """(stat signature, trustworthy) of ``path``; None when it cannot be stat-ed. Not trustworthy:
    modified less than ``RACY_SECONDS`` ago (read it again next time)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    trusted = time.time() - info.st_mtime > RACY_SECONDS
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns), trusted


class PointerMemo:
    """Per process: each tenant's ``CURRENT`` and ``CHECKED_AT``, keyed by (published dir, tenant)."""

    def __init__(self, size: int = 4096) -> None:
        self._pointers = Lru(size)  # (published_dir, tenant) -> (stat signature, version)
        self._checked = Lru(size)   # (published_dir, tenant) -> (stat signature, CHECKED_AT time)

    def current_version(self, published_dir: Path | str, tenant_id: str) -> str | None:
        """``layout.current_version`` of a validated tenant id (raises ``DamagedPointer`` likewise)."""
        key = (str(published_dir), tenant_id)
        found = stat_signature(f"{key[0]}/{tenant_id}/{CURRENT_POINTER}")
        if found is not None:
            remembered = self._pointers.get(key)
            if remembered is not None and remembered[0] == found[0]:
                return remembered[1]
        version = read_pointer(Path(key[0]) / tenant_id)  # DamagedPointer: never remembered
        if found is not None and found[1] and version is not None:
            self._pointers.put(key, (found[0], version))
        else:
            self._pointers.pop(key)
        return version

    def checked_at(self, published_dir: Path | str, tenant_id: str) -> dt.datetime | None:
        """``layout.read_checked`` of a validated tenant id's folder."""
        key = (str(published_dir), tenant_id)
        found = stat_signature(f"{key[0]}/{tenant_id}/{CHECKED_STAMP}")
        if found is None:
            return None
        remembered = self._checked.get(key)
        if remembered is not None and remembered[0] == found[0]:
            return remembered[1]
        when = read_checked(Path(key[0]) / tenant_id)
        if found[1]:
            self._checked.put(key, (found[0], when))
        return when

    def clear(self) -> None:
        self._pointers.clear()
        self._checked.clear()
