"""Service results as JSON-ready values: money stays exact (Decimal → string), times are ISO 8601."""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import json
from typing import Any


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.name.startswith("_")}
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return value


def encode_cursor(*values: Any) -> str:
    """An opaque cursor for the next page (the sort key of the last row returned)."""
    return base64.urlsafe_b64encode(json.dumps(plain(list(values))).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise ValueError("invalid cursor: pass the next_cursor of a previous page") from None
    if not isinstance(values, list) or len(values) != size or not all(isinstance(v, str) for v in values):
        raise ValueError("invalid cursor: pass the next_cursor of a previous page")
    return values


def page(items: list[Any], limit: int, cursor_of) -> dict[str, Any]:
    """``items`` holds up to limit + 1 rows: the extra one says whether there is a next page."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": plain(items), "next_cursor": cursor_of(items[-1]) if more and items else None}


def page_by_id(items: list[Any], cursor: str | None, limit: int) -> dict[str, Any]:
    """Cursor pages over a short, complete list (a tenant's users or artists), in id order."""
    after = decode_cursor(cursor, 1)[0] if cursor else ""
    rest = sorted((item for item in items if item.id > after), key=lambda item: item.id)
    return page(rest[:limit + 1], limit, lambda last: encode_cursor(last.id))
