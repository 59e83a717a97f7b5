"""The pages' statements answered from the version's Parquet files (dashboards/parquet_pages.py)
give exactly what their SQL gives on the confined DuckDB reader: the same rows, order and types,
statement by statement and page by page, on a two-tenant world whose files hold awkward values
(blank and padded names, case ties, NULLs in sort keys and sums, a row of the other tenant
planted in A's files) and whose B version is written by DuckDB as publishing writes it (time-zone
aware times). Isolation: only validated names become paths, no link is followed out of the
version folder, another tenant's rows never come out."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from auditoryx.errors import AuditoryxError
from dashboards import parquet_pages, quality_queries, queries, roster_queries
from label_data import dim_artists_frame, label_frames
from tenant_data import AS_OF, CANARY_ARTIST, build_world, publish_snapshot
from test_quality_page import quarantine_frame, runs_frame
from warehouse.reader import SnapshotDamaged

D = dt.date
MONEY = pl.Decimal(18, 2)
T0 = dt.datetime(2025, 3, 14, 9, 15, tzinfo=dt.timezone.utc)


def _awkward_frames(a, b_id: str) -> dict[str, pl.DataFrame]:
    """Tenant A's marts with the values SQL and Polars could disagree on, and one row of B's."""
    frames = label_frames(a, AS_OF)
    dim = dim_artists_frame(a)
    extra = [  # (artist id, legal name, stage name)
        ("art-a4", " Zed  Padded ", "   "), ("art-a5", None, None), ("art-a6", "Tab", "\tTabbed"),
        ("art-a7", "E1", "émile"), ("art-a8", "E2", "Émile"), ("art-a9", "J", "日本の歌手"),
        ("art-a10", "L", "lumen vale"), ("art-a11", "N", "\u00a0Nbsp "), ("art-a12", "", " "),
    ]
    rows = [{**dim.row(0, named=True), "artist_id": aid, "artist_name": name, "stage_name": stage}
            for aid, name, stage in extra]
    foreign = {**dim.row(0, named=True), "tenant_id": b_id, "artist_id": "art-b1", "stage_name": CANARY_ARTIST}
    frames["dim_artists"] = pl.concat([dim, pl.DataFrame(rows + [foreign], schema=dim.schema)])
    daily = frames["fct_bookings_daily"]
    ghost = daily.head(3).with_columns(pl.lit("art-ghost").alias("artist_id"))  # not in dim_artists
    planted = daily.head(2).with_columns(pl.lit(b_id).alias("tenant_id"), pl.lit("art-b1").alias("artist_id"))
    frames["fct_bookings_daily"] = pl.concat([daily, ghost, planted])
    health = {"tenant_id": pl.String, "project_id": pl.String, "name": pl.String, "status": pl.String,
              "budget": MONEY, "spent": MONEY, "budget_used_pct": pl.Float64, "milestones_total": pl.Int64,
              "milestones_completed": pl.Int64, "milestones_overdue": pl.Int64, "is_over_budget": pl.Boolean,
              "is_past_deadline": pl.Boolean, "is_at_risk": pl.Boolean, "deadline": pl.Date}
    projects = [  # (id, name, status, at risk)
        ("p3", "Beta", "IN_PROGRESS", True), ("p1", "Beta", "IN_PROGRESS", True), ("p2", "alpha", None, False),
        ("p4", None, "PLANNING", None), ("p5", "Alpha", "PLANNING", False), ("p6", "Gamma", "IN_PROGRESS", None),
    ]
    frames["fct_project_health"] = pl.DataFrame(
        [{"tenant_id": a.tenant_id, "project_id": pid, "name": name, "status": status, "budget": Decimal("10.00"),
          "spent": None, "budget_used_pct": None, "milestones_total": 2, "milestones_completed": 1,
          "milestones_overdue": 0, "is_over_budget": False, "is_past_deadline": risk, "is_at_risk": risk,
          "deadline": AS_OF} for pid, name, status, risk in projects]
        + [{"tenant_id": b_id, "project_id": "pb", "name": CANARY_ARTIST, "status": "X", "budget": None, "spent": None,
            "budget_used_pct": None, "milestones_total": 0, "milestones_completed": 0, "milestones_overdue": 0,
            "is_over_budget": False, "is_past_deadline": False, "is_at_risk": True, "deadline": None}],
        schema=health)
    by_currency = frames["fct_revenue_by_currency"]
    frames["fct_revenue_by_currency"] = pl.concat([by_currency, by_currency.head(2).with_columns(
        pl.lit("CHF").alias("currency"), pl.lit(None, MONEY).alias("recognized_revenue"),
        pl.lit(None, MONEY).alias("recognized_revenue_original"))])
    activity = frames["fct_recent_activity"]
    frames["fct_recent_activity"] = pl.concat([activity, activity.head(1).with_columns(
        pl.lit(None, pl.Int32).alias("recency_rank"), pl.lit("late").alias("summary"))])
    frames["quarantined_rows"] = quarantine_frame(a.tenant_id, [
        ("file drop", "bookings", "b.csv", 2, None, "title", "x", "r1", 5),
        ("file drop", "bookings", "a.csv", 2, None, "title", "x", "r1", 5),
        ("file drop", "bookings", None, None, "id-1", "currency", "DKK", "r2", 5),
        ("database", "bookings", None, None, "id-2", "currency", "DKK", "r2", 9),
    ], total=4).vstack(quarantine_frame(b_id, [("x", "y", "z", 1, None, "c", CANARY_ARTIST, "r", 1)], total=1)) \
        .with_columns(pl.when(pl.col("record_id") == "id-2").then(None).otherwise(pl.col("quarantined_at"))
                      .alias("quarantined_at"))
    frames["ingestion_runs"] = runs_frame(a.tenant_id, [
        ("run-2", "b.csv", "ok", 1, 1, 0, None, 30), ("run-1", "a.csv", "ok", 1, 1, 0, None, 30),
        ("run-3", "c.csv", "rejected", 0, 0, 0, "bad", 10)], total=3)
    return frames


def _rewrite_with_duckdb(folder: Path) -> None:
    """Every file of ``folder`` written again by DuckDB (as publishing writes them)."""
    conn = duckdb.connect()
    try:
        for path in folder.glob("*.parquet"):
            staged = path.with_suffix(".tmp")
            conn.execute(f"COPY (SELECT * FROM read_parquet('{path}')) TO '{staged}' (FORMAT parquet)")
            os.replace(staged, path)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("parquet-pages-world"))
    a, b = world.a, world.b
    publish_snapshot(world.published_dir, a, frames=_awkward_frames(a, b.tenant_id))
    version = publish_snapshot(world.published_dir, b, frames={
        "quarantined_rows": quarantine_frame(b.tenant_id, [("x", "y", "z", 1, None, "c", "v", "r", 1)], total=1),
        "ingestion_runs": runs_frame(b.tenant_id, [("run-b", "b.csv", "ok", 9, 8, 1, None, 5)], total=1)})
    _rewrite_with_duckdb(world.published_dir / b.tenant_id / version)
    return world


@pytest.fixture
def env(world_env):
    """conftest's ``world_env`` over this module's world, with the page caches emptied around."""
    queries.clear_caches()
    yield world_env
    queries.clear_caches()


def _statement_params(tenant_id: str) -> dict[str, list[tuple]]:
    """Parameters (after the tenant id) each statement is compared with."""
    artists = [("art-a1",), ("art-a5",), ("art-b1",), ("nobody",)]
    return {
        queries._SQL_ARTISTS: [(tenant_id,)],
        queries._SQL_RECENT_ACTIVITY: [(10,), (2,), (0,)],
        queries._SQL_REVENUE_BY_CURRENCY: [(D(2024, 1, 1), D(2025, 3, 1)), (D(2025, 2, 1), D(2025, 2, 1)),
                                           (D(2030, 1, 1), D(2030, 2, 1))],
        quality_queries._SQL_QUARANTINED: [(500,), (1,)],
        quality_queries._SQL_RUNS: [(50,), (1,)],
        roster_queries._SQL_ARTIST_LIFETIME: artists,
        roster_queries._SQL_ARTIST_MONTHLY: artists,
    }


def _assert_same_frame(mine: pl.DataFrame, sql: pl.DataFrame, what: str) -> None:
    assert mine.schema == sql.schema, (what, mine.schema, sql.schema)
    assert mine.equals(sql), (what, mine, sql)


def _ref(world, tenant) -> queries.SnapshotRef:
    return queries.snapshot_ref(tenant.tenant_id)


@pytest.mark.parametrize("reader", ["arrow", "polars"])  # small files: pyarrow; larger ones: Polars' reader
@pytest.mark.parametrize("who", ["a", "b", "empty"])
def test_every_statement_from_the_files_equals_its_sql(env, who, reader, monkeypatch):
    monkeypatch.setattr(parquet_pages, "ARROW_ROWS", 10**9 if reader == "arrow" else -1)
    tenant = getattr(env, who)
    ref = _ref(env, tenant)
    files = queries._version_files(ref)
    present = {path.stem for path in files.folder.glob("*.parquet")}
    params = _statement_params(tenant.tenant_id)
    compared = 0
    for sql, compute in queries.FROM_FILES.items():
        if sql in (quality_queries._SQL_QUARANTINED, quality_queries._SQL_RUNS) and not {
                "quarantined_rows", "ingestion_runs"} <= present:
            continue
        for args in params.get(sql, [()]):
            try:
                expected = queries._sql_query(ref, sql, *args)
            except duckdb.BinderException:  # a mart the test world leaves without its columns
                with pytest.raises(pl.exceptions.ColumnNotFoundError):
                    compute(files, *args)
                continue
            _assert_same_frame(compute(files, *args), expected, (who, sql.split("FROM")[1][:40], args))
            compared += 1
    assert compared >= 15


def test_every_page_statement_has_its_polars_answer():
    """Every statement the pages run is answered from the files; the _SQL_PERIOD_* ones are the
    definitions of the label page's own sums (test_queries compares them) and run nowhere."""
    pages = {**vars(queries), **vars(quality_queries), **vars(roster_queries)}
    statements = {name: sql for name, sql in pages.items()
                  if name.startswith("_SQL_") and not name.startswith(("_SQL_PERIOD_", "_SQL_PLATFORM_"))}
    assert {name for name, sql in statements.items() if sql not in queries.FROM_FILES} == set()


