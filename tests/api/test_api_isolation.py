"""Two tenants, one canary: with tenant A's credentials (a key with every scope, and A's admin's
token) no endpoint shows B's data, and every id of B's — booking, project, milestone, user, key,
webhook, delivery — answers 404 exactly like an id that does not exist. Plus webhooks end to end:
an endpoint added through the API receives a signed booking.created made through the API."""
from __future__ import annotations

import pytest

from tests.api.conftest import CANARY_AMOUNT, CANARY_ARTIST, PASSWORD, bearer
from tests.operational.test_webhooks import Receiver

CANARY_TITLE = "Zyxqv canary session"


def _b_world(api):
    """B's rows, made through the API with B's own key: the ids A will try to forge."""
    key = bearer(api.key(api.b))
    artist = api.artist(api.b, CANARY_ARTIST)
    booking = api.client.post("/api/v1/bookings", headers=key, json={
        "artist_id": artist, "title": CANARY_TITLE, "type": "MIXING", "start": "2030-05-01T10:00:00",
        "end": "2030-05-01T12:00:00", "timezone": "UTC", "location": "Bravo room", "budget": CANARY_AMOUNT,
        "currency": "EUR"}).json()
    project = api.client.post("/api/v1/projects", headers=key, json={
        "name": "Zyxqv canary album", "type": "ALBUM", "milestones": [{"title": "Zyxqv milestone"}]}).json()
    users = api.client.post("/api/v1/users/bulk", headers=key, json={"users": [
        {"email": "zyxqv@bravo.example", "name": "Zyxqv Person", "role": "VIEWER"}]}).json()["results"]
    created_key = api.client.post("/api/v1/api-keys", headers=key, json={"name": "Zyxqv key",
                                                                          "scopes": ["admin"]}).json()
    hook = api.client.post("/api/v1/webhooks", headers=key, json={
        "url": "https://hooks.bravo.example/zyxqv", "events": ["booking.created"]}).json()
    return {"artist": artist, "booking": booking["id"], "project": project["id"],
            "milestone": project["milestones"][0]["id"], "user": users[0]["user_id"], "key": created_key["id"],
            "webhook": hook["id"]}


def _forged_requests(ids):
    return [
        ("GET", f"/api/v1/bookings/{ids['booking']}", None),
        ("POST", f"/api/v1/bookings/{ids['booking']}/status", {"change": "approve"}),
        ("POST", f"/api/v1/bookings/{ids['booking']}/payment-status", {"payment_status": "PAID"}),
        ("GET", f"/api/v1/projects/{ids['project']}", None),
        ("PATCH", f"/api/v1/projects/{ids['project']}/milestones/{ids['milestone']}", {"status": "COMPLETED"}),
        ("PATCH", f"/api/v1/users/{ids['user']}/role", {"role": "ORG_ADMIN"}),
        ("POST", f"/api/v1/api-keys/{ids['key']}/revoke", None),
        ("GET", f"/api/v1/webhooks/{ids['webhook']}", None),
        ("PATCH", f"/api/v1/webhooks/{ids['webhook']}", {"is_active": False}),
        ("DELETE", f"/api/v1/webhooks/{ids['webhook']}", None),
        ("POST", f"/api/v1/webhooks/{ids['webhook']}/rotate-secret", None),
        ("POST", f"/api/v1/calendar-feeds", {"artist_id": ids["artist"]}),
        ("POST", "/api/v1/bookings", {"artist_id": ids["artist"], "title": "forged", "type": "MIXING",
                                      "start": "2030-06-01T10:00:00", "end": "2030-06-01T11:00:00",
                                      "location": "x"}),
    ]


