"""Test data for the dashboards: published tenant snapshots and an operational SQLite DB.

Snapshots follow warehouse/layout.py: ``published/<tenant_id>/<version>/<mart>.parquet`` +
``meta.parquet`` and a ``CURRENT`` pointer naming the version. Only tmp folders are written.
Used by tests/dashboards and (loaded by path) tests/e2e.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl

from warehouse.layout import PUBLISHED_MARTS

MONEY = pl.Decimal(18, 2)
PASSWORD = "correct horse battery staple"
AS_OF = dt.date(2025, 3, 15)
REFRESHED_AT = dt.datetime(2025, 3, 15, 6, 30, tzinfo=dt.timezone.utc)

# Appears in tenant B's data only: must never be rendered to anyone logged in as tenant A.
CANARY_ARTIST = "Zyxqv Canary Bravo"


def d(value: str | int | float) -> Decimal:
    return Decimal(str(value))


@dataclass
class Artist:
    artist_id: str
    name: str
    revenue: Decimal
    completed: int


@dataclass
class Tenant:
    tenant_id: str
    slug: str
    name: str
    email: str
    user_name: str
    base_currency: str = "USD"
    artists: list[Artist] = field(default_factory=list)
    revenue_30d: Decimal = Decimal("0")
    revenue_prev_30d: Decimal = Decimal("0")
    outstanding: Decimal = Decimal("0")
    bookings_30d: int = 0
    active_artists_30d: int = 0
    with_bookings: bool = True


def new_version(when: dt.datetime | None = None) -> str:
    when = when or dt.datetime.now(dt.timezone.utc)
    return f"v{when:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(3)}"


def _revenue_rows(t: Tenant) -> list[dict]:
    """A year of monthly revenue for two booking types, plus future pipeline months."""
    if not t.with_bookings:
        return []
    rows = []
    this_month = AS_OF.replace(day=1)
    for back in range(-3, 12):  # 3 future months (pipeline only) and 12 past months
        index = this_month.year * 12 + this_month.month - 1 - back
        month = dt.date(index // 12, index % 12 + 1, 1)
        for booking_type, share in (("RECORDING_SESSION", 3), ("MIXING", 1)):
            recognized = d(0) if back < 0 else d(1000 + 10 * back) * share
            pipeline = d(500) * share if back <= 0 else d(0)
            completed = 0 if back < 0 else 2 * share
            rows.append(
                {
                    "tenant_id": t.tenant_id,
                    "month": month,
                    "booking_type": booking_type,
                    "base_currency": t.base_currency,
                    "recognized_revenue": recognized,
                    "pipeline_revenue": pipeline,
                    "collected_revenue": recognized,
                    "outstanding_revenue": d(0),
                    "completed_bookings": completed,
                }
            )
    return rows


def snapshot_frames(t: Tenant) -> dict[str, pl.DataFrame]:
    tid = t.tenant_id
    revenue = pl.DataFrame(
        _revenue_rows(t),
        schema={
            "tenant_id": pl.String,
            "month": pl.Date,
            "booking_type": pl.String,
            "base_currency": pl.String,
            "recognized_revenue": MONEY,
            "pipeline_revenue": MONEY,
            "collected_revenue": MONEY,
            "outstanding_revenue": MONEY,
            "completed_bookings": pl.Int64,
        },
    )
    bookings = (
        revenue.group_by("tenant_id", "month")
        .agg(pl.col("completed_bookings").sum())
        .with_columns(
            (pl.col("completed_bookings") + 2).alias("total_bookings"),
            pl.lit(1, pl.Int64).alias("cancelled_bookings"),
        )
        .with_columns((pl.col("cancelled_bookings") / pl.col("total_bookings")).alias("cancellation_rate"))
        .select("tenant_id", "month", "total_bookings", "completed_bookings", "cancelled_bookings", "cancellation_rate")
    )
    artists = t.artists if t.with_bookings else []
    ranked = sorted(artists, key=lambda a: (-a.revenue, -a.completed, a.artist_id))
    top = pl.DataFrame(
        [
            {
                "tenant_id": tid,
                "as_of": AS_OF,
                "rank": i,
                "artist_id": a.artist_id,
                "artist_name": a.name,
                "recognized_revenue": a.revenue,
                "completed_bookings": a.completed,
            }
            for i, a in enumerate(ranked[:10], start=1)
        ],
        schema={
            "tenant_id": pl.String,
            "as_of": pl.Date,
            "rank": pl.Int64,
            "artist_id": pl.String,
            "artist_name": pl.String,
            "recognized_revenue": MONEY,
            "completed_bookings": pl.Int64,
        },
    )
    performance = pl.DataFrame(
        [
            {
                "tenant_id": tid,
                "artist_id": a.artist_id,
                "month": AS_OF.replace(day=1),
                "completed_bookings": a.completed,
                "recognized_revenue": a.revenue,
                "hours_delivered": d("2.50") * a.completed,
            }
            for a in artists
        ],
        schema={
            "tenant_id": pl.String,
            "artist_id": pl.String,
            "month": pl.Date,
            "completed_bookings": pl.Int64,
            "recognized_revenue": MONEY,
            "hours_delivered": pl.Decimal(18, 2),
        },
    )
    projects = pl.DataFrame(
        [
            {
                "tenant_id": tid,
                "project_id": f"{tid}-p1",
                "name": f"{t.name} debut album",
                "status": "IN_PROGRESS",
                "budget": d("10000.00"),
                "spent": d("2500.00"),
                "budget_used_pct": d("0.25"),
                "milestones_total": 4,
                "milestones_completed": 1,
                "milestones_overdue": 0,
                "is_over_budget": False,
                "is_past_deadline": False,
                "is_at_risk": False,
                "deadline": dt.date(2025, 9, 30),
                "as_of": AS_OF,
                "base_currency": t.base_currency,
            }
        ],
        schema={
            "tenant_id": pl.String,
            "project_id": pl.String,
            "name": pl.String,
            "status": pl.String,
            "budget": MONEY,
            "spent": MONEY,
            "budget_used_pct": pl.Decimal(18, 4),
            "milestones_total": pl.Int64,
            "milestones_completed": pl.Int64,
            "milestones_overdue": pl.Int64,
            "is_over_budget": pl.Boolean,
            "is_past_deadline": pl.Boolean,
            "is_at_risk": pl.Boolean,
            "deadline": pl.Date,
            "as_of": pl.Date,
            "base_currency": pl.String,
        },
    )
    delta = (
        None
        if t.revenue_prev_30d == 0
        else ((t.revenue_30d - t.revenue_prev_30d) / t.revenue_prev_30d).quantize(d("0.0001"))
    )
    kpi = pl.DataFrame(
        [
            {
                "tenant_id": tid,
                "as_of": AS_OF,
                "base_currency": t.base_currency,
                "recognized_revenue_30d": t.revenue_30d,
                "recognized_revenue_prev_30d": t.revenue_prev_30d,
                "revenue_delta_pct": delta,
                "bookings_30d": t.bookings_30d,
                "active_artists_30d": t.active_artists_30d,
                "active_projects": 1,
                "overdue_milestones": 0,
                "outstanding_revenue": t.outstanding,
            }
        ],
        schema={
            "tenant_id": pl.String,
            "as_of": pl.Date,
            "base_currency": pl.String,
            "recognized_revenue_30d": MONEY,
            "recognized_revenue_prev_30d": MONEY,
            "revenue_delta_pct": pl.Decimal(18, 4),
            "bookings_30d": pl.Int64,
            "active_artists_30d": pl.Int64,
            "active_projects": pl.Int64,
            "overdue_milestones": pl.Int64,
            "outstanding_revenue": MONEY,
        },
    )
    return {
        "fct_revenue_monthly": revenue,
        "fct_bookings_monthly": bookings,
        "fct_artist_performance_monthly": performance,
        "top_performers": top,
        "fct_project_health": projects,
        "kpi_summary": kpi,
        **_label_frames(t),
    }


def _label_frames(t: Tenant) -> dict[str, pl.DataFrame]:
    """The label dashboard's other marts (label_data.py, loaded by path like this module is)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("auditoryx_label_data", Path(__file__).with_name("label_data.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.label_frames(t, AS_OF)


