"""Bookings, vectorised: one block of up to BLOCK bookings of one tenant from its own RNG stream.

Times are drawn as local wall-clock times in the booking's zone (sessions start in the morning,
performances at night) and converted to UTC, so local midnight and DST changes fall where they
would in life; a few bookings are placed on purpose across a DST change or local midnight.
Statuses follow the as-of instant (noon UTC of the as-of date): COMPLETED only once ended,
PENDING_APPROVAL/APPROVED only in the future, IN_PROGRESS only while running.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from operational.generator import columns as col
from operational.generator.entities import ASSIGNEES, MANAGERS, TenantContext
from operational.generator.profiles import (
    BOOKING_TYPE_TRAITS,
    BOOKING_TYPES,
    LOCATIONS,
    NOTES,
    TYPE_MIX,
    USD_PER_UNIT_APPROX,
    ZERO_DECIMAL_CURRENCIES,
)
from operational.generator.schema import build_table
from operational.generator.timezones import local_to_utc, transitions

BLOCK = 50_000  # bookings per RNG stream: fixed, so determinism never depends on the write chunk size
DAY = col.SECONDS_PER_DAY
MINUTE = 60
STATUSES = ("DRAFT", "PENDING_APPROVAL", "APPROVED", "CONFIRMED", "IN_PROGRESS", "COMPLETED", "CANCELLED", "DISPUTE")
S = {name: code for code, name in enumerate(STATUSES)}
PAYMENTS = ("PENDING", "PARTIAL", "PAID", "REFUNDED", "DISPUTED")
P = {name: code for code, name in enumerate(PAYMENTS)}
PRIORITIES = ("LOW", "MEDIUM", "HIGH", "URGENT")
TYPE_LABELS = pa.array([kind.replace("_", " ").title() for kind in BOOKING_TYPES])
REQUIREMENTS = pa.array([json.dumps(v) for v in (
    {"engineer": True}, {"engineer": False}, {"engineer": True, "backline": ["drums", "amps"]},
    {"engineer": False, "notes": "🎧 own headphones"}, {})])
DELIVERABLES = pa.array([json.dumps(v) for v in ([], ["stems.zip", "master.wav"], ["session notes.pdf"])])
HOURS = np.array([BOOKING_TYPE_TRAITS[k][1] for k in BOOKING_TYPES], dtype=float)
RATES = np.array([BOOKING_TYPE_TRAITS[k][2] for k in BOOKING_TYPES], dtype=float)
START_HOUR = np.array([BOOKING_TYPE_TRAITS[k][3] for k in BOOKING_TYPES], dtype=float)
START_SPREAD = np.array([BOOKING_TYPE_TRAITS[k][4] for k in BOOKING_TYPES], dtype=float)
CANCEL_FACTOR = np.array([BOOKING_TYPE_TRAITS[k][6] for k in BOOKING_TYPES], dtype=float)
PERFORMANCE = BOOKING_TYPES.index("PERFORMANCE")


def type_weights(org_type: str) -> np.ndarray:
    weights = np.array([BOOKING_TYPE_TRAITS[k][0] for k in BOOKING_TYPES], dtype=float)
    weights *= np.array(TYPE_MIX.get(org_type, (1.0,) * len(BOOKING_TYPES)))
    return weights / weights.sum()


def booking_block(ctx: TenantContext, seed: int, block: int, n: int, first_day: int, last_day: int,
                  now: int) -> pa.Table:
    """Bookings number block*BLOCK … block*BLOCK+n-1 of the tenant, as a canonical Arrow table."""
    rng = col.rng_for(seed, "bookings", ctx.index, block)
    profile = ctx.profile
    kind = rng.choice(len(BOOKING_TYPES), size=n, p=type_weights(profile.type))

    # local calendar day: more bookings lately (growth), young tenants only since they joined
    span = last_day - first_day + 1
    begin = ctx.activity_start * span * 0.8
    day = first_day + (begin + (span - begin) * rng.random(n) ** 0.75).astype(np.int64)
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    to_friday = (weekday >= 5) & (kind != PERFORMANCE) & (rng.random(n) < 0.7)
    day = np.where(to_friday, day - (weekday - 4), day)
    day = np.clip(day, first_day, last_day)

    # local start time and duration
    hour = np.clip(rng.normal(START_HOUR[kind], START_SPREAD[kind]), 0, 23.75)
    start_minute = (hour * 4).astype(np.int64) * 15
    minutes = np.maximum(30, (rng.normal(HOURS[kind], HOURS[kind] / 3) * 60).astype(np.int64) // 15 * 15)
    lockout = rng.random(n) < 0.012  # all-day lockouts cross local midnight
    minutes = np.where(lockout, 23 * 60 + 30, minutes)
    late = rng.random(n) < 0.02  # late sessions starting 22:00–23:45 local, crossing midnight
    start_minute = np.where(late, 22 * 60 + rng.integers(0, 8, n) * 15, start_minute)
    minutes = np.where(late, np.maximum(minutes, 120), minutes)
    minutes = np.minimum(minutes, 23 * 60 + 30)

    zone_weights = np.array([3.0] + [1.0] * (len(profile.timezones) - 1))
    zone = rng.choice(len(profile.timezones), size=n, p=zone_weights / zone_weights.sum())
    local = day * DAY + start_minute * MINUTE
    start = np.empty(n, dtype=np.int64)
    dst_pick = rng.random(n) < 0.004  # placed across a DST change of their zone
    dst_offset = rng.integers(2, 11, n) * 15 * MINUTE
    dst_choice = rng.random(n)
    for z, zone_name in enumerate(profile.timezones):
        rows = zone == z
        start[rows] = local_to_utc(zone_name, local[rows], first_day, last_day)
        changes = transitions(zone_name, first_day, last_day)
        moved = rows & dst_pick
        if len(changes) and moved.any():
            change = changes[(dst_choice[moved] * len(changes)).astype(np.int64)]
            start[moved] = change - dst_offset[moved]
            minutes[moved] = np.maximum(minutes[moved], dst_offset[moved] // MINUTE + 60)
    end = start + minutes * MINUTE

    # status from where the booking lies relative to now
    past, running = end <= now, (start <= now) & (end > now)
    future = start > now
    u = rng.random(n)
    cancel = np.minimum(ctx.cancel_rate * CANCEL_FACTOR[kind], 0.5)
    status = np.full(n, S["COMPLETED"], dtype=np.int8)
    # past: cancelled, disputed, a few stale drafts, recently ended ones not yet closed
    status = np.where(past & (u < cancel), S["CANCELLED"], status)
    status = np.where(past & (u >= cancel) & (u < cancel + 0.025), S["DISPUTE"], status)
    status = np.where(past & (u >= cancel + 0.025) & (u < cancel + 0.04), S["DRAFT"], status)
    recent = past & (now - end < 21 * DAY) & (u >= cancel + 0.04) & (u < cancel + 0.22)
    status = np.where(recent, S["CONFIRMED"], status)
    status = np.where(running, np.where(u < cancel * 0.5, S["CANCELLED"], S["IN_PROGRESS"]), status)
    f = (u - cancel) / np.maximum(1 - cancel, 1e-9)  # future: the rest split over the open statuses
    future_status = np.select([u < cancel, f < 0.1, f < 0.35, f < 0.6], [S["CANCELLED"], S["DRAFT"],
                              S["PENDING_APPROVAL"], S["APPROVED"]], S["CONFIRMED"])
    status = np.where(future, future_status, status)

    # money: in the tenant's currency mostly, else one of its region's side currencies
    currencies = (profile.base_currency, *[c for c in profile.side_currencies if c != profile.base_currency])
    side = rng.random(n) >= ctx.base_share
    currency = np.where(side, 1 + rng.integers(0, max(1, len(currencies) - 1), n), 0)
    currency = np.minimum(currency, len(currencies) - 1)
    per_unit = np.array([USD_PER_UNIT_APPROX[c] for c in currencies])[currency]
    whole = np.array([c in ZERO_DECIMAL_CURRENCIES for c in currencies])[currency]
    usd = RATES[kind] * minutes / 60 * rng.uniform(0.7, 1.5, n) * ctx.price_level
    amount = usd / per_unit
    nice = rng.random(n) < 0.4
    amount = np.where(nice, np.round(amount / 10) * 10, amount)
    budget = np.where(whole, np.round(amount) * 100, np.round(amount * 100)).astype(np.int64)
    b = rng.random(n)
    budget_valid = b < 0.93  # 7% have no budget
    budget = np.where(b < 0.02, 0, budget)  # zero budget
    final = np.round(budget * rng.uniform(0.9, 1.15, n))
    final = np.where(whole, np.round(final / 100) * 100, final).astype(np.int64)
    final = np.where(b < 0.02, np.round(amount * 100).astype(np.int64), final)
    fp = rng.random(n)
    completed = status == S["COMPLETED"]
    final_valid = (completed & (fp < 0.85)) | ((status == S["DISPUTE"]) & (fp < 0.5))  # missing final price
    final = np.where(completed & (fp < 0.003), 0, final)  # comped

    # payment with a lag after the end
    lag = (rng.exponential(ctx.payment_lag_days, n) * DAY).astype(np.int64)
    paid_at = end + lag
    p = rng.random(n)
    settled = completed & (paid_at <= now)
    payment = np.full(n, P["PENDING"], dtype=np.int8)
    payment = np.where(settled, np.select([p < 0.92, p < 0.95, p < 0.98], [P["PAID"], P["PARTIAL"], P["PENDING"]],
                                          P["DISPUTED"]), payment)
    payment = np.where(completed & ~settled & (p < 0.25), P["PARTIAL"], payment)
    payment = np.where((status == S["CANCELLED"]) & (p < 0.4), P["REFUNDED"], payment)
    payment = np.where(status == S["DISPUTE"], P["DISPUTED"], payment)
    deposit = np.isin(status, [S["APPROVED"], S["CONFIRMED"], S["IN_PROGRESS"]]) & (p < 0.15)
    payment = np.where(deposit, P["PARTIAL"], payment)

    # who and what
    artist = np.zeros(n, dtype=np.int64)
    pick_u = rng.random(n)
    for k in range(len(BOOKING_TYPES)):
        rows = kind == k
        weights = ctx.artist_choice[k]
        artist[rows] = np.minimum(np.searchsorted(weights, pick_u[rows] * weights[-1], side="right"), len(weights) - 1)
    has_project = (rng.random(n) < 0.4) & (len(ctx.project_ids) > 0)
    project = rng.integers(0, max(1, len(ctx.project_ids)), n)
    client = ctx.client_positions[rng.integers(0, len(ctx.client_positions), n)]
    remote = rng.random(n) < np.where(kind == PERFORMANCE, 0.0, ctx.remote_share)
    location_valid = ~remote & (rng.random(n) < 0.9)

    lead = (np.minimum(rng.exponential(14, n), 120) * DAY + rng.integers(1, 24 * 60, n) * MINUTE).astype(np.int64)
    created = np.maximum(np.minimum(start - lead, now - rng.integers(1, 600, n) * MINUTE), ctx.org_created)
    touched = np.where(
        future,
        created + (rng.random(n) * (now - created)).astype(np.int64),
        np.minimum(now, np.where(payment == P["PAID"], paid_at,
                                 end + (rng.exponential(2, n) * DAY).astype(np.int64))),
    )
    updated = np.maximum(created, touched)
    artist_names = ctx.artist_names.take(pa.array(artist))
    table = build_table("bookings", {
        "id": col.uuid4_strings(rng, n), "org_id": pa.array([ctx.org_id]).take(pa.array(np.zeros(n, dtype=np.int32))),
        "project_id": col.pick(ctx.project_ids, project, valid=has_project) if len(ctx.project_ids) else None,
        "artist_id": ctx.artist_ids.take(pa.array(artist)),
        "client_id": col.pick(ctx.user_ids, client, valid=rng.random(n) < 0.95),
        "created_by_id": col.pick(ctx.user_ids, np.array(MANAGERS)[rng.integers(0, len(MANAGERS), n)]),
        "assigned_to_id": col.pick(ctx.user_ids, np.array(ASSIGNEES)[rng.integers(0, len(ASSIGNEES), n)],
                                   valid=rng.random(n) < 0.5),
        "title": pc.binary_join_element_wise(TYPE_LABELS.take(pa.array(kind)), artist_names, " · "),
        "type": col.pick(BOOKING_TYPES, kind), "status": col.pick(STATUSES, status),
        "priority": col.pick(PRIORITIES, rng.choice(4, size=n, p=[0.2, 0.5, 0.22, 0.08])),
        "start_date": col.timestamps(start), "end_date": col.timestamps(end),
        "duration_minutes": minutes.astype(np.int32), "timezone": col.pick(profile.timezones, zone),
        "location": col.pick(LOCATIONS, rng.integers(0, len(LOCATIONS), n), valid=location_valid),
        "is_remote": remote, "budget": col.money(budget, valid=budget_valid),
        "final_price": col.money(final, valid=final_valid), "currency": col.pick(currencies, currency),
        "payment_status": col.pick(PAYMENTS, payment),
        "requirements": REQUIREMENTS.take(pa.array(rng.choice(len(REQUIREMENTS), size=n,
                                                              p=[0.4, 0.3, 0.12, 0.08, 0.1]))),
        "deliverables": DELIVERABLES.take(pa.array(np.where(
            completed & np.isin(kind, [1, 2]), 1, np.where(completed & (kind == 4), 2, 0)))),
        "notes": col.pick(NOTES, rng.integers(0, len(NOTES), n), valid=rng.random(n) < 0.03),
        "created_at": col.timestamps(created), "updated_at": col.timestamps(updated),
    }, n)
    return table
