"""`auditoryx deliver`: send what waits in the outbox (webhooks, e-mails), once or in a loop.

Register with ``app.command("deliver")(deliver)``. The command connects with the operational URL
(``AUDITORYX_OPERATIONAL_URL``): on PostgreSQL that is the owner (superuser or ``BYPASSRLS``),
which reads every tenant's messages, as extraction does. E-mails are sent only when
``AUDITORYX_SMTP_HOST`` is set (they wait in the outbox until then). `auditoryx worker` delivers
too, beside refreshes.
"""
from __future__ import annotations

import logging

import typer

from auditoryx.errors import NotInitialized
from auditoryx.settings import get_settings


def deliver(
    loop: bool = typer.Option(False, "--loop", help="Keep delivering (Ctrl-C stops); default: one round."),
    poll: float = typer.Option(1.0, "--poll", min=0.05, help="With --loop: seconds between looks when idle."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="Messages claimed per round."),
) -> None:
    """Deliver due webhook calls and e-mails from the outbox (retries with back-off, every attempt
    logged; a message is dead after its last attempt)."""
    from operational.outbox import OutboxDeliverer, counts, run_loop

    settings = get_settings()
    deliverer = OutboxDeliverer(settings, limit=limit)
    if not deliverer.ready():
        raise NotInitialized("the operational database has no outbox yet: run `auditoryx init`")
    try:
        if not settings.smtp_host:
            typer.echo("AUDITORYX_SMTP_HOST is not set: e-mails stay in the outbox", err=True)
        if loop:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
            try:
                run_loop(deliverer.engine, deliverer.senders, poll_seconds=poll, limit=limit)
            except KeyboardInterrupt:
                pass
            return
        report = deliverer()
        for error in report.errors:
            typer.echo(f"dead: {error}", err=True)
        waiting = counts(deliverer.engine)
        typer.echo(f"{report}; outbox: {waiting['pending']} pending, {waiting['delivered']} delivered, "
                   f"{waiting['dead']} dead")
    finally:
        deliverer.close()
