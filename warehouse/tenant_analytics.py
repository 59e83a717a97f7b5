"""Analytics answers for one tenant from its published snapshot, for front doors without
Streamlit (the HTTP API): the label dashboard's numbers, bookings counts and revenue for a period,
and project health.

Each answer is computed once per (tenant, version) and kept in a small per-process cache: the
tenant's ``CURRENT`` pointer is checked on every call (a ``stat``: ``warehouse.pointer_memo``), so a
newly published version is answered at once, and every other call costs a dictionary lookup. Readers are the
confined DuckDB connections of :mod:`warehouse.reader`; every statement binds the tenant id too.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

from operational.permissions import Action, Actor, Resource, require_permission
from warehouse.layout import last_refresh, validate_tenant_id
from warehouse.pointer_memo import PointerMemo
from warehouse.reader import SnapshotNotFound, TenantSnapshot, open_version_folder

REVENUE_MONTHS_BACK = 11
REVENUE_MONTHS_AHEAD = 6
TOP_PERFORMERS = 10
MAX_MONTHS = 120
_CACHED_READERS = 64
_CACHED_ANSWERS = 4096

_SQL_META = """SELECT tenant_id, tenant_slug, tenant_name, base_currency, as_of, refreshed_at, version
FROM meta WHERE tenant_id = ?"""
_SQL_KPIS = """SELECT as_of, base_currency, recognized_revenue_30d, recognized_revenue_prev_30d, revenue_delta_pct,
       bookings_30d, active_artists_30d, active_projects, overdue_milestones, outstanding_revenue
FROM kpi_summary WHERE tenant_id = ?"""
_SQL_REVENUE_MONTHLY = """SELECT month, booking_type, recognized_revenue, pipeline_revenue, collected_revenue,
       outstanding_revenue, completed_bookings
FROM fct_revenue_monthly WHERE tenant_id = ? AND month BETWEEN ? AND ? ORDER BY month, booking_type"""
_SQL_TOP_PERFORMERS = """SELECT rank, artist_id, artist_name, recognized_revenue, completed_bookings
FROM top_performers WHERE tenant_id = ? AND rank <= ? ORDER BY rank"""
_SQL_BOOKINGS_MONTHLY = """SELECT month, total_bookings, completed_bookings, cancelled_bookings
FROM fct_bookings_monthly WHERE tenant_id = ? AND month BETWEEN ? AND ? ORDER BY month"""
_SQL_REVENUE_BY_MONTH = """SELECT month, sum(recognized_revenue) AS recognized_revenue,
       sum(pipeline_revenue) AS pipeline_revenue, sum(collected_revenue) AS collected_revenue,
       sum(outstanding_revenue) AS outstanding_revenue
FROM fct_revenue_monthly WHERE tenant_id = ? AND month BETWEEN ? AND ? GROUP BY month ORDER BY month"""
_SQL_PROJECT_HEALTH = """SELECT * EXCLUDE (tenant_id)
FROM fct_project_health WHERE tenant_id = ? AND project_id = ?"""


class NothingPublished(SnapshotNotFound):
    """No version of this tenant was published yet."""


def add_months(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + (month.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def jsonable(value: Any) -> Any:
    """Money as strings (exact), dates as ISO text, everything else as is."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def _rows(frame) -> list[dict[str, Any]]:
    return [{key: jsonable(value) for key, value in row.items()} for row in frame.iter_rows(named=True)]


