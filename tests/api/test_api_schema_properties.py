"""A property-based run over the OpenAPI schema (schemathesis strategies driven by hypothesis):
generated requests to every operation, authenticated with a tenant's all-scopes key, never get a
5xx, and every error is a problem-details document with the response's status."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import bearer

EXAMPLES_PER_OPERATION = 15


def test_generated_requests_never_get_a_server_error(api_sqlite):
    api = api_sqlite
    headers = bearer(api.key(api.a))
    api.artist(api.a, "Property Artist")
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", api.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(headers={**(case.headers or {}), **headers})
            where = (case.method, case.formatted_path, response.status_code, response.text[:300])
            assert response.status_code < 500, where
            if response.status_code >= 400:
                assert response.headers["content-type"][0].startswith("application/problem+json"), where
                assert response.json()["status"] == response.status_code, where

        check()
