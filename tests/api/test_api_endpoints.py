"""Every endpoint on both backends: bookings (conflicts, bulk, pages, calendar, status, payment,
analytics), projects and milestones, users, organizations for operators, calendar feeds,
idempotent retries and rate limits."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.api.conftest import PASSWORD, bearer

SESSION = {"title": "Vocal session", "type": "RECORDING_SESSION", "timezone": "Europe/Paris", "location": "Studio A",
           "budget": "1200.50", "currency": "EUR"}


def _booking(artist_id: str, day: int, hour: int = 10, **extra) -> dict:
    return {**SESSION, "artist_id": artist_id, "start": f"2030-03-{day:02d}T{hour:02d}:00:00",
            "end": f"2030-03-{day:02d}T{hour + 2:02d}:00:00", **extra}


def test_bookings_create_conflict_list_status_and_payment(api):
    key = bearer(api.key(api.a))
    artist = api.artist(api.a, "Endpoint Artist")
    created = api.client.post("/api/v1/bookings", json=_booking(artist, 2), headers=key)
    assert created.status_code == 201, created.text
    booking = created.json()
    assert booking["budget"] == "1200.50" and booking["start"].startswith("2030-03-02T09:00")  # Paris → UTC
    clash = api.client.post("/api/v1/bookings", json=_booking(artist, 2, 11), headers=key)
    assert clash.status_code == 409
    assert clash.json()["conflicts"][0]["booking_id"] == booking["id"] and clash.json()["next_free_start"]
    invalid = api.client.post("/api/v1/bookings", json={**_booking(artist, 3), "type": "NAP"}, headers=key)
    assert invalid.status_code == 422 and "type" in invalid.json()["errors"]

    for day in (4, 5, 6, 7):
        assert api.client.post("/api/v1/bookings", json=_booking(artist, day), headers=key).status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "start": "2030-03-01T00:00:00Z", "artist_id": artist, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/api/v1/bookings", params=params, headers=key).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5 and seen[0] == booking["id"]
    window = api.client.get("/api/v1/bookings/calendar", headers=key, params={
        "start": "2030-03-04T00:00:00Z", "end": "2030-03-06T00:00:00Z", "artist_id": artist}).json()
    assert [item["start"][:10] for item in window["items"]] == ["2030-03-04", "2030-03-05"]
    assert api.client.get("/api/v1/bookings/calendar", headers=key, params={
        "start": "2030-03-06T00:00:00Z", "end": "2030-03-04T00:00:00Z"}).status_code == 422

    path = f"/api/v1/bookings/{booking['id']}"
    assert api.client.get(path, headers=key).json()["status"] == "PENDING_APPROVAL"
    approved = api.client.post(f"{path}/status", json={"change": "approve"}, headers=key)
    assert approved.status_code == 200 and approved.json()["status"] == "APPROVED"
    wrong = api.client.post(f"{path}/status", json={"change": "resolve"}, headers=key)
    assert wrong.status_code == 422
    paid = api.client.post(f"{path}/payment-status", json={"payment_status": "PAID"}, headers=key)
    assert paid.status_code == 200 and paid.json()["payment_status"] == "PAID"


def test_bulk_booking_modes(api):
    key = bearer(api.key(api.a, "bookings:write"))
    artist = api.artist(api.a, "Bulk Artist")
    rows = [{"artist": "Bulk Artist", "title": "Take 1", "type": "MIXING", "start": "2030-04-01 10:00",
             "end": "2030-04-01 12:00", "location": "Room 1"},
            {"artist": "Bulk Artist", "title": "Take 2", "type": "NAP", "start": "2030-04-02 11:00",
             "end": "2030-04-02 13:00", "location": "Room 1"}]
    refused = api.client.post("/api/v1/bookings/bulk", json={"rows": rows}, headers=key)
    assert refused.status_code == 200 and refused.json()["booked"] == 0
    partial = api.client.post("/api/v1/bookings/bulk", json={"rows": rows, "mode": "valid_only"}, headers=key)
    body = partial.json()
    assert body["booked"] == 1 and len(body["not_booked"]) == 1 and body["not_booked"][0]["reasons"]
    assert artist


def test_idempotent_retries_book_once(api):
    key = bearer(api.key(api.a, "bookings:write"))
    artist = api.artist(api.a, "Retry Artist")
    headers = {**key, "Idempotency-Key": "order-42"}
    first = api.client.post("/api/v1/bookings", json=_booking(artist, 10), headers=headers)
    again = api.client.post("/api/v1/bookings", json=_booking(artist, 10), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    listed = api.client.get("/api/v1/bookings", params={"artist_id": artist}, headers=key).json()["items"]
    assert len(listed) == 1
    other = api.client.post("/api/v1/bookings", json=_booking(artist, 11), headers=headers)
    assert other.status_code == 422 and "different request" in other.json()["detail"]
    # an error is replayed too: the same conflicting request keeps its 409
    clash_headers = {**key, "Idempotency-Key": "order-43"}
    clash = api.client.post("/api/v1/bookings", json=_booking(artist, 10, 11), headers=clash_headers)
    replay = api.client.post("/api/v1/bookings", json=_booking(artist, 10, 11), headers=clash_headers)
    assert clash.status_code == replay.status_code == 409 and replay.json() == clash.json()


def test_rate_limit_answers_429_with_retry_after_across_processes(api, monkeypatch):
    """Two app instances (as two worker processes would) share the tenant's bucket (on
    PostgreSQL, after a key's first request, through the one-statement check and take)."""
    from sqlalchemy.orm import Session

    from api.app import create_app
    from auditoryx.settings import get_settings
    from fastapi.testclient import TestClient
    from operational.models import Organization

    engine = api.engine()
    with Session(engine) as session, session.begin():
        org = session.get(Organization, api.a.tenant_id)
        org.settings = {**org.settings, "api_requests_per_minute": 6}  # a bucket of 10 requests
    engine.dispose()
    key = bearer(api.key(api.a, "analytics:read"))
    second = TestClient(create_app(get_settings()), raise_server_exceptions=False)
    answers = [(api.client if i % 2 else second).get("/api/v1/organization", headers=key) for i in range(12)]
    codes = [a.status_code for a in answers]
    assert codes[:10] == [200] * 10 and codes[10:] == [429, 429], codes
    limited = answers[-1]
    assert int(limited.headers["retry-after"]) >= 1 and limited.headers["ratelimit-remaining"] == "0"
    assert limited.json()["status"] == 429
    other_tenant = bearer(api.key(api.b, "analytics:read"))
    assert api.client.get("/api/v1/organization", headers=other_tenant).status_code == 200  # per tenant