def publish_snapshot(published_dir: Path, tenant: Tenant, version: str | None = None,
                     frames: dict[str, pl.DataFrame] | None = None) -> str:
    """Write one complete version of the tenant, then flip CURRENT atomically. Returns it.

    ``frames`` replaces some marts of :func:`snapshot_frames` (e.g. a richer project health)."""
    version = version or new_version()
    tenant_dir = Path(published_dir) / tenant.tenant_id
    folder = tenant_dir / version
    folder.mkdir(parents=True)
    frames = {**snapshot_frames(tenant), **(frames or {})}
    for name in PUBLISHED_MARTS:  # marts the dashboard does not read yet: present, empty
        frames.setdefault(name, pl.DataFrame(schema={"tenant_id": pl.String}))
    for name, frame in frames.items():
        frame.write_parquet(folder / f"{name}.parquet")
    pl.DataFrame(
        [
            {
                "tenant_id": tenant.tenant_id,
                "tenant_slug": tenant.slug,
                "tenant_name": tenant.name,
                "base_currency": tenant.base_currency,
                "as_of": AS_OF,
                "refreshed_at": REFRESHED_AT,
                "version": version,
                "row_counts": json.dumps({name: frame.height for name, frame in frames.items()}),
            }
        ],
        schema={
            "tenant_id": pl.String,
            "tenant_slug": pl.String,
            "tenant_name": pl.String,
            "base_currency": pl.String,
            "as_of": pl.Date,
            "refreshed_at": pl.Datetime("us", "UTC"),
            "version": pl.String,
            "row_counts": pl.String,
        },
    ).write_parquet(folder / "meta.parquet")
    pointer = tenant_dir / "CURRENT.tmp"
    pointer.write_text(version, encoding="utf-8")
    os.replace(pointer, tenant_dir / "CURRENT")
    return version


