from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the project is importable without being installed
    sys.path.insert(0, str(ROOT))

from tenant_data import World, build_world  # noqa: E402


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    """Operational DB + published snapshots for tenants A, B (canary), empty, unpublished."""
    return build_world(tmp_path_factory.mktemp("dashboards-world"))


@pytest.fixture
def world_env(world, monkeypatch) -> World:
    """Point AUDITORYX_* settings at the test world (never at ./var or $HOME)."""
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    return world


@pytest.fixture
def admin_world(tmp_path, monkeypatch) -> World:
    """A world of the test's own (for pages that change it), with the settings pointing at it."""
    world = build_world(tmp_path / "world")
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    monkeypatch.delenv("AUDITORYX_APP_DATABASE_URL", raising=False)
    return world
