"""Book a session: one booking through the booking service (operational/bookings.py), with
conflicts, the next free slot and other artists free then; then manage a booking's status.
Layout only: rules live in operational/booking_rules.py, operational/bookings.py, matching.py."""
from __future__ import annotations

import datetime as dt
import zoneinfo

import polars as pl
import streamlit as st

from auditoryx.errors import AuditoryxError
from auditoryx.refresh_requests import request_tenant_refresh
from auditoryx.settings import get_settings
from dashboards.session import allowed, engine, require
from operational import booking_rules, bookings
from operational.booking_reads import list_bookings
from operational.booking_rules import BookingDraft, BookingError
from operational.enums import BookingType, PaymentStatus, Priority
from operational.matching import MatchRequest, rank_artists
from operational.models import ISO_4217_CODES
from operational.permissions import Action, Resource, Row, check_permission

user = require(Resource.BOOKINGS)
actor = user.actor()
st.title("Bookings")
may_book = allowed(user, Resource.BOOKINGS, Action.CREATE)
artists = dict(bookings.bookable_artists(engine(), actor)) if may_book else {}
if may_book and not artists:
    st.info("There are no active artists to book yet.", icon=":material/person_off:")
projects = ({pid: (name, currency) for pid, name, currency in bookings.bookable_projects(engine(), actor)}
            if may_book else {})
zones = sorted(zoneinfo.available_timezones())
tenant_zone = bookings.default_timezone(engine(), actor)
prefill = st.session_state.pop("booking_prefill", None) or {}
currencies = sorted(ISO_4217_CODES)
may_confirm = allowed(user, Resource.BOOKINGS, Action.APPROVE)
statuses = {"PENDING_APPROVAL": "Request (waits for approval)", "DRAFT": "Draft (does not hold the slot)"}
if may_confirm:
    statuses = {"CONFIRMED": "Confirmed", **statuses}
if bookings.is_client(actor):
    statuses = {"PENDING_APPROVAL": statuses["PENDING_APPROVAL"]}


def _label(value: str) -> str:
    return value.replace("_", " ").title()


def _alternatives(interval, exclude_artist_id):
    if not allowed(user, Resource.ROSTER):  # clients book, but do not browse the roster
        return []
    request = MatchRequest(slot=interval)
    return [m for m in rank_artists(engine(), actor, request, limit=5, exclude_artist_ids=(exclude_artist_id,))
            if m.available]


