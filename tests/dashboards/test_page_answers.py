"""Page answers stored at publish time (dashboards/page_answers.py, page_precompute.py): each equals
what the page composes from the version's files, a first view reads it instead of the marts, and
it is used only by its own tenant and version, only when written by the same code; a damaged or
foreign file costs nothing but the composing."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import multiprocessing
import shutil
import zoneinfo
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from dashboards import page_answers, page_precompute, parquet_pages, quality_queries, queries, roster_queries
from dashboards.app_settings import settings as app_settings
from dashboards.filters import Filters
from tenant_data import CANARY_ARTIST
from warehouse.layout import current_version

D = dt.date


# ------------------------------------------------------------------------------------ pure


def test_values_round_trip_with_their_types():
    frames: list[pl.DataFrame] = []
    frame = pl.DataFrame({"day": [D(2026, 1, 31), None], "money": [Decimal("1.50"), None],
                          "at": [dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone.utc), None],
                          "n": [1, None], "flag": [True, None], "nothing": [None, None]},
                         schema_overrides={"money": pl.Decimal(38, 2), "n": pl.Int128})
    frame = frame.with_columns(pl.col("at").dt.convert_time_zone("Asia/Tokyo"))
    value = {
        "text": "Ünïcode \u00a0 <b>", "int": 2**70, "bool": False, "none": None, "float": 0.1, "nan": float("nan"),
        "money": Decimal("-0.00"), "date": D(2024, 2, 29),
        "naive": dt.datetime(2026, 3, 1, 12, 30, 1, 5), "utc": dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc),
        "zoned": dt.datetime(2026, 3, 29, 2, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
        "tuple": ("a", ("b",)), "list": [1, [2]], "frame": frame, "empty": frame.clear(), "$": {"$": "decimal"},
        "filters": Filters("custom", D(2026, 1, 1), D(2026, 1, 31), ("RECORDING",), ("art-1",)),
    }
    encoded = page_answers.encode(value, frames)
    assert len(frames) == 2
    back = page_answers.decode(json.loads(json.dumps(encoded)), frames)
    assert page_answers.answers_equal(back, value)
    assert back["zoned"].tzinfo == zoneinfo.ZoneInfo("Europe/Paris") and back["money"].as_tuple() == \
        Decimal("-0.00").as_tuple()
    assert back["frame"].schema == frame.schema and back["frame"]["at"].dtype.time_zone == "Asia/Tokyo"
    entry = page_answers.entry_answer(page_answers.entry_bytes(value))
    assert page_answers.answers_equal(entry, value)


def test_only_registered_classes_and_known_kinds_are_stored_or_read():
    @dataclasses.dataclass(frozen=True)
    class Unregistered:
        x: int

    with pytest.raises(TypeError):
        page_answers.encode(Unregistered(1), [])
    with pytest.raises(TypeError):
        page_answers.encode(object(), [])
    with pytest.raises(TypeError):
        page_answers.encode(dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))), [])
    with pytest.raises(page_answers.AnswerFileError):
        page_answers.decode({"$": "class", "t": "os.system", "v": {}}, [])
    with pytest.raises(page_answers.AnswerFileError):
        page_answers.decode({"$": "pickle", "v": "x"}, [])


def test_equality_sees_types_and_frame_schemas():
    same = pl.DataFrame({"a": [1]})
    assert page_answers.answers_equal({"f": same}, {"f": pl.DataFrame({"a": [1]})})
    assert not page_answers.answers_equal({"f": same}, {"f": same.cast({"a": pl.Int32})})
    assert not page_answers.answers_equal(Decimal("1"), 1)
    assert not page_answers.answers_equal(("a",), ["a"])
    assert not page_answers.answers_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})  # key order is shown order


# --------------------------------------------------------------------------- on a world


def _store(world) -> dict[str, Path]:
    """Store A's and B's answers in their current versions; their version folders."""
    published = app_settings().published_dir
    folders = {}
    for tenant in (world.a, world.b):
        version = current_version(published, tenant.tenant_id)
        page_precompute.store_page_answers(published, tenant.tenant_id, version)
        folders[tenant.tenant_id] = published / tenant.tenant_id / version
    return folders


def _pages(tenant) -> dict[str, object]:
    calls = {
        "label": lambda: queries.label_dashboard(tenant.tenant_id, {}),
        "projects": lambda: queries.project_health(tenant.tenant_id),
        "quality": lambda: queries.data_quality(tenant.tenant_id),
        "quality details": lambda: quality_queries.data_quality_details(tenant.tenant_id),
        "completed bookings": lambda: roster_queries.completed_bookings_by_artist(tenant.tenant_id),
    }
    for artist in tenant.artists:
        calls[f"artist {artist.artist_id}"] = lambda a=artist.artist_id: roster_queries.artist_analytics(tenant.tenant_id, a)
    return calls


def _composed(tenant, monkeypatch) -> dict[str, object]:
    monkeypatch.setattr(queries, "USE_STORED_ANSWERS", False)
    queries.clear_caches()
    answers = {name: call() for name, call in _pages(tenant).items()}
    monkeypatch.setattr(queries, "USE_STORED_ANSWERS", True)
    queries.clear_caches()
    return answers


def refuse_files(patch) -> None:
    """Reading any mart file fails from now on: an answer given came from the stored answers."""
    def refuse(self, table, *args, **kwargs):
        raise pl.exceptions.ComputeError(f"read {table} from the files")

    patch.setattr(parquet_pages.VersionFiles, "table", refuse)


def test_every_stored_answer_equals_the_composed_one_and_is_read_instead_of_the_files(admin_world, monkeypatch):
    _store(admin_world)
    for tenant in (admin_world.a, admin_world.b):
        composed = _composed(tenant, monkeypatch)
        with monkeypatch.context() as patch:
            refuse_files(patch)
            stored = {name: call() for name, call in _pages(tenant).items()}
        for name in composed:
            assert page_answers.answers_equal(stored[name], composed[name]), (tenant.slug, name)
        assert stored["label"].top_performers.height and stored["label"].tenant_id == tenant.tenant_id


def test_a_filtered_view_is_composed_and_any_artist_is_selected_from_the_stored_rows(admin_world, monkeypatch):
    _store(admin_world)
    a = admin_world.a.tenant_id
    monkeypatch.setattr(queries, "USE_STORED_ANSWERS", False)
    unknown = roster_queries.artist_analytics(a, "art-not-there")  # composed from the files
    other_tenants = roster_queries.artist_analytics(a, "art-b1")
    monkeypatch.setattr(queries, "USE_STORED_ANSWERS", True)
    queries.clear_caches()
    refuse_files(monkeypatch)
    assert queries.label_dashboard(a, {}) is not None
    with pytest.raises(queries.DashboardUnavailable):  # not stored: composed from the (refused) files
        queries.label_dashboard(a, {"period": "last_12_months"})
    for artist_id, composed in (("art-not-there", unknown), ("art-b1", other_tenants)):
        stored = roster_queries.artist_analytics(a, artist_id)
        assert stored.lifetime is None and stored.monthly.is_empty()
        assert page_answers.answers_equal(stored, composed)


def test_stored_answers_name_only_their_tenant(admin_world, monkeypatch):
    folders = _store(admin_world)
    a, b = admin_world.a, admin_world.b
    assert CANARY_ARTIST.encode() not in (folders[a.tenant_id] / page_answers.ANSWERS_FILE).read_bytes()
    assert CANARY_ARTIST.encode() in (folders[b.tenant_id] / page_answers.ANSWERS_FILE).read_bytes()
    # B's file planted in A's version (a copy or a link) is not used: A's pages are composed
    for plant in ("copy", "link"):
        target = folders[a.tenant_id] / page_answers.ANSWERS_FILE
        target.unlink()
        if plant == "copy":
            shutil.copyfile(folders[b.tenant_id] / page_answers.ANSWERS_FILE, target)
        else:
            target.symlink_to(folders[b.tenant_id] / page_answers.ANSWERS_FILE)
        queries.clear_caches()
        label = queries.label_dashboard(a.tenant_id, {})
        shown = " ".join(map(str, [*label.artists.values(), *label.top_performers.rows()]))
        assert label.tenant_id == a.tenant_id and CANARY_ARTIST not in shown
        assert set(roster_queries.completed_bookings_by_artist(a.tenant_id)) == {x.artist_id for x in a.artists}
        assert page_answers.answers_equal(label, _composed(a, monkeypatch)["label"])


def test_answers_of_other_code_or_a_damaged_file_are_composed(admin_world, monkeypatch, caplog):
    folders = _store(admin_world)
    a = admin_world.a
    expected = _composed(a, monkeypatch)["label"]
    path = folders[a.tenant_id] / page_answers.ANSWERS_FILE
    with monkeypatch.context() as patch:
        patch.setattr(page_answers, "answer_format", lambda: "other code")
        queries.clear_caches()
        refuse_files(patch)
        with pytest.raises(queries.DashboardUnavailable):  # the file is ignored: composed (from refused files)
            queries.label_dashboard(a.tenant_id, {})
    data = path.read_bytes()
    header_end = len(page_answers.MAGIC) + 4 + int.from_bytes(data[len(page_answers.MAGIC):][:4], "little")
    for damage in (b"not an answers file", data[:header_end - 9], data[:header_end + 10]):
        path.write_bytes(damage)
        queries.clear_caches()
        with caplog.at_level(logging.WARNING, logger="dashboards.queries"):
            assert page_answers.answers_equal(queries.label_dashboard(a.tenant_id, {}), expected)
        assert "stored page answer not used" in caplog.text
        caplog.clear()


def test_a_newly_published_version_is_read_with_its_own_answers(admin_world, monkeypatch):
    from tenant_data import publish_snapshot

    _store(admin_world)
    a = admin_world.a
    first = queries.label_dashboard(a.tenant_id, {})
    published = app_settings().published_dir
    version = publish_snapshot(published, a)  # a new version without stored answers
    later = queries.label_dashboard(a.tenant_id, {})
    assert (first.version, later.version) != (version, version) and later.version == version
    page_precompute.store_page_answers(published, a.tenant_id, version)
    queries.clear_caches()
    assert queries.label_dashboard(a.tenant_id, {}).version == version



def test_answers_composed_by_worker_processes_are_the_ones_composed_here(admin_world, monkeypatch, caplog):
    """Publishing many versions composes their answers in worker processes (warehouse/publish.py
    ``_annotate_versions``): each worker writes the same file this process writes."""
    from auditoryx.pipeline import _store_page_answers
    from warehouse import publish

    here = {tenant_id: (folder / page_answers.ANSWERS_FILE).read_bytes()
            for tenant_id, folder in _store(admin_world).items()}
    published = app_settings().published_dir
    for tenant_id in here:
        (published / tenant_id / current_version(published, tenant_id) / page_answers.ANSWERS_FILE).unlink()
    monkeypatch.setattr(publish, "ANNOTATE_PROCESS_MIN", 1)
    monkeypatch.setattr(publish, "ThreadPoolExecutor", None)  # not in threads of this process
    started = multiprocessing.active_children()
    for tenant_id in here:
        version = current_version(published, tenant_id)
        with caplog.at_level(logging.WARNING, logger="warehouse.publish"):
            publish._annotate_versions(_store_page_answers, published, [tenant_id], version)
        assert not caplog.records
        assert (published / tenant_id / version / page_answers.ANSWERS_FILE).read_bytes() == here[tenant_id]
    assert multiprocessing.active_children() == started  # the workers are gone


def test_when_the_worker_processes_fail_this_process_composes_the_answers(admin_world, monkeypatch, caplog):
    from concurrent.futures.process import BrokenProcessPool

    from auditoryx.pipeline import _store_page_answers
    from warehouse import publish

    here = {tenant_id: (folder / page_answers.ANSWERS_FILE).read_bytes()
            for tenant_id, folder in _store(admin_world).items()}
    published = app_settings().published_dir

    class BrokenPool:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def map(self, *args, **kwargs):
            raise BrokenProcessPool("a worker died")

    monkeypatch.setattr(publish, "ANNOTATE_PROCESS_MIN", 1)
    monkeypatch.setattr(publish, "ProcessPoolExecutor", BrokenPool)
    for tenant_id in here:
        version = current_version(published, tenant_id)
        (published / tenant_id / version / page_answers.ANSWERS_FILE).unlink()
        with caplog.at_level(logging.WARNING, logger="warehouse.publish"):
            publish._annotate_versions(_store_page_answers, published, [tenant_id], version)
        assert "a worker died" in caplog.text and "1 versions composed in this process" in caplog.text
        caplog.clear()
        assert (published / tenant_id / version / page_answers.ANSWERS_FILE).read_bytes() == here[tenant_id]


def test_an_artists_rows_are_found_by_binary_search_as_a_filter_finds_them():
    import random

    rng = random.Random(7)
    ids = ["a", "a-1", "a1", "B", "b", "é", "日本", "z" * 40, "art-10", "art-9", ""]
    monthly = pl.DataFrame({"artist_id": [rng.choice(ids + [None]) for _ in range(400)],
                            "month": [D(2020 + rng.randrange(5), rng.randrange(1, 13), 1) for _ in range(400)],
                            "completed_bookings": [rng.randrange(5) for _ in range(400)],
                            "recognized_revenue": [Decimal(rng.randrange(10**6)) / 100 for _ in range(400)],
                            "hours_delivered": [rng.random() for _ in range(400)]},
                           schema_overrides={"recognized_revenue": pl.Decimal(18, 2)})
    lifetime = pl.DataFrame({name: [None] * len(ids) for name in parquet_pages.LIFETIME_COLUMNS}) \
        .with_columns(pl.Series("artist_id", ids), pl.Series("artist_name", [f"n{i}" for i in range(len(ids))]))

    class Files:
        def table(self, table, columns, where=None):
            frame = lifetime if table == "dim_artists" else monthly
            if where:
                frame = frame.filter(pl.col("artist_id") == where["artist_id"])
            return frame.select(list(columns))

    every = parquet_pages.every_artists_rows(Files())
    index = parquet_pages.artist_index(*every)
    assert index.get_column("artist_id").to_list() == sorted(set(ids))
    for artist_id in [*ids, "missing", "a-0", "zz"]:
        found = parquet_pages.one_artists_rows(*every, index, artist_id)
        assert found[0].equals(parquet_pages.artist_lifetime(Files(), artist_id)), artist_id
        assert found[1].equals(parquet_pages.artist_monthly(Files(), artist_id)), artist_id
