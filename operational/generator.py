"""Deterministic demo data: tenants, users, artists, projects, milestones, bookings.

Same seed and as-of date → the same rows, ids included. Dates are laid out around the as-of date
so that statuses agree with time (past bookings are mostly completed or cancelled, future ones
pending or confirmed). Hard cases are included on purpose: bookings across local midnight and DST
changes, far-east/far-west time zones, missing prices, unicode and hostile-looking names.
"""
from __future__ import annotations

import datetime as dt
import decimal
import random
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from operational.auth import hash_password
from operational.models import (
    Artist,
    AuditLog,
    Booking,
    Organization,
    Project,
    ProjectMilestone,
    ProjectUser,
    User,
)

D = decimal.Decimal
CENT = D("0.01")


@dataclass(frozen=True)
class TenantProfile:
    name: str
    slug: str
    type: str
    plan: str
    base_currency: str
    timezones: tuple[str, ...]
    bookings: int


PRESET_TENANTS: tuple[TenantProfile, ...] = (
    TenantProfile("Northwind Records", "northwind-records", "RECORD_LABEL", "LABEL_ENTERPRISE", "USD",
                  ("America/New_York", "America/Los_Angeles", "Pacific/Honolulu"), 2400),
    TenantProfile("Studio Aurora", "studio-aurora", "PRODUCTION_STUDIO", "STUDIO_PRO", "EUR",
                  ("Europe/Berlin", "Europe/Paris", "Europe/London"), 1500),
    TenantProfile("Kanto Talent Agency", "kanto-talent", "ENTERTAINMENT_AGENCY", "CUSTOM", "JPY",
                  ("Asia/Tokyo", "Pacific/Auckland", "Pacific/Kiritimati"), 900),
)
EXTRA_TYPES = ("CONTENT_COMPANY", "PODCAST_NETWORK", "EDUCATIONAL_INSTITUTION", "CORPORATE_MEDIA",
               "STREAMING_PLATFORM", "INDIVIDUAL", "RECORD_LABEL", "PRODUCTION_STUDIO")
EXTRA_PLANS = ("FREE", "STUDIO_PRO", "LABEL_ENTERPRISE", "WHITE_LABEL", "CUSTOM")
EXTRA_CURRENCIES = (("USD", ("America/Chicago", "America/Denver")), ("GBP", ("Europe/London",)),
                    ("EUR", ("Europe/Madrid", "Europe/Rome")), ("CAD", ("America/Toronto",)),
                    ("AUD", ("Australia/Sydney",)), ("BRL", ("America/Sao_Paulo",)),
                    ("INR", ("Asia/Kolkata",)), ("SEK", ("Europe/Stockholm",)))
SIDE_CURRENCIES = ("USD", "EUR", "GBP")

FIRST = ("Ava", "Leo", "Maya", "Kai", "Nora", "Omar", "Lena", "Jun", "Iris", "Theo", "Zara", "Malik",
         "Sofia", "Ren", "Elio", "Yara", "Niko", "Amara", "Felix", "Hana", "Ines", "Dario", "Chloé", "José")
LAST = ("Reyes", "Okafor", "Lindqvist", "Tanaka", "Moreau", "Haddad", "Kowalski", "Silva", "Nguyen",
        "Adeyemi", "Fischer", "Rossi", "Park", "Duarte", "Mensah", "Novak", "Sato", "Ortiz", "Müller")
HARD_NAMES = ("Zoë 🎧 Ångström", "<img src=x onerror=alert(1)>", '=HYPERLINK("http://x.example","y")',
              "李小龍 Beats", "Ólafur Ævarsson")
GENRES = ("pop", "hip-hop", "r&b", "rock", "jazz", "classical", "electronic", "afrobeats", "latin",
          "k-pop", "country", "folk", "ambient", "soul", "reggaeton")
SKILLS = ("vocals", "production", "mixing", "mastering", "songwriting", "guitar", "keys", "drums",
          "bass", "sound design", "voice-over", "arrangement")
BOOKING_TYPES = {  # type: (weight, typical hours, hourly rate in USD)
    "RECORDING_SESSION": (30, 4, 120), "MIXING": (15, 6, 90), "MASTERING": (8, 2, 150),
    "PRODUCTION": (12, 8, 110), "CONSULTATION": (8, 1, 80), "PERFORMANCE": (15, 3, 600),
    "WORKSHOP": (6, 3, 200), "OTHER": (6, 2, 70),
}
USD_PER_UNIT_APPROX = {"USD": 1, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0068, "CAD": 0.73, "AUD": 0.66,
                       "BRL": 0.2, "INR": 0.012, "SEK": 0.095}
