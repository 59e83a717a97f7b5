"""Calendar feeds: a secret URL (``/feeds/<token>.ics``) that calendar apps poll.

A token opens one artist's bookings or the whole organization's; it is ``axf_<random>`` and only
its SHA-256 is stored. Rotating a feed revokes its previous token at once. Creating or rotating
needs ``calendar: export`` (for an artist the actor may export); reading with a token needs nothing
else, and sees only that calendar, through :func:`operational.permissions.calendar_feed_reader`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from auditoryx.errors import AuditoryxError
from operational import audit
from operational.booking_reads import list_bookings
from operational.ics import artist_calendar_ics, calendar_ics
from operational.models import Artist, FeedToken, Organization
from operational.permissions import (Action, Actor, Resource, Row, calendar_feed_reader, check_permission,
                                     require_permission)
from operational.repository import NotFoundError, TenantRepository

TOKEN_PREFIX = "axf_"
PAST = dt.timedelta(days=90)
AHEAD = dt.timedelta(days=400)


class InvalidFeedToken(AuditoryxError):
    """No such feed, or it was rotated away."""


@dataclass(frozen=True)
class FeedSummary:
    id: str
    artist_id: str | None
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def rotate_feed(engine: Engine, actor: Actor, *, artist_id: str | None = None) -> tuple[FeedSummary, str]:
    """A new token for this calendar (an artist's, or the organization's when ``artist_id`` is
    None); any previous token of the same calendar stops working. The token is shown once."""
    if artist_id is None:
        require_permission(actor, Resource.SETTINGS, Action.UPDATE)
    else:
        require_permission(actor, Resource.CALENDAR, Action.EXPORT)
    token = f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
    with Session(engine) as session, session.begin():
        repo = TenantRepository(session, actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id)
        if artist_id is not None:
            repo.require(Artist, artist_id)
            if not check_permission(actor, Resource.CALENDAR, Action.EXPORT, row=Row(artist_id=artist_id)):
                raise NotFoundError(f"no artist {artist_id!r} in this organization")
        now = _utcnow()
        previous = session.scalars(select(FeedToken).where(
            FeedToken.org_id == actor.tenant_id, FeedToken.revoked_at.is_(None),
            FeedToken.artist_id.is_(None) if artist_id is None else FeedToken.artist_id == artist_id)).all()
        for old in previous:
            old.revoked_at = now
        feed = FeedToken(org_id=actor.tenant_id, artist_id=artist_id, prefix=token[:12], token_hash=_hash(token),
                         created_at=now)
        session.add(feed)
        session.flush()
        audit.record(session, tenant_id=actor.tenant_id, actor_id=actor.user_id, actor_key_id=actor.api_key_id,
                     action="rotate", entity="feed_tokens", entity_id=feed.id,
                     before={"revoked": [old.id for old in previous]}, after={"artist_id": artist_id})
        return FeedSummary(feed.id, artist_id, feed.prefix, feed.created_at, None), token


def feed_ics(engine: Engine, token: str, *, now: dt.datetime | None = None) -> bytes:
    """The calendar a token opens, as iCalendar bytes (90 days back to about a year ahead)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise InvalidFeedToken("no such calendar feed")
    digest = _hash(token)
    with Session(engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            row = session.execute(text("SELECT token_id, org_id, artist_id, revoked_at, org_active "
                                       "FROM auditoryx_feed_token_by_hash(:hash)"), {"hash": digest}).first()
        else:
            row = session.execute(
                select(FeedToken.id.label("token_id"), FeedToken.org_id, FeedToken.artist_id, FeedToken.revoked_at,
                       Organization.is_active.label("org_active")).join(Organization, Organization.id == FeedToken.org_id)
                .where(FeedToken.token_hash == digest)).first()
    if row is None or row.revoked_at is not None or not row.org_active:
        raise InvalidFeedToken("no such calendar feed")
    reader = calendar_feed_reader(row.org_id)
    now = now or _utcnow()
    start, end = now - PAST, now + AHEAD
    if row.artist_id is not None:
        return artist_calendar_ics(engine, reader, row.artist_id, start_utc=start, end_utc=end)
    with Session(engine) as session:
        name = TenantRepository(session, row.org_id).organization().name
    lines = list_bookings(engine, reader, start=start, end=end, limit=None, resource=Resource.CALENDAR,
                          action=Action.EXPORT)
    return calendar_ics(lines, name=f"{name} · bookings")