class TenantAnalytics:
    """Cached analytics answers from published snapshots under ``published_dir``."""

    def __init__(self, published_dir: Path) -> None:
        self.published_dir = Path(published_dir).resolve()
        self._readers: OrderedDict[tuple[str, str], TenantSnapshot] = OrderedDict()
        self._answers: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._pointers = PointerMemo()  # CURRENT and CHECKED_AT, read again when their stat changes

    # plumbing

    def version(self, tenant_id: str) -> str:
        version = self._pointers.current_version(self.published_dir, validate_tenant_id(tenant_id))
        if version is None:
            raise NothingPublished(f"no analytics published yet for this organization; they appear after "
                                   f"the next refresh")
        return version

    def _reader(self, tenant_id: str, version: str) -> TenantSnapshot:
        key = (tenant_id, version)
        with self._lock:
            reader = self._readers.get(key)
            if reader is not None:
                self._readers.move_to_end(key)
                return reader
        reader = open_version_folder(tenant_id, version, self.published_dir / tenant_id / version)
        with self._lock:
            self._readers[key] = reader
            while len(self._readers) > _CACHED_READERS:
                _old_key, old = self._readers.popitem(last=False)
                old.close()
        return reader

    def _answer(self, tenant_id: str, name: str, args: tuple, compute: Callable[[TenantSnapshot], Any]) -> Any:
        version = self.version(tenant_id)
        key = (tenant_id, version, name, args)
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
        answer = compute(self._reader(tenant_id, version))
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > _CACHED_ANSWERS:
                self._answers.popitem(last=False)
        return answer

    def _cached(self, tenant_id: str, name: str, args: tuple) -> Any | None:
        """The cached answer for the tenant's current version, or None (never computes)."""
        key = (tenant_id, self.version(tenant_id), name, args)
        with self._lock:
            return self._answers.get(key)

    def _checked(self, tenant_id: str) -> dt.datetime | None:
        """When a refresh last checked the tenant's content (CHECKED_AT; a kept version is older)."""
        return self._pointers.checked_at(self.published_dir, validate_tenant_id(tenant_id))

    def close(self) -> None:
        with self._lock:
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()
            self._answers.clear()

    # answers

    @staticmethod
    def _check_dashboard(actor: Actor) -> None:
        for resource in (Resource.ANALYTICS, Resource.REVENUE, Resource.ARTIST_PERFORMANCE):
            require_permission(actor, resource, Action.READ)

    def dashboard(self, actor: Actor) -> dict[str, Any]:
        """The label dashboard's numbers: KPIs, revenue by month and type, top performers."""
        self._check_dashboard(actor)
        checked = self._checked(actor.tenant_id)
        return self._answer(actor.tenant_id, "dashboard", (checked,),
                            lambda snapshot: _dashboard(snapshot, actor.tenant_id, checked))

    def dashboard_json(self, actor: Actor) -> bytes:
        """:meth:`dashboard` as UTF-8 JSON, serialized once per version (the API's hot path)."""
        self._check_dashboard(actor)
        checked = self._checked(actor.tenant_id)
        return self._answer(actor.tenant_id, "dashboard_json", (checked,), lambda snapshot: json.dumps(
            _dashboard(snapshot, actor.tenant_id, checked), separators=(",", ":")).encode("utf-8"))

    def cached_dashboard_json(self, actor: Actor) -> bytes | None:
        """:meth:`dashboard_json` if it is already computed for the current version, else None:
        cheap enough for an event loop (a permission check, a pointer read, a lookup)."""
        self._check_dashboard(actor)
        return self._cached(actor.tenant_id, "dashboard_json", (self._checked(actor.tenant_id),))

    def bookings_summary(self, actor: Actor, first_month: dt.date, last_month: dt.date) -> dict[str, Any]:
        """Bookings counted by local start month and revenue by service month, per month and in total."""
        for resource in (Resource.ANALYTICS, Resource.REVENUE):
            require_permission(actor, resource, Action.READ)
        tenant_id = actor.tenant_id
        first_month, last_month = month_start(first_month), month_start(last_month)
        if last_month < first_month:
            raise ValueError("the period ends before it starts")
        if (last_month.year - first_month.year) * 12 + last_month.month - first_month.month >= MAX_MONTHS:
            raise ValueError(f"a period of at most {MAX_MONTHS} months")

        def compute(snapshot: TenantSnapshot) -> dict[str, Any]:
            meta = _one(snapshot, _SQL_META, tenant_id) or {}
            counts = {row["month"]: row for row in _rows(snapshot.query(
                _SQL_BOOKINGS_MONTHLY, [tenant_id, first_month, last_month]))}
            money = {row["month"]: row for row in _rows(snapshot.query(
                _SQL_REVENUE_BY_MONTH, [tenant_id, first_month, last_month]))}
            months, month = [], first_month
            while month <= last_month:
                key = month.isoformat()
                months.append({"month": key, **_counts(counts.get(key)), **_money(money.get(key))})
                month = add_months(month, 1)
            totals = {**{name: sum(m[name] for m in months) for name in _COUNT_FIELDS},
                      **{name: str(sum((decimal.Decimal(m[name]) for m in months), decimal.Decimal("0")))
                         for name in _MONEY_FIELDS}}
            return {"first_month": first_month.isoformat(), "last_month": last_month.isoformat(),
                    "base_currency": meta.get("base_currency"), "snapshot": {"version": snapshot.version},
                    "months": months, "totals": totals}
        return self._answer(tenant_id, "bookings_summary", (first_month, last_month), compute)

    def project_health(self, actor: Actor, project_id: str) -> dict[str, Any] | None:
        """The project's health as of the last refresh; None if it was not there yet."""
        require_permission(actor, Resource.PROJECTS, Action.READ)
        tenant_id = actor.tenant_id
        def compute(snapshot: TenantSnapshot) -> dict[str, Any] | None:
            row = _one(snapshot, _SQL_PROJECT_HEALTH, tenant_id, project_id)
            return None if row is None else {key: jsonable(value) for key, value in row.items()}
        try:
            return self._answer(tenant_id, "project_health", (project_id,), compute)
        except NothingPublished:
            return None


