"""Generate N bookings (default 10M over 1,000 tenants) into a fresh SQLite file and a fresh
PostgreSQL database; print rows/s, wall time and peak RSS for each, next to a baseline measured
in the same run: the previous generator's path (bookings made one by one as Python dicts, inserted
through SQLAlchemy Core in batches of 5,000) on a small sample, extrapolated as rows/s.

    .venv/bin/python benchmarks/generator.py                      # 10M bookings, 1,000 tenants
    .venv/bin/python benchmarks/generator.py --bookings 1000000 --tenants 100 --backends sqlite

Each measurement runs in its own process so that its peak RSS (including the SQLite bulk loader's
child process) is its own. PostgreSQL server memory is not included. Target: 10M bookings in under
3 minutes into each backend.
"""
from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AS_OF = dt.date(2026, 6, 30)
TARGET_SECONDS = 180.0
PG_ADMIN_URL = os.environ.get("AUDITORYX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TABLES = ("organizations", "users", "artists", "projects", "project_users", "project_milestones", "bookings")


def peak_rss_bytes() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) * 1024  # kilobytes on Linux


def row_counts(engine) -> dict[str, int]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


# --- the measured run (child process) ------------------------------------------------------------

def child_generate(url: str, tenants: int, bookings: int, seed: int) -> dict:
    from operational.db import create_schema, make_engine
    from operational.generator import generate

    engine = make_engine(url)
    create_schema(engine)
    started = time.perf_counter()
    last = [started]

    def progress(message: str) -> None:
        now = time.perf_counter()
        if now - last[0] > 15 or "rebuilding" in message:
            print(f"    [{now - started:6.1f}s] {message}", file=sys.stderr, flush=True)
            last[0] = now

    generate(engine, tenants=tenants, seed=seed, as_of=AS_OF, password="bench", target_bookings=bookings,
             progress=progress)
    wall = time.perf_counter() - started
    counts = row_counts(engine)
    engine.dispose()
    return {"wall": wall, "counts": counts, "peak_rss": peak_rss_bytes()}


def child_baseline(url: str, bookings: int, seed: int) -> dict:
    """The previous generator's booking path, timed on ``bookings`` rows."""
    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from operational.db import create_schema, make_engine
    from operational.generator import generate
    from operational.models import Artist, Booking, Project, User

    engine = make_engine(url)
    create_schema(engine)
    (tenant,) = generate(engine, tenants=1, seed=seed, as_of=AS_OF, password="bench", scale=0.0)
    with Session(engine) as session:  # a tenant to book in: its users, some artists and projects
        users = [{"id": u.id, "role": u.role} for u in session.scalars(select(User).where(User.org_id == tenant.id))]
        artist_rows = [{"id": str(uuid.UUID(int=random.Random(i).getrandbits(128), version=4)), "org_id": tenant.id,
                        "name": f"Baseline Artist {i}"} for i in range(40)]
        project_rows = [{"id": str(uuid.UUID(int=random.Random(1000 + i).getrandbits(128), version=4)),
                         "org_id": tenant.id, "name": f"Baseline {i}", "type": "ALBUM", "status": "IN_PROGRESS",
                         "currency": "USD", "spent": decimal.Decimal("0")} for i in range(16)]
        now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        for row in artist_rows + project_rows:
            row.update(created_at=now, updated_at=now)
        session.execute(insert(Artist), artist_rows)
        session.execute(insert(Project), project_rows)
        session.commit()
    started = time.perf_counter()
    rows = legacy_bookings(tenant.id, users, artist_rows, project_rows, bookings, seed)
    with Session(engine) as session, session.begin():
        for start in range(0, len(rows), 5000):
            session.execute(insert(Booking), rows[start:start + 5000])
    wall = time.perf_counter() - started
    engine.dispose()
    return {"wall": wall, "bookings": bookings}