def test_tenant_a_never_reaches_tenant_b(api):
    ids = _b_world(api)
    a_key = bearer(api.key(api.a))
    a_token = bearer(api.client.post("/api/v1/auth/token", json={"email": api.a.email,
                                                                 "password": PASSWORD}).json()["token"])
    missing = {name: "00000000-0000-4000-8000-000000000000" for name in ids}
    for headers in (a_key, a_token):
        for (method, path, body), (_m, missing_path, _b) in zip(_forged_requests(ids), _forged_requests(missing)):
            forged = api.client.request(method, path, json=body, headers=headers)
            absent = api.client.request(method, missing_path, json=body, headers=headers)
            assert forged.status_code == absent.status_code, (method, path, forged.text, absent.text)
            if path != "/api/v1/bookings":
                assert forged.status_code == 404, (method, path, forged.text)
            else:
                assert forged.status_code == 422 and "artist_id" in forged.json()["errors"]
            assert forged.json()["detail"] == absent.json()["detail"]
        # lists and analytics: nothing of B's
        for path in ("/api/v1/bookings", "/api/v1/projects", "/api/v1/users", "/api/v1/artists", "/api/v1/api-keys",
                     "/api/v1/webhooks", "/api/v1/webhooks/deliveries", "/api/v1/analytics/dashboard",
                     "/api/v1/organization"):
            answer = api.client.get(path, headers=headers)
            assert answer.status_code == 200, (path, answer.text)
            for canary in (CANARY_ARTIST, CANARY_AMOUNT, CANARY_TITLE, "Zyxqv", api.b.tenant_id):
                assert canary not in answer.text, (path, canary)
        calendar = api.client.get("/api/v1/bookings/calendar", headers=headers, params={
            "start": "2030-01-01T00:00:00Z", "end": "2031-01-01T00:00:00Z", "artist_id": ids["artist"]})
        assert calendar.status_code == 200 and calendar.json()["items"] == []
        analytics = api.client.get("/api/v1/bookings/analytics", headers=headers,
                                   params={"first_month": "2024-01-01", "last_month": "2025-12-01"})
        assert analytics.status_code == 200 and CANARY_AMOUNT not in analytics.text
    # B's rows are untouched by A's attempts
    b_key = bearer(api.key(api.b))
    assert api.client.get(f"/api/v1/bookings/{ids['booking']}", headers=b_key).json()["status"] == "PENDING_APPROVAL"
    assert api.client.get(f"/api/v1/webhooks/{ids['webhook']}", headers=b_key).json()["is_active"] is True


def test_webhook_added_through_the_api_receives_a_signed_booking(api_sqlite, monkeypatch):
    from operational import outbox, webhooks

    api = api_sqlite
    receiver = Receiver()
    try:
        key = bearer(api.key(api.a))
        monkeypatch.setattr(api.client.app.state.context.settings, "webhook_allow_local_http", True)
        hook = api.client.post("/api/v1/webhooks", headers=key, json={"url": receiver.url,
                                                                     "events": ["booking.created"]})
        assert hook.status_code == 201, hook.text
        secret = hook.json()["secret"]
        artist = api.artist(api.a, "Hooked Artist")
        booking = api.client.post("/api/v1/bookings", headers=key, json={
            "artist_id": artist, "title": "Hooked", "type": "MIXING", "start": "2030-05-02T10:00:00",
            "end": "2030-05-02T12:00:00", "location": "Room"}).json()
        engine = api.engine()
        sender = webhooks.WebhookSender(engine, timeout=5, allow_local_http=True)
        try:
            report = outbox.deliver_due(engine, {"webhook": sender})
        finally:
            sender.close()
            engine.dispose()
        assert report.delivered == 1, report
        [request] = receiver.requests
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert webhooks.verify_signature(secret, headers["auditoryx-signature"], request["body"])
        assert booking["id"] in request["body"].decode() and headers["auditoryx-event"] == "booking.created"
        log = api.client.get("/api/v1/webhooks/deliveries", headers=key).json()["items"]
        assert log[0]["status"] == "delivered" and log[0]["attempts"]
    finally:
        receiver.close()
