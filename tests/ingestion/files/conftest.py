"""Fixtures of the file-drop tests (helpers live in drops_support.py)."""
from __future__ import annotations

import pytest
from drops_support import Drops


@pytest.fixture
def drops(tmp_path) -> Drops:
    d = Drops(tmp_path)
    yield d
    d.conn.close()
