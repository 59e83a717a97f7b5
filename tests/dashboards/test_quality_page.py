"""The Data-and-quality page's quarantined rows and ingestion runs, read from each tenant's own
published snapshot (never the build database): real values in the organization's time zone, the
"latest N of M" caption, user text shown as text, every role that may open the page, and tenant
B's canary rows and runs never shown to A, even after B opened the page in this process."""
from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from apptest_support import login as _login
from apptest_support import rendered_text
from tenant_data import PASSWORD, build_world, publish_snapshot, role_email

DATA_QUALITY = "views/12_data_quality.py"
B_CANARY_VALUE = "QQCANARY-B-VALUE"
B_CANARY_FILE = "qqcanary_b_bookings.csv"
B_CANARY_REASON = "QQCANARY-B reason"
T0 = dt.datetime(2025, 3, 14, 9, 15, tzinfo=dt.timezone.utc)

QUARANTINE_SCHEMA = {
    "tenant_id": pl.String, "source": pl.String, "entity": pl.String, "file": pl.String, "row_number": pl.Int64,
    "record_id": pl.String, "column": pl.String, "value": pl.String, "reason": pl.String,
    "quarantined_at": pl.Datetime("us", "UTC"), "run_id": pl.String, "tenant_total": pl.Int64,
}
RUNS_SCHEMA = {
    "tenant_id": pl.String, "run_id": pl.String, "source": pl.String, "entity": pl.String, "file_name": pl.String,
    "started_at": pl.Datetime("us", "UTC"), "ended_at": pl.Datetime("us", "UTC"), "status": pl.String,
    "rows_read": pl.Int64, "rows_loaded": pl.Int64, "rows_quarantined": pl.Int64, "error": pl.String,
    "notes": pl.String, "tenant_total": pl.Int64,
}


def quarantine_frame(tenant_id: str, rows: list[tuple], total: int) -> pl.DataFrame:
    """rows: (source, entity, file, row number, record id, column, value, reason, minutes after T0)."""
    return pl.DataFrame([{"tenant_id": tenant_id, "source": s, "entity": e, "file": f, "row_number": n,
                          "record_id": i, "column": c, "value": v, "reason": r,
                          "quarantined_at": T0 + dt.timedelta(minutes=m), "run_id": "run-1", "tenant_total": total}
                         for s, e, f, n, i, c, v, r, m in rows], schema=QUARANTINE_SCHEMA)


def runs_frame(tenant_id: str, rows: list[tuple], total: int) -> pl.DataFrame:
    """rows: (run id, file name, status, read, loaded, quarantined, error, minutes after T0)."""
    return pl.DataFrame([{"tenant_id": tenant_id, "run_id": run, "source": "file_drop", "entity": "bookings",
                          "file_name": name, "started_at": T0 + dt.timedelta(minutes=m),
                          "ended_at": T0 + dt.timedelta(minutes=m, seconds=3), "status": status, "rows_read": read,
                          "rows_loaded": loaded, "rows_quarantined": quarantined, "error": error, "notes": None,
                          "tenant_total": total}
                         for run, name, status, read, loaded, quarantined, error, m in rows], schema=RUNS_SCHEMA)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("quality-world"))
    a, b = world.a, world.b
    publish_snapshot(world.published_dir, a, frames={
        "quarantined_rows": quarantine_frame(a.tenant_id, [
            ("operational database", "bookings", None, None, "bk-dkk-1", "currency", "DKK",
             "currency 'DKK' has no FX rate (not in the FX seed): its amounts cannot be converted", 90),
            ("file drop", "bookings", f"{a.tenant_id}/bookings/march.csv", 7, None, "final_price", "**12,5**",
             "final_price: '**12,5**' is not a number", 30),
        ], total=812),
        "ingestion_runs": runs_frame(a.tenant_id, [
            ("run-2", "march.csv", "ok", 120, 119, 1, None, 30),
            ("run-1", "broken <b>file</b>.csv", "rejected", 0, 0, 0, "not UTF-8 at byte 17", 10),
        ], total=2),
    })
    publish_snapshot(world.published_dir, b, frames={
        "quarantined_rows": quarantine_frame(b.tenant_id, [
            ("file drop", "bookings", f"{b.tenant_id}/bookings/{B_CANARY_FILE}", 1, None, "title", B_CANARY_VALUE,
             B_CANARY_REASON, 5)], total=1),
        "ingestion_runs": runs_frame(b.tenant_id, [("run-b", B_CANARY_FILE, "ok", 9, 8, 1, None, 5)], total=1),
    })
    # the empty tenant: a version that records both, with nothing in them
    publish_snapshot(world.published_dir, world.empty, frames={
        "quarantined_rows": quarantine_frame(world.empty.tenant_id, [], total=0),
        "ingestion_runs": runs_frame(world.empty.tenant_id, [], total=0)})
    return world


@pytest.fixture
def env(world, monkeypatch):
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    for key in ("AUDITORYX_AS_OF", "AUDITORYX_APP_DATABASE_URL", "AUDITORYX_FRESHNESS_HOURS"):
        monkeypatch.delenv(key, raising=False)
    return world


