"""`auditoryx api-keys create/list/revoke` and `auditoryx api` (a real uvicorn on a free port)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

AUDITORYX = str(Path(sys.executable).with_name("auditoryx"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([AUDITORYX, *args], capture_output=True, text=True, timeout=300, env=dict(os.environ))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_api_keys_from_the_command_line_and_a_first_call(app_env):
    from operational.db import make_engine
    from operational.organizations import create_organization
    from operational.permissions import platform_operator

    assert run("init").returncode == 0
    engine = make_engine(app_env.operational_database_url)
    create_organization(engine, platform_operator(), "Keys Inc", "keys-inc", "RECORD_LABEL", "STUDIO_PRO", "EUR",
                        "Europe/Paris", "boss@keys.example", "Boss")
    engine.dispose()
    created = run("api-keys", "create", "--tenant", "keys-inc", "--name", "ledger", "--scope", "analytics:read")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1].split()[-1]
    assert secret.startswith("axk_")
    listed = run("api-keys", "list", "--tenant", "keys-inc")
    assert "ledger" in listed.stdout and "active" in listed.stdout and secret not in listed.stdout
    bad = run("api-keys", "create", "--tenant", "keys-inc", "--name", "x", "--scope", "everything")
    assert bad.returncode == 1 and bad.stderr.startswith("error: invalid API key scope")

    port = _free_port()
    server = subprocess.Popen([AUDITORYX, "api", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        url = f"http://127.0.0.1:{port}/api/v1/organization"
        for _ in range(100):
            try:
                answer = httpx.get(url, headers={"Authorization": f"Bearer {secret}"}, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["slug"] == "keys-inc"
        key_id = listed.stdout.split()[0]
        assert run("api-keys", "revoke", key_id, "--tenant", "keys-inc").returncode == 0
        assert httpx.get(url, headers={"Authorization": f"Bearer {secret}"}, timeout=5).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "revoked" in run("api-keys", "list", "--tenant", "keys-inc").stdout