def test_projects_and_milestones(api):
    key = bearer(api.key(api.a, "bookings:write", "analytics:read"))
    created = api.client.post("/api/v1/projects", headers=key, json={
        "name": "Second Album", "type": "ALBUM", "budget": "25000.00", "currency": "USD", "deadline": "2030-09-01",
        "milestones": [{"title": "Demos", "due_date": "2030-05-01"}, {"title": "Mixing", "due_date": "2030-07-01"}]})
    assert created.status_code == 201, created.text
    project = created.json()
    assert [m["title"] for m in project["milestones"]] == ["Demos", "Mixing"]
    overview = api.client.get(f"/api/v1/projects/{project['id']}", headers=key).json()
    assert overview["health"] is None  # not in a published snapshot yet
    milestone = project["milestones"][0]["id"]
    done = api.client.patch(f"/api/v1/projects/{project['id']}/milestones/{milestone}", json={"status": "COMPLETED"},
                            headers=key)
    assert done.status_code == 200 and done.json()["status"] == "COMPLETED" and done.json()["completed_at"]
    listed = api.client.get("/api/v1/projects", headers=key).json()
    assert project["id"] in [p["id"] for p in listed["items"]]
    assert api.client.post("/api/v1/projects", headers=key, json={"name": "", "type": "ALBUM"}).status_code == 422