def open_quality(email: str):
    at = _login(email, PASSWORD)
    at.switch_page(DATA_QUALITY).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Data and quality"
    return at


def table(at, key: str):
    """The page's quarantined-rows or ingestion-runs table (told apart by a column), or None."""
    column = {"quarantined_rows": "Reason", "ingestion_runs": "Started"}[key]
    return next((d.value for d in at.dataframe if column in d.value.columns), None)


def b_markers(world) -> list[str]:
    return [B_CANARY_VALUE, B_CANARY_FILE, B_CANARY_REASON, "run-b", world.b.tenant_id, world.b.name]


def assert_no_b(at, world) -> None:
    text = rendered_text(at)
    assert not [m for m in b_markers(world) if m in text]


def test_quarantined_rows_and_runs_of_the_tenant_with_reasons_in_its_zone(env):
    at = open_quality(env.a.email)
    rows = table(at, "quarantined_rows")
    assert list(rows["Source"]) == ["operational database", f"File {env.a.tenant_id}/bookings/march.csv"]
    assert list(rows["Row"]) == ["bk-dkk-1", "7"] and list(rows["Column"]) == ["currency", "final_price"]
    assert list(rows["Value"]) == ["DKK", "**12,5**"]  # as text, never Markdown
    assert rows["Reason"][0].startswith("currency 'DKK' has no FX rate")
    assert list(rows["When"]) == ["2025-03-14 10:45 UTC", "2025-03-14 09:45 UTC"]  # A: no zone set → UTC
    assert any("the latest 2 of 812" in c.value for c in at.caption)
    runs = table(at, "ingestion_runs")
    assert list(runs["File"]) == ["march.csv", "broken <b>file</b>.csv"]
    assert list(runs["Status"]) == ["Ok", "Rejected"] and list(runs["Error"]) == ["", "not UTF-8 at byte 17"]
    assert (list(runs["Read"]), list(runs["Loaded"]), list(runs["Quarantined"])) == ([120, 0], [119, 0], [1, 0])
    assert list(runs["Started"]) == ["2025-03-14 09:45 UTC", "2025-03-14 09:25 UTC"]
    assert_no_b(at, env)


def test_times_follow_the_organizations_zone(env):
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from operational.db import make_engine
    from operational.models import Organization

    engine = make_engine(env.operational_url)
    try:
        with Session(engine) as session, session.begin():
            session.execute(update(Organization).where(Organization.id == env.b.tenant_id)
                            .values(settings={"base_currency": "EUR", "timezone": "Asia/Tokyo"}))
        at = open_quality(env.b.email)
    finally:
        with Session(engine) as session, session.begin():
            session.execute(update(Organization).where(Organization.id == env.b.tenant_id)
                            .values(settings={"base_currency": "EUR"}))
        engine.dispose()
    assert list(table(at, "quarantined_rows")["When"]) == ["2025-03-14 18:20 JST (Asia/Tokyo)"]
    assert list(table(at, "quarantined_rows")["Value"]) == [B_CANARY_VALUE]  # positive control


def test_empty_and_unrecorded_versions_say_so(env):
    at = open_quality(env.empty.email)
    assert table(at, "quarantined_rows") is None and table(at, "ingestion_runs") is None
    assert any("every row of every source passed the checks" in s.value for s in at.success)
    assert any("No file has been dropped" in i.value for i in at.info)
    # a version published before the quality tables existed: not an error, "not recorded yet"
    publish_snapshot(env.published_dir, env.empty)
    at = open_quality(env.empty.email)
    assert not at.error
    assert [i.value for i in at.info if "does not record" in i.value] == [
        "This version does not record quarantined rows yet; the next refresh adds them.",
        "This version does not record ingestion runs yet; the next refresh adds them."]


@pytest.mark.parametrize("role", ["ORG_ADMIN", "LABEL_MANAGER"])
def test_roles_with_the_page_see_the_rows_and_as_a_never_b(env, role):
    b = open_quality(env.b.email)
    assert B_CANARY_VALUE in rendered_text(b)  # B's readers and caches hold the canary now
    at = open_quality(role_email(env.a, role))
    assert list(table(at, "quarantined_rows")["Value"]) == ["DKK", "**12,5**"]
    assert_no_b(at, env)
    at.run()
    assert_no_b(at, env)


def test_details_read_the_tenants_own_version_only(env):
    """The query layer: the tenant id comes in, only that tenant's folder is read."""
    from dashboards.quality_queries import data_quality_details

    a = data_quality_details(env.a.tenant_id)
    b = data_quality_details(env.b.tenant_id)
    assert a.quarantine_total == 812 and a.runs_total == 2 and a.quarantine.height == 2
    assert b.quarantine["value"].to_list() == [B_CANARY_VALUE]
    everything = " ".join(str(v) for frame in (a.quarantine, a.runs) for row in frame.rows() for v in row)
    assert not [m for m in b_markers(env) if m in everything]
    assert data_quality_details(env.unpublished.tenant_id) is None