PROJECT_HEALTH_SCHEMA = {
    "tenant_id": pl.String, "project_id": pl.String, "name": pl.String, "status": pl.String,
    "as_of": pl.Date, "base_currency": pl.String, "budget": MONEY, "spent": MONEY,
    "budget_used_pct": pl.Float64, "milestones_total": pl.Int64, "milestones_completed": pl.Int64,
    "milestones_overdue": pl.Int64, "is_over_budget": pl.Boolean, "is_past_deadline": pl.Boolean,
    "is_at_risk": pl.Boolean, "deadline": pl.Date,
}
# A project for seed_projects / project_health_frame:
# (id, name, status, budget, spent, deadline, [(milestone title, status, due date or None), …])
ProjectSpec = tuple[str, str, str, str, str, dt.date, list[tuple[str, str, dt.date | None]]]


def project_health_frame(tenant: Tenant, projects: list[ProjectSpec]) -> pl.DataFrame:
    """fct_project_health rows for ``projects`` by METRICS.md's rules (as of AS_OF, in the
    tenant's base currency: the projects are seeded in it)."""
    rows = []
    for pid, name, status, budget, spent, deadline, milestones in projects:
        budget_d, spent_d = Decimal(budget), Decimal(spent)
        overdue = sum(1 for _, s, due in milestones if s != "COMPLETED" and due is not None and due < AS_OF)
        over = spent_d > budget_d > 0
        past = deadline < AS_OF and status not in ("COMPLETED", "CANCELLED")
        rows.append({"tenant_id": tenant.tenant_id, "project_id": pid, "name": name, "status": status,
                     "as_of": AS_OF, "base_currency": tenant.base_currency, "budget": budget_d, "spent": spent_d,
                     "budget_used_pct": float(spent_d / budget_d) if budget_d else None,
                     "milestones_total": len(milestones),
                     "milestones_completed": sum(1 for _, s, _ in milestones if s == "COMPLETED"),
                     "milestones_overdue": overdue, "is_over_budget": over, "is_past_deadline": past,
                     "is_at_risk": bool(over or past or overdue), "deadline": deadline})
    return pl.DataFrame(rows, schema=PROJECT_HEALTH_SCHEMA)


def seed_projects(url: str, tenant: Tenant, projects: list[ProjectSpec]) -> None:
    """The same projects and their milestones in the operational DB (ids as given)."""
    from sqlalchemy.orm import Session

    from operational.db import make_engine
    from operational.models import Project, ProjectMilestone

    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            for pid, name, status, budget, spent, deadline, milestones in projects:
                session.add(Project(id=pid, org_id=tenant.tenant_id, name=name, type="ALBUM", status=status,
                                    budget=Decimal(budget), spent=Decimal(spent), deadline=deadline,
                                    currency=tenant.base_currency))
                session.flush()
                for order, (title, milestone_status, due) in enumerate(milestones):
                    session.add(ProjectMilestone(org_id=tenant.tenant_id, project_id=pid, title=title,
                                                 status=milestone_status, due_date=due, sort_order=order))
    finally:
        engine.dispose()


def role_email(tenant: Tenant, role: str) -> str:
    return f"{role.lower().replace('_', '-')}@{tenant.slug}.example"


