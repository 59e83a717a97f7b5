"""Issue 18: a refresh that changes nothing republishes nothing. A tenant whose content digest is
the one recorded for the version its healthy CURRENT names keeps that version (only its
CHECKED_AT moves, and readers show that as the last refresh); a changed tenant, a deleted build
database (a cache) or a damaged pointer still publish a new version."""
from __future__ import annotations

import datetime as dt
import shutil
import time

import duckdb
import pytest
from sqlalchemy import select, update

from auditoryx import pipeline
from warehouse.build_db import connect_build, ensure_raw_tables
from warehouse.layout import (
    CHECKED_STAMP,
    PUBLISHED_MARTS,
    current_version,
    last_refresh,
    platform_dir,
    read_checked,
    read_pointer,
    tenant_dir,
    write_checked,
)
from warehouse.publish import DIGESTS_TABLE, combine_digest
from warehouse.reader import open_tenant_snapshot
from warehouse.unpublished import mark_unpublished, unpublished

AS_OF = dt.date(2026, 6, 30)
TENANTS = ("tenant-a", "tenant-b", "tenant-c")  # tenant-c has no mart rows


def _make_build(path, amount_a: str = "10.25") -> None:
    """A build database with raw organizations and small stand-in marts, tenant and platform."""
    conn = connect_build(path)
    try:
        ensure_raw_tables(conn)
        for tenant in TENANTS:
            conn.execute("INSERT INTO raw_organizations (id, name, slug, settings) VALUES (?, ?, ?, ?)",
                         [tenant, tenant.upper(), tenant, '{"base_currency": "USD"}'])
        conn.execute("CREATE SCHEMA marts")
        for mart in PUBLISHED_MARTS:
            conn.execute(f"CREATE TABLE marts.{mart} (tenant_id VARCHAR, label VARCHAR, amount DECIMAL(18,2))")
            conn.executemany(f"INSERT INTO marts.{mart} VALUES (?, ?, ?)",
                             [["tenant-a", "alpha row", amount_a], ["tenant-b", "beta row", "99.99"]])
        conn.execute("CREATE TABLE marts.platform_tenant_summary AS "
                     "SELECT id AS tenant_id, slug, 1::BIGINT AS total_bookings FROM raw_organizations")
        conn.execute("CREATE TABLE marts.platform_overview AS SELECT 'pro' AS plan, 3::BIGINT AS tenants")
    finally:
        conn.close()


def _publish(settings):
    return pipeline.publish(settings, AS_OF)


def _state(published):
    """tenant (and _platform) → (CURRENT, version folders)."""
    folders = {t: tenant_dir(published, t) for t in TENANTS} | {"_platform": platform_dir(published)}
    return {name: (read_pointer(folder), sorted(p.name for p in folder.iterdir() if p.is_dir()))
            for name, folder in folders.items()}


@pytest.fixture
def settings(app_env):
    app_env.build_database_path.parent.mkdir(parents=True, exist_ok=True)
    _make_build(app_env.build_database_path)
    return app_env


def test_the_digest_combines_every_part_and_ignores_their_order():
    tables = [("kpi_summary", "tenant_id:VARCHAR", (2, 7, 9)), ("meta", "tenant_id:VARCHAR", (1, 3, 3))]
    digest = combine_digest(AS_OF, "defs-1", tables)
    assert digest == combine_digest(AS_OF, "defs-1", list(reversed(tables)))
    changed = [
        combine_digest(AS_OF + dt.timedelta(days=1), "defs-1", tables),
        combine_digest(AS_OF, "defs-2", tables),
        combine_digest(AS_OF, "defs-1", [("kpi_summary", "tenant_id:VARCHAR", (2, 7, 10)), tables[1]]),
        combine_digest(AS_OF, "defs-1", [("kpi_summary", "tenant_id:VARCHAR,x:INTEGER", (2, 7, 9)), tables[1]]),
        combine_digest(AS_OF, "defs-1", [("fct_other", "tenant_id:VARCHAR", (2, 7, 9)), tables[1]]),
        combine_digest(AS_OF, "defs-1", tables[:1]),
    ]
    assert len({digest, *changed}) == 7


def test_checked_stamp_round_trip_and_the_later_time_wins(tmp_path):
    assert read_checked(tmp_path) is None
    when = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.timezone.utc)
    write_checked(tmp_path, when)
    assert read_checked(tmp_path) == when and not (tmp_path / (CHECKED_STAMP + ".tmp")).exists()
    (tmp_path / CHECKED_STAMP).write_text("garbage", encoding="utf-8")
    assert read_checked(tmp_path) is None
    earlier, later = when - dt.timedelta(hours=1), when + dt.timedelta(hours=1)
    assert last_refresh(earlier, when) == when and last_refresh(later, when) == later
    assert last_refresh(earlier, None) == earlier and last_refresh(None, when) == when
    assert last_refresh(later.replace(tzinfo=None), when) == later.replace(tzinfo=None)  # naive is UTC


