"""The settings, built once per environment instead of on every call.

``auditoryx.settings.get_settings()`` validates every ``AUDITORYX_*`` variable with pydantic on
each call (~1–2.5 ms); a label-dashboard run asked for it nine times. :func:`settings` returns the
same object while the ``AUDITORYX_*`` variables (and the working folder, which relative paths
depend on) are unchanged, and builds a new one as soon as any of them changes (e.g. a test that
points the app at another world).
"""
from __future__ import annotations

import os
import threading

from auditoryx.settings import Settings, get_settings

_PREFIX = "AUDITORYX_"
_lock = threading.Lock()
_cached: tuple[tuple, Settings] | None = None


def _environment_key() -> tuple:
    variables = tuple(sorted((name, value) for name, value in os.environ.items()
                             if name.upper().startswith(_PREFIX)))
    return os.getcwd(), variables


def settings() -> Settings:
    """``get_settings()``, reused while the environment it reads is the same."""
    global _cached
    key = _environment_key()
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        fresh = get_settings()
        _cached = (key, fresh)
        return fresh
