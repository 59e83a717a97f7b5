"""The runner: failures become one-line AuditoryxErrors; a missing FX rate fails the build."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import duckdb
import pytest

from auditoryx.errors import AuditoryxError
from tests.dbt.build_data import create_build_db, utc
from warehouse.dbt_runner import _failure_summary, build_all, dbt_flags


def _booking(booking_id: str, tenant_id: str, currency: str, end: dt.datetime) -> dict:
    return {
        "id": booking_id, "org_id": tenant_id, "artist_id": "a1", "title": booking_id,
        "type": "RECORDING_SESSION", "status": "COMPLETED", "start_date": end - dt.timedelta(hours=1),
        "end_date": end, "duration_minutes": 60, "timezone": "UTC", "currency": currency,
        "final_price": 100, "payment_status": "PAID",
    }


def test_missing_fx_rate_fails_the_build(tmp_path):
    rows = {
        "organizations": [
            {"id": "t1", "name": "T1", "slug": "t1", "type": "RECORD_LABEL", "plan": "FREE",
             "settings": {"base_currency": "EUR"}},
        ],
        "artists": [{"id": "a1", "org_id": "t1", "name": "Ann"}],
        "bookings": [
            _booking("ok", "t1", "USD", utc(2024, 6, 3, 12)),
            _booking("no-such-currency", "t1", "ISK", utc(2024, 6, 3, 12)),   # no ISK in the seed
            _booking("before-first-rate", "t1", "USD", utc(2021, 12, 31, 12)),  # seed starts 2022-01-03
        ],
    }
    build_db = create_build_db(tmp_path / "build.duckdb", rows)

    with pytest.raises(AuditoryxError) as failure:
        build_all(build_db, tmp_path / "work", dt.date(2024, 6, 30))

    message = str(failure.value)
    assert "\n" not in message
    assert "assert_bookings_have_fx_rates" in message
    # no mart was built from the unconvertible bookings (the project and activity marts do not read them)
    with duckdb.connect(str(build_db), read_only=True) as con:
        marts = {
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
    assert marts <= {"fct_project_health", "fct_recent_activity"}

    assert "Got 2 results" in message  # the two bookings that cannot be converted


def test_flags_keep_dbt_out_of_the_repository(tmp_path):
    flags = dbt_flags(work_dir=tmp_path, as_of=dt.date(2024, 1, 31), threads=1)
    values = dict(zip(flags, flags[1:]))
    assert values["--target-path"] == str(tmp_path / "target")
    assert values["--log-path"] == str(tmp_path / "logs")
    assert values["--vars"] == '{"as_of": "2024-01-31"}'
    assert values["--threads"] == "1"


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