def _assert_same_answer(mine, sql, path="answer") -> None:
    if isinstance(mine, pl.DataFrame):
        _assert_same_frame(mine, sql, path)
    elif dataclasses.is_dataclass(mine):
        assert type(mine) is type(sql), path
        for field in dataclasses.fields(mine):
            _assert_same_answer(getattr(mine, field.name), getattr(sql, field.name), f"{path}.{field.name}")
    elif isinstance(mine, dict):
        assert list(mine) == list(sql), (path, list(mine), list(sql))
        for key in mine:
            _assert_same_answer(mine[key], sql[key], f"{path}[{key!r}]")
    else:
        assert repr(mine) == repr(sql), (path, mine, sql)  # the type too (Decimal scale, time zone)


def _every_page(world) -> dict:
    answers = {}
    for who in ("a", "b", "empty"):
        tid = getattr(world, who).tenant_id
        for query in ({}, {"period": "year_to_date", "type": "MIXING"}, {"period": "last_12_months"},
                      {"period": "custom", "from": "2024-06-01", "to": "2024-11-30", "artist": "art-a1,art-ghost"}):
            answers[(who, "label", tuple(query.items()))] = queries.label_dashboard(tid, query)
        answers[(who, "projects")] = queries.project_health(tid)
        answers[(who, "quality")] = queries.data_quality(tid)
        answers[(who, "details")] = quality_queries.data_quality_details(tid)
        answers[(who, "meta")] = queries.snapshot_meta(tid)
        for artist in ("art-a1", "art-a5", "art-b1"):
            answers[(who, "artist", artist)] = roster_queries.artist_analytics(tid, artist)
    return answers


