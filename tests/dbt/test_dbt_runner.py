"""The runner: failures become one-line AuditoryxErrors; a missing FX rate fails its tenant."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import duckdb
import pytest

from auditoryx.errors import AuditoryxError
from tests.dbt.build_data import create_build_db, utc
from warehouse.dbt_runner import _failure_summary, build_all, dbt_flags, tenant_failures
from warehouse.pending import build_scope


def _booking(booking_id: str, tenant_id: str, currency: str, end: dt.datetime) -> dict:
    return {
        "id": booking_id, "org_id": tenant_id, "artist_id": "a1", "title": booking_id,
        "type": "RECORDING_SESSION", "status": "COMPLETED", "start_date": end - dt.timedelta(hours=1),
        "end_date": end, "duration_minutes": 60, "timezone": "UTC", "currency": currency,
        "final_price": 100, "payment_status": "PAID",
    }


def test_missing_fx_rate_fails_its_tenant(tmp_path):
    rows = {
        "organizations": [
            {"id": "t1", "name": "T1", "slug": "t1", "type": "RECORD_LABEL", "plan": "FREE",
             "settings": {"base_currency": "EUR"}},
            {"id": "t2", "name": "T2", "slug": "t2", "type": "RECORD_LABEL", "plan": "FREE"},
        ],
        "artists": [{"id": "a1", "org_id": "t1", "name": "Ann"}, {"id": "a2", "org_id": "t2", "name": "Bo"}],
        "bookings": [
            _booking("ok", "t1", "USD", utc(2024, 6, 3, 12)),
            _booking("no-such-currency", "t1", "ISK", utc(2024, 6, 3, 12)),   # no ISK in the seed
            _booking("before-first-rate", "t1", "USD", utc(2021, 12, 31, 12)),  # seed starts 2022-01-03
            {**_booking("fine", "t2", "EUR", utc(2024, 6, 3, 12)), "artist_id": "a2"},
        ],
    }
    build_db = create_build_db(tmp_path / "build.duckdb", rows)

    build_all(build_db, tmp_path / "work", dt.date(2024, 6, 30))  # t2 is not stopped by t1's rows

    failures = tenant_failures(build_db)
    assert list(failures) == ["t1"]
    reasons = " | ".join(failures["t1"])
    assert "\n" not in reasons
    assert "dbt test assert_bookings_have_fx_rates: 2 failing rows" in reasons  # the two unconvertible bookings
    assert "currency=ISK" in reasons
    assert build_scope(build_db) == ["t1"]  # checked again by every build until it passes
    with duckdb.connect(str(build_db), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_revenue_monthly where tenant_id = 't2'").fetchone()[0] > 0

    with duckdb.connect(str(build_db)) as con:  # fixed at the source: the next build clears it
        con.execute("delete from main.raw_bookings where id in ('no-such-currency', 'before-first-rate')")
    build_all(build_db, tmp_path / "work", dt.date(2024, 6, 30))
    assert tenant_failures(build_db) == {} and build_scope(build_db) is None


def test_a_failing_test_without_tenants_fails_the_build(tmp_path):
    """Failing rows that name no tenant (no tenant_id column, or a NULL one) cannot be pinned on a
    tenant: the whole build fails; the others are counted per tenant with a first row quoted."""
    from warehouse.dbt_runner import FailedTest, attribute_failures

    build_db = create_build_db(tmp_path / "build.duckdb", {})
    failures = attribute_failures(build_db, [
        FailedTest("no_tenant_column", 1, "Got 1 result", "select 1 as n"),
        FailedTest("null_tenant", 1, "Got 1 result", "select null as tenant_id"),
        FailedTest("pinned", 2, "Got 2 results", "select * from (values ('t9', 'x'), ('t9', 'y')) v(tenant_id, k)"),
    ])
    assert failures.by_tenant == {"t9": ["dbt test pinned: 2 failing rows, e.g. k=x"]}
    assert [u.split(" (")[0] for u in failures.unattributed] == ["test no_tenant_column", "test null_tenant"]
    assert "not limited to tenants" in failures.summary()


def test_flags_keep_dbt_out_of_the_repository(tmp_path):
    flags = dbt_flags(work_dir=tmp_path, as_of=dt.date(2024, 1, 31), threads=1)
    values = dict(zip(flags, flags[1:]))
    assert values["--target-path"] == str(tmp_path / "target")
    assert values["--log-path"] == str(tmp_path / "logs")
    assert values["--vars"] == '{"as_of": "2024-01-31"}'
    assert values["--threads"] == "1"
    assert values["--log-level"] == "warn" and values["--log-level-file"] == "info"  # dbt's chatter: the file


def test_failure_summary_names_failing_nodes():
    def node_result(name: str, resource_type: str, status: str, message: str | None):
        return SimpleNamespace(
            node=SimpleNamespace(name=name, resource_type=resource_type),
            status=SimpleNamespace(value=status),
            message=message,
        )

    result = SimpleNamespace(
        exception=None,
        result=SimpleNamespace(results=[
            node_result("stg_x", "model", "success", "OK"),
            node_result("not_null_x_id", "test", "fail", "Got 3 results,\nconfigured to fail if != 0"),
            node_result("fct_y", "model", "error", "Binder Error: column z"),
            node_result("fct_z", "model", "skipped", None),
        ]),
    )
    summary = _failure_summary("build", result)
    assert summary == (
        "dbt build failed, 2 failing: test not_null_x_id (fail: Got 3 results, configured to fail if != 0); "
        "model fct_y (error: Binder Error: column z); 1 skipped"
    )
    crashed = SimpleNamespace(exception=RuntimeError("profile\nnot found"), result=None)
    assert _failure_summary("build", crashed) == "dbt build failed: profile not found"


@pytest.mark.parametrize("bad", ["", "2024-13-01x", None])
def test_run_dbt_rejects_bad_arguments(tmp_path, bad):
    from warehouse.dbt_runner import run_dbt

    with pytest.raises(AuditoryxError):
        if bad == "":
            run_dbt([], build_db=tmp_path / "b.duckdb", work_dir=tmp_path, as_of=dt.date(2024, 1, 1))
        else:
            run_dbt(["build"], build_db=tmp_path / "b.duckdb", work_dir=tmp_path, as_of=bad)


def test_a_process_parses_the_project_once_per_database_and_day(tmp_path):
    """dbt's parsed project is kept for the next build of the same database and as-of date (dbt
    then neither reads nor writes its partial-parse state); a new day parses again."""
    from warehouse import dbt_runner

    rows = {"organizations": [{"id": "t1", "name": "T1", "slug": "t1", "type": "RECORD_LABEL", "plan": "FREE"}],
            "artists": [{"id": "a1", "org_id": "t1", "name": "Ann"}],
            "bookings": [_booking("b1", "t1", "USD", utc(2024, 6, 3, 12))]}
    build_db = create_build_db(tmp_path / "build.duckdb", rows).resolve()
    work, day = tmp_path / "work", dt.date(2024, 6, 30)
    state = work / "target" / "partial_parse.msgpack"
    build_all(build_db, work, day)
    written, kept = state.stat().st_mtime_ns, dict(dbt_runner._MANIFESTS)
    assert [key[:2] for key in kept] == [(str(build_db), day)]

    assert build_all(build_db, work, day, full_refresh=True) is True          # dbt ran again…
    assert state.stat().st_mtime_ns == written                                # …on the project parsed before
    assert dbt_runner._MANIFESTS.keys() == kept.keys() and all(dbt_runner._MANIFESTS[k] is kept[k] for k in kept)

    build_all(build_db, work, day + dt.timedelta(days=1))                      # a new as-of date: parsed again
    assert state.stat().st_mtime_ns > written
    assert [key[:2] for key in dbt_runner._MANIFESTS] == [(str(build_db), day + dt.timedelta(days=1))]
