"""The durable record of processed file drops, outside the build database: ``<archive>/file_registry.jsonl``.

The build database is a cache: deleting it (or losing it to corruption) must not lose the rows
that came from file drops. Every file that is registered (status ``ok`` or ``rejected``) is
appended here, one JSON object a line, once it sits in the archive: tenant, entity, checksum, the
name it was dropped under, where it was archived, its status and reason, and the batch time it
was loaded with (``_loaded_at`` and the default ``created_at``/``updated_at`` of its rows). A
build database whose ``file_registry`` lacks entries of this journal replays them from the
archive, in the journal's order, with their batch times: the same rows as the first time
(:func:`ingestion.files.ingest.ingest_file_drops`).

Each line is written with one ``write`` and fsynced. A line cut short by a crash (the last one) is
ignored when read; the next append starts on a new line.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

JOURNAL_FILE = "file_registry.jsonl"


@dataclass(frozen=True)
class JournalEntry:
    tenant_id: str
    entity: str
    checksum: str
    file: str                 # '<tenant id>/<entity>/<name>' as dropped
    archived_to: str          # relative to the archive folder
    status: str               # 'ok' | 'rejected'
    error: str | None
    batch_time: str           # ISO 8601 UTC, microseconds: the load time of the batch
    size_bytes: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.tenant_id, self.entity, self.checksum)

    @property
    def batch_datetime(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.batch_time).astimezone(dt.timezone.utc)


def journal_path(archive_dir: Path) -> Path:
    return Path(archive_dir) / JOURNAL_FILE


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def parse_lines(lines: Iterable[str]) -> list[JournalEntry]:
    """The entries of the journal's lines, in order; a line that does not parse (cut by a crash)
    is skipped; a later entry of the same file replaces nothing (the first one is kept). Pure."""
    entries: list[JournalEntry] = []
    seen: set[tuple[str, str, str]] = set()
    fields = set(JournalEntry.__dataclass_fields__)
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
            entry = JournalEntry(**{k: v for k, v in data.items() if k in fields})
        except (ValueError, TypeError):
            continue
        if entry.key not in seen:
            seen.add(entry.key)
            entries.append(entry)
    return entries


def read_journal(archive_dir: Path) -> list[JournalEntry]:
    path = journal_path(archive_dir)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return parse_lines(text.splitlines())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_entries(archive_dir: Path, entries: Iterable[JournalEntry]) -> None:
    """Append entries (one ``write``, then fsync); starts on a new line after a cut last line."""
    entries = list(entries)
    if not entries:
        return
    path = journal_path(archive_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    text = "".join(json.dumps(asdict(e), ensure_ascii=False, sort_keys=True) + "\n" for e in entries)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    text = "\n" + text
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)
