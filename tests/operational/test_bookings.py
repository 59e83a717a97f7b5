"""The booking service on SQLite and PostgreSQL: conflicts in UTC, the check inside the write
transaction under concurrency, transitions by permission, audit rows, tenant isolation."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from operational import bookings
from operational.audit import entries
from operational.booking_rules import BookingDraft, BookingError
from operational.models import Booking, User
from operational.permissions import Actor, PermissionDenied
from operational.repository import NotFoundError

UTC = dt.timezone.utc


def admin(tenant) -> Actor:
    return Actor.of(user_id=tenant.user_id, tenant_id=tenant.id, role="ORG_ADMIN")


def draft(artist_id: str, start: dt.datetime, hours: float = 2, zone: str = "UTC", **overrides) -> BookingDraft:
    values = dict(artist_id=artist_id, title="Session", type="MIXING", start_local=start,
                  end_local=start + dt.timedelta(hours=hours), timezone=zone, location="Studio B",
                  budget="300", currency="EUR", status="CONFIRMED")
    values.update(overrides)
    return BookingDraft(**values)


def test_create_writes_the_booking_and_an_audit_row(migrated, tenants):
    a, _b = tenants
    made = bookings.create_booking(migrated, admin(a), draft(a.artist_id, dt.datetime(2026, 7, 1, 9), zone="Asia/Tokyo"))
    assert made.start == dt.datetime(2026, 7, 1, 0, tzinfo=UTC) and made.status == "CONFIRMED"
    with Session(migrated) as session:
        stored = session.get(Booking, made.id)
        assert (stored.org_id, stored.created_by_id, stored.duration_minutes) == (a.id, a.user_id, 120)
        assert [e.action for e in entries(session, a.id, entity="bookings", entity_id=made.id)] == ["create"]


def test_conflict_across_time_zones_names_the_booking_and_the_next_free_slot(migrated, tenants):
    a, _b = tenants
    bookings.create_booking(migrated, admin(a), draft(a.artist_id, dt.datetime(2026, 7, 1, 10), zone="Europe/Berlin",
                                                      title="Vocals"))  # 08:00–10:00 UTC
    with pytest.raises(bookings.BookingConflict) as caught:
        bookings.create_booking(migrated, admin(a), draft(a.artist_id, dt.datetime(2026, 7, 1, 4), zone="America/New_York"))
    conflict = caught.value  # 08:00–10:00 UTC as well
    assert [c.title for c in conflict.conflicts] == ["Vocals"]
    assert conflict.next_free_start == dt.datetime(2026, 7, 1, 10, tzinfo=UTC)
    assert "already booked for 'Vocals'" in str(conflict)
    touching = bookings.create_booking(migrated, admin(a), draft(a.artist_id, dt.datetime(2026, 7, 1, 6),
                                                                 zone="America/New_York"))  # 10:00 UTC
    assert touching.start == dt.datetime(2026, 7, 1, 10, tzinfo=UTC)
    drafts_do_not_block = bookings.create_booking(
        migrated, admin(a), draft(a.artist_id, dt.datetime(2026, 7, 1, 8), status="DRAFT"))
    with pytest.raises(bookings.BookingConflict):  # …until submitted
        bookings.change_status(migrated, admin(a), drafts_do_not_block.id, "submit")


@pytest.mark.parametrize("attempts", [20])
def test_concurrent_attempts_at_one_slot_exactly_one_wins(migrated, tenants, attempts):
    a, _b = tenants
    barrier = threading.Barrier(attempts)
    results: list[str] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            bookings.create_booking(migrated, admin(a), draft(a.artist_id, dt.datetime(2026, 8, 1, 10), title=f"#{i}"))
            outcome = "booked"
        except bookings.BookingConflict:
            outcome = "conflict"
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome = f"error: {exc!r}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["booked"] + ["conflict"] * (attempts - 1), results
    with Session(migrated) as session:
        assert session.scalar(select(func.count()).select_from(Booking).where(
            Booking.org_id == a.id, Booking.start_date == dt.datetime(2026, 8, 1, 10, tzinfo=UTC))) == 1


def test_another_tenants_artist_project_or_client_is_not_found(migrated, tenants):
    a, b = tenants
    with pytest.raises(BookingError, match="no such active artist"):
        bookings.create_booking(migrated, admin(a), draft(b.artist_id, dt.datetime(2026, 7, 2, 10)))
    with pytest.raises(BookingError, match="no such project"):
        bookings.create_booking(migrated, admin(a), draft(a.artist_id, dt.datetime(2026, 7, 2, 10),
                                                          project_id=b.project_id))
    with pytest.raises(NotFoundError):
        bookings.create_booking(migrated, admin(a), draft(a.artist_id, dt.datetime(2026, 7, 2, 10),
                                                          client_id=b.user_id))
    with pytest.raises(NotFoundError):
        bookings.change_status(migrated, admin(a), b.booking_ids[0], "cancel")
    with pytest.raises(NotFoundError):
        bookings.get_booking(migrated, admin(a), b.booking_ids[0])


def test_transitions_follow_the_matrix(migrated, tenants):
    a, _b = tenants
    made = bookings.create_booking(migrated, admin(a), draft(a.artist_id, dt.datetime(2026, 7, 3, 10),
                                                             status="PENDING_APPROVAL"))
    artist_manager = Actor.of(user_id=a.user_id, tenant_id=a.id, role="ARTIST_MANAGER")
    with pytest.raises(PermissionDenied):  # approving needs bookings:approve
        bookings.change_status(migrated, artist_manager, made.id, "approve")
    assert bookings.change_status(migrated, admin(a), made.id, "approve").status == "APPROVED"
    with pytest.raises(ValueError, match="cannot complete"):
        bookings.change_status(migrated, admin(a), made.id, "complete")
    accountant = Actor.of(user_id=a.user_id, tenant_id=a.id, role="ACCOUNTANT")
    with pytest.raises(PermissionDenied):
        bookings.change_status(migrated, accountant, made.id, "cancel")
    assert bookings.set_payment_status(migrated, accountant, made.id, "PARTIAL").payment_status == "PARTIAL"
    with pytest.raises(PermissionDenied):
        bookings.set_payment_status(migrated, artist_manager, made.id, "PAID")
    with Session(migrated) as session:
        changes = [e.after for e in entries(session, a.id, entity="bookings", entity_id=made.id)]
    assert {"status": "APPROVED"} in changes and {"payment_status": "PARTIAL"} in changes


def test_a_client_books_only_requests_for_themselves(migrated, tenants):
    a, _b = tenants
    with Session(migrated) as session, session.begin():
        client = User(org_id=a.id, email="client@tenant-a.example", name="Client", role="CLIENT", password_hash="x")
        session.add(client)
        session.flush()
        client_id = client.id
    actor = Actor.of(user_id=client_id, tenant_id=a.id, role="CLIENT")
    with pytest.raises(PermissionDenied):
        bookings.create_booking(migrated, actor, draft(a.artist_id, dt.datetime(2026, 7, 4, 10)))  # confirmed
    made = bookings.create_booking(migrated, actor, draft(a.artist_id, dt.datetime(2026, 7, 4, 10),
                                                          status="PENDING_APPROVAL", client_id=a.user_id))
    assert made.client_id == client_id  # for themselves, whatever the form said
    with pytest.raises(NotFoundError):  # and cannot see others' bookings
        bookings.get_booking(migrated, actor, a.booking_ids[0])
