"""The analysts' path: `auditoryx sql` (formats, --output, the shell), `auditoryx tables`, errors
that list the tables, slug-or-id resolution, natural row order, the example script, and a
two-tenant canary (tenant A's commands never show B's data, and cannot read B's folder)."""
from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from auditoryx.errors import AuditoryxError
from warehouse import analyst
from warehouse.analyst import (
    UnknownTable,
    cell_text,
    connect,
    format_csv,
    format_json,
    format_table,
    format_tables,
    resolve_tenant_id,
    run_shell,
)
from warehouse.layout import PUBLISHED_MARTS
from warehouse.mart_catalog import main as mart_catalog_main, mart_docs, order_columns

ROOT = Path(__file__).resolve().parents[1]


def _load_tenant_data():
    """tests/dashboards/tenant_data.py, loaded by path (tests/ folders are not packages)."""
    spec = importlib.util.spec_from_file_location("auditoryx_sql_tenant_data",
                                                  ROOT / "tests" / "dashboards" / "tenant_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tenant_data = _load_tenant_data()
CANARY = tenant_data.CANARY_ARTIST


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Tenants A and B (B holds the canary artist) published, an operational SQLite DB."""
    return tenant_data.build_world(tmp_path_factory.mktemp("sql-world"))


@pytest.fixture
def env(world, monkeypatch):
    for key, value in world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    return world


def cli(monkeypatch, capsys, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """`auditoryx ARGS` in this process: (exit code, stdout, stderr)."""
    from auditoryx.cli import main

    monkeypatch.setattr(sys, "argv", ["auditoryx", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


# Pure formatting

FRAME = pl.DataFrame(
    {
        "name": ["Señorita", None, "two\nlines"],
        "amount": [Decimal("1234.50"), Decimal("-5.00"), None],
        "n": [1, 22, 333],
        "day": [dt.date(2025, 1, 31), None, dt.date(2025, 3, 1)],
        "genres": [["pop", "jazz"], [], None],
        "flag": [True, False, None],
        "a_rather_long_column_name_that_makes_the_table_wider_than_eighty_characters": ["x", "y", "z"],
    },
    schema_overrides={"amount": pl.Decimal(18, 2)},
)


def test_format_table_is_aligned_and_never_wrapped():
    text = format_table(FRAME)
    lines = text.splitlines()
    assert len(lines) == 2 + FRAME.height + 1 and lines[-1] == "(3 rows)"
    assert max(len(line) for line in lines) > 80  # one line per row, however wide
    header, rule, first, second, third = lines[:5]
    assert header.split() == FRAME.columns
    assert header.index("amount") + len("amount") == first.index("1234.50") + len("1234.50")  # right-aligned
    assert "-5.00" in second and "NULL" in second and "two\\nlines" in third
    assert '["pop", "jazz"]' in first and "true" in first
    assert format_table(FRAME.head(1)).endswith("(1 row)\n")
    assert cell_text(dt.datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02 03:04:05"


def test_format_csv_and_json_round_trip():
    rows = list(__import__("csv").reader(io.StringIO(format_csv(FRAME))))
    assert rows[0] == FRAME.columns
    assert rows[1][:6] == ["Señorita", "1234.50", "1", "2025-01-31", '["pop", "jazz"]', "true"]
    assert rows[2][:2] == ["", "-5.00"] and rows[3][0] == "two\nlines"
    data = json.loads(format_json(FRAME))
    assert data[0]["amount"] == 1234.5 and data[1]["amount"] == -5 and data[2]["amount"] is None
    assert data[0]["day"] == "2025-01-31" and data[0]["genres"] == ["pop", "jazz"] and data[1]["name"] is None
    assert format_json(FRAME.clear()) == "[]\n"


def test_format_tables_shows_types_and_descriptions():
    info = analyst.TableInfo("top_performers", 3, "The 10 best artists.",
                             [analyst.ColumnInfo("rank", "BIGINT", "1 for the best artist."),
                              analyst.ColumnInfo("artist_name", "VARCHAR", "")])
    text = format_tables([info])
    assert text.splitlines()[0] == "top_performers (3 rows)"
    assert "rank         BIGINT   1 for the best artist." in text and "artist_name  VARCHAR" in text


# Documentation and natural order

def test_mart_docs_are_compiled_from_dbt_and_up_to_date():
    assert mart_catalog_main(["--check"]) == 0, "run `python -m warehouse.mart_catalog`"
    docs = mart_docs()
    assert list(docs) == [*PUBLISHED_MARTS, "meta"]
    assert docs["top_performers"]["columns"]["rank"].startswith("1 for the best artist")
    assert order_columns("top_performers", ["tenant_id", "rank"]) == ["rank"]
    assert order_columns("fct_revenue_monthly", ["tenant_id", "label"]) == []  # absent columns: no order


def test_marts_are_read_in_their_natural_order(env, tmp_path):
    a = env.a
    folder = next(p for p in (env.published_dir / a.tenant_id).iterdir() if p.is_dir())
    raw = pl.read_parquet(folder / "fct_revenue_monthly.parquet")["month"].to_list()
    assert raw != sorted(raw)  # the test data is written newest month first
    # top performers written in reverse: the reader still lists rank 1 first
    top = pl.read_parquet(folder / "top_performers.parquet")
    top.reverse().write_parquet(folder / "top_performers.parquet")
    with connect(a.slug) as snap:
        months = snap.query("SELECT month FROM fct_revenue_monthly")["month"].to_list()
        assert months == sorted(months)
        assert snap.query("SELECT rank FROM top_performers")["rank"].to_list() == [1, 2, 3]
        assert snap.query("SELECT rank FROM top_performers ORDER BY rank DESC")["rank"].to_list() == [3, 2, 1]
    from warehouse.snapshot import write_tenant_snapshot

    import duckdb

    out = write_tenant_snapshot(env.published_dir, a.tenant_id, tmp_path / "a.duckdb")
    with duckdb.connect(str(out), read_only=True) as conn:
        assert [r[0] for r in conn.execute("SELECT rank FROM marts.top_performers").fetchall()] == [1, 2, 3]


# Resolution: slug or id

def test_slug_or_id_resolution(env, tmp_path, monkeypatch):
    a = env.a
    assert resolve_tenant_id(a.slug) == a.tenant_id == resolve_tenant_id(a.tenant_id)
    with connect(a.tenant_id) as by_id, connect(a.slug) as by_slug:
        assert by_id.tenant_id == by_slug.tenant_id == a.tenant_id
        assert by_slug.meta()["tenant_slug"] == a.slug
    with pytest.raises(AuditoryxError, match="no tenant with slug or id 'no-such-tenant'"):
        connect("no-such-tenant")
    with pytest.raises(AuditoryxError, match="invalid tenant slug or id"):
        connect("../" + a.tenant_id)
    with pytest.raises(AuditoryxError, match="no published snapshot for tenant dawn-agency"):
        connect(env.unpublished.slug)
    # without an operational database (a copied published folder): the snapshots' meta
    missing = tmp_path / "nowhere" / "operational.sqlite"
    monkeypatch.setenv("AUDITORYX_OPERATIONAL_URL", f"sqlite:///{missing}")
    assert resolve_tenant_id(env.b.slug) == env.b.tenant_id
    assert resolve_tenant_id(a.tenant_id) == a.tenant_id
    with pytest.raises(AuditoryxError, match="no schema yet"):
        resolve_tenant_id("no-such-tenant")
    assert not missing.parent.exists()  # nothing created



def _read_only(paths: list[Path]) -> None:
    """Make ``paths`` read-only for real: chmod (enough for a normal user) and, as root (who
    ignores permissions), the immutable attribute, which root cannot write through either."""
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, text=True)
        assert done.returncode == 0, f"cannot make a folder read-only as root: {done.stderr}"
        probe = paths[0] / "probe" if paths[0].is_dir() else paths[0].with_name("probe")
        with pytest.raises(PermissionError):
            probe.write_text("x")


def _writable(paths: list[Path]) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True)
    for path in paths:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _state(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
            for p in sorted(folder.iterdir())} | {".": (folder.stat().st_mtime_ns, b"")}


def test_sql_works_on_a_read_only_var_folder(env, monkeypatch, capsys, tmp_path):
    """The operational database (SQLite, WAL mode) in a folder nobody may write: `sql` by slug and
    by id answers, and nothing in the folder changes (no journal_mode pragma, no -wal/-shm)."""
    import sqlite3

    var = tmp_path / "var"
    var.mkdir()
    database = var / "operational.sqlite"
    source = sqlite3.connect(env.operational_url.removeprefix("sqlite:///"))
    copy = sqlite3.connect(database)
    source.backup(copy)
    source.close()
    assert copy.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    copy.close()
    assert sorted(p.name for p in var.iterdir()) == ["operational.sqlite"]
    monkeypatch.setenv("AUDITORYX_OPERATIONAL_URL", f"sqlite:///{database}")
    before = _state(var)
    _read_only([var, database])
    try:
        for tenant in (env.a.slug, env.a.tenant_id):
            code, out, err = cli(monkeypatch, capsys, "sql", "--tenant", tenant, "-f", "csv",
                                 "SELECT artist_name FROM top_performers ORDER BY rank LIMIT 1")
            assert (code, out) == (0, "artist_name\nLumen Vale\n"), err
        assert _state(var) == before
        # a writable folder: the read-only engine never changes the database file either
        _writable([var, database])
        assert resolve_tenant_id(env.b.slug) == env.b.tenant_id
        after = _state(var)
        assert after["operational.sqlite"] == before["operational.sqlite"]
    finally:
        _writable([var, database])


# The commands

def test_sql_table_output_and_read_only(env, monkeypatch, capsys):
    code, out, err = cli(monkeypatch, capsys, "sql", "--tenant", env.a.slug,
                         "SELECT rank, artist_name, recognized_revenue, tenant_id, as_of FROM top_performers")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["rank", "artist_name", "recognized_revenue", "tenant_id", "as_of"]
    assert len(lines) == 2 + 3 + 1 and max(map(len, lines)) > 80  # not wrapped
    assert lines[2].split()[:3] == ["1", "Lumen", "Vale"] and "48250.75" in lines[2]
    code, _, err = cli(monkeypatch, capsys, "sql", "--tenant", env.a.slug, "COPY kpi_summary TO 'leak.csv'")
    assert code == 1 and "SELECT" in err and len(err.strip().splitlines()) == 1


def test_sql_output_formats_round_trip(env, monkeypatch, capsys, tmp_path):
    query = "SELECT * FROM fct_revenue_monthly"
    with connect(env.a.slug) as snap:
        expected = snap.query(query)
    for fmt in ("csv", "json", "parquet", "table"):
        target = tmp_path / f"result.{fmt}"
        code, out, err = cli(monkeypatch, capsys, "sql", "--tenant", env.a.slug, query, "--format", fmt,
                             "--output", str(target))
        assert code == 0, err
        assert out == "" and f"wrote {expected.height} rows to {target}" in err
    assert pl.read_parquet(tmp_path / "result.parquet").equals(expected)
    from_csv = pl.read_csv(tmp_path / "result.csv", try_parse_dates=True)
    assert from_csv["month"].to_list() == expected["month"].to_list()
    assert [Decimal(str(v)).quantize(Decimal("0.01")) for v in from_csv["recognized_revenue"]] \
        == expected["recognized_revenue"].to_list()
    rows = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert len(rows) == expected.height and rows[0]["month"] == expected["month"][0].isoformat()
    assert Decimal(str(rows[0]["recognized_revenue"])) == expected["recognized_revenue"][0]
    # to stdout as well; parquet only to a file
    code, out, _ = cli(monkeypatch, capsys, "sql", "--tenant", env.a.slug, "SELECT rank FROM top_performers",
                       "-f", "csv")
    assert code == 0 and out == "rank\n1\n2\n3\n"
    code, out, err = cli(monkeypatch, capsys, "sql", "--tenant", env.a.slug, "SELECT 1", "--format", "parquet")
    assert code == 1 and err.strip() == "error: --format parquet needs --output FILE"


def test_interactive_shell_reads_statements_from_stdin(env, monkeypatch, capsys):
    script = ("SELECT rank, artist_name\n  FROM top_performers\n WHERE rank <= 2;\n"
              ".tables\n.schema top_performers\n.format csv\nSELECT base_currency FROM kpi_summary;\n"
              ".quit\nSELECT 'never run';\n")
    code, out, err = cli(monkeypatch, capsys, "sql", "--tenant", env.a.slug, stdin=script)
    assert code == 0, err
    assert "Lumen Vale" in out and "Marisol Keys" in out and "The Quiet Harbor" not in out and "(2 rows)" in out
    assert "fct_revenue_monthly" in out and "dim_artists" in out  # .tables
    assert "1 for the best artist of the tenant" in out  # .schema: dbt description of rank
    assert "base_currency\nUSD\n" in out and "never run" not in out
    # errors are one line each, the shell goes on, and a piped session that had one exits 1
    code, out, err = cli(monkeypatch, capsys, "sql", "--tenant", env.a.slug,
                         stdin="SELECT * FROM bookings;\nDELETE FROM kpi_summary;\n.nope\nSELECT 42 AS answer")
    assert code == 1 and "42" in out
    errors = err.strip().splitlines()
    assert errors[0].startswith("error: Table with name bookings does not exist! Tables: fct_revenue_monthly")
    assert "SELECT" in errors[1] and "unknown command '.nope'" in errors[2]
    assert errors[-1] == "error: 3 of the shell's commands failed (see above)"


def test_run_shell_is_testable_without_a_terminal(env):
    written, errors = [], []
    with connect(env.a.slug) as snap:
        failures = run_shell(snap, ["SELECT count(*) AS n", " FROM dim_artists;", ".exit"], written.append,
                             errors.append, fmt="json")
    version = (env.published_dir / env.a.tenant_id / "CURRENT").read_text().strip()
    artists = pl.read_parquet(env.published_dir / env.a.tenant_id / version / "dim_artists.parquet").height
    assert failures == 0 and errors == [] and json.loads(written[0]) == [{"n": artists}]


def test_tables_lists_columns_with_dbt_descriptions(env, monkeypatch, capsys):
    code, out, err = cli(monkeypatch, capsys, "tables", "--tenant", env.a.slug)
    assert code == 0, err
    for table in (*PUBLISHED_MARTS, "meta"):
        assert f"\n{table} (" in "\n" + out
    assert "top_performers (3 rows)" in out and "The 10 best artists of each tenant" in out
    assert "recognized_revenue  DECIMAL(18,2)  Sum of value_base of the artist's COMPLETED bookings" in out
    code, out, _ = cli(monkeypatch, capsys, "tables", "--tenant", env.a.tenant_id, "kpi_summary")
    assert code == 0 and out.startswith("kpi_summary (1 row)") and "top_performers" not in out
    code, _, err = cli(monkeypatch, capsys, "tables", "--tenant", env.a.slug, "bookings")
    assert code == 1 and "Table with name bookings does not exist! Tables: fct_revenue_monthly" in err


def test_missing_table_error_lists_the_tables(env, monkeypatch, capsys):
    code, out, err = cli(monkeypatch, capsys, "sql", "--tenant", env.a.slug, "SELECT * FROM bookings")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "error: Table with name bookings does not exist! Tables: " + ", ".join((*PUBLISHED_MARTS, "meta"))
        + " (`auditoryx tables --tenant …` lists their columns)"]
    with connect(env.a.slug) as snap, pytest.raises(UnknownTable, match="Tables: fct_revenue_monthly"):
        snap.query("SELECT * FROM main.bookings")


def test_two_tenant_canary(env, monkeypatch, capsys, tmp_path):
    a, b = env.a, env.b
    b_folder = env.published_dir / b.tenant_id
    b_file = next(b_folder.glob("*/top_performers.parquet"))
    with connect(b.slug) as snap:  # the canary is there, in B
        assert CANARY in snap.query("SELECT artist_name FROM top_performers")["artist_name"].to_list()
    seen = []
    for table in (*PUBLISHED_MARTS, "meta"):
        for fmt in ("table", "csv", "json"):
            code, out, err = cli(monkeypatch, capsys, "sql", "--tenant", a.slug, f"SELECT * FROM {table}",
                                 "--format", fmt)
            assert code == 0, err
            seen.append(out)
        target = tmp_path / f"{table}.parquet"
        assert cli(monkeypatch, capsys, "sql", "--tenant", a.slug, f"SELECT * FROM {table}", "-f", "parquet",
                   "-o", str(target))[0] == 0
        seen.append(repr(pl.read_parquet(target).rows()))  # nested columns (lists) too
    seen.append(cli(monkeypatch, capsys, "tables", "--tenant", a.slug)[1])
    seen.append(cli(monkeypatch, capsys, "sql", "--tenant", a.slug, stdin=".tables\nSELECT * FROM dim_artists;\n")[1])
    assert not any(CANARY in text or b.tenant_id in text for text in seen)
    assert any("Lumen Vale" in text for text in seen)
    # reading B's folder from A's reader fails in the engine, by any path
    relative = os.path.relpath(b_file, next((env.published_dir / a.tenant_id).glob("v*")))
    for attempt in (f"SELECT * FROM read_parquet('{b_file}')", f"SELECT * FROM read_parquet('{relative}')",
                    f"SELECT * FROM '{b_folder}/*/top_performers.parquet'",
                    f"SELECT * FROM read_csv('{b_folder / 'CURRENT'}')"):
        code, out, err = cli(monkeypatch, capsys, "sql", "--tenant", a.slug, attempt)
        assert code == 1 and CANARY not in out + err and "Permission" in err, attempt
        code, out, err = cli(monkeypatch, capsys, "sql", "--tenant", a.slug, stdin=attempt + ";\n")
        assert code == 1 and CANARY not in out + err


def test_example_script_runs_against_a_published_snapshot(env):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "analyst_polars.py"), env.a.slug],
                            capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Aurora Records (aurora-records), as of 2025-03-15, amounts in USD")
    assert "Revenue by month" in out and "Top 5 performers" in out
    assert out.index("Lumen Vale") < out.index("Marisol Keys") < out.index("The Quiet Harbor")
    assert out.index("2024-04-01") < out.index("2025-03-01") < out.index("2025-06-01")  # months ascending
    assert CANARY not in out


@pytest.mark.parametrize("command, words", [("sql", ["--format", "--output", "interactive shell"]),
                                            ("tables", ["--tenant", "descriptions"])])
def test_commands_have_help(command, words, monkeypatch, capsys):
    code, out, _ = cli(monkeypatch, capsys, command, "--help")
    assert code == 0 and "Usage" in out
    assert all(word in " ".join(out.split()) for word in words), out
