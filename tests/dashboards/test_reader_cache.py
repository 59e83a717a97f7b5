"""The page data caches of dashboards/queries.py: a rerun returns the composed answer without
opening anything, yet a new version (even a CURRENT rewritten in place a moment later, same size),
a deleted version folder and a newer CHECKED_AT are all noticed on the next call; one reader per
version serves every page, the data-quality tables included."""
from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest

from dashboards import quality_queries, queries, roster_queries
from tenant_data import build_world, publish_snapshot


@pytest.fixture
def world(tmp_path, monkeypatch):
    world = build_world(tmp_path)
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    queries.clear_caches()
    yield world
    queries.clear_caches()


def _readers_of(tenant_id: str) -> list:
    return [key for key in list(queries._readers._items) if key[1] == tenant_id]


def test_a_rerun_returns_the_same_answer_and_opens_nothing(world, monkeypatch):
    tid = world.a.tenant_id
    first = queries.label_dashboard(tid)
    opened = []
    monkeypatch.setattr(queries, "open_version_folder", lambda *a, **k: opened.append(a))
    assert queries.label_dashboard(tid) is first
    assert queries.project_health(tid).version == first.version
    assert opened == []  # the projects page used the reader the dashboard opened


def test_one_reader_per_version_serves_every_page(world):
    tid = world.a.tenant_id
    queries.label_dashboard(tid)
    queries.project_health(tid)
    details = quality_queries.data_quality_details(tid)
    artist = next(iter(queries.label_dashboard(tid).artists))
    roster_queries.artist_analytics(tid, artist)
    assert details.version == queries.snapshot_ref(tid).version
    assert len(_readers_of(tid)) == 1


def test_current_rewritten_in_place_at_once_is_noticed(world):
    """Same inode, same size, within the file system's time granularity: the pointer is still
    read again (it is younger than the racy window)."""
    tid = world.a.tenant_id
    first = queries.label_dashboard(tid)
    newer = publish_snapshot(world.published_dir, world.a)
    (world.published_dir / tid / "CURRENT").write_text(first.version, encoding="utf-8")  # back, in place
    assert queries.label_dashboard(tid).version == first.version
    (world.published_dir / tid / "CURRENT").write_text(newer, encoding="utf-8")
    assert len(newer) == len(first.version)
    assert queries.label_dashboard(tid).version == newer


def test_an_old_pointer_is_trusted_by_its_stat_and_a_replaced_one_is_read(world):
    tid = world.a.tenant_id
    pointer = world.published_dir / tid / "CURRENT"
    past = (dt.datetime.now() - dt.timedelta(minutes=5)).timestamp()
    os.utime(pointer, (past, past))  # old enough to be remembered by its stat
    first = queries.project_health(tid)
    key = (str(world.published_dir.resolve()), tid)
    assert key in queries._pointers._pointers._items
    newer = publish_snapshot(world.published_dir, world.a)  # a new file renamed over it
    assert queries.project_health(tid).version == newer != first.version


def test_a_deleted_version_folder_is_damage_even_when_cached(world):
    tid = world.a.tenant_id
    first = queries.project_health(tid)
    folder = world.published_dir / tid / first.version
    past = (dt.datetime.now() - dt.timedelta(minutes=5)).timestamp()
    os.utime(folder, (past, past))
    queries.project_health(tid)  # the folder's stat remembered as intact
    shutil.rmtree(folder)
    with pytest.raises(queries.PublishedSnapshotDamaged):
        queries.project_health(tid)


def test_a_removed_table_is_damage_even_when_cached(world):
    tid = world.a.tenant_id
    first = queries.label_dashboard(tid)
    (world.published_dir / tid / first.version / "kpi_summary.parquet").unlink()
    with pytest.raises(queries.PublishedSnapshotDamaged):
        queries.label_dashboard(tid)


def test_a_newer_check_time_shows_without_recomposing(world):
    tid = world.a.tenant_id
    first = queries.project_health(tid)
    stamp = dt.datetime(2099, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    (world.published_dir / tid / "CHECKED_AT").write_text(stamp.isoformat(), encoding="utf-8")
    second = queries.project_health(tid)
    assert second.meta["refreshed_at"] == stamp and first.meta["refreshed_at"] != stamp
    assert second.projects is first.projects  # the same composed frames


def test_clear_caches_opens_the_version_again(world):
    tid = world.a.tenant_id
    queries.label_dashboard(tid)
    before = queries._readers.get(_readers_of(tid)[0])
    queries.clear_caches()
    assert _readers_of(tid) == []
    again = queries.label_dashboard(tid)
    assert queries._readers.get(_readers_of(tid)[0]) is not before
    assert again.version == queries.snapshot_ref(tid).version


def test_cache_keys_hold_the_tenant(world):
    a, b = world.a.tenant_id, world.b.tenant_id
    shown_a, shown_b = queries.label_dashboard(a), queries.label_dashboard(b)
    assert shown_a.tenant_id == a and shown_b.tenant_id == b
    assert set(shown_a.artists).isdisjoint(shown_b.artists)
    for key in list(queries._answers._items):
        assert key[0].tenant_id in (a, b)
    for key in list(queries._results._items):
        assert key[0].tenant_id in (a, b)


def test_the_dashboard_prefetches_the_other_pages_of_its_version(world, monkeypatch):
    import time

    monkeypatch.setattr(queries, "PREFETCH_DELAY_SECONDS", 0.0)
    tid = world.a.tenant_id
    shown = queries.label_dashboard(tid)
    queries.prefetch_pages(tid)
    queries.prefetch_pages(tid)  # once per version
    ref = queries.snapshot_ref(tid)
    wanted = {(ref, ("projects",)), (ref, ("data_quality_details",))}
    deadline = time.monotonic() + 20
    while not wanted <= set(queries._answers._items) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert wanted <= set(queries._answers._items)
    assert queries.project_health(tid).version == shown.version
    assert sum(1 for t in __import__("threading").enumerate() if t.name == "auditoryx-prefetch") <= 1
