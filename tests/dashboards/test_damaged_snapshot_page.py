"""A tenant whose published snapshot is damaged sees a clear message on the label dashboard (no
uncaught error, not the untrue "No analytics have been published…"); the others are unaffected."""
from __future__ import annotations

import shutil

import pytest

from apptest_support import login
from tenant_data import PASSWORD, build_world

DAMAGED = "Your analytics could not be loaded right now (the published version is damaged); " \
          "it is repaired by the next refresh."


def _corrupt(world, how: str) -> None:
    tenant_folder = world.published_dir / world.a.tenant_id
    pointer = tenant_folder / "CURRENT"
    version = pointer.read_text().strip()
    if how == "garbage":
        pointer.write_text("garbage-not-a-version\n")
    elif how == "empty":
        pointer.write_text("")
    elif how == "deleted folder":
        shutil.rmtree(tenant_folder / version)
    elif how == "incomplete folder":
        (tenant_folder / version / "kpi_summary.parquet").unlink()
    elif how == "names a missing version":
        pointer.write_text("v20990101T000000000000Z-abcdef\n")


@pytest.mark.parametrize("how", ["garbage", "empty", "deleted folder", "incomplete folder",
                                 "names a missing version"])
def test_damaged_snapshot_shows_a_clear_message(tmp_path, monkeypatch, how):
    world = build_world(tmp_path)
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    healthy = login(world.a.email, PASSWORD)  # opened (and cached) before the damage
    assert healthy.metric and not healthy.exception
    _corrupt(world, how)

    at = login(world.a.email, PASSWORD)
    assert not at.exception
    assert at.title[0].value == world.a.name
    assert [e.value for e in at.error] == [DAMAGED]
    assert not any("No analytics have been published" in i.value for i in at.info)
    assert not at.metric and not at.dataframe

    other = login(world.b.email, PASSWORD)  # another tenant is unaffected
    assert not other.exception and other.metric and not other.error


def test_never_published_still_says_so(tmp_path, monkeypatch):
    world = build_world(tmp_path)
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    (world.published_dir / world.a.tenant_id / "CURRENT").unlink()  # no pointer: never published
    at = login(world.a.email, PASSWORD)
    assert not at.exception and not at.error
    assert any("No analytics have been published" in i.value for i in at.info)