def test_users_bulk_roster_and_role_change(api):
    key = bearer(api.key(api.a, "admin"))
    results = api.client.post("/api/v1/users/bulk", headers=key, json={"users": [
        {"email": "new.one@aurora.example", "name": "New One", "role": "VIEWER"},
        {"email": "not-an-email", "name": "Bad", "role": "VIEWER"},
        {"email": "new.two@aurora.example", "name": "New Two", "role": "NOT_A_ROLE"}]}).json()["results"]
    assert [r["status"] for r in results] == ["created", "invalid", "invalid"]
    assert results[0]["generated_password"]
    users = api.client.get("/api/v1/users", headers=key).json()["items"]
    new = next(u for u in users if u["email"] == "new.one@aurora.example")
    changed = api.client.patch(f"/api/v1/users/{new['id']}/role", json={"role": "ACCOUNTANT"}, headers=key)
    assert changed.status_code == 200 and changed.json()["role"] == "ACCOUNTANT"
    api.artist(api.a, "Roster Artist")
    api.artist(api.a, "Roster Artist Two")
    first = api.client.get("/api/v1/artists", params={"limit": 1}, headers=key).json()
    second = api.client.get("/api/v1/artists", params={"limit": 1, "cursor": first["next_cursor"]}, headers=key).json()
    assert {a["name"] for a in first["items"] + second["items"]} == {"Roster Artist", "Roster Artist Two"}
    assert second["next_cursor"] is None
    assert api.client.get("/api/v1/artists", params={"cursor": "not-a-cursor"}, headers=key).status_code == 422


def test_organizations_for_platform_operators_only(api):
    from operational.auth import hash_password
    from operational.enums import UserRole
    from operational.models import User
    from sqlalchemy.orm import Session

    engine = api.engine()
    with Session(engine) as session, session.begin():
        session.add(User(org_id=api.a.tenant_id, email="operator@aurora.example", name="Op", role=UserRole.SUPER_ADMIN,
                         password_hash=hash_password(PASSWORD)))
    engine.dispose()
    token = api.client.post("/api/v1/auth/token", json={"email": "operator@aurora.example", "password": PASSWORD})
    operator = bearer(token.json()["token"])
    created = api.client.post("/api/v1/organizations", headers=operator, json={
        "name": "Delta Sound", "slug": "delta-sound", "type": "PRODUCTION_STUDIO", "plan": "STUDIO_PRO",
        "admin_email": "admin@delta.example", "admin_name": "Dee"})
    assert created.status_code == 201, created.text
    org_id = created.json()["organization"]["id"]
    assert org_id in [o["id"] for o in api.client.get("/api/v1/organizations", headers=operator).json()["items"]]
    assert api.client.get(f"/api/v1/organizations/{org_id}", headers=operator).json()["slug"] == "delta-sound"
    patched = api.client.patch(f"/api/v1/organizations/{org_id}", json={"plan": "LABEL_ENTERPRISE"}, headers=operator)
    assert patched.status_code == 200 and patched.json()["plan"] == "LABEL_ENTERPRISE"
    off = api.client.post(f"/api/v1/organizations/{org_id}/deactivate", headers=operator)
    assert off.status_code == 200 and off.json()["is_active"] is False
    admin_key = bearer(api.key(api.a, "admin"))
    assert api.client.get("/api/v1/organizations", headers=admin_key).status_code == 403
    assert api.client.post("/api/v1/organizations", headers=admin_key, json={
        "name": "X", "slug": "x-x", "type": "PRODUCTION_STUDIO", "plan": "FREE", "admin_email": "a@x.example",
        "admin_name": "A"}).status_code == 403


def test_calendar_feeds_rotate_and_stay_in_their_calendar(api):
    key = bearer(api.key(api.a, "bookings:write", "admin"))
    artist = api.artist(api.a, "Feed Artist")
    other = api.artist(api.a, "Other Feed Artist")
    soon = dt.date.today() + dt.timedelta(days=20)
    for who, title in ((artist, "Feed session"), (other, "Not in this feed")):
        body = {**SESSION, "title": title, "artist_id": who, "start": f"{soon}T10:00:00", "end": f"{soon}T12:00:00"}
        assert api.client.post("/api/v1/bookings", json=body, headers=key).status_code == 201
    first = api.client.post("/api/v1/calendar-feeds", json={"artist_id": artist}, headers=key).json()
    feed = api.client.get(first["path"])
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert "Feed session" in feed.text and "Not in this feed" not in feed.text
    second = api.client.post("/api/v1/calendar-feeds", json={"artist_id": artist}, headers=key).json()
    assert api.client.get(first["path"]).status_code == 404  # rotated away at once
    assert api.client.get(second["path"]).status_code == 200
    whole = api.client.post("/api/v1/calendar-feeds", json={}, headers=key).json()
    assert "Not in this feed" in api.client.get(whole["path"]).text
    assert api.client.get("/feeds/axf_forged.ics").status_code == 404


