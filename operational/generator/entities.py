"""One tenant's small tables: organization, users, artists, projects, members, milestones.

Each tenant draws from its own RNG stream (seed, "tenant", index), so a tenant's rows do not
depend on how many tenants are generated or in which chunk they land.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from operational.generator import columns as col
from operational.generator.profiles import (
    BOOKING_TYPE_TRAITS,
    BOOKING_TYPES,
    FIRST,
    GENRES,
    HARD_NAMES,
    LAST,
    MILESTONE_TITLES,
    MORE_HARD_NAMES,
    PROJECT_TYPES,
    PROJECT_WORDS_A,
    PROJECT_WORDS_B,
    SKILLS,
    STAGE_SUFFIXES,
    USD_PER_UNIT_APPROX,
    ZERO_DECIMAL_CURRENCIES,
    TenantProfile,
    region_of,
)
from operational.generator.schema import build_table

DAY = col.SECONDS_PER_DAY
BASE_ROLES = ("ORG_ADMIN", "LABEL_MANAGER", "ARTIST_MANAGER", "STUDIO_MANAGER", "ACCOUNTANT", "VIEWER",
              "CLIENT", "CLIENT", "CREATOR")
MANAGERS = (0, 1, 2, 3)  # positions in BASE_ROLES of who creates bookings
ASSIGNEES = (2, 3)
CREATOR = 8


@dataclass
class TenantContext:
    """What the booking generator needs to know about a tenant (small: ids and weights)."""

    index: int
    profile: TenantProfile
    org_id: str
    org_created: int  # UTC seconds
    user_ids: pa.Array
    client_positions: np.ndarray
    artist_ids: pa.Array
    artist_names: pa.Array
    artist_choice: list[np.ndarray]  # per booking type: cumulative weights over artists
    project_ids: pa.Array
    cancel_rate: float
    payment_lag_days: float
    price_level: float
    base_share: float
    remote_share: float
    activity_start: float  # 0..1: young tenants only book in the later part of the window


@dataclass
class TenantTables:
    context: TenantContext
    tables: dict[str, pa.Table]


def counts_for(bookings: int) -> tuple[int, int, int]:
    """(artists, projects, extra clients) for a tenant of this size."""
    if bookings <= 0:
        return 0, 0, 0
    artists = int(min(2000, max(4, round(0.8 * math.sqrt(bookings)))))
    projects = int(min(300, max(3, round(0.35 * math.sqrt(bookings)))))
    return artists, projects, int(min(40, bookings // 2000))


def _cents(amount: np.ndarray, currency: str) -> np.ndarray:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return np.round(amount).astype(np.int64) * 100
    return np.round(amount * 100).astype(np.int64)


def tenant_tables(profile: TenantProfile, index: int, seed: int, as_of: dt.date, password_hash: str) -> TenantTables:
    rng = col.rng_for(seed, "tenant", index)
    as_of_day = (as_of - dt.date(1970, 1, 1)).days
    now = as_of_day * DAY + 12 * 3600
    org_created = (as_of_day - 900 - index % 700) * DAY + 9 * 3600
    n_artists, n_projects, extra_clients = counts_for(profile.bookings)
    ids = col.uuid4_strings(rng, 1)
    org_id = ids[0].as_py()
    tables: dict[str, pa.Table] = {}

    colour = int(rng.integers(0, 1 << 24))
    tables["organizations"] = build_table("organizations", {
        "id": [org_id], "name": [profile.name], "slug": [profile.slug], "type": [profile.type],
        "plan": [profile.plan],
        "custom_domain": [f"analytics.{profile.slug}.example" if profile.plan in ("WHITE_LABEL", "CUSTOM") else None],
        "branding": [json.dumps({"display_name": profile.name, "primary_colour": f"#{colour:06x}",
                                 "logo": f"https://cdn.example/{profile.slug}.png"})],
        "settings": [json.dumps({"base_currency": profile.base_currency, "timezone": profile.timezones[0],
                                 "report_recipients": [f"reports@{profile.slug}.example"]})],
        "is_active": [True], "created_at": col.timestamps(np.array([org_created])),
        "updated_at": col.timestamps(np.array([org_created + int(rng.integers(0, 400)) * DAY])),
    }, 1)

    # users: the base roles, then more clients for bigger tenants
    roles = list(BASE_ROLES) + ["CLIENT"] * extra_clients
    n_users = len(roles)
    user_ids = col.uuid4_strings(rng, n_users)
    first, last = rng.integers(0, len(FIRST), n_users), rng.integers(0, len(LAST), n_users)
    login_ago = rng.exponential(6 * 3600 * 24, n_users).astype(np.int64)
    logged_in = rng.random(n_users) < 0.75
    tables["users"] = build_table("users", {
        "id": user_ids, "org_id": [org_id] * n_users,
        "email": [("admin" if role == "ORG_ADMIN" else f"{role.lower().replace('_', '.')}{number}") + f"@{profile.slug}.example"
                  for number, role in enumerate(roles)],
        "name": [f"{FIRST[a]} {LAST[b]}" for a, b in zip(first, last)], "role": roles,
        "permissions": [json.dumps(["bookings:write"] if role in ("ORG_ADMIN", "LABEL_MANAGER", "STUDIO_MANAGER") else [])
                        for role in roles],
        "password_hash": [password_hash] * n_users, "is_active": [True] * n_users,
        "last_login_at": col.timestamps(np.minimum(now - login_ago, now), valid=logged_in),
        "created_at": col.timestamps(np.full(n_users, org_created)),
        "updated_at": col.timestamps(np.full(n_users, org_created)),
    }, n_users)

    artists = _artists(rng, profile, index, org_id, org_created, now, n_artists, user_ids)
    tables["artists"] = artists.pop("table")
    projects, members, milestones, project_ids = _projects(rng, profile, org_id, as_of_day, now, n_projects, user_ids)
    tables["projects"], tables["project_users"], tables["project_milestones"] = projects, members, milestones

    traits = rng.random(6)
    context = TenantContext(
        index=index, profile=profile, org_id=org_id, org_created=org_created, user_ids=user_ids,
        client_positions=np.array([i for i, role in enumerate(roles) if role == "CLIENT"]),
        artist_ids=artists["ids"], artist_names=artists["names"], artist_choice=artists["choice"],
        project_ids=project_ids,
        cancel_rate=0.04 + 0.14 * traits[0] ** 2,
        payment_lag_days=float((7, 14, 30, 30, 45, 60)[int(traits[1] * 6)]),
        price_level=float(np.exp(0.35 * (traits[2] - 0.5) * 2)),
        base_share=0.78 + 0.2 * traits[3],
        remote_share=0.1 + 0.25 * traits[4],
        activity_start=0.0 if traits[5] < 0.7 or index < 4 else float(traits[5] - 0.7) * 2.5,
    )
    return TenantTables(context, tables)


def _artists(rng, profile, index, org_id, org_created, now, count, user_ids) -> dict:
    first, last = rng.integers(0, len(FIRST), count), rng.integers(0, len(LAST), count)
    names = [f"{FIRST[a]} {LAST[b]}" for a, b in zip(first, last)]
    if index == 0:
        names[:len(HARD_NAMES)] = HARD_NAMES[:count]
    elif count and index % 3 == 1:
        names[int(rng.integers(0, count))] = MORE_HARD_NAMES[index % len(MORE_HARD_NAMES)]
    prefix = region_of(profile)
    genres, skills, social = [], [], []
    skill_sets = []
    for number in range(count):
        g = rng.choice(len(GENRES), size=int(rng.integers(1, 4)), replace=False)
        s = rng.choice(len(SKILLS), size=int(rng.integers(1, 5)), replace=False)
        genres.append(json.dumps([GENRES[i] for i in g]))
        skill_sets.append({SKILLS[i] for i in s})
        skills.append(json.dumps([SKILLS[i] for i in s]))
        links = {"instagram": f"@artist{number}"}
        if number % 3 == 0:
            links["tiktok"] = f"@{profile.slug}.{number}"
        social.append(json.dumps(links))
    suffix = rng.integers(0, len(STAGE_SUFFIXES), count)
    rated = rng.random(count) >= 0.06  # new artists have no rating yet
    rating = np.round(rng.triangular(2.5, 4.4, 5.0, count) * 100).astype(np.int64)
    status = rng.choice(4, size=count, p=[0.80, 0.14, 0.03, 0.03])
    statuses = ("VERIFIED", "PENDING", "REJECTED", "SUSPENDED")
    created = org_created + (rng.random(count) * max(1, now - org_created) * 0.5).astype(np.int64)
    has_bio = rng.random(count) < 0.35
    table = build_table("artists", {
        "id": (ids := col.uuid4_strings(rng, count)), "org_id": [org_id] * count,
        "user_id": col.pick(user_ids, np.full(count, CREATOR), valid=np.arange(count) == 0),
        "name": names,
        "stage_name": [f"{name.split(' ')[0]} {STAGE_SUFFIXES[k]}" for name, k in zip(names, suffix)],
        "email": [f"artist{number}@{profile.slug}.example" for number in range(count)],
        "phone": [f"{prefix}555{int(v):07d}" for v in rng.integers(0, 10**7, count)],
        "genres": genres, "skills": skills,
        "bio": [f"{name} — {json.loads(g)[0]} since {2000 + int(y)} 🎶" if b else None
                for name, g, y, b in zip(names, genres, rng.integers(0, 24, count), has_bio)],
        "social_links": social, "verification_status": [statuses[s] for s in status],
        "rating": col.money(rating, valid=rated).cast(pa.decimal128(3, 2)),
        "total_bookings": np.zeros(count, dtype=np.int32), "total_earnings": col.money(np.zeros(count, dtype=np.int64)),
        "is_active": rng.random(count) >= 0.05, "created_at": col.timestamps(created),
        "updated_at": col.timestamps(np.minimum(created + rng.integers(0, 200, count) * DAY, now)),
    }, count)
    # who gets booked for what: popularity (a few artists carry most work) × matching skills
    popularity = rng.pareto(1.5, count) + 0.2
    popularity *= np.where(status >= 2, 0.15, 1.0)
    choice = []
    for kind in BOOKING_TYPES:
        wanted = set(BOOKING_TYPE_TRAITS[kind][5])
        match = np.array([1.0 + 4.0 * bool(wanted & s) if wanted else 1.0 for s in skill_sets])
        choice.append(np.cumsum(popularity * match) if count else np.zeros(0))
    return {"table": table, "ids": ids, "names": pa.array(names, pa.string()), "choice": choice}


def _projects(rng, profile, org_id, as_of_day, now, count, user_ids):
    start = as_of_day - rng.integers(20, 700, count)
    deadline = start + rng.integers(30, 400, count)
    late = deadline < as_of_day
    u = rng.random(count)
    status = np.where(late & (u < 0.6), "COMPLETED", np.where(late & (u < 0.68), "CANCELLED", ""))
    open_choice = np.array(["PLANNING", "IN_PROGRESS", "ON_HOLD", "CANCELLED"])[
        rng.choice(4, size=count, p=[0.15, 0.62, 0.15, 0.08])]
    status = np.where(status == "", open_choice, status)
    status = np.where((status == "PLANNING") & (as_of_day - start > 120), "IN_PROGRESS", status)
    completed = status == "COMPLETED"
    end = np.minimum(np.maximum(start + 1, deadline + rng.integers(-30, 45, count)), as_of_day)
    currency = np.where(rng.random(count) < 0.06, rng.choice(profile.side_currencies, count), profile.base_currency)
    usd = np.exp(rng.normal(math.log(18_000), 0.9, count))
    per_unit = np.array([USD_PER_UNIT_APPROX[c] for c in currency])
    budget = np.array([_cents(np.array([a]), c)[0] for a, c in zip(usd / per_unit, currency)], dtype=np.int64)
    kind = rng.random(count)
    budget_valid = kind >= 0.08  # no budget at all
    budget = np.where(kind < 0.13, 0, budget)  # zero budget
    over = rng.random(count) < 0.18  # over budget
    ratio = np.where(over, rng.uniform(1.02, 1.6, count), rng.uniform(0.0, 1.0, count))
    ratio = np.where(status == "PLANNING", ratio * 0.1, ratio)
    typical = np.round(usd / per_unit * 100).astype(np.int64)
    spent = np.where(budget > 0, np.round(budget * ratio), np.round(typical * rng.uniform(0, 0.6, count))).astype(np.int64)
    project_ids = col.uuid4_strings(rng, count)
    created = start * DAY + 10 * 3600
    names_a, names_b = rng.integers(0, len(PROJECT_WORDS_A), count), rng.integers(0, len(PROJECT_WORDS_B), count)
    client_last = rng.integers(0, len(LAST), count)
    projects = build_table("projects", {
        "id": project_ids, "org_id": [org_id] * count,
        "name": [f"{PROJECT_WORDS_A[a]} {PROJECT_WORDS_B[b]} {n + 1}" for n, (a, b) in enumerate(zip(names_a, names_b))],
        "description": [None if n % 4 else "Deliverables: stems, masters & artwork — “final” v2" for n in range(count)],
        "type": [PROJECT_TYPES[k] for k in rng.integers(0, len(PROJECT_TYPES), count)], "status": status.tolist(),
        "priority": [("LOW", "MEDIUM", "HIGH", "URGENT")[k] for k in rng.choice(4, size=count, p=[0.2, 0.45, 0.25, 0.1])],
        "start_date": col.dates(start), "end_date": col.dates(end, valid=completed), "deadline": col.dates(deadline),
        "budget": col.money(budget, valid=budget_valid), "spent": col.money(spent), "currency": currency.tolist(),
        "client_name": [f"{LAST[k]} Media" for k in client_last],
        "client_email": [f"contact@{_ascii_label(LAST[k])}.example" if k % 2 else None for k in client_last],
        "created_by_id": col.pick(user_ids, rng.choice(MANAGERS, size=count)),
        "created_at": col.timestamps(created),
        "updated_at": col.timestamps(np.minimum(created + rng.integers(0, 300, count) * DAY, now)),
    }, count)
    # membership: three distinct people among the first six users
    member_users = np.argsort(rng.random((count, 6)), axis=1)[:, :3].reshape(-1)
    member_projects = np.repeat(np.arange(count), 3)
    n_members = len(member_users)
    member_stamp = np.repeat(created, 3)
    # milestones: 3 to 6 per project, due dates spread after the start
    per_project = rng.integers(3, 7, count)
    m_project = np.repeat(np.arange(count), per_project)
    m_order = np.concatenate([np.arange(k) for k in per_project]) if count else np.zeros(0, dtype=np.int64)
    n_milestones = len(m_project)
    steps = rng.integers(15, 61, n_milestones)
    due = start[m_project] + _cumsum_within(steps, per_project)
    past_due = due < as_of_day
    r = rng.random(n_milestones)
    m_status = np.where(completed[m_project] | (past_due & (r < 0.65)) | (~past_due & (r < 0.05)), "COMPLETED", "")
    open_status = np.array(["PENDING", "PENDING", "IN_PROGRESS", "OVERDUE"])[rng.integers(0, 4, n_milestones)]
    # stored PENDING/IN_PROGRESS past due are overdue all the same (derived, not stored)
    open_status = np.where(~past_due & (open_status == "OVERDUE"), "PENDING", open_status)
    m_status = np.where(m_status == "", open_status, m_status)
    done = m_status == "COMPLETED"
    completed_at = np.minimum((due + rng.integers(-5, 4, n_milestones)) * DAY + 17 * 3600, now - 3600)
    completed_at = np.maximum(completed_at, start[m_project] * DAY + 11 * 3600)
    members = build_table("project_users", {
        "id": col.uuid4_strings(rng, n_members), "org_id": [org_id] * n_members,
        "project_id": col.pick(project_ids, member_projects), "user_id": col.pick(user_ids, member_users),
        "role": [("OWNER", "MANAGER", "COLLABORATOR")[k % 3] for k in range(n_members)],
        "created_at": col.timestamps(member_stamp), "updated_at": col.timestamps(member_stamp),
    }, n_members)
    milestones = build_table("project_milestones", {
        "id": col.uuid4_strings(rng, n_milestones), "org_id": [org_id] * n_milestones,
        "project_id": col.pick(project_ids, m_project),
        "title": [MILESTONE_TITLES[min(o, len(MILESTONE_TITLES) - 1)] for o in m_order],
        "description": None, "due_date": col.dates(due), "status": m_status.tolist(),
        "sort_order": m_order.astype(np.int32), "completed_at": col.timestamps(completed_at, valid=done),
        "created_at": col.timestamps(created[m_project]),
        "updated_at": col.timestamps(np.where(done, np.maximum(completed_at, created[m_project]), created[m_project])),
    }, n_milestones)
    return projects, members, milestones, project_ids


def _ascii_label(text: str) -> str:
    """'Ó Briain' → 'obriain': a DNS label for example e-mail addresses."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in folded if ch.isalnum()) or "client"


def _cumsum_within(steps: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each group (groups are consecutive, of the given sizes)."""
    if len(sizes) == 0:
        return np.zeros(0, dtype=np.int64)
    total = np.cumsum(steps)
    starts = np.repeat(np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes)
    before = np.concatenate([[0], total])[starts]
    return total - before
