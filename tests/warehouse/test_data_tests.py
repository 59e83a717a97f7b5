"""The data tests run as SQL outside dbt's runner (warehouse/data_tests.py): judged as dbt judges
them, selected as dbt selected them, compiled once, scoped by a DuckDB variable, and reported in
``run_results.json``."""
from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from warehouse.data_tests import (
    DataTest,
    add_to_run_results,
    cache_path,
    compiled_tests,
    judge,
    load_cached,
    run_tests,
    select_tests,
    data_tests_of_manifest,
    upstream_sources,
)
from warehouse.dbt_runner import FailedTest, attribute_failures, dbt_flags, invoke_dbt

AS_OF = dt.date(2024, 3, 31)


def _test(name: str, sources: tuple[str, ...] = ("bookings",), **config) -> DataTest:
    return DataTest(unique_id=f"test.auditoryx.{name}", name=name, sql="select 1 as x", sources=sources, **config)


def test_judged_as_dbt_judges_a_test():
    warn = _test("w")
    assert judge(warn, 0, False, False) == ("pass", None)
    assert judge(warn, 3, True, True) == ("warn", "Got 3 results, configured to warn if != 0")
    assert judge(warn, 1, True, True) == ("warn", "Got 1 result, configured to warn if != 0")
    error = _test("e", severity="ERROR", error_if="> 5")
    assert judge(error, 9, True, True) == ("fail", "Got 9 results, configured to fail if > 5")
    assert judge(error, 2, True, False) == ("warn", "Got 2 results, configured to warn if != 0")


def test_selected_as_dbt_selected_them():
    seed_only = _test("fx_positive", sources=())
    bookings = _test("bookings_ok", sources=("bookings",))
    joined = _test("bookings_have_rates", sources=("bookings", "organizations"))
    projects = _test("projects_ok", sources=("projects",))
    every = [seed_only, bookings, joined, projects]
    assert select_tests(every, full_refresh=True, scope_tables=["bookings"]) == every
    assert select_tests(every, full_refresh=False, scope_tables=None) == [bookings, joined, projects]
    assert select_tests(every, full_refresh=False, scope_tables=["organizations"]) == [joined]
    assert select_tests(every, full_refresh=False, scope_tables=["bookings", "projects"]) == [bookings, joined, projects]


def test_tests_and_their_sources_from_a_manifest():
    manifest = {
        "sources": {"source.auditoryx.operational.bookings": {"name": "bookings"},
                    "source.auditoryx.operational.artists": {"name": "artists"}},
        "nodes": {
            "model.auditoryx.stg_b": {"resource_type": "model", "depends_on": {"nodes": ["source.auditoryx.operational.bookings"]}},
            "model.auditoryx.stg_a": {"resource_type": "model", "depends_on": {"nodes": ["source.auditoryx.operational.artists"]}},
            "model.auditoryx.mart": {"resource_type": "model", "depends_on": {"nodes": ["model.auditoryx.stg_b", "model.auditoryx.stg_a",
                                                                                       "seed.auditoryx.fx"]}},
            "seed.auditoryx.fx": {"resource_type": "seed", "depends_on": {"nodes": []}},
            "test.auditoryx.t_mart": {"resource_type": "test", "name": "t_mart", "compiled": True, "compiled_code": "select 1",
                                      "depends_on": {"nodes": ["model.auditoryx.mart"]},
                                      "config": {"severity": "warn", "meta": {"advisory": True}}},
            "test.auditoryx.t_fx": {"resource_type": "test", "name": "t_fx", "compiled": True, "compiled_code": "select 2",
                                    "depends_on": {"nodes": ["seed.auditoryx.fx"]},
                                    "config": {"severity": "ERROR", "fail_calc": "sum(n)", "limit": 10}},
            "test.auditoryx.not_compiled": {"resource_type": "test", "name": "x", "compiled": False,
                                            "depends_on": {"nodes": []}, "config": {}},
        },
    }
    assert upstream_sources(manifest, "model.auditoryx.mart") == ("artists", "bookings")
    fx, mart = data_tests_of_manifest(manifest)
    assert mart == DataTest("test.auditoryx.t_mart", "t_mart", "select 1", ("artists", "bookings"), advisory=True)
    assert fx == DataTest("test.auditoryx.t_fx", "t_fx", "select 2", (), severity="ERROR", fail_calc="sum(n)", limit=10)
    assert fx.query().startswith("select sum(n) as failures, sum(n) != 0 as should_warn, sum(n) != 0 as should_error")
    assert "select 2\nlimit 10\n) dbt_internal_test" in fx.query()