def test_nothing_changed_keeps_every_version_and_readers_show_the_new_check(settings, monkeypatch):
    from dashboards import queries
    from pipelines.snapshot_health import check_tenant, snapshot_health

    published = settings.published_dir
    first = _publish(settings)
    assert sorted(first.tenant_ids) == list(TENANTS) and first.kept == ()
    before = _state(published)
    checked = {t: read_checked(tenant_dir(published, t)) for t in TENANTS}
    assert all(checked.values()) and read_checked(platform_dir(published)) is not None
    time.sleep(0.01)
    lines: list[str] = []
    second = pipeline.publish(settings, AS_OF, progress=lines.append)
    assert second.tenant_ids == () and sorted(second.kept) == list(TENANTS)
    assert "0 tenants published, 3 unchanged (kept their versions)" in lines
    assert _state(published) == before  # same CURRENT everywhere, no new version folder (platform too)
    assert not any((published / "_staging").glob("*"))
    for tenant in TENANTS:
        assert read_checked(tenant_dir(published, tenant)) > checked[tenant]
    newer = read_checked(tenant_dir(published, "tenant-a"))
    snap = open_tenant_snapshot(published, "tenant-a")
    try:
        stored = snap.meta()["refreshed_at"]
    finally:
        snap.close()
    assert stored < newer
    meta = queries.snapshot_meta("tenant-a")
    assert meta["version"] == before["tenant-a"][0] and meta["refreshed_at"] == newer
    assert check_tenant(settings, "tenant-a").refreshed_at == newer
    assert snapshot_health(settings, deep=())["tenant-b"].refreshed_at == read_checked(tenant_dir(published, "tenant-b"))


def test_only_the_changed_tenant_gets_a_new_version(settings):
    published = settings.published_dir
    _publish(settings)
    before = _state(published)
    with duckdb.connect(str(settings.build_database_path)) as conn:
        conn.execute("UPDATE marts.kpi_summary SET amount = 10.26 WHERE tenant_id = 'tenant-a'")
    mark_unpublished(settings.build_database_path, ["tenant-a"])  # as the build that changed it does
    result = _publish(settings)
    after = _state(published)
    assert result.tenant_ids == ("tenant-a",) and sorted(result.kept) == ["tenant-b", "tenant-c"]
    assert after["tenant-a"][0] == result.version != before["tenant-a"][0]
    assert after["tenant-b"] == before["tenant-b"] and after["tenant-c"] == before["tenant-c"]
    assert after["_platform"][0] != before["_platform"][0]  # tenant-a's snapshot version changed there
    snap = open_tenant_snapshot(published, "tenant-a")
    try:
        assert [str(a) for (a,) in snap.query("SELECT amount FROM kpi_summary").rows()] == ["10.26"]
    finally:
        snap.close()
    assert _publish(settings).tenant_ids == ()  # and then stable


def test_only_the_tenants_a_build_marked_have_their_tables_read_again(settings):
    """The digest of a tenant no build changed since its last publish is the recorded one: its
    tables are not read (a change made behind the builds' back is not seen), until a build marks
    it, or every tenant (a full or unscoped build)."""
    published = settings.published_dir
    _publish(settings)
    with duckdb.connect(str(settings.build_database_path)) as conn:
        assert unpublished(conn) == set()  # every digest taken: nothing marked
        conn.execute("UPDATE marts.kpi_summary SET amount = 55.55 WHERE tenant_id IN ('tenant-a', 'tenant-b')")
    before = _state(published)
    assert _publish(settings).tenant_ids == () and _state(published) == before
    mark_unpublished(settings.build_database_path, ["tenant-b"])
    assert _publish(settings).tenant_ids == ("tenant-b",)
    mark_unpublished(settings.build_database_path, None)  # every tenant
    with duckdb.connect(str(settings.build_database_path)) as conn:
        assert unpublished(conn) is None
    assert _publish(settings).tenant_ids == ("tenant-a",)
    with duckdb.connect(str(settings.build_database_path)) as conn:
        assert unpublished(conn) == set()


def test_forgetting_marks_keeps_the_tenants_not_digested():
    from warehouse.unpublished import forget_unpublished

    conn = duckdb.connect(":memory:")
    assert unpublished(conn) is None  # no table yet: every tenant
    forget_unpublished(conn, ["tenant-a"], TENANTS)
    assert unpublished(conn) == {"tenant-b", "tenant-c"}
    forget_unpublished(conn, ["tenant-b", "tenant-x"], TENANTS)
    assert unpublished(conn) == {"tenant-c"}


