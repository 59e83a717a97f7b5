"""After a write to the operational database, get that tenant's snapshot refreshed.

``AUDITORYX_REFRESH_ON_WRITE`` chooses how:
- ``worker`` (default): leave a request for the refresh worker (`auditoryx worker`, started by
  `auditoryx serve`), which refreshes the tenant in-process within a fraction of a second; when
  no worker is alive (no recent heartbeat), start a one-off refresh as in ``direct``.
- ``direct``: start `auditoryx refresh --tenant <slug>` in the background. Concurrent requests
  queue on the build lock; a refresh with nothing new to do returns in about a second.
- ``sensor``: nothing to start here; Dagster's ``operational_change_sensor`` sees the tenant's
  change mark (every 2 s) and runs exactly that tenant, the same path the schedule uses.
- ``off``: the next scheduled refresh picks it up.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from auditoryx.refresh_worker import requests_dir, worker_alive
from auditoryx.settings import PROJECT_ROOT, Settings
from operational.models import validate_slug
from warehouse.layout import validate_tenant_id

EXPECTED_SECONDS = {"worker": 5, "direct": 10, "sensor": 15}


@dataclass(frozen=True)
class RefreshRequest:
    mode: str
    expected_seconds: int | None  # None: at the next scheduled refresh

    def message(self) -> str:
        if self.expected_seconds is None:
            return "The dashboard shows the change after the next scheduled data refresh."
        return (f"The dashboard shows the change in about {self.expected_seconds} seconds, once your "
                "organization's analytics are refreshed; it updates by itself.")


def request_tenant_refresh(settings: Settings, tenant_id: str, tenant_slug: str) -> RefreshRequest:
    mode = settings.refresh_on_write
    if mode == "worker":
        if worker_alive(settings):
            folder = requests_dir(settings)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / validate_tenant_id(tenant_id)).touch()
            return RefreshRequest(mode, EXPECTED_SECONDS[mode])
        mode = "direct"
    if mode == "direct":
        _start_refresh(settings, tenant_slug)
    return RefreshRequest(mode, EXPECTED_SECONDS.get(mode))


def _start_refresh(settings: Settings, tenant_slug: str) -> None:
    slug = validate_slug(tenant_slug)
    log_dir = settings.resolved_var_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "refresh-on-write.log", "ab") as log:
        subprocess.Popen(  # noqa: S603 - fixed argv, validated slug
            [sys.executable, "-m", "auditoryx.cli", "refresh", "--tenant", slug],
            cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            env=dict(os.environ), start_new_session=True)