@pytest.mark.parametrize("reader", ["arrow", "polars"])
def test_every_page_from_the_files_equals_the_page_from_sql(env, monkeypatch, reader):
    monkeypatch.setattr(parquet_pages, "ARROW_ROWS", 10**9 if reader == "arrow" else -1)
    opened = []
    original = queries.open_version_folder
    monkeypatch.setattr(queries, "open_version_folder", lambda *a, **k: opened.append(a) or original(*a, **k))
    mine = _every_page(env)
    assert opened == []  # no DuckDB database for any page
    queries.clear_caches()
    monkeypatch.setattr(queries, "FROM_FILES", {})  # every statement on the DuckDB reader
    monkeypatch.setattr(queries, "_daily_rows", lambda ref: queries._sql_query(ref, queries._SQL_DAILY_ROWS))
    sql = _every_page(env)
    assert opened
    assert list(mine) == list(sql)
    for key in mine:
        _assert_same_answer(mine[key], sql[key], str(key))
    a = mine[("a", "label", ())]
    assert "art-ghost" in a.artists and CANARY_ARTIST not in a.artists.values()
    assert list(a.artists) == ["art-ghost", "art-a1", "art-a2", "art-a3"]  # the artists with daily rows


def test_another_tenants_rows_in_a_file_never_come_out(env):
    a, b = env.a, env.b
    files = queries._version_files(_ref(env, a))
    for table in ("dim_artists", "fct_bookings_daily", "fct_project_health", "quarantined_rows"):
        frame = files.table(table, ("tenant_id",))
        assert frame.height and set(frame["tenant_id"]) == {a.tenant_id}, table
    shown = " ".join(str(v) for v in _every_page(env).values()
                     if dataclasses.is_dataclass(v) and v.tenant_id == a.tenant_id)
    assert CANARY_ARTIST not in shown and b.tenant_id not in shown


