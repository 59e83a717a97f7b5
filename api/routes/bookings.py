"""Bookings: create one or many (the app's rules: conflicts, bulk modes), list and calendar,
status and payment changes, and counts and revenue for a period (from the published snapshot)."""
from __future__ import annotations

import datetime as dt
import decimal
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.context import (ApiContext, IdempotentRequest, Principal, get_context, idempotency_key, principal,
                         run_write, utc)
from api.serialize import decode_cursor, encode_cursor, page, plain
from operational import booking_reads, bookings, bulk_bookings
from operational.booking_rules import BookingDraft
from operational.permissions import Action, Resource

router = APIRouter(prefix="/bookings", tags=["bookings"])
MAX_PAGE = 500


class NewBooking(BaseModel):
    artist_id: str = Field(max_length=36)
    title: str = Field(max_length=200)
    type: str = Field(max_length=32)
    start: dt.datetime = Field(description="Local wall-clock time in `timezone` (an offset, if given, is ignored)")
    end: dt.datetime
    timezone: str = Field("UTC", max_length=64)
    location: str | None = Field(None, max_length=500)
    is_remote: bool = False
    budget: decimal.Decimal | None = Field(None, ge=0, max_digits=16, decimal_places=2)
    currency: str = Field("USD", max_length=3)
    priority: str = Field("MEDIUM", max_length=16)
    project_id: str | None = Field(None, max_length=36)
    notes: str | None = Field(None, max_length=5000)
    status: str = Field("PENDING_APPROVAL", max_length=32)


class BulkBookings(BaseModel):
    rows: list[dict[str, str | int | float | bool | None]] = Field(
        max_length=bulk_bookings.MAX_ROWS,
        description="Rows with the bulk template's columns: " + ", ".join(bulk_bookings.COLUMNS))
    mode: Literal["all_or_nothing", "valid_only"] = "all_or_nothing"


class StatusChange(BaseModel):
    change: str = Field(max_length=32, description="submit, approve, confirm, start, complete, cancel, dispute, resolve")


class PaymentChange(BaseModel):
    payment_status: str = Field(max_length=32)


def _draft(body: NewBooking) -> BookingDraft:
    return BookingDraft(artist_id=body.artist_id, title=body.title, type=body.type,
                        start_local=body.start.replace(tzinfo=None), end_local=body.end.replace(tzinfo=None),
                        timezone=body.timezone, location=body.location, is_remote=body.is_remote,
                        budget=body.budget, currency=body.currency, priority=body.priority,
                        project_id=body.project_id, notes=body.notes, status=body.status)


@router.post("", status_code=201, summary="Book one session (refused on a conflict, with the next free slot)")
def create(body: NewBooking, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context),
           idem: IdempotentRequest | None = Depends(idempotency_key)):
    return run_write(context, caller, idem, lambda: bookings.create_booking(context.engine, caller.actor,
                                                                            _draft(body)), status_code=201)


@router.post("/bulk", summary="Book many sessions: all or nothing, or only the valid rows")
def bulk(body: BulkBookings, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context),
         idem: IdempotentRequest | None = Depends(idempotency_key)):
    def book() -> dict:
        rows = bulk_bookings.rows_from_records(body.rows, first_row=1)
        result = bulk_bookings.commit_bookings(context.engine, caller.actor, rows, mode=body.mode)
        return {"mode": result.mode, "booked": result.booked, "message": result.message,
                "created": result.created, "not_booked": result.not_booked}
    return run_write(context, caller, idem, book)


def _list(context: ApiContext, caller: Principal, start, end, artist_id, project_id, cursor, limit,
          resource=Resource.BOOKINGS, action=Action.READ) -> dict:
    after = None
    if cursor:
        start_text, booking_id = decode_cursor(cursor, 2)
        after = (dt.datetime.fromisoformat(start_text), booking_id)
    lines = booking_reads.list_bookings(context.engine, caller.actor, start=utc(start), end=utc(end),
                                        artist_id=artist_id, project_id=project_id, limit=limit + 1,
                                        resource=resource, action=action, after=after)
    return page(lines, limit, lambda last: encode_cursor(last.start, last.id))


@router.get("", summary="Bookings overlapping a period, soonest first (cursor pages)")
def list_bookings(start: dt.datetime | None = Query(None, description="UTC unless an offset is given"),
                  end: dt.datetime | None = None, artist_id: str | None = Query(None, max_length=36),
                  project_id: str | None = Query(None, max_length=36), cursor: str | None = Query(None, max_length=500),
                  limit: int = Query(100, ge=1, le=MAX_PAGE), caller: Principal = Depends(principal),
                  context: ApiContext = Depends(get_context)) -> dict:
    return _list(context, caller, start, end, artist_id, project_id, cursor, limit)


@router.get("/calendar", summary="The calendar of a period, optionally one artist's")
def calendar(start: dt.datetime, end: dt.datetime, artist_id: str | None = Query(None, max_length=36),
             cursor: str | None = Query(None, max_length=500), limit: int = Query(500, ge=1, le=2000),
             caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return _list(context, caller, start, end, artist_id, None, cursor, limit, Resource.CALENDAR, Action.READ)


@router.get("/analytics", summary="Bookings and revenue per month for a period (from the last refresh)")
def analytics(first_month: dt.date, last_month: dt.date, caller: Principal = Depends(principal),
              context: ApiContext = Depends(get_context)) -> dict:
    return context.analytics.bookings_summary(caller.actor, first_month, last_month)


@router.get("/{booking_id}", summary="One booking")
def read(booking_id: str, caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    return plain(bookings.get_booking(context.engine, caller.actor, booking_id))


@router.post("/{booking_id}/status", summary="Move a booking along its status workflow")
def change_status(booking_id: str, body: StatusChange, caller: Principal = Depends(principal),
                  context: ApiContext = Depends(get_context),
                  idem: IdempotentRequest | None = Depends(idempotency_key)):
    return run_write(context, caller, idem, lambda: bookings.change_status(context.engine, caller.actor,
                                                                           booking_id, body.change))


@router.post("/{booking_id}/payment-status", summary="Change a booking's payment status")
def change_payment(booking_id: str, body: PaymentChange, caller: Principal = Depends(principal),
                   context: ApiContext = Depends(get_context),
                   idem: IdempotentRequest | None = Depends(idempotency_key)):
    return run_write(context, caller, idem, lambda: bookings.set_payment_status(context.engine, caller.actor,
                                                                                booking_id, body.payment_status))
