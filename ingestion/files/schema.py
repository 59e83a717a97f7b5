"""What a file drop row must look like, per entity, derived from the operational models.

Columns and SQL types come from :data:`ingestion.raw_schema.RAW_TABLES` (the raw contract); which
columns are required, their defaults, length limits, enums and foreign keys come from the
SQLAlchemy models in :mod:`operational.models`, so a file row is held to the same rules as a row
written through the product. The model's CHECK constraints are mirrored in :data:`ROW_CHECKS`
(``tests/ingestion/files`` fails if a new constraint is not mirrored).

Rules a column follows:

* required = NOT NULL in the model with no default (``org_id`` excepted: it is the folder's tenant);
* a missing or blank value of a NOT NULL column with a model default gets that default
  (``created_at``/``updated_at``: the load time);
* a missing or blank value of a nullable column is NULL.
"""
from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Enum as SqlEnum
from sqlalchemy import String

from ingestion.raw_schema import RAW_TABLES
from operational.models import ISO_4217_CODES as OPERATIONAL_ISO_4217_CODES
from operational.models import Artist, Booking, Project, ProjectMilestone

# processing order: referenced entities before the entities that reference them, so that a batch
# that drops artists and their bookings together loads both
ENTITIES: tuple[str, ...] = ("artists", "projects", "project_milestones", "bookings")
MODELS = {"artists": Artist, "projects": Project, "project_milestones": ProjectMilestone, "bookings": Booking}
TENANT_COLUMN = "org_id"
KEY_COLUMN = "id"
TIMESTAMP_DEFAULT_COLUMNS = ("created_at", "updated_at")
LOAD_TIME = object()  # sentinel default: the batch's load time

# the product's own list (operational.models validates the same codes on every write), so a file
# row is accepted exactly when the booking form would accept it
ISO_4217_CODES: frozenset[str] = OPERATIONAL_ISO_4217_CODES


def iana_time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    sql_type: str                       # the raw contract's type
    required: bool                      # NOT NULL without default: a blank value quarantines the row
    default: Any = None                 # SQL-ready Python value, LOAD_TIME, or None
    max_length: int | None = None       # from String(n) in the model; None = the generic field limit
    allowed: tuple[str, ...] | None = None  # enum names
    references: str | None = None       # "artists" / "projects": must be known for the same tenant
    json_shape: str | None = None       # "ARRAY" / "OBJECT" for JSON columns


@dataclass(frozen=True)
class RowCheck:
    """A row rule mirroring a model CHECK constraint: ``violated`` is SQL over typed columns ``t.<col>``."""

    constraint: str
    column: str
    violated: str
    reason: str  # SQL expression producing the human-readable reason


@dataclass(frozen=True)
class EntitySpec:
    entity: str
    columns: tuple[ColumnSpec, ...]
    checks: tuple[RowCheck, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


def _sql_default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    return value


def _column_spec(entity: str, name: str, sql_type: str) -> ColumnSpec:
    column = MODELS[entity].__table__.c[name]
    default = None
    json_shape = None
    if column.default is not None:
        if column.default.is_scalar:
            default = _sql_default(column.default.arg)
        elif name in TIMESTAMP_DEFAULT_COLUMNS:
            default = LOAD_TIME
        elif sql_type == "JSON":
            empty = column.default.arg(None)  # SQLAlchemy wraps dict/list as fn(context)
            json_shape = "ARRAY" if isinstance(empty, list) else "OBJECT"
            default = "[]" if json_shape == "ARRAY" else "{}"
    if sql_type == "JSON" and json_shape is None:
        python_type = getattr(column.type, "python_type", None)
        json_shape = {list: "ARRAY", dict: "OBJECT"}.get(python_type)
    # ids: the primary key's callable default (uuid4) is for the product, never for a file row
    required = (not column.nullable) and default is None and name != TENANT_COLUMN
    allowed = None
    if isinstance(column.type, SqlEnum) and column.type.enum_class is not None:
        allowed = tuple(member.value for member in column.type.enum_class)
    max_length = None
    if isinstance(column.type, String) and not isinstance(column.type, SqlEnum):
        max_length = column.type.length
    references = None
    for foreign_key in column.foreign_keys:
        if foreign_key.column.table.name in ("artists", "projects"):
            references = foreign_key.column.table.name
    return ColumnSpec(name=name, sql_type=sql_type, required=required, default=default,
                      max_length=max_length, allowed=allowed, references=references, json_shape=json_shape)


def _not_negative(constraint: str, column: str) -> RowCheck:
    return RowCheck(constraint, column, f"t.t_{column} < 0", f"'{column} ' || t.t_{column} || ' is negative'")


# One entry per CHECK constraint of the models (enum and currency constraints are covered by
# the enum and ISO 4217 validations).
ROW_CHECKS: dict[str, tuple[RowCheck, ...]] = {
    "artists": (
        RowCheck("ck_artist_rating", "rating", "t.t_rating < 0 OR t.t_rating > 5",
                 "'rating ' || t.t_rating || ' is outside 0..5'"),
        _not_negative("ck_artist_total_bookings", "total_bookings"),
        _not_negative("money", "total_earnings"),
    ),
    "projects": (
        _not_negative("ck_project_budget", "budget"),
        _not_negative("ck_project_spent", "spent"),
        RowCheck("ck_project_dates", "end_date", "t.t_end_date < t.t_start_date",
                 "'end_date ' || t.t_end_date || ' is before start_date ' || t.t_start_date"),
    ),
    "project_milestones": (),
    "bookings": (
        RowCheck("ck_booking_end_after_start", "end_date", "t.t_end_date <= t.t_start_date",
                 "'end_date ' || strftime(t.t_end_date, '%Y-%m-%dT%H:%M:%SZ') || "
                 "' is not after start_date ' || strftime(t.t_start_date, '%Y-%m-%dT%H:%M:%SZ')"),
        _not_negative("ck_booking_budget", "budget"),
        _not_negative("ck_booking_final_price", "final_price"),
        RowCheck("ck_booking_duration", "duration_minutes", "t.t_duration_minutes <= 0",
                 "'duration_minutes ' || t.t_duration_minutes || ' is not positive'"),
    ),
}

# constraints mirrored elsewhere than ROW_CHECKS (enum lists, ISO 4217)
COVERED_ELSEWHERE = re.compile(r"^ck_\w+_currency_iso$")


def entity_spec(entity: str) -> EntitySpec:
    if entity not in MODELS:
        raise KeyError(f"not a file-drop entity: {entity}")
    columns = tuple(_column_spec(entity, name, sql_type) for name, sql_type in RAW_TABLES[entity].items())
    return EntitySpec(entity=entity, columns=columns, checks=ROW_CHECKS[entity])


SPECS: dict[str, EntitySpec] = {entity: entity_spec(entity) for entity in ENTITIES}