def test_bookings_analytics_for_a_period(api):
    key = bearer(api.key(api.a, "analytics:read"))
    answer = api.client.get("/api/v1/bookings/analytics", headers=key,
                            params={"first_month": "2024-10-01", "last_month": "2025-03-01"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [m["month"] for m in body["months"]] == ["2024-10-01", "2024-11-01", "2024-12-01", "2025-01-01",
                                                    "2025-02-01", "2025-03-01"]
    assert body["totals"]["total_bookings"] == sum(m["total_bookings"] for m in body["months"])
    backwards = api.client.get("/api/v1/bookings/analytics", headers=key,
                               params={"first_month": "2025-03-01", "last_month": "2024-10-01"})
    assert backwards.status_code == 422


def test_report_exports_requested_listed_and_downloaded(api_sqlite):
    from reports.export import verify_export

    api = api_sqlite
    key = bearer(api.key(api.a, "analytics:read"))
    created = api.client.post("/api/v1/analytics/exports", json={"formats": ["csv", "xlsx"]}, headers=key)
    assert created.status_code == 201, created.text
    export = created.json()
    assert export["manifest"]["tenant_id"] == api.a.tenant_id and export["files"]
    listed = api.client.get("/api/v1/analytics/reports", headers=key).json()["items"]
    assert [item["id"] for item in listed] == [export["id"]]
    assert api.client.get(f"/api/v1/analytics/reports/{export['id']}", headers=key).json()["id"] == export["id"]
    download = api.client.get(export["files"][0], headers=key)
    assert download.status_code == 200 and download.content
    folder = api.world.root / "var" / "exports" / api.a.tenant_id / export["id"]
    assert verify_export(folder) == []
    b_key = bearer(api.key(api.b, "analytics:read"))  # B cannot see or fetch A's export
    assert api.client.get("/api/v1/analytics/reports", headers=b_key).json()["items"] == []
    assert api.client.get(f"/api/v1/analytics/reports/{export['id']}", headers=b_key).status_code == 404
    assert api.client.get(export["files"][0], headers=b_key).status_code == 404
    assert api.client.get(f"/api/v1/analytics/reports/{export['id']}/files/..%2Fmanifest.json",
                          headers=key).status_code == 404


def test_writes_are_audited_with_the_key_or_the_user(api_sqlite):
    from sqlalchemy.orm import Session

    from operational.api_keys import list_keys
    from operational.audit import entries

    api = api_sqlite
    secret = api.key(api.a, "bookings:write")
    artist = api.artist(api.a, "Audited Artist")
    by_key = api.client.post("/api/v1/bookings", json=_booking(artist, 20), headers=bearer(secret)).json()
    token = api.client.post("/api/v1/auth/token", json={"email": api.a.email, "password": PASSWORD}).json()["token"]
    by_user = api.client.post("/api/v1/bookings", json=_booking(artist, 21), headers=bearer(token)).json()
    engine = api.engine()
    try:
        [key] = [k for k in list_keys(engine, api.admin(api.a)) if secret.startswith(k.prefix)]
        with Session(engine) as session:
            [key_entry] = entries(session, api.a.tenant_id, entity="bookings", entity_id=by_key["id"])
            [user_entry] = entries(session, api.a.tenant_id, entity="bookings", entity_id=by_user["id"])
    finally:
        engine.dispose()
    assert (key_entry.actor_key_id, key_entry.actor_id) == (key.id, None)
    assert user_entry.actor_key_id is None and user_entry.actor_id == api.admin(api.a).user_id