def test_only_validated_names_and_known_tables_become_paths(env):
    ref = _ref(env, env.a)
    for tenant_id, version in (("../" + env.b.tenant_id, ref.version), (env.a.tenant_id, "../" + ref.version),
                               (env.a.tenant_id, "v1/../../x")):
        with pytest.raises(AuditoryxError):
            parquet_pages.open_version_files(ref.published_dir, tenant_id, version, ())
    files = queries._version_files(ref)
    with pytest.raises(ValueError):
        files.table("../../" + env.b.tenant_id + "/kpi_summary", ("tenant_id",))


def test_a_link_out_of_the_version_folder_is_not_followed(tmp_path, monkeypatch):
    world = build_world(tmp_path)
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    queries.clear_caches()
    a_version = (world.published_dir / world.a.tenant_id / "CURRENT").read_text().strip()
    b_version = (world.published_dir / world.b.tenant_id / "CURRENT").read_text().strip()
    target = world.published_dir / world.a.tenant_id / a_version / "fct_project_health.parquet"
    target.unlink()
    target.symlink_to(world.published_dir / world.b.tenant_id / b_version / "fct_project_health.parquet")
    with pytest.raises(queries.DashboardUnavailable):
        queries.project_health(world.a.tenant_id)
    with pytest.raises(SnapshotDamaged):
        queries._version_files(queries.snapshot_ref(world.a.tenant_id)).table("fct_project_health", ("name",))
    queries.clear_caches()


def test_labels_polars_lowers_otherwise_are_sorted_by_duckdb(tmp_path, monkeypatch):
    world = build_world(tmp_path)
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    queries.clear_caches()
    dim = dim_artists_frame(world.a)
    names = ["ΣΟΦΙΑΣ", "σοφιας", "İnci", "inci", "Ab"]
    tricky = pl.DataFrame([{**dim.row(0, named=True), "artist_id": f"art-x{i}", "stage_name": name}
                           for i, name in enumerate(names)], schema=dim.schema)
    publish_snapshot(world.published_dir, world.a, frames={"dim_artists": pl.concat([dim, tricky])})
    ref = queries.snapshot_ref(world.a.tenant_id)
    with pytest.raises(parquet_pages.NeedsSql):
        parquet_pages.artist_labels(queries._version_files(ref))
    _assert_same_frame(queries._query(ref, queries._SQL_ARTIST_LABELS),
                       queries._sql_query(ref, queries._SQL_ARTIST_LABELS), "labels")
    queries.clear_caches()


def test_polars_lowers_every_other_character_as_duckdb():
    """Over every code point: the characters whose lowercase differs are LOWER_DIFFERS'."""
    conn = duckdb.connect()
    try:
        frame = conn.sql("SELECT chr(i::INTEGER) AS c, lower(chr(i::INTEGER)) AS l FROM range(1, 1114112) t(i) "
                         "WHERE i < 55296 OR i > 57343").pl()
        spaces = conn.sql("SELECT chr(i::INTEGER) FROM range(1, 1114112) t(i) WHERE (i < 55296 OR i > 57343) "
                          "AND trim('a' || chr(i::INTEGER)) = 'a' ORDER BY i").fetchall()
        zone = conn.execute("SELECT current_setting('TimeZone')").fetchone()[0]
    finally:
        conn.close()
    assert frame.height == 0x110000 - 1 - 2048
    differ = frame.filter(pl.col("c").str.to_lowercase() != pl.col("l"))["c"]
    assert set(differ.to_list()) <= set(parquet_pages.LOWER_DIFFERS), differ.to_list()[:20]
    assert parquet_pages.lower_differs(pl.Series(["ok", "a\U00010d55b"])) and not parquet_pages.lower_differs(
        pl.Series(["émile", "日本"]))
    assert "".join(c for (c,) in spaces) == parquet_pages.SQL_SPACES  # trim: the space separators
    assert parquet_pages.duckdb_time_zone() == zone


