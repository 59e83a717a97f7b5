"""What analysts see of the published marts: their natural row order and their documentation.

* ``NATURAL_ORDER``: the order a mart's rows are read in (top performers by rank, months
  ascending…); readers apply it to their views (warehouse/reader.py), so ``SELECT * FROM
  top_performers`` lists rank 1 first whatever order the Parquet files hold. A query's own
  ``ORDER BY`` still wins.
* ``mart_docs()``: table and column descriptions compiled from the marts' dbt ``.yml`` files into
  ``warehouse/mart_docs.json``, which ships with the code (nothing reads ``dbt_project/`` at run
  time). ``make docs`` recompiles it; ``python -m warehouse.mart_catalog --check`` fails when it is
  out of date (a test runs the same check).
"""
from __future__ import annotations

import argparse
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from warehouse.layout import META_TABLE, PUBLISHED_MARTS

DOCS_FILE = Path(__file__).with_name("mart_docs.json")
MARTS_DIR = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "marts"

NATURAL_ORDER: dict[str, tuple[str, ...]] = {
    "fct_revenue_monthly": ("month", "booking_type"),
    "fct_bookings_monthly": ("month",),
    "fct_artist_performance_monthly": ("month", "artist_id"),
    "top_performers": ("rank",),
    "fct_project_health": ("name", "project_id"),
    "kpi_summary": (),
    "fct_recent_activity": ("recency_rank",),
    "fct_booking_status_funnel": ("stage_order",),
    "fct_revenue_by_currency": ("month", "currency"),
    "fct_receivables_aging": ("bucket_order",),
    "dim_artists": ("artist_name", "artist_id"),
}

# meta is written by warehouse/publish.py (not a dbt model): its documentation lives here.
META_DOCS: dict[str, Any] = {
    "description": "One row describing this snapshot: the tenant, its base currency, the as-of date, "
                   "when it was refreshed, its version and the source row counts.",
    "columns": {
        "tenant_id": "Organization.",
        "tenant_slug": "The tenant's slug (short name) when the snapshot was published.",
        "tenant_name": "The tenant's name.",
        "base_currency": "The tenant's base currency (of every money column of the marts).",
        "as_of": "As-of date D of the refresh.",
        "refreshed_at": "When the snapshot was published (UTC).",
        "version": "Snapshot version (folder name under published/<tenant id>/).",
        "row_counts": "JSON object: rows per operational source table of the tenant at refresh time.",
        "definitions_version": "The metric definitions the snapshot was built with: the dbt project's version "
                               "and a digest of its models, macros, seeds and tests.",
    },
}


def order_columns(table: str, columns: Sequence[str]) -> list[str]:
    """The natural-order columns of ``table`` that ``columns`` holds (none for unknown tables)."""
    present = set(columns)
    return [c for c in NATURAL_ORDER.get(table, ()) if c in present]


def natural_order(relation, table: str):
    """``relation`` (a DuckDB relation over ``table``'s file) sorted in the table's natural order."""
    columns = order_columns(table, relation.columns)
    return relation.order(", ".join(f'"{c}"' for c in columns)) if columns else relation


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def compile_mart_docs(marts_dir: Path = MARTS_DIR) -> dict[str, Any]:
    """{table: {"description", "columns": {column: description}}} for every published mart and
    meta, in PUBLISHED_MARTS order, from the dbt ``.yml`` files of ``marts_dir``."""
    import yaml

    found: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(marts_dir).glob("*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            found[model["name"]] = {
                "description": _one_line(model.get("description")),
                "columns": {c["name"]: _one_line(c.get("description")) for c in model.get("columns", [])},
            }
    missing = [m for m in PUBLISHED_MARTS if m not in found]
    if missing:
        raise ValueError(f"no dbt documentation for {', '.join(missing)} under {marts_dir}")
    tables = {mart: found[mart] for mart in PUBLISHED_MARTS}
    tables[META_TABLE] = META_DOCS
    return {"source": "dbt_project/models/marts/*.yml (python -m warehouse.mart_catalog)", "tables": tables}


def _render(docs: dict[str, Any]) -> str:
    return json.dumps(docs, indent=1, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def mart_docs() -> dict[str, dict[str, Any]]:
    """The compiled documentation: {table: {"description", "columns"}} (empty when not compiled)."""
    try:
        return json.loads(DOCS_FILE.read_text(encoding="utf-8"))["tables"]
    except FileNotFoundError:
        return {}


def main(argv: Sequence[str] | None = None) -> int:
    """Compile the marts' dbt documentation into warehouse/mart_docs.json (or --check it)."""
    parser = argparse.ArgumentParser(prog="python -m warehouse.mart_catalog", description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="Fail when the file is out of date.")
    options = parser.parse_args(argv)
    text = _render(compile_mart_docs())
    current = DOCS_FILE.read_text(encoding="utf-8") if DOCS_FILE.is_file() else None
    if options.check:
        if current != text:
            print(f"{DOCS_FILE} is out of date: run `python -m warehouse.mart_catalog`")
            return 1
        return 0
    if current != text:
        DOCS_FILE.write_text(text, encoding="utf-8")
    print(f"mart docs: {DOCS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