def legacy_bookings(org_id, users, artists, projects, total, seed) -> list[dict]:
    """The booking loop of the previous generator (operational/generator.py before the bulk rewrite)."""
    rng = random.Random(seed)
    D, CENT = decimal.Decimal, decimal.Decimal("0.01")
    types = {"RECORDING_SESSION": (30, 4, 120), "MIXING": (15, 6, 90), "MASTERING": (8, 2, 150),
             "PRODUCTION": (12, 8, 110), "CONSULTATION": (8, 1, 80), "PERFORMANCE": (15, 3, 600),
             "WORKSHOP": (6, 3, 200), "OTHER": (6, 2, 70)}
    per_unit = {"USD": 1, "EUR": 1.08, "GBP": 1.27}
    zones = ("America/New_York", "America/Los_Angeles", "Pacific/Honolulu")

    def at(day, hour, minute=0):
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.timezone.utc)

    def money(amount):
        return D(str(round(amount, 2))).quantize(CENT)

    def new_id():
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    now = at(AS_OF, 12)
    kinds, weights = list(types), [types[t][0] for t in types]
    artist_weights = [rng.paretovariate(1.5) for _ in artists]
    clients = [u["id"] for u in users if u["role"] == "CLIENT"]
    rows = []
    for number in range(total):
        kind = rng.choices(kinds, weights)[0]
        _, hours, rate = types[kind]
        day = AS_OF + dt.timedelta(days=rng.randint(-730, 90))
        zone = rng.choice(zones)
        start = at(day, rng.randint(0, 23), rng.choice((0, 15, 30, 45)))
        minutes = max(30, int(rng.gauss(hours, hours / 3) * 60) // 15 * 15)
        if number % 97 == 0:
            minutes = 23 * 60 + 30
        end = start + dt.timedelta(minutes=minutes)
        if end <= now:
            status = rng.choices(("COMPLETED", "CANCELLED", "DISPUTE", "CONFIRMED", "DRAFT"), (78, 12, 3, 4, 3))[0]
        elif start <= now:
            status = rng.choices(("IN_PROGRESS", "CANCELLED"), (92, 8))[0]
        else:
            status = rng.choices(("DRAFT", "PENDING_APPROVAL", "APPROVED", "CONFIRMED", "CANCELLED"),
                                 (10, 25, 25, 32, 8))[0]
        currency = "USD" if rng.random() < 0.85 else rng.choice(("USD", "EUR", "GBP"))
        amount = rate * minutes / 60 * rng.uniform(0.7, 1.5) / per_unit[currency]
        budget = money(amount) if rng.random() < 0.9 else (D("0.00") if rng.random() < 0.3 else None)
        final_price = money(amount * rng.uniform(0.9, 1.15)) if status == "COMPLETED" and rng.random() < 0.85 else None
        if status == "COMPLETED":
            lag = rng.choice((0, 7, 14, 30, 45, 60, 90))
            payment = (rng.choices(("PAID", "PARTIAL", "PENDING", "DISPUTED"), (90, 4, 4, 2))[0]
                       if (now - end).days > lag else rng.choice(("PENDING", "PARTIAL")))
        else:
            payment = {"CANCELLED": rng.choice(("PENDING", "REFUNDED")), "DISPUTE": "DISPUTED"}.get(status, "PENDING")
        created = min(start - dt.timedelta(days=rng.randint(1, 60)), now)
        artist = rng.choices(artists, artist_weights)[0]
        project = rng.choice(projects) if rng.random() < 0.4 else None
        rows.append({
            "id": new_id(), "org_id": org_id, "project_id": project["id"] if project else None,
            "artist_id": artist["id"], "client_id": rng.choice(clients), "created_by_id": users[1]["id"],
            "assigned_to_id": users[3]["id"] if rng.random() < 0.5 else None,
            "title": f"{kind.replace('_', ' ').title()} · {artist['name']}", "type": kind, "status": status,
            "priority": rng.choices(("LOW", "MEDIUM", "HIGH", "URGENT"), (20, 50, 22, 8))[0],
            "start_date": start, "end_date": end, "duration_minutes": minutes, "timezone": zone,
            "location": None if rng.random() < 0.2 else rng.choice(("Studio A", "Studio B", "Main Hall")),
            "is_remote": rng.random() < 0.2, "budget": budget, "final_price": final_price, "currency": currency,
            "payment_status": payment, "requirements": {"engineer": rng.random() < 0.5}, "deliverables": [],
            "notes": None, "created_at": created, "updated_at": min(max(created, end), now),
        })
    return rows


# --- orchestration (parent) ----------------------------------------------------------------------

def run_child(*args: str) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True,
                            check=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


class Target:
    """A fresh SQLite file or PostgreSQL database, removed afterwards."""

    def __init__(self, backend: str, label: str):
        self.backend, self.label = backend, label

    def __enter__(self) -> str:
        if self.backend == "sqlite":
            self.folder = tempfile.TemporaryDirectory(prefix="bench-gen-")
            return f"sqlite:///{Path(self.folder.name) / f'{self.label}.sqlite'}"
        from sqlalchemy import create_engine, text

        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.name = f"bench_gen_{self.label}_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.admin.url.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc) -> None:
        if self.backend == "sqlite":
            self.folder.cleanup()
            return
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=10_000_000)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--baseline-bookings", type=int, default=20_000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        kind, url, *rest = options.child
        if kind == "generate":
            result = child_generate(url, int(rest[0]), int(rest[1]), int(rest[2]))
        else:
            result = child_baseline(url, int(rest[0]), int(rest[1]))
        print(json.dumps(result))
        return

    print(f"generator benchmark: {options.bookings:,} bookings over {options.tenants:,} tenants, as of {AS_OF}; "
          f"baseline on {options.baseline_bookings:,} bookings", flush=True)
    summary = []
    for backend in options.backends.split(","):
        with Target(backend, "baseline") as url:
            base = run_child("baseline", url, str(options.baseline_bookings), str(options.seed))
        base_rate = base["bookings"] / base["wall"]
        print(f"  {backend} baseline (old row-by-row path): {base['bookings']:,} bookings in {base['wall']:.1f} s "
              f"= {base_rate:,.0f} bookings/s → {options.bookings:,} would take ≈ {options.bookings / base_rate:,.0f} s",
              flush=True)
        with Target(backend, "bulk") as url:
            run = run_child("generate", url, str(options.tenants), str(options.bookings), str(options.seed))
        counts = run["counts"]
        rows = sum(counts.values())
        rate = counts["bookings"] / run["wall"]
        speedup = rate / base_rate
        verdict = "met" if options.bookings < 10_000_000 or run["wall"] < TARGET_SECONDS else "MISSED"
        print(f"  {backend} new generator: {counts['bookings']:,} bookings ({rows:,} rows in all tables) in "
              f"{run['wall']:.1f} s = {rate:,.0f} bookings/s ({rows / run['wall']:,.0f} rows/s); "
              f"peak RSS {run['peak_rss'] / 2**30:.2f} GiB; {speedup:,.1f}× the baseline; "
              f"3-minute target for 10M: {verdict}", flush=True)
        summary.append((backend, counts["bookings"], run["wall"], rate, rows / run["wall"], run["peak_rss"],
                        base_rate, speedup))
    print("\n| backend | bookings | wall | bookings/s | rows/s (all tables) | peak RSS | baseline bookings/s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for backend, bookings, wall, rate, row_rate, rss, base_rate, speedup in summary:
        print(f"| {backend} | {bookings:,} | {wall:.1f} s | {rate:,.0f} | {row_rate:,.0f} | {rss / 2**30:.2f} GiB | "
              f"{base_rate:,.0f} | {speedup:,.1f}× |")


if __name__ == "__main__":
    main()