def test_sql_semantics_pure():
    frame = pl.DataFrame({"k": [None, 2, 1, 2], "v": ["a", "b", "c", "d"]})
    assert parquet_pages.sql_sorted(frame, ["k"], [True])["v"].to_list() == ["b", "d", "c", "a"]
    assert parquet_pages.sql_sorted(frame, ["k"])["v"].to_list() == ["c", "b", "d", "a"]
    in_order = pl.DataFrame({"k": [1, 2, 2, None], "v": ["a", "b", "c", "d"]})
    assert parquet_pages.sql_sorted(in_order, ["k"]) is in_order  # nothing to do
    assert parquet_pages.sql_sorted(in_order, ["k"], [True])["v"].to_list() == ["b", "c", "a", "d"]
    assert parquet_pages.first_rows(frame, ["k"], [False], 2, ["v"]).rows() == [("c",), ("b",)]
    assert parquet_pages.first_rows(frame.lazy(), ["k"], [False], 2, ["v"]).collect().rows() == [("c",), ("b",)]
    money = pl.DataFrame({"g": ["x", "x", "y"], "m": pl.Series([None, None, Decimal("1.5")], dtype=MONEY)})
    summed = money.group_by("g", maintain_order=True).agg(parquet_pages.sql_sum("m", MONEY))
    assert summed["m"].to_list() == [None, Decimal("1.50")] and summed.schema["m"] == pl.Decimal(38, 2)
    import pyarrow as pa

    rows = pa.table({"tenant_id": ["a", None, "b", "a"], "artist_id": ["x", "x", "x", None], "v": [1, 2, 3, 4]})
    assert parquet_pages.only_rows(rows, {"tenant_id": "a"})["v"].to_pylist() == [1, 4]  # NULL is nobody's
    assert parquet_pages.only_rows(rows, {"tenant_id": "a", "artist_id": "x"})["v"].to_pylist() == [1]
    assert parquet_pages.only_frame_rows(pl.from_arrow(rows), {"tenant_id": "a", "artist_id": "x"})["v"].to_list() \
        == [1]
    labels = parquet_pages.artist_labels_of(pl.DataFrame(
        {"artist_id": ["c", "b", "a"], "stage_name": ["  ", None, "zed"], "artist_name": [" Bo ", None, None]}))
    assert labels.rows() == [("b", "b"), ("c", "Bo"), ("a", "zed")]


def _period_totals_one_by_one(rows: pl.DataFrame, periods) -> list:
    """daily_period_totals as it was before its one-pass plan (the reference for its values and types)."""
    totals = []
    for start, end in periods:
        inside = rows.filter(pl.col("day").is_between(start, end))
        active = inside.filter(pl.col("started_bookings") > pl.col("cancelled_bookings"))["artist_id"]
        totals.append(queries.PeriodTotals(
            start=start, end=end,
            recognized_revenue=Decimal(inside["recognized_revenue"].sum()),
            pipeline_revenue=Decimal(inside["pipeline_revenue"].sum()),
            completed_bookings=int(inside["completed_bookings"].sum()), bookings=int(inside["started_bookings"].sum()),
            cancelled_bookings=int(inside["cancelled_bookings"].sum()),
            active_artists=active.drop_nulls().n_unique(),
            outstanding_receivables=Decimal(rows.filter(pl.col("day") <= end)["outstanding_revenue"].sum()),
        ))
    return totals


def test_one_pass_period_totals_equal_the_sums_period_by_period(world):
    from label_data import daily_frame

    daily = daily_frame(world.a, AS_OF).drop("tenant_id", "base_currency", "collected_revenue")
    with_nulls = daily.with_columns(
        pl.when(pl.col("day").dt.day() == 3).then(None).otherwise(pl.col("recognized_revenue"))
        .alias("recognized_revenue"),
        pl.when(pl.col("artist_id") == "art-a2").then(None).otherwise(pl.col("artist_id")).alias("artist_id"),
        pl.lit(None, MONEY).alias("pipeline_revenue"))
    periods = ((D(2025, 2, 14), AS_OF), (D(2025, 1, 15), D(2025, 2, 13)), (D(2024, 2, 14), D(2024, 3, 15)),
               (D(2030, 1, 1), D(2030, 1, 31)), (D(2025, 3, 3), D(2025, 3, 3)))
    for rows in (daily, with_nulls, daily.clear(), daily.filter(pl.col("booking_type") == "MIXING")):
        mine = queries.daily_period_totals(rows, periods)
        reference = _period_totals_one_by_one(rows, periods)
        assert [repr(t) for t in mine] == [repr(t) for t in reference]
    assert queries.daily_period_totals(daily, ()) == []