def booking_form() -> None:
    """The single-booking form and what follows its submission."""
    start_default = dt.datetime.combine(dt.date.today() + dt.timedelta(days=1), dt.time(10, 0))
    defaults = {"book_artist": next(iter(artists)), "book_title": "", "book_date": start_default.date(),
                "book_start": start_default.time(), "book_end": (start_default + dt.timedelta(hours=2)).time(),
                "book_zone": tenant_zone}
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
    if prefill:  # from the calendar or "use the next free slot": replaces what the form shows
        start_local = prefill.get("start_local") or start_default
        length = prefill.get("length") or dt.timedelta(hours=2)
        st.session_state.update({
            "book_date": start_local.date(), "book_start": start_local.time(),
            "book_end": (start_local + length).time(),
            **({"book_artist": prefill["artist_id"]} if prefill.get("artist_id") in artists else {}),
            **({"book_zone": prefill["timezone"]} if prefill.get("timezone") in zones else {}),
            **({"book_title": prefill["title"]} if prefill.get("title") else {}),
        })
    with st.form("book"):
        left, right = st.columns(2)
        artist_id = left.selectbox("Artist", list(artists), format_func=artists.get, key="book_artist")
        kind = right.selectbox("Type", [t.value for t in BookingType], format_func=_label)
        title = st.text_input("Title", placeholder="e.g. Vocal tracking, day 2", key="book_title")
        day, start_time, end_time = st.columns(3)
        start_date = day.date_input("Date", key="book_date")
        start_at = start_time.time_input("Starts", step=dt.timedelta(minutes=15), key="book_start")
        end_at = end_time.time_input("Ends", step=dt.timedelta(minutes=15), key="book_end")
        zone = st.selectbox("Time zone", zones, key="book_zone")
        place, remote = st.columns([3, 1])
        location = place.text_input("Location", placeholder="Studio, venue or address", key="book_location")
        is_remote = remote.checkbox("Remote")
        money, cur, prio = st.columns(3)
        budget = money.text_input("Budget", placeholder="e.g. 450.00", key="book_budget")
        currency = cur.selectbox("Currency", currencies, index=currencies.index("USD"))
        priority = prio.selectbox("Priority", [p.value for p in Priority], index=1, format_func=_label)
        project_ids = [""] + list(projects)
        project_id = st.selectbox("Project (optional)", project_ids,
                                  format_func=lambda pid: projects[pid][0] if pid else "—")
        notes = st.text_area("Notes", max_chars=booking_rules.MAX_NOTES)
        status = st.radio("Status", list(statuses), format_func=statuses.get, horizontal=True)
        submitted = st.form_submit_button("Book", type="primary")

    if submitted:
        start_local = dt.datetime.combine(start_date, start_at)
        end_local = dt.datetime.combine(start_date, end_at)
        if end_local <= start_local:  # ends after midnight
            end_local += dt.timedelta(days=1)
        draft = BookingDraft(artist_id=artist_id, title=title, type=kind, start_local=start_local, end_local=end_local,
                             timezone=zone, location=location, is_remote=is_remote, budget=budget, currency=currency,
                             priority=priority, project_id=project_id or None, notes=notes, status=status)
        try:
            made = bookings.create_booking(engine(), actor, draft, alternatives=_alternatives)
        except BookingError as exc:
            st.error("Please correct the booking:\n\n" + "\n".join(f"- **{_label(field)}**: {message}"
                                                                     for field, message in exc.errors.items()))
        except bookings.BookingConflict as conflict:
            st.warning(str(conflict), icon=":material/event_busy:")
            st.dataframe(pl.DataFrame({
                "Booking": [c.title for c in conflict.conflicts],
                "From": [f"{booking_rules.to_local(c.start, zone):%Y-%m-%d %H:%M}" for c in conflict.conflicts],
                "Until": [f"{booking_rules.to_local(c.end, zone):%Y-%m-%d %H:%M}" for c in conflict.conflicts],
                "Status": [_label(c.status) for c in conflict.conflicts],
            }), hide_index=True, width="stretch")
            free_local = booking_rules.to_local(conflict.next_free_start, zone)
            st.button(f"Use the next free slot: {free_local:%a %d %b %H:%M} ({zone})", key="use_free_slot",
                      on_click=st.session_state.__setitem__,
                      args=("booking_prefill", {"artist_id": artist_id, "start_local": free_local,
                                                "length": end_local - start_local, "timezone": zone,
                                                "title": title}))
            if conflict.alternatives:
                st.caption("Other artists free in that slot:")
                st.dataframe(pl.DataFrame({
                    "Artist": [m.name for m in conflict.alternatives],
                    "Match": [m.score for m in conflict.alternatives],
                    "Why": ["; ".join(m.reasons) for m in conflict.alternatives],
                }), hide_index=True, width="stretch")
        except AuditoryxError as exc:
            st.error(str(exc))
        else:
            refresh = request_tenant_refresh(get_settings(), user.tenant_id, user.tenant_slug)
            st.success(f"Booked **{made.title}** with {made.artist_name}, "
                       f"{booking_rules.to_local(made.start, made.timezone):%a %d %b %Y %H:%M} ({made.timezone}), "
                       f"{_label(made.status).lower()}. {refresh.message()}", icon=":material/event_available:")


