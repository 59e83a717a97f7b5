"""Refresh on write: requests for the worker, its loop, and the fallback when none is alive."""
from __future__ import annotations

import os
import time

import pytest

from auditoryx import refresh_requests, refresh_worker

TENANT = "0a1b2c3d-aaaa-4000-8000-00000000000a"
OTHER = "0b1b2c3d-bbbb-4000-8000-00000000000b"


def test_worker_takes_every_waiting_request_at_once_and_ignores_strays(app_env):
    folder = refresh_worker.requests_dir(app_env)
    folder.mkdir(parents=True)
    for name in (TENANT, OTHER, "../../etc", "not-a-tenant"):
        (folder / os.path.basename(name)).touch()
    seen: list[list[str]] = []
    rounds = iter([False, False, True])
    refresh_worker.run(app_env, poll_seconds=0.01, refresh=lambda settings, ids: seen.append(ids),
                       should_stop=lambda: next(rounds), known_tenants=lambda settings: {TENANT, OTHER})
    assert seen == [[TENANT, OTHER]]
    assert [p.name for p in folder.iterdir()] == [refresh_worker.HEARTBEAT]
    assert refresh_worker.worker_alive(app_env)


def test_a_failed_refresh_does_not_stop_the_worker(app_env):
    folder = refresh_worker.requests_dir(app_env)
    folder.mkdir(parents=True)
    (folder / TENANT).touch()
    calls = []

    def failing(settings, ids):
        calls.append(ids)
        if len(calls) == 1:
            (folder / OTHER).touch()  # a request made during the failed refresh
            raise RuntimeError("disk full")

    rounds = iter([False, False, False, True])
    refresh_worker.run(app_env, poll_seconds=0.01, refresh=failing, should_stop=lambda: next(rounds),
                       known_tenants=lambda settings: {TENANT, OTHER})
    assert calls == [[TENANT], [OTHER]]


def test_requests_go_to_a_live_worker_else_a_one_off_refresh(app_env, monkeypatch):
    app_env = app_env.model_copy(update={"refresh_on_write": "worker"})
    started = []
    monkeypatch.setattr(refresh_requests, "_start_refresh", lambda settings, slug: started.append(slug))
    request = refresh_requests.request_tenant_refresh(app_env, TENANT, "aurora-records")
    assert (request.mode, started) == ("direct", ["aurora-records"])  # no worker alive
    folder = refresh_worker.requests_dir(app_env)
    (folder / refresh_worker.HEARTBEAT).parent.mkdir(parents=True, exist_ok=True)
    (folder / refresh_worker.HEARTBEAT).touch()
    request = refresh_requests.request_tenant_refresh(app_env, TENANT, "aurora-records")
    assert request.mode == "worker" and (folder / TENANT).exists() and started == ["aurora-records"]
    old = time.time() - 60
    os.utime(folder / refresh_worker.HEARTBEAT, (old, old))
    assert not refresh_worker.worker_alive(app_env)


def test_request_paths_are_validated(app_env):
    app_env = app_env.model_copy(update={"refresh_on_write": "worker"})
    (refresh_worker.requests_dir(app_env) / refresh_worker.HEARTBEAT).parent.mkdir(parents=True)
    (refresh_worker.requests_dir(app_env) / refresh_worker.HEARTBEAT).touch()
    with pytest.raises(Exception):
        refresh_requests.request_tenant_refresh(app_env, "../outside", "aurora-records")
    assert not (app_env.resolved_var_dir / "outside").exists()
