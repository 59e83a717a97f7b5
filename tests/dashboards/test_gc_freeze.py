"""dashboards/gc_freeze.py: imported modules leave Streamlit's per-run collection."""
from __future__ import annotations

import gc
import importlib
import sys
import weakref

import pytest

from dashboards import gc_freeze


@pytest.fixture
def unfreeze():
    yield
    gc.unfreeze()  # give the test process its collector back


def test_freezes_once_per_new_import(tmp_path, monkeypatch, unfreeze):
    gc_freeze.freeze_loaded_modules()
    assert gc_freeze.freeze_loaded_modules() is False  # nothing new imported: a length comparison
    (tmp_path / "gc_freeze_probe.py").write_text("TABLE = {str(i): [i] for i in range(1000)}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("gc_freeze_probe")
    probe = {id(module.TABLE), *(id(value) for value in module.TABLE.values())}

    def young() -> int:  # the probe's objects still in a generation a collection walks
        return sum(1 for obj in gc.get_objects() if id(obj) in probe)
    try:
        assert young() == len(probe)
        assert gc_freeze.freeze_loaded_modules() is True
        # the new module's objects left the young generations (the frozen count itself is no
        # measure: frozen objects freed meanwhile by reference counting leave it too)
        assert young() == 0
        assert gc_freeze.freeze_loaded_modules() is False
    finally:
        sys.modules.pop(module.__name__, None)


def test_garbage_cycles_are_collected_before_freezing(tmp_path, monkeypatch, unfreeze):
    gc_freeze.freeze_loaded_modules()

    class Node:
        pass

    cycle = Node()
    cycle.self = cycle
    ref = weakref.ref(cycle)
    del cycle
    (tmp_path / "gc_freeze_probe2.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("gc_freeze_probe2")
    try:
        assert gc_freeze.freeze_loaded_modules() is True
        assert ref() is None  # collected, not frozen forever
    finally:
        sys.modules.pop("gc_freeze_probe2", None)
