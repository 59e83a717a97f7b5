"""The canonical Arrow form of every generated table, derived from the SQLAlchemy models."""
from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
from sqlalchemy import JSON, BigInteger, Boolean, Date, Integer, Numeric, Table

from operational.models import (
    Artist,
    Booking,
    Organization,
    Project,
    ProjectMilestone,
    ProjectUser,
    User,
)
from operational.types import Money, UtcDateTime

MODELS = {model.__tablename__: model for model in (Organization, User, Artist, Project, ProjectUser,
                                                     ProjectMilestone, Booking)}
TABLE_ORDER = tuple(MODELS)  # parents before children
MONEY = pa.decimal128(18, 2)
TIMESTAMP = pa.timestamp("us", tz="UTC")


def sa_table(name: str) -> Table:
    return MODELS[name].__table__


def column_kind(column) -> str:
    """money | timestamp | date | bool | bigint | int | decimal | json | text."""
    kind = column.type
    if isinstance(kind, Money):
        return "money"
    if isinstance(kind, UtcDateTime):
        return "timestamp"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, BigInteger):
        return "bigint"
    if isinstance(kind, Integer):
        return "int"
    if isinstance(kind, Numeric):
        return "decimal"
    if isinstance(kind, JSON):
        return "json"
    return "text"


def arrow_type(column) -> pa.DataType:
    kind = column_kind(column)
    if kind == "decimal":
        return pa.decimal128(column.type.precision, column.type.scale)
    return {"money": MONEY, "timestamp": TIMESTAMP, "date": pa.date32(), "bool": pa.bool_(),
            "int": pa.int32(), "bigint": pa.int64(), "json": pa.string(), "text": pa.string()}[kind]


@lru_cache(maxsize=None)
def arrow_schema(name: str) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c), nullable=c.nullable) for c in sa_table(name).columns])


@lru_cache(maxsize=None)
def column_kinds(name: str) -> dict[str, str]:
    return {c.name: column_kind(c) for c in sa_table(name).columns}


def build_table(name: str, columns: dict[str, pa.Array | list], rows: int) -> pa.Table:
    """A table in the model's column order and canonical types; absent nullable columns are null."""
    schema = arrow_schema(name)
    unknown = set(columns) - set(schema.names)
    if unknown:
        raise KeyError(f"{name}: unknown columns {sorted(unknown)}")
    arrays = []
    for field in schema:
        value = columns.get(field.name)
        if value is None:
            if not field.nullable:
                raise KeyError(f"{name}.{field.name} is required")
            arrays.append(pa.nulls(rows, field.type))
            continue
        array = value if isinstance(value, (pa.Array, pa.ChunkedArray)) else pa.array(value, type=field.type)
        if array.type != field.type:
            array = array.cast(field.type)
        if len(array) != rows:
            raise ValueError(f"{name}.{field.name}: {len(array)} values for {rows} rows")
        if not field.nullable and array.null_count:
            raise ValueError(f"{name}.{field.name} must not be null")
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)