def test_a_deleted_build_database_republishes_everyone_once(settings):
    published = settings.published_dir
    _publish(settings)
    before = _state(published)
    settings.build_database_path.unlink()  # a cache: rebuilt with the same content, no digests recorded
    _make_build(settings.build_database_path)
    again = _publish(settings)
    assert sorted(again.tenant_ids) == list(TENANTS) and again.kept == ()
    assert all(_state(published)[t][0] == again.version != before[t][0] for t in TENANTS)
    stable = _state(published)
    third = _publish(settings)
    assert third.tenant_ids == () and _state(published) == stable


def test_a_damaged_pointer_or_missing_version_is_still_repaired(settings):
    published = settings.published_dir
    first = _publish(settings)
    (tenant_dir(published, "tenant-b") / "CURRENT").write_text("garbage\n", encoding="utf-8")
    shutil.rmtree(tenant_dir(published, "tenant-c") / first.version)
    result = _publish(settings)
    assert sorted(result.tenant_ids) == ["tenant-b", "tenant-c"] and result.kept == ("tenant-a",)
    assert any("tenant tenant-b" in w and "repaired" in w for w in result.warnings)
    assert current_version(published, "tenant-b") == current_version(published, "tenant-c") == result.version
    assert current_version(published, "tenant-a") == first.version
    assert _publish(settings).tenant_ids == ()


def test_a_recovered_tenant_is_published_even_with_unchanged_content(settings):
    from warehouse.tenant_status import read_status, write_failed

    published = settings.published_dir
    first = _publish(settings)
    write_failed(published, "tenant-a", ["a data test failed"])  # as a failed build leaves it
    result = _publish(settings)
    assert "tenant-a" in result.tenant_ids and current_version(published, "tenant-a") != first.version
    assert read_status(published, "tenant-a") is None


def test_refresh_twice_with_no_change_then_one_booking(app_env, monkeypatch):
    """End to end: the second refresh runs no dbt and keeps every version; a changed booking
    builds and republishes its tenant only."""
    from warehouse import dbt_runner
    from operational.db import create_schema, make_engine
    from operational.generator import generate
    from operational.enums import BookingStatus
    from operational.models import Booking
    from operational.permissions import Actor
    from warehouse.tenant_analytics import TenantAnalytics

    settings = app_env
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    tenants = generate(engine, tenants=2, seed=5, as_of=settings.as_of, password="pw", scale=0.03)
    ids = sorted(t.id for t in tenants)
    published = settings.published_dir
    pipeline.refresh(settings)
    versions = {t: current_version(published, t) for t in ids}
    folders = {t: sorted(p.name for p in tenant_dir(published, t).iterdir() if p.is_dir()) for t in ids}
    checked = {t: read_checked(tenant_dir(published, t)) for t in ids}
    platform = read_pointer(platform_dir(published))

    builds: list = []
    real_invoke = dbt_runner.invoke_dbt_outcome

    def counting_invoke(*args, **kwargs):
        builds.append(kwargs.get("tenant_scope"))
        return real_invoke(*args, **kwargs)

    monkeypatch.setattr(dbt_runner, "invoke_dbt_outcome", counting_invoke)
    quiet = pipeline.refresh(settings)
    assert builds == []  # nothing changed anywhere: the all-tenant refresh builds nothing
    assert quiet.publication.tenant_ids == () and sorted(quiet.publication.kept) == ids
    assert {t: current_version(published, t) for t in ids} == versions
    assert {t: sorted(p.name for p in tenant_dir(published, t).iterdir() if p.is_dir()) for t in ids} == folders
    assert all(read_checked(tenant_dir(published, t)) > checked[t] for t in ids)
    assert read_pointer(platform_dir(published)) == platform
    analytics = TenantAnalytics(published)  # the API's answers show the new check time too
    try:
        answer = analytics.dashboard(Actor.of(user_id=None, tenant_id=ids[0], role="ORG_ADMIN"))
    finally:
        analytics.close()
    assert answer["snapshot"] == {"version": versions[ids[0]],
                                  "refreshed_at": read_checked(tenant_dir(published, ids[0])).isoformat()}

    changed = ids[0]
    with engine.begin() as conn:
        booking = conn.execute(select(Booking.id).where(Booking.org_id == changed, Booking.status == BookingStatus.COMPLETED)
                               .order_by(Booking.id).limit(1)).scalar()
        conn.execute(update(Booking).where(Booking.id == booking).values(
            final_price=Booking.final_price + 1, updated_at=dt.datetime.now(dt.timezone.utc)))
    engine.dispose()
    busy = pipeline.refresh(settings)
    assert builds == [[changed]]  # one build, limited to the tenant whose booking changed
    assert busy.publication.tenant_ids == (changed,) and busy.publication.kept == tuple(ids[1:])
    assert current_version(published, changed) != versions[changed]
    assert current_version(published, ids[1]) == versions[ids[1]]