def test_compiled_once_per_project_and_day(tmp_path):
    compiled: list[list[str]] = []
    manifest = {"sources": {}, "nodes": {"test.auditoryx.t": {"resource_type": "test", "name": "t", "compiled": True,
                                                              "compiled_code": "select 1", "depends_on": {"nodes": []},
                                                              "config": {}}}}

    def compile_with(args, target):
        compiled.append(args)
        (target / "manifest.json").write_text(json.dumps(manifest))

    db = tmp_path / "build.duckdb"
    first = compiled_tests(tmp_path, "fp1", AS_OF, db, compile_with)
    assert compiled_tests(tmp_path, "fp1", AS_OF, db, compile_with) == first == [DataTest("test.auditoryx.t", "t", "select 1", ())]
    assert len(compiled) == 1 and compiled[0][:3] == ["compile", "--select", "test_type:data"]
    compiled_tests(tmp_path, "fp1", AS_OF + dt.timedelta(days=1), db, compile_with)   # a new day: compiled again…
    assert len(compiled) == 2
    assert [p.name for p in (tmp_path / "data_tests").iterdir()] == [
        cache_path(tmp_path, "fp1", AS_OF + dt.timedelta(days=1), db).name]
    compiled_tests(tmp_path, "fp1", AS_OF + dt.timedelta(days=1), tmp_path / "other" / "build.duckdb", compile_with)
    assert len(compiled) == 3                                                # …for another database too…
    cache_path(tmp_path, "fp2", AS_OF, db).write_text("{not json")          # …and a damaged file is not trusted
    assert load_cached(cache_path(tmp_path, "fp2", AS_OF, db)) is None
    compiled_tests(tmp_path, "fp2", AS_OF, db, compile_with)
    assert len(compiled) == 4

    def failing(args, target):
        return "dbt compile failed: boom"
    from auditoryx.errors import AuditoryxError
    with pytest.raises(AuditoryxError, match="compiling the data tests failed: dbt compile failed: boom"):
        compiled_tests(tmp_path, "fp3", AS_OF, db, failing)
    assert sorted(p.name for p in (tmp_path / "data_tests").iterdir()) == [cache_path(tmp_path, "fp2", AS_OF, db).name]


def test_results_added_to_the_invocations_run_results(tmp_path):
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps({"metadata": {"invocation_id": "abc"}, "elapsed_time": 1.5,
                                "results": [{"unique_id": "model.auditoryx.m", "status": "success"}]}))
    conn = duckdb.connect()
    results = run_tests(conn, [_test("ok"), DataTest("test.auditoryx.bad", "bad", "select * from nowhere", ("bookings",)),
                               DataTest("test.auditoryx.two", "two", "select 1 union all select 2", ("bookings",))], None)
    add_to_run_results(path, results, 0.25)
    document = json.loads(path.read_text())
    assert document["metadata"] == {"invocation_id": "abc"} and document["elapsed_time"] == 1.75
    assert [(r["unique_id"], r["status"], r.get("failures")) for r in document["results"]] == [
        ("model.auditoryx.m", "success", None), ("test.auditoryx.ok", "warn", 1), ("test.auditoryx.bad", "error", None),
        ("test.auditoryx.two", "warn", 2)]
    assert "nowhere" in document["results"][2]["message"]
    add_to_run_results(tmp_path / "new" / "run_results.json", results[:1], 0.1)    # no invocation wrote one
    assert [r["unique_id"] for r in json.loads((tmp_path / "new" / "run_results.json").read_text())["results"]] == [
        "test.auditoryx.ok"]