PROJECT_TYPES = ("ALBUM", "SINGLE", "EP", "PODCAST_SERIES", "COMMERCIAL", "FILM_SCORE", "GAME_AUDIO", "OTHER")


@dataclass(frozen=True)
class GeneratedTenant:
    id: str
    slug: str
    name: str
    admin_email: str
    bookings: int


def tenant_profiles(count: int, rng: random.Random) -> list[TenantProfile]:
    profiles = list(PRESET_TENANTS[:count])
    for index in range(len(profiles), count):
        currency, zones = rng.choice(EXTRA_CURRENCIES)
        size = int(min(20000, rng.paretovariate(1.3) * 150))  # long tail of tenant sizes
        if index == 3:
            size = 0  # one tenant with no bookings at all
        profiles.append(TenantProfile(
            name=f"Tenant {index + 1:04d}", slug=f"tenant-{index + 1:04d}", type=rng.choice(EXTRA_TYPES),
            plan=rng.choice(EXTRA_PLANS), base_currency=currency, timezones=zones, bookings=size,
        ))
    return profiles


class _Ids:
    def __init__(self, rng: random.Random):
        self._rng = rng

    def __call__(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def _money(amount: float) -> D:
    return D(str(round(amount, 2))).quantize(CENT)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.timezone.utc)


