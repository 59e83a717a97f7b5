"""Fixtures of the dbt tests."""
from __future__ import annotations

import pytest

from tests.dbt.build_data import FxReference


@pytest.fixture(scope="session")
def fx() -> FxReference:
    """The shipped FX seed, read independently of dbt."""
    return FxReference()