@pytest.fixture(scope="module")
def project_tests(tmp_path_factory):
    """The project's data tests compiled by dbt (once for this module), with their build database."""
    root = tmp_path_factory.mktemp("compiled")
    build_db = root / "build.duckdb"

    def compile_with(args, target):
        return invoke_dbt(args, build_db=build_db, work_dir=root / "work", as_of=AS_OF, threads=1, target_dir=target,
                          scope_from_variable=True)
    return build_db, compiled_tests(root / "work", "fingerprint", AS_OF, build_db, compile_with)


def test_compiled_tests_read_the_scope_when_they_run(project_tests):
    _, tests = project_tests
    by_name = {t.name: t for t in tests}
    assert len(tests) > 100
    unique = by_name[next(n for n in by_name if n.startswith("unique_int_bookings_enriched_booking_id"))]
    assert "getvariable('auditoryx_tenant_scope')" in unique.sql and unique.sources
    assert "getvariable" not in by_name["assert_fx_rates_positive"].sql   # the FX seed has no tenants
    assert by_name["assert_fx_rates_positive"].sources == ()
    assert any(t.advisory for t in tests)


def test_the_scope_is_read_from_the_variable_and_failures_pinned_on_its_tenants(project_tests):
    """Booking b1 twice in tenant t-a, b2 in t-a and in the canary tenant: a build limited to
    t-a sees only b1 and pins it on t-a; a build of every tenant sees both, b2 on both tenants."""
    build_db, tests = project_tests
    unique = next(t for t in tests if t.name.startswith("unique_int_bookings_enriched_booking_id"))
    with duckdb.connect(str(build_db)) as conn:
        conn.execute("create schema if not exists intermediate")
        conn.execute("create or replace table intermediate.int_bookings_enriched as select * from (values "
                     "('t-a', 'b1'), ('t-a', 'b1'), ('t-a', 'b2'), ('t-canary', 'b2'), ('t-canary', 'b3')) "
                     "v(tenant_id, booking_id)")
        scoped, = run_tests(conn, [unique], ["t-a"])
        every, = run_tests(conn, [unique], None)
    assert (scoped.status, scoped.failures) == ("warn", 1)
    assert (every.status, every.failures) == ("warn", 3)

    def pinned(scope):
        failed = FailedTest(unique.name, 1, "Got 1 result", unique.sql)
        return {tenant: len(reasons) for tenant, reasons in attribute_failures(build_db, [failed], scope).by_tenant.items()}
    assert pinned(["t-a"]) == {"t-a": 1}
    assert pinned(None) == {"t-a": 1, "t-canary": 1}
    assert pinned(["t-canary"]) == {}


@pytest.mark.parametrize("scope_tables", [None, ["bookings"], ["projects", "project_milestones"]])
def test_selection_equals_dbts_own(project_tests, tmp_path, monkeypatch, scope_tables):
    """The tests select_tests picks are the data tests `dbt ls` lists for the same build's flags."""
    from dbt.cli.main import dbtRunner

    from warehouse.dbt_runner import BuildPlan

    build_db, tests = project_tests
    plan = BuildPlan(build_db, "fingerprint", False, ["t-a"], dt.datetime.now(dt.timezone.utc), scope_tables)
    flags = [f for f in plan.flags(whole_project=True) if f not in ("--exclude-resource-type", "unit_test", "seed", "test")]
    monkeypatch.setenv("AUDITORYX_BUILD_DB", str(build_db))
    common = dbt_flags(work_dir=tmp_path, as_of=AS_OF, threads=1)
    del common[common.index("--threads"):common.index("--threads") + 2]   # `dbt ls` takes no threads
    listed = dbtRunner().invoke(["ls", *flags, "--resource-type", "test", "--output", "json", "--output-keys", "unique_id",
                                 *common])
    assert listed.success
    expected = {json.loads(line)["unique_id"] for line in listed.result}
    selected = {t.unique_id for t in select_tests(tests, full_refresh=False, scope_tables=scope_tables)}
    assert selected == expected and selected
