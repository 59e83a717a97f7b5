"""Deterministic demo and load-test data: tenants, users, artists, projects, milestones, bookings.

Same seed and as-of date → the same rows, ids included, however the work is chunked. Tenants with
the same slugs are replaced. The three presets come first (northwind-records USD, studio-aurora
EUR, kanto-talent JPY), the 4th tenant has no bookings, the others follow a long tail of sizes
(``target_bookings`` rescales them: 1,000 tenants ≈ 10M bookings in a few minutes).

Generation is vectorised (numpy PCG64 streams per tenant and per block of 50k bookings, so the rows
never depend on chunking) and written in chunks of about 200k bookings, all in one transaction,
with bounded memory: PostgreSQL through ADBC (binary COPY), SQLite through sqlite3 for normal
loads and, from BULK_BOOKINGS on, through ADBC in a child process (see ``writers`` and
``sqlite_bulk``); large loads rebuild the booking indexes after the load. Bookings start within
two years before and three months after ``as_of``, inside the FX seed's range. Realism on purpose: currencies by region, genres and skills,
ratings, cancellations, payment lag, overdue milestones (some still stored PENDING), projects over
budget or with a zero budget, missing final prices, bookings across local midnight and DST changes,
far-east/far-west zones (Pacific/Kiritimati, Pacific/Pago_Pago, Pacific/Auckland), unicode, emoji
and hostile-looking names (HTML, spreadsheet formulas).
"""
from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import pyarrow as pa
from sqlalchemy import Engine

from operational.auth import hash_password
from operational.generator.bookings import BLOCK, booking_block
from operational.generator.entities import TenantContext, tenant_tables
from operational.generator.profiles import (
    CURRENCIES,
    FX_FIRST_SERVICE_DAY,
    FX_LAST_SERVICE_DAY,
    HARD_NAMES,
    PRESET_TENANTS,
    TenantProfile,
    tenant_profiles,
)
from operational.generator.schema import TABLE_ORDER
from operational.generator.writers import Writer, open_writer, sqlite_file

__all__ = ["generate", "GeneratedTenant", "PRESET_TENANTS", "TenantProfile", "tenant_profiles", "HARD_NAMES",
           "CURRENCIES", "booking_window", "CHUNK_BOOKINGS", "BULK_BOOKINGS"]

CHUNK_BOOKINGS = 200_000  # bookings generated and written together (bounded memory)
BULK_BOOKINGS = 250_000  # from this many bookings on, indexes are rebuilt after the load
HISTORY_DAYS, HORIZON_DAYS = 730, 90
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class GeneratedTenant:
    id: str
    slug: str
    name: str
    admin_email: str
    bookings: int


def booking_window(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """Local days bookings may start on: two years back, three months ahead, inside the FX seed."""
    first = max(as_of - dt.timedelta(days=HISTORY_DAYS), FX_FIRST_SERVICE_DAY)
    last = min(as_of + dt.timedelta(days=HORIZON_DAYS), FX_LAST_SERVICE_DAY)
    if (last - first).days < 60:
        raise ValueError(f"as_of {as_of} is too far outside the FX rates' range "
                         f"({FX_FIRST_SERVICE_DAY}..{FX_LAST_SERVICE_DAY})")
    return first, last


def generate(
    engine: Engine,
    *,
    tenants: int = 3,
    seed: int = 42,
    as_of: dt.date,
    password: str,
    scale: float = 1.0,
    progress: Callable[[str], None] | None = None,
    target_bookings: int | None = None,
) -> list[GeneratedTenant]:
    """Replace the generated tenants (same slugs) with fresh deterministic data.

    ``scale`` multiplies every tenant's size; ``target_bookings`` (optional) rescales the long-tail
    tenants so that the total is about that many bookings.
    """
    if tenants < 1:
        raise ValueError("tenants must be at least 1")
    if scale < 0:
        raise ValueError("scale must not be negative")
    report = progress or (lambda message: None)
    profiles = tenant_profiles(tenants, seed, scale=scale, target_bookings=target_bookings)
    first, last = booking_window(as_of)
    total = sum(p.bookings for p in profiles)
    password_hash = hash_password(password)  # once per run: every generated user shares it
    bulk = total >= BULK_BOOKINGS
    report(f"generating {len(profiles)} tenants, {total:,} bookings into {engine.url.get_backend_name()}"
           f"{' (bulk load)' if bulk else ''}")
    job = Job(tenants=tenants, seed=seed, as_of=as_of.isoformat(), password_hash=password_hash, scale=scale,
              target_bookings=target_bookings)
    path = sqlite_file(engine)
    if bulk and path is not None:
        from operational.generator.sqlite_bulk import run_in_subprocess

        engine.dispose()  # close our idle connections: the loader may then use a rollback journal
        return run_in_subprocess(path, job, report)
    with open_writer(engine, bulk=bulk) as writer:
        return load(writer, job, report)


@dataclass(frozen=True)
class Job:
    """Everything that decides the generated rows (plain values: it crosses process boundaries)."""

    tenants: int
    seed: int
    as_of: str
    password_hash: str
    scale: float = 1.0
    target_bookings: int | None = None


def load(writer: Writer, job: Job, report: Callable[[str], None]) -> list[GeneratedTenant]:
    """Generate the job's tenants chunk by chunk into an open writer, then commit."""
    as_of = dt.date.fromisoformat(job.as_of)
    profiles = tenant_profiles(job.tenants, job.seed, scale=job.scale, target_bookings=job.target_bookings)
    first, last = booking_window(as_of)
    total = sum(p.bookings for p in profiles)
    producer = _Producer(_plan(profiles), profiles, job.seed, as_of, job.password_hash, first, last)
    started = time.monotonic()
    done_bookings = done_tenants = 0
    writer.replace_tenants([p.slug for p in profiles])
    for tables, finished in producer:
        for name, table in tables:
            writer.write(name, table)
            if name == "bookings":
                done_bookings += table.num_rows
        done_tenants += len(finished)
        if len(profiles) <= 20:
            for tenant in finished:
                report(f"{tenant.slug}: {tenant.bookings} bookings")
        if total >= CHUNK_BOOKINGS:
            rate = done_bookings / max(time.monotonic() - started, 1e-9)
            report(f"{done_bookings:,}/{total:,} bookings, {done_tenants}/{len(profiles)} tenants "
                   f"({rate:,.0f} bookings/s)")
    if writer.bulk:
        report("rebuilding indexes and constraints")
    writer.commit()
    if writer.timings:
        report("committed: " + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in writer.timings.items()))
    return producer.results


