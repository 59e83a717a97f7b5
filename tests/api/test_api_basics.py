"""Authentication, scopes, problem details, analytics from the snapshot, and tenant isolation."""
from __future__ import annotations

import pytest

from tests.api.conftest import CANARY_AMOUNT, CANARY_ARTIST, PASSWORD, bearer


def test_dashboard_numbers_come_from_the_callers_snapshot(api):
    key = api.key(api.a, "analytics:read")
    answer = api.client.get("/api/v1/analytics/dashboard", headers=bearer(key))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["tenant"]["id"] == api.a.tenant_id
    assert body["kpis"]["recognized_revenue_30d"] == str(api.a.revenue_30d)
    assert [p["artist_name"] for p in body["top_performers"]] == [a.name for a in api.a.artists]
    assert CANARY_ARTIST not in answer.text and CANARY_AMOUNT not in answer.text
    for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"):
        assert name in answer.headers


def test_no_or_bad_credentials_are_401_problems(api_sqlite):
    client = api_sqlite.client
    for headers in ({}, bearer("nonsense"), bearer("axk_deadbeef_" + "x" * 40), bearer("axt_e30.c2ln")):
        answer = client.get("/api/v1/analytics/dashboard", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.headers["www-authenticate"] == "Bearer"
        problem = answer.json()
        assert problem["status"] == 401 and problem["title"] and problem["type"].endswith("/unauthorized")


def test_scopes_limit_what_a_key_may_do(api_sqlite):
    api = api_sqlite
    reader = bearer(api.key(api.a, "analytics:read"))
    writer = bearer(api.key(api.a, "bookings:write"))
    admin = bearer(api.key(api.a, "admin"))
    artist_id = api.artist(api.a, "Scope Test Artist")
    booking = {"artist_id": artist_id, "title": "Session", "type": "RECORDING_SESSION",
               "start": "2030-01-10T10:00:00", "end": "2030-01-10T12:00:00", "timezone": "Europe/Paris",
               "location": "Studio A"}
    assert api.client.post("/api/v1/bookings", json=booking, headers=reader).status_code == 403
    assert api.client.get("/api/v1/users", headers=reader).status_code == 403
    assert api.client.get("/api/v1/analytics/dashboard", headers=writer).status_code == 403
    assert api.client.post("/api/v1/bookings", json=booking, headers=writer).status_code == 201
    assert api.client.get("/api/v1/users", headers=admin).status_code == 200
    assert api.client.post("/api/v1/bookings", json=booking, headers=admin).status_code == 403
    assert api.client.get("/api/v1/organization", headers=reader).json()["id"] == api.a.tenant_id


def test_revoking_a_key_takes_effect_at_once(api):
    from operational.api_keys import list_keys, revoke_key

    secret = api.key(api.a, "analytics:read")
    assert api.client.get("/api/v1/organization", headers=bearer(secret)).status_code == 200
    engine = api.engine()
    try:
        [summary] = [k for k in list_keys(engine, api.admin(api.a)) if secret.startswith(k.prefix)]
        revoke_key(engine, api.admin(api.a), summary.id)
    finally:
        engine.dispose()
    assert api.client.get("/api/v1/organization", headers=bearer(secret)).status_code == 401


def test_keys_are_managed_over_the_api_and_shown_once(api_sqlite):
    api = api_sqlite
    admin = bearer(api.key(api.a, "admin"))
    created = api.client.post("/api/v1/api-keys", json={"name": "accounting", "scopes": ["analytics:read"]},
                              headers=admin)
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith("axk_")
    listed = api.client.get("/api/v1/api-keys", headers=admin).json()["items"]
    assert any(k["id"] == created.json()["id"] for k in listed) and secret not in str(listed)
    assert api.client.get("/api/v1/analytics/dashboard", headers=bearer(secret)).status_code == 200
    assert api.client.post(f"/api/v1/api-keys/{created.json()['id']}/revoke", headers=admin).status_code == 200
    assert api.client.get("/api/v1/analytics/dashboard", headers=bearer(secret)).status_code == 401
    bad = api.client.post("/api/v1/api-keys", json={"name": "x", "scopes": ["everything"]}, headers=admin)
    assert bad.status_code == 422 and "scope" in bad.json()["detail"]


def test_a_person_gets_a_token_carrying_their_organization(api):
    answer = api.client.post("/api/v1/auth/token", json={"email": api.a.email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    own = api.client.get("/api/v1/organization", headers=bearer(token))
    assert own.status_code == 200 and own.json()["id"] == api.a.tenant_id
    assert api.client.get("/api/v1/analytics/dashboard", headers=bearer(token)).json()["tenant"]["id"] == api.a.tenant_id
    wrong = api.client.post("/api/v1/auth/token", json={"email": api.a.email, "password": "wrong"})
    assert wrong.status_code == 401
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert api.client.get("/api/v1/organization", headers=bearer(forged)).status_code == 401


def test_a_deactivated_user_loses_their_token_at_once(api_sqlite):
    from operational.users import deactivate_user, find_user_by_email

    api = api_sqlite
    email = "viewer@aurora-records.example"
    token = api.client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}).json()["token"]
    assert api.client.get("/api/v1/organization", headers=bearer(token)).status_code == 200
    engine = api.engine()
    try:
        user = find_user_by_email(engine, api.admin(api.a), email)
        deactivate_user(engine, api.admin(api.a), user.id)
    finally:
        engine.dispose()
    assert api.client.get("/api/v1/organization", headers=bearer(token)).status_code == 401


def test_nothing_published_yet_is_a_clear_404(api_sqlite):
    import shutil

    api = api_sqlite
    key = bearer(api.key(api.a, "analytics:read"))
    shutil.rmtree(api.world.published_dir / api.a.tenant_id)
    answer = api.client.get("/api/v1/analytics/dashboard", headers=key)
    assert answer.status_code == 404 and "refresh" in answer.json()["detail"]


def test_openapi_is_served(api_sqlite):
    schema = api_sqlite.client.get("/api/openapi.json").json()
    assert "/api/v1/bookings" in schema["paths"] and "/api/v1/analytics/dashboard" in schema["paths"]
    assert api_sqlite.client.get("/api/docs").status_code == 200
