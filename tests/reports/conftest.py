"""Two published tenants with every mart a report reads (built in a tmp folder, no dbt run).

Reuses tests/dashboards/tenant_data.py (loaded by path): tenant A (JPY: amounts without decimals)
holds the formula cases (full-width ``＝``, ``=``, ``@``, the text ``-5``, the amount -5);
tenant B (EUR) holds a canary artist and a canary amount that must never reach A's files.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from warehouse.layout import PUBLISHED_MARTS

_SPEC = importlib.util.spec_from_file_location(
    "reports_tenant_data", Path(__file__).resolve().parents[1] / "dashboards" / "tenant_data.py")
tenant_data = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = tenant_data
_SPEC.loader.exec_module(tenant_data)

CANARY_ARTIST = "Qwzx Canary Reports"
CANARY_AMOUNT = Decimal("987654.32")
FULLWIDTH = "＝HYPERLINK(\"http://evil.example\",\"click\")"
ASCII_FORMULA = "=1+2"
AT_FORMULA = "@SUM(A1:A2)"
MINUS_TEXT = "-5"
MONEY = tenant_data.MONEY
AS_OF = tenant_data.AS_OF


@dataclass
class ReportWorld:
    root: Path
    published_dir: Path
    exports_dir: Path
    operational_url: str
    a: "tenant_data.Tenant"
    b: "tenant_data.Tenant"

    def env(self) -> dict[str, str]:
        return {"AUDITORYX_VAR_DIR": str(self.root / "var"), "AUDITORYX_OPERATIONAL_URL": self.operational_url,
                "AUDITORYX_WAREHOUSE_DIR": str(self.published_dir.parent),
                "AUDITORYX_EXPORTS_DIR": str(self.exports_dir)}


def _tenants():
    d = tenant_data.d
    a = tenant_data.Tenant(
        tenant_id="0a2b2c3d-aaaa-4000-8000-0000000000a1", slug="aurora-reports", name="Aurora Reports",
        email="ceo@aurora-reports.example", user_name="Ada Aurora", base_currency="JPY",
        artists=[tenant_data.Artist("art-a1", FULLWIDTH, d("4825075"), 17),
                 tenant_data.Artist("art-a2", MINUS_TEXT, d("3100000"), 12),
                 tenant_data.Artist("art-a3", "Marisol Keys", d("987500"), 4)],
        revenue_30d=d("1234567"), revenue_prev_30d=d("1000000"), outstanding=d("222222"), bookings_30d=23,
        active_artists_30d=7)
    b = tenant_data.Tenant(
        tenant_id="0b2b2c3d-bbbb-4000-8000-0000000000b1", slug="bravo-reports", name="Bravo Reports",
        email="ceo@bravo-reports.example", user_name="Bea Bravo", base_currency="EUR",
        artists=[tenant_data.Artist("art-b1", CANARY_ARTIST, CANARY_AMOUNT, 31),
                 tenant_data.Artist("art-b2", "Other Bravo Artist", d("5000.00"), 2)],
        revenue_30d=d("98765.43"), revenue_prev_30d=d("50000.00"), outstanding=d("4444.44"), bookings_30d=91,
        active_artists_30d=19)
    return a, b


def _extra_frames(t) -> dict[str, pl.DataFrame]:
    tid, cur = t.tenant_id, t.base_currency
    a_side = t.base_currency == "JPY"
    aging = pl.DataFrame(
        [{"tenant_id": tid, "as_of": AS_OF, "bucket_order": i, "aging_bucket": label, "min_days": lo, "max_days": hi,
          "base_currency": cur, "outstanding_bookings": i, "outstanding_revenue": Decimal(str(1000 * i + 0.5))}
         for i, (label, lo, hi) in enumerate([("0-30", None, 30), ("31-60", 31, 60), ("61-90", 61, 90),
                                              ("90+", 91, None)], start=1)],
        schema={"tenant_id": pl.String, "as_of": pl.Date, "bucket_order": pl.Int32, "aging_bucket": pl.String,
                "min_days": pl.Int32, "max_days": pl.Int32, "base_currency": pl.String,
                "outstanding_bookings": pl.Int64, "outstanding_revenue": MONEY})
    when = dt.datetime(AS_OF.year, AS_OF.month, AS_OF.day, 9, 30, tzinfo=dt.timezone.utc)
    summaries = ([f"Ada Aurora created booking \"{AT_FORMULA}\"", f"Ada Aurora updated artist \"{ASCII_FORMULA}\""]
                 if a_side else [f"Bea Bravo created artist \"{CANARY_ARTIST}\"", "Bea Bravo updated booking"])
    activity = pl.DataFrame(
        [{"tenant_id": tid, "as_of": AS_OF, "recency_rank": i + 1, "audit_log_id": f"{tid}-e{i}",
          "occurred_at": when - dt.timedelta(hours=i), "actor_user_id": "u1", "actor_name": t.user_name,
          "action": "create" if i == 0 else "update", "entity": "bookings" if i == 0 else "artists",
          "entity_id": f"{tid}-x{i}", "summary": text} for i, text in enumerate(summaries)],
        schema={"tenant_id": pl.String, "as_of": pl.Date, "recency_rank": pl.Int32, "audit_log_id": pl.String,
                "occurred_at": pl.Datetime("us", "UTC"), "actor_user_id": pl.String, "actor_name": pl.String,
                "action": pl.String, "entity": pl.String, "entity_id": pl.String, "summary": pl.String})
    by_currency = pl.DataFrame(
        [{"tenant_id": tid, "month": AS_OF.replace(day=1), "currency": "USD", "base_currency": cur,
          "recognized_revenue_original": Decimal("100.00"), "recognized_revenue": Decimal("92.00"),
          "completed_bookings": 1}],
        schema={"tenant_id": pl.String, "month": pl.Date, "currency": pl.String, "base_currency": pl.String,
                "recognized_revenue_original": MONEY, "recognized_revenue": MONEY, "completed_bookings": pl.Int64})
    return {"fct_receivables_aging": aging, "fct_recent_activity": activity, "fct_revenue_by_currency": by_currency}


def _projects(t) -> pl.DataFrame:
    frame = tenant_data.snapshot_frames(t)["fct_project_health"]
    if t.base_currency != "JPY":
        return frame
    risky = {"tenant_id": t.tenant_id, "project_id": f"{t.tenant_id}-p2", "name": FULLWIDTH, "status": "IN_PROGRESS",
             "budget": Decimal("100000"), "spent": Decimal("-5"), "budget_used_pct": Decimal("1.4460"),
             "milestones_total": 3, "milestones_completed": 0, "milestones_overdue": 2, "is_at_risk": True}
    return pl.concat([frame, pl.DataFrame([risky], schema=frame.schema)])


def publish(published_dir: Path, t, version: str | None = None) -> str:
    version = version or tenant_data.new_version()
    tenant_dir = Path(published_dir) / t.tenant_id
    folder = tenant_dir / version
    folder.mkdir(parents=True)
    frames = tenant_data.snapshot_frames(t)
    frames["fct_project_health"] = _projects(t)
    frames.update(_extra_frames(t))
    for name in PUBLISHED_MARTS:
        frames.setdefault(name, pl.DataFrame(schema={"tenant_id": pl.String}))
    for name, frame in frames.items():
        frame.write_parquet(folder / f"{name}.parquet")
    pl.DataFrame([{"tenant_id": t.tenant_id, "tenant_slug": t.slug, "tenant_name": t.name,
                   "base_currency": t.base_currency, "as_of": AS_OF, "refreshed_at": tenant_data.REFRESHED_AT,
                   "version": version, "row_counts": json.dumps({n: f.height for n, f in frames.items()})}],
                 schema={"tenant_id": pl.String, "tenant_slug": pl.String, "tenant_name": pl.String,
                         "base_currency": pl.String, "as_of": pl.Date, "refreshed_at": pl.Datetime("us", "UTC"),
                         "version": pl.String, "row_counts": pl.String}).write_parquet(folder / "meta.parquet")
    (tenant_dir / "CURRENT.tmp").write_text(version, encoding="utf-8")
    os.replace(tenant_dir / "CURRENT.tmp", tenant_dir / "CURRENT")
    return version


@pytest.fixture(scope="session")
def report_world(tmp_path_factory) -> ReportWorld:
    root = tmp_path_factory.mktemp("reports-world")
    a, b = _tenants()
    world = ReportWorld(root=root, published_dir=root / "warehouse" / "published", exports_dir=root / "exports",
                        operational_url=f"sqlite:///{root / 'operational.sqlite'}", a=a, b=b)
    tenant_data.create_operational_db(world.operational_url, [a, b], all_roles_for=a)
    for tenant in (a, b):
        publish(world.published_dir, tenant)
    return world


@pytest.fixture
def world_env(report_world, monkeypatch, tmp_path) -> ReportWorld:
    """AUDITORYX_* settings pointing at the world, with a fresh exports folder per test."""
    for key, value in report_world.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AUDITORYX_EXPORTS_DIR", str(tmp_path / "exports"))
    monkeypatch.delenv("AUDITORYX_AS_OF", raising=False)
    return dataclasses.replace(report_world, exports_dir=tmp_path / "exports")