def create_operational_db(url: str, tenants: list[Tenant], all_roles_for: Tenant | None = None) -> None:
    """Organizations and one ORG_ADMIN user per tenant, all with PASSWORD; plus one user of every
    role for ``all_roles_for`` (see :func:`role_email`)."""
    from sqlalchemy.orm import Session

    from operational.auth import hash_password
    from operational.db import create_schema, make_engine
    from operational.enums import OrgType, Plan, UserRole
    from operational.models import Organization, User

    engine = make_engine(url)
    try:
        create_schema(engine)
        password_hash = hash_password(PASSWORD)
        with Session(engine) as session:
            for t in tenants:
                session.add(
                    Organization(
                        id=t.tenant_id,
                        name=t.name,
                        slug=t.slug,
                        type=OrgType.RECORD_LABEL,
                        plan=Plan.LABEL_ENTERPRISE,
                        settings={"base_currency": t.base_currency},
                    )
                )
            session.flush()
            for t in tenants:
                session.add(
                    User(
                        org_id=t.tenant_id,
                        email=t.email,
                        name=t.user_name,
                        role=UserRole.ORG_ADMIN,
                        password_hash=password_hash,
                    )
                )
            if all_roles_for is not None:
                for role in UserRole:
                    session.add(
                        User(
                            org_id=all_roles_for.tenant_id,
                            email=role_email(all_roles_for, role.value),
                            name=f"{role.value.title()} of {all_roles_for.name}",
                            role=role,
                            password_hash=password_hash,
                        )
                    )
            session.commit()
    finally:
        engine.dispose()


@dataclass
class World:
    root: Path
    operational_url: str
    warehouse_dir: Path
    a: Tenant
    b: Tenant
    empty: Tenant  # snapshot published, no bookings
    unpublished: Tenant  # no snapshot at all

    @property
    def published_dir(self) -> Path:
        return self.warehouse_dir / "published"

    def env(self) -> dict[str, str]:
        return {
            "AUDITORYX_VAR_DIR": str(self.root / "var"),
            "AUDITORYX_OPERATIONAL_URL": self.operational_url,
            "AUDITORYX_WAREHOUSE_DIR": str(self.warehouse_dir),
        }


def build_world(root: Path) -> World:
    """Four tenants: A and B with data (B holds the canary artist), one empty, one unpublished."""
    root = Path(root)
    a = Tenant(
        tenant_id="0a1b2c3d-aaaa-4000-8000-00000000000a",
        slug="aurora-records",
        name="Aurora Records",
        email="ceo@aurora.example",
        user_name="Ada Aurora",
        base_currency="USD",
        artists=[
            Artist("art-a1", "Lumen Vale", d("48250.75"), 17),
            Artist("art-a2", "Marisol Keys", d("31000.00"), 12),
            Artist("art-a3", "The Quiet Harbor", d("9875.10"), 4),
        ],
        revenue_30d=d("12345.67"),
        revenue_prev_30d=d("10000.00"),
        outstanding=d("2222.22"),
        bookings_30d=23,
        active_artists_30d=7,
    )
    b = Tenant(
        tenant_id="0b1b2c3d-bbbb-4000-8000-00000000000b",
        slug="bravo-studios",
        name="Bravo Studios",
        email="ceo@bravo.example",
        user_name="Bea Bravo",
        base_currency="EUR",
        artists=[
            Artist("art-b1", CANARY_ARTIST, d("77777.77"), 31),
            Artist("art-b2", "Other Bravo Artist", d("5000.00"), 2),
        ],
        revenue_30d=d("98765.43"),
        revenue_prev_30d=d("50000.00"),
        outstanding=d("4444.44"),
        bookings_30d=91,
        active_artists_30d=19,
    )
    empty = Tenant(
        tenant_id="0c1b2c3d-cccc-4000-8000-00000000000c",
        slug="calm-collective",
        name="Calm Collective",
        email="ceo@calm.example",
        user_name="Cal Calm",
        with_bookings=False,
    )
    unpublished = Tenant(
        tenant_id="0d1b2c3d-dddd-4000-8000-00000000000d",
        slug="dawn-agency",
        name="Dawn Agency",
        email="ceo@dawn.example",
        user_name="Dee Dawn",
    )
    world = World(
        root=root,
        operational_url=f"sqlite:///{root / 'operational.sqlite'}",
        warehouse_dir=root / "warehouse",
        a=a,
        b=b,
        empty=empty,
        unpublished=unpublished,
    )
    create_operational_db(world.operational_url, [a, b, empty, unpublished], all_roles_for=a)
    for tenant in (a, b, empty):
        publish_snapshot(world.published_dir, tenant)
    return world
