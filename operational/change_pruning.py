"""Pruning ``change_deletions`` (migrations 0006, 0008).

The rows only serve incremental extractions that have not read past them. Once a warehouse has
read every tenant from a bound (a full extraction: the nightly reconciliation), the rows numbered
below that bound tell it nothing new; they are removed and the bound is recorded as the horizon in
the same transaction. Another reader whose watermark is older than the horizon reads the tenant ×
table whole (keys reconciled), so a pruned delete is never missed.
"""
from __future__ import annotations

from sqlalchemy import Engine, text


def prune_change_deletions(engine: Engine, below: int) -> int:
    """Remove the deletion rows numbered below ``below`` and raise the horizon to it (never
    lower it); returns the rows removed."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE change_deletions_horizon SET pruned_below = :below "
                          "WHERE id = 1 AND pruned_below < :below"), {"below": below})
        return conn.execute(text("DELETE FROM change_deletions WHERE change_number < :below"),
                            {"below": below}).rowcount


def deletions_horizon(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pruned_below FROM change_deletions_horizon WHERE id = 1")).scalar() or 0)