def matching_panel() -> None:
    """Rank the tenant's artists for a slot, skills, genres and a budget, with the reasons."""
    with st.expander("Find an artist for a slot", icon=":material/manage_search:"):
        with st.form("match"):
            day_col, from_col, to_col, zone_col = st.columns(4)
            day = day_col.date_input("Day", key="match_day")
            from_time = from_col.time_input("From", value=dt.time(10), key="match_from")
            to_time = to_col.time_input("To", value=dt.time(12), key="match_to")
            zone = zone_col.selectbox("Time zone", zones, index=zones.index(tenant_zone), key="match_zone")
            skills = st.text_input("Skills (comma-separated)", placeholder="mixing, vocals", key="match_skills")
            genres = st.text_input("Genres (comma-separated)", placeholder="jazz, soul", key="match_genres")
            budget_col, currency_col = st.columns(2)
            budget = budget_col.text_input("Budget", key="match_budget")
            currency = currency_col.selectbox("Currency", currencies, index=currencies.index("USD"),
                                              key="match_currency")
            searched = st.form_submit_button("Rank artists")
        if not searched:
            return
        try:
            start = booking_rules.to_utc(dt.datetime.combine(day, from_time), zone)
            end = booking_rules.to_utc(dt.datetime.combine(day, to_time), zone)
            if end <= start:
                end += dt.timedelta(days=1)
            request = MatchRequest(slot=booking_rules.Interval(start, end),
                                   skills=[s.strip() for s in skills.split(",") if s.strip()],
                                   genres=[g.strip() for g in genres.split(",") if g.strip()],
                                   budget=budget or None, currency=currency)
            matches = rank_artists(engine(), actor, request, limit=10)
        except (AuditoryxError, ValueError) as exc:
            st.error(str(exc))
            return
        if not matches:
            st.info("No active artists to rank.")
            return
        st.dataframe(pl.DataFrame({
            "Artist": [m.name for m in matches],
            "Free then": ["yes" if m.available else "no" for m in matches],
            "Match": [m.score for m in matches],
            "Why": ["; ".join(m.reasons) for m in matches],
        }), hide_index=True, width="stretch")


if artists:
    st.subheader("Book a session")
    booking_form()
    if allowed(user, Resource.ROSTER):
        matching_panel()

# managing existing bookings: status changes (and payment status for accountants)
st.subheader("Manage a booking")
upcoming = list_bookings(engine(), actor, start=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30), limit=200)
if not upcoming:
    st.caption("No bookings from the last 30 days onwards.")
    st.stop()
by_id = {line.id: line for line in upcoming}
chosen = by_id[st.selectbox(
    "Booking", list(by_id), key="manage_booking",
    format_func=lambda bid: f"{by_id[bid].start.astimezone(zoneinfo.ZoneInfo(by_id[bid].timezone)):%d %b %H:%M} · "
                            f"{by_id[bid].artist_name} · {by_id[bid].title} ({_label(by_id[bid].status)})")]
chosen_row = Row(artist_id=chosen.artist_id)
changes = [name for name in booking_rules.transitions_from(chosen.status)
           if check_permission(actor, Resource.BOOKINGS, booking_rules.TRANSITIONS[name].action, row=chosen_row)]
if not changes:
    st.caption(f"This booking is {_label(chosen.status).lower()}: no status change you may make.")
columns = st.columns(max(1, len(changes)))


def _apply(write) -> None:
    """Run one change of the chosen booking; on success ask for the refresh and redraw."""
    try:
        write()
    except (AuditoryxError, ValueError) as exc:
        st.error(str(exc))
    else:
        request_tenant_refresh(get_settings(), user.tenant_id, user.tenant_slug)
        st.rerun()


for column, change in zip(columns, changes):
    if column.button(change.title(), key=f"status_{change}"):
        _apply(lambda change=change: bookings.change_status(engine(), actor, chosen.id, change))
if allowed(user, Resource.PAYMENT_STATUS, Action.UPDATE):
    options = sorted(booking_rules.PAYMENT_TRANSITIONS[PaymentStatus(chosen.payment_status)])
    if options:
        pay_col, pay_button = st.columns([3, 1])
        target = pay_col.selectbox(f"Payment status (now {_label(chosen.payment_status)})", options,
                                   format_func=_label, key="payment_target")
        if pay_button.button("Update payment", key="update_payment"):
            _apply(lambda: bookings.set_payment_status(engine(), actor, chosen.id, target))
