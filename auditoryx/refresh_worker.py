"""`auditoryx worker`: a long-lived process that refreshes tenants as soon as they ask.

Writers (the booking pages) drop a request file ``<var>/refresh-requests/<tenant id>``
(:func:`auditoryx.refresh_requests.request_tenant_refresh`). The worker looks every
``poll_seconds``, takes every waiting request at once (files removed first, so a request made
during a refresh starts the next round) and runs one incremental refresh of exactly those
tenants, in-process: no interpreter start-up, dbt's project already parsed. It writes a
heartbeat file so that writers know it is alive (they start a one-off refresh otherwise).
`auditoryx serve` starts it beside the dashboards; it stops when its parent does.

It also delivers the outbox (webhooks, e-mails: operational.outbox) in a thread of its own, so
that a slow receiver never delays a refresh; a round runs every ``deliver_seconds``, at once
again while messages keep coming.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

from auditoryx.settings import Settings
from warehouse.layout import validate_tenant_id

log = logging.getLogger(__name__)
HEARTBEAT = ".worker-heartbeat"
HEARTBEAT_FRESH_SECONDS = 10.0


def requests_dir(settings: Settings) -> Path:
    return settings.resolved_var_dir / "refresh-requests"


def worker_alive(settings: Settings, now: float | None = None) -> bool:
    beat = requests_dir(settings) / HEARTBEAT
    try:
        return (now or time.time()) - beat.stat().st_mtime < HEARTBEAT_FRESH_SECONDS
    except FileNotFoundError:
        return False


def take_requests(folder: Path) -> list[str]:
    """The tenant ids waiting, their request files removed; malformed names are dropped."""
    tenants = []
    for path in sorted(folder.glob("*")):
        if path.name.startswith("."):
            continue
        path.unlink(missing_ok=True)
        try:
            tenants.append(validate_tenant_id(path.name))
        except Exception:  # noqa: BLE001 - not a tenant id: ignore the stray file
            log.warning("ignored refresh request %r", path.name)
    return tenants


def _active_tenants(settings: Settings) -> set[str]:
    from operational.db import make_engine
    from operational.tenants import active_tenants

    engine = make_engine(settings.operational_database_url)
    try:
        return set(active_tenants(engine))
    finally:
        engine.dispose()


def _deliver_outbox(settings: Settings, stop: threading.Event, deliver: Callable | None,
                    deliver_seconds: float) -> None:
    """The delivery thread: one outbox round per ``deliver_seconds`` until ``stop``."""
    owned = None
    if deliver is None:
        from operational.outbox import OutboxDeliverer

        deliver = owned = OutboxDeliverer(settings)
    try:
        while not stop.is_set():
            try:
                report = deliver()
                busy = bool(getattr(report, "claimed", 0)) and report.claimed >= getattr(deliver, "limit", 1 << 30)
            except Exception:  # noqa: BLE001 - one failed round must not stop the worker
                log.exception("outbox delivery failed")
                busy = False
            if not busy:
                stop.wait(deliver_seconds)
    finally:
        if owned is not None:
            owned.close()


def run(settings: Settings, *, poll_seconds: float = 0.2, refresh: Callable | None = None,
        should_stop: Callable[[], bool] | None = None,
        known_tenants: Callable[[Settings], set[str]] = _active_tenants,
        deliver: Callable | None = None, deliver_seconds: float = 1.0) -> None:
    """Serve requests until the parent process goes away (or ``should_stop`` says so); only
    active tenants of the operational database are refreshed. Meanwhile a thread delivers the
    outbox (``deliver``: one round per call; default the settings' webhook and e-mail senders)."""
    if refresh is None:
        from auditoryx.pipeline import refresh
    stop = threading.Event()
    delivery = threading.Thread(target=_deliver_outbox, args=(settings, stop, deliver, deliver_seconds),
                                name="outbox-delivery", daemon=True)
    delivery.start()
    try:
        _serve_requests(settings, poll_seconds, refresh, should_stop, known_tenants)
    finally:
        stop.set()
        delivery.join(timeout=30)


def _serve_requests(settings: Settings, poll_seconds: float, refresh: Callable,
                    should_stop: Callable[[], bool] | None, known_tenants: Callable[[Settings], set[str]]) -> None:
    folder = requests_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    parent = os.getppid()
    while not (should_stop() if should_stop else os.getppid() != parent):
        (folder / HEARTBEAT).touch()
        tenants = take_requests(folder)
        if tenants:
            known = known_tenants(settings)
            for stray in sorted(set(tenants) - known):
                log.warning("ignored refresh request for %s: not an active tenant", stray)
            tenants = [t for t in tenants if t in known]
        if tenants:
            started = time.monotonic()
            try:
                refresh(settings, tenants)
                log.info("refreshed %d tenant(s) in %.2fs", len(tenants), time.monotonic() - started)
            except Exception:  # noqa: BLE001 - one failed refresh must not stop the worker
                log.exception("refresh of %s failed", tenants)
        else:
            time.sleep(poll_seconds)