# --- planning and producing chunks ---------------------------------------------------------------

Piece = tuple[int, list[tuple[int, int]]]  # tenant index, [(block number, bookings)]


def _plan(profiles: list[TenantProfile]) -> list[list[Piece]]:
    """Chunks of about CHUNK_BOOKINGS bookings; a tenant's blocks stay in order, a tenant may span chunks."""
    chunks: list[list[Piece]] = [[]]
    size = 0
    for index, profile in enumerate(profiles):
        current: list[tuple[int, int]] | None = None
        if size >= CHUNK_BOOKINGS or len(chunks[-1]) >= 500:  # many tiny tenants: keep chunks modest too
            chunks.append([])
            size = 0
        for block in range(-(-profile.bookings // BLOCK)):
            if current is not None and size >= CHUNK_BOOKINGS:
                chunks.append([])
                size, current = 0, None
            if current is None:
                current = []
                chunks[-1].append((index, current))
            current.append((block, min(BLOCK, profile.bookings - block * BLOCK)))
            size += current[-1][1]
        if current is None:  # a tenant without bookings: its small tables only
            chunks[-1].append((index, []))
    return [chunk for chunk in chunks if chunk]


class _Producer:
    """Generates chunks in a background thread (numpy and Arrow release the GIL) while the caller
    writes the previous one; at most two chunks wait in memory."""

    def __init__(self, plan, profiles, seed, as_of, password_hash, first, last):
        self.plan, self.profiles, self.seed, self.as_of = plan, profiles, seed, as_of
        self.password_hash = password_hash
        self.first_day, self.last_day = (first - EPOCH).days, (last - EPOCH).days
        self.now = (as_of - EPOCH).days * 86_400 + 12 * 3600
        self.results: list[GeneratedTenant] = []
        self._contexts: dict[int, TenantContext] = {}

    def __iter__(self) -> Iterator[tuple[list[tuple[str, pa.Table]], list[GeneratedTenant]]]:
        box: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()

        def run() -> None:
            try:
                for chunk in self.plan:
                    item = self._chunk(chunk)
                    while not stop.is_set():
                        try:
                            box.put(item, timeout=0.2)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                box.put(None)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
                box.put(exc)

        thread = threading.Thread(target=run, name="generator-producer", daemon=True)
        thread.start()
        try:
            while True:
                item = box.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():
                try:
                    box.get_nowait()
                except queue.Empty:
                    thread.join(timeout=0.1)

    def _chunk(self, chunk: list[Piece]):
        small: dict[str, list[pa.Table]] = {name: [] for name in TABLE_ORDER}
        finished: list[GeneratedTenant] = []
        for index, blocks in chunk:
            profile = self.profiles[index]
            if index not in self._contexts:
                tables = tenant_tables(profile, index, self.seed, self.as_of, self.password_hash)
                self._contexts[index] = tables.context
                for name, table in tables.tables.items():
                    small[name].append(table)
            context = self._contexts[index]
            for block, count in blocks:
                small["bookings"].append(booking_block(context, self.seed, block, count, self.first_day,
                                                       self.last_day, self.now))
            last_block = -(-profile.bookings // BLOCK) - 1
            if not blocks or blocks[-1][0] == last_block:
                del self._contexts[index]
                tenant = GeneratedTenant(context.org_id, profile.slug, profile.name,
                                         f"admin@{profile.slug}.example", profile.bookings)
                self.results.append(tenant)
                finished.append(tenant)
        tables = [(name, pa.concat_tables(parts)) for name, parts in small.items() if parts]
        return [(name, table) for name, table in tables if table.num_rows], finished