def _dashboard(snapshot: TenantSnapshot, tenant_id: str, checked: dt.datetime | None = None) -> dict[str, Any]:
    meta = _one(snapshot, _SQL_META, tenant_id)
    if meta is None:
        raise SnapshotNotFound(f"snapshot {snapshot.version} has no meta row for its tenant")
    this_month = month_start(meta["as_of"])
    first, last = add_months(this_month, -REVENUE_MONTHS_BACK), add_months(this_month, REVENUE_MONTHS_AHEAD)
    kpis = _one(snapshot, _SQL_KPIS, tenant_id)
    return {
        "tenant": {"id": tenant_id, "slug": meta["tenant_slug"], "name": meta["tenant_name"]},
        "as_of": jsonable(meta["as_of"]),
        "base_currency": meta["base_currency"],
        "snapshot": {"version": snapshot.version, "refreshed_at": jsonable(last_refresh(meta["refreshed_at"], checked))},
        "kpis": {key: jsonable(value) for key, value in (kpis or {}).items() if key not in ("as_of", "base_currency")},
        "revenue_monthly": {"first_month": first.isoformat(), "last_month": last.isoformat(),
                            "rows": _rows(snapshot.query(_SQL_REVENUE_MONTHLY, [tenant_id, first, last]))},
        "top_performers": _rows(snapshot.query(_SQL_TOP_PERFORMERS, [tenant_id, TOP_PERFORMERS])),
    }


_COUNT_FIELDS = ("total_bookings", "completed_bookings", "cancelled_bookings")
_MONEY_FIELDS = ("recognized_revenue", "pipeline_revenue", "collected_revenue", "outstanding_revenue")


def _counts(row: dict | None) -> dict[str, int]:
    return {name: int((row or {}).get(name) or 0) for name in _COUNT_FIELDS}


def _money(row: dict | None) -> dict[str, str]:
    return {name: str((row or {}).get(name) or "0.00") for name in _MONEY_FIELDS}


def _one(snapshot: TenantSnapshot, sql: str, *params: Any) -> dict[str, Any] | None:
    frame = snapshot.query(sql, list(params))
    return frame.row(0, named=True) if frame.height else None
