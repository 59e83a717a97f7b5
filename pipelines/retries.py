"""Transient failures (a lock held, a database busy) are retried with back-off; others fail."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import dagster as dg

TRANSIENT_MARKERS = ("database is locked", "could not set lock", "conflicting lock", "lock on file",
                     "another refresh holds", "database is busy", "could not connect to server",
                     "connection refused", "server closed the connection")


def is_transient(error: BaseException) -> bool:
    text = f"{type(error).__name__}: {error}".lower()
    return any(marker in text for marker in TRANSIENT_MARKERS)


@contextmanager
def retry_transient(max_retries: int = 4, seconds_to_wait: float = 2.0) -> Iterator[None]:
    try:
        yield
    except dg.RetryRequested:
        raise
    except Exception as error:
        if is_transient(error):
            raise dg.RetryRequested(max_retries=max_retries, seconds_to_wait=seconds_to_wait) from error
        raise
