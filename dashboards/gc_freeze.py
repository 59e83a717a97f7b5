"""Keep Streamlit's garbage collection after each script run cheap.

Streamlit runs ``gc.collect(2)`` after every script run, and also between a run stopped by
``st.rerun`` and the next one (``runner.postScriptGC``). A full collection walks every tracked
object of the process: with Plotly, Polars, SQLAlchemy and pandas imported that is ~230,000
objects and 130–500 ms each time, holding the GIL, so the login's rerun and the static files the
browser fetches meanwhile wait for it.

Almost all of those objects are modules and what they hold, alive until the process ends.
:func:`freeze_loaded_modules` collects once and then moves the survivors into the permanent
generation (``gc.freeze``) whenever new modules were imported since the last time, so later
collections walk only what the runs created since. Frozen objects are still freed by reference
counting; only cycles among them are never collected, and they were alive when frozen.
"""
from __future__ import annotations

import gc
import sys
import threading

_lock = threading.Lock()
_frozen_at_modules = 0


def freeze_loaded_modules() -> bool:
    """Collect and freeze when modules were imported since the last freeze (cheap otherwise:
    one length comparison). Returns whether it froze."""
    global _frozen_at_modules
    if len(sys.modules) == _frozen_at_modules:
        return False
    with _lock:
        loaded = len(sys.modules)
        if loaded == _frozen_at_modules:
            return False
        gc.collect()
        gc.freeze()
        _frozen_at_modules = loaded
        return True