def generate(
    engine: Engine,
    *,
    tenants: int = 3,
    seed: int = 42,
    as_of: dt.date,
    password: str,
    scale: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> list[GeneratedTenant]:
    """Replace the generated tenants (same slugs) with fresh deterministic data."""
    if tenants < 1:
        raise ValueError("tenants must be at least 1")
    rng = random.Random(seed)
    password_hash = hash_password(password)
    profiles = tenant_profiles(tenants, rng)
    result: list[GeneratedTenant] = []
    with Session(engine) as session, session.begin():
        _delete_tenants(session, [p.slug for p in profiles])
        for index, profile in enumerate(profiles):
            tenant = _generate_tenant(session, profile, index, rng, as_of, password_hash, scale)
            result.append(tenant)
            if progress:
                progress(f"{profile.slug}: {tenant.bookings} bookings")
    return result


def _delete_tenants(session: Session, slugs: list[str]) -> None:
    ids = list(session.scalars(select(Organization.id).where(Organization.slug.in_(slugs))))
    if not ids:
        return
    for model in (AuditLog, Booking, ProjectMilestone, ProjectUser, Project, Artist, User):
        session.execute(delete(model).where(model.org_id.in_(ids)))
    session.execute(delete(Organization).where(Organization.id.in_(ids)))


def _insert(session: Session, model, rows: list[dict], batch: int = 5000) -> None:
    for start in range(0, len(rows), batch):
        session.execute(insert(model), rows[start:start + batch])


def _generate_tenant(session, profile: TenantProfile, index: int, rng: random.Random, as_of: dt.date,
                     password_hash: str, scale: float) -> GeneratedTenant:
    new_id = _Ids(rng)
    created = _at(as_of - dt.timedelta(days=900 + index), 9)
    org_id = new_id()
    session.execute(insert(Organization), [{
        "id": org_id, "name": profile.name, "slug": profile.slug, "type": profile.type, "plan": profile.plan,
        "custom_domain": f"analytics.{profile.slug}.example" if profile.plan in ("WHITE_LABEL", "CUSTOM") else None,
        "branding": {"display_name": profile.name, "primary_colour": f"#{rng.randrange(0x1000000):06x}",
                     "logo": f"https://cdn.example/{profile.slug}.png"},
        "settings": {"base_currency": profile.base_currency, "timezone": profile.timezones[0],
                     "report_recipients": [f"reports@{profile.slug}.example"]},
        "is_active": True, "created_at": created, "updated_at": created,
    }])
    users = _users(profile, org_id, new_id, rng, password_hash, created)
    _insert(session, User, users)
    artists = _artists(profile, org_id, new_id, rng, created, users)
    _insert(session, Artist, artists)
    projects, members, milestones = _projects(profile, org_id, new_id, rng, as_of, users)
    _insert(session, Project, projects)
    _insert(session, ProjectUser, members)
    _insert(session, ProjectMilestone, milestones)
    bookings = _bookings(profile, org_id, new_id, rng, as_of, users, artists, projects, scale)
    _insert(session, Booking, bookings)
    return GeneratedTenant(org_id, profile.slug, profile.name, users[0]["email"], len(bookings))


def _users(profile, org_id, new_id, rng, password_hash, created) -> list[dict]:
    roles = ["ORG_ADMIN", "LABEL_MANAGER", "ARTIST_MANAGER", "STUDIO_MANAGER", "ACCOUNTANT", "VIEWER",
             "CLIENT", "CLIENT", "CREATOR"]
    users = []
    for number, role in enumerate(roles):
        local = "admin" if role == "ORG_ADMIN" else f"{role.lower().replace('_', '.')}{number}"
        users.append({
            "id": new_id(), "org_id": org_id, "email": f"{local}@{profile.slug}.example",
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "role": role,
            "permissions": ["bookings:write"] if role in ("ORG_ADMIN", "LABEL_MANAGER", "STUDIO_MANAGER") else [],
            "password_hash": password_hash, "is_active": True, "last_login_at": None,
            "created_at": created, "updated_at": created,
        })
    return users


def _artists(profile, org_id, new_id, rng, created, users) -> list[dict]:
    count = 0 if profile.bookings == 0 else max(4, min(120, profile.bookings // 60))
    artists = []
    for number in range(count):
        if number < len(HARD_NAMES) and profile is PRESET_TENANTS[0]:
            name = HARD_NAMES[number]
        else:
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        artists.append({
            "id": new_id(), "org_id": org_id, "user_id": users[-1]["id"] if number == 0 else None,
            "name": name, "stage_name": f"{name.split(' ')[0]} {rng.choice(('Nova', 'Wave', 'MC', 'Blue', 'Echo'))}",
            "email": f"artist{number}@{profile.slug}.example", "phone": f"+1555{rng.randrange(10**6, 10**7)}",
            "genres": rng.sample(GENRES, rng.randint(1, 3)), "skills": rng.sample(SKILLS, rng.randint(1, 4)),
            "bio": None, "avatar_url": None, "social_links": {"instagram": f"@artist{number}"},
            "verification_status": rng.choices(("VERIFIED", "PENDING", "REJECTED", "SUSPENDED"), (80, 14, 3, 3))[0],
            "rating": D(str(round(rng.triangular(2.5, 5.0, 4.4), 2))),
            "total_bookings": 0, "total_earnings": D("0.00"), "is_active": True,
            "created_at": created, "updated_at": created,
        })
    return artists


def _projects(profile, org_id, new_id, rng, as_of, users):
    count = 0 if profile.bookings == 0 else max(3, min(60, profile.bookings // 150))
    projects, members, milestones = [], [], []
    for number in range(count):
        start = as_of - dt.timedelta(days=rng.randint(20, 500))
        deadline = start + dt.timedelta(days=rng.randint(60, 400))
        status = ("COMPLETED" if deadline < as_of and rng.random() < 0.6 else
                  rng.choices(("PLANNING", "IN_PROGRESS", "ON_HOLD", "CANCELLED"), (15, 60, 15, 10))[0])
        budget = None if number % 11 == 5 else (D("0.00") if number % 13 == 7 else _money(rng.uniform(2000, 80000)))
        spent_ratio = rng.uniform(0.1, 1.35)  # some projects run over budget
        spent = _money(float(budget or 1000) * spent_ratio)
        stamp = _at(start, 10)
        project_id = new_id()
        projects.append({
            "id": project_id, "org_id": org_id, "name": f"{rng.choice(('Midnight', 'Golden', 'Echoes', 'Neon', 'Tidal', 'Paper'))} "
                                                        f"{rng.choice(('Hours', 'Skies', 'Season', 'Sessions', 'Stories'))} {number + 1}",
            "description": None, "type": rng.choice(PROJECT_TYPES), "status": status,
            "priority": rng.choice(("LOW", "MEDIUM", "HIGH", "URGENT")), "start_date": start,
            "end_date": deadline if status == "COMPLETED" else None, "deadline": deadline,
            "budget": budget, "spent": spent, "currency": profile.base_currency,
            "client_name": f"{rng.choice(LAST)} Media", "client_email": None, "created_by_id": users[0]["id"],
            "created_at": stamp, "updated_at": stamp,
        })
        for role, user in zip(("OWNER", "MANAGER", "COLLABORATOR"), rng.sample(users[:6], 3)):
            members.append({"id": new_id(), "org_id": org_id, "project_id": project_id, "user_id": user["id"],
                            "role": role, "created_at": stamp, "updated_at": stamp})
        for order in range(rng.randint(3, 6)):
            due = start + dt.timedelta(days=(order + 1) * rng.randint(15, 60))
            if status == "COMPLETED" or (due < as_of and rng.random() < 0.7):
                m_status, completed_at = "COMPLETED", _at(min(due, as_of), 17)
            else:
                # some past-due milestones still say PENDING: overdue is derived, not stored
                m_status, completed_at = rng.choice(("PENDING", "IN_PROGRESS", "OVERDUE")), None
            milestones.append({
                "id": new_id(), "org_id": org_id, "project_id": project_id, "title": f"Milestone {order + 1}",
                "description": None, "due_date": due, "status": m_status, "sort_order": order,
                "completed_at": completed_at, "created_at": stamp, "updated_at": stamp,
            })
    return projects, members, milestones


def _booking_status(rng, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> str:
    if end <= now:
        return rng.choices(("COMPLETED", "CANCELLED", "DISPUTE", "CONFIRMED", "DRAFT"), (78, 12, 3, 4, 3))[0]
    if start <= now:
        return rng.choices(("IN_PROGRESS", "CANCELLED"), (92, 8))[0]
    return rng.choices(("DRAFT", "PENDING_APPROVAL", "APPROVED", "CONFIRMED", "CANCELLED"), (10, 25, 25, 32, 8))[0]


def _payment_status(rng, status: str, end: dt.datetime, now: dt.datetime) -> str:
    if status == "COMPLETED":
        lag_days = rng.choice((0, 7, 14, 30, 45, 60, 90))
        if (now - end).days > lag_days:
            return rng.choices(("PAID", "PARTIAL", "PENDING", "DISPUTED"), (90, 4, 4, 2))[0]
        return rng.choice(("PENDING", "PARTIAL"))
    if status == "CANCELLED":
        return rng.choice(("PENDING", "REFUNDED"))
    if status == "DISPUTE":
        return "DISPUTED"
    return "PENDING"


def _bookings(profile, org_id, new_id, rng, as_of, users, artists, projects, scale) -> list[dict]:
    total = int(profile.bookings * scale)
    if total == 0 or not artists:
        return []
    now = _at(as_of, 12)
    types = list(BOOKING_TYPES)
    weights = [BOOKING_TYPES[t][0] for t in types]
    artist_weights = [rng.paretovariate(1.5) for _ in artists]  # a few artists carry most work
    clients = [u["id"] for u in users if u["role"] == "CLIENT"]
    rows = []
    for number in range(total):
        kind = rng.choices(types, weights)[0]
        _, hours, rate = BOOKING_TYPES[kind]
        day = as_of + dt.timedelta(days=rng.randint(-730, 90))
        zone = rng.choice(profile.timezones)
        start = _at(day, rng.randint(0, 23), rng.choice((0, 15, 30, 45)))
        minutes = max(30, int(rng.gauss(hours, hours / 3) * 60) // 15 * 15)
        if number % 97 == 0:
            minutes = 23 * 60 + 30  # long sessions crossing local midnight
        end = start + dt.timedelta(minutes=minutes)
        status = _booking_status(rng, start, end, now)
        currency = profile.base_currency if rng.random() < 0.85 else rng.choice(SIDE_CURRENCIES)
        usd = rate * minutes / 60 * rng.uniform(0.7, 1.5)
        amount = usd / USD_PER_UNIT_APPROX.get(currency, 1)
        amount = round(amount) if currency == "JPY" else amount
        budget = _money(amount) if rng.random() < 0.9 else (D("0.00") if rng.random() < 0.3 else None)
        final_price = _money(amount * rng.uniform(0.9, 1.15)) if status == "COMPLETED" and rng.random() < 0.85 else None
        created = min(start - dt.timedelta(days=rng.randint(1, 60)), now)
        updated = min(max(created, end), now)
        artist = rng.choices(artists, artist_weights)[0]
        project = rng.choice(projects) if projects and rng.random() < 0.4 else None
        rows.append({
            "id": new_id(), "org_id": org_id, "project_id": project["id"] if project else None,
            "artist_id": artist["id"], "client_id": rng.choice(clients) if clients else None,
            "created_by_id": users[1]["id"], "assigned_to_id": users[3]["id"] if rng.random() < 0.5 else None,
            "title": f"{kind.replace('_', ' ').title()} · {artist['name']}", "type": kind, "status": status,
            "priority": rng.choices(("LOW", "MEDIUM", "HIGH", "URGENT"), (20, 50, 22, 8))[0],
            "start_date": start, "end_date": end, "duration_minutes": minutes, "timezone": zone,
            "location": None if rng.random() < 0.2 else rng.choice(("Studio A", "Studio B", "Main Hall", "Booth 3")),
            "is_remote": rng.random() < 0.2, "budget": budget, "final_price": final_price, "currency": currency,
            "payment_status": _payment_status(rng, status, end, now),
            "requirements": {"engineer": rng.random() < 0.5}, "deliverables": [],
            "notes": None, "created_at": created, "updated_at": updated,
        })
    return rows


def iter_tenant_ids(engine: Engine) -> Iterable[tuple[str, str]]:
    with Session(engine) as session:
        yield from session.execute(select(Organization.id, Organization.slug).order_by(Organization.slug))
