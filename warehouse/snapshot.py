"""A standalone DuckDB file of one tenant's current marts, for analysts (`auditoryx snapshot`)."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

from warehouse.layout import META_TABLE, PUBLISHED_MARTS, current_version, version_dir
from warehouse.mart_catalog import natural_order
from warehouse.reader import SnapshotNotFound


def write_tenant_snapshot(published_dir: Path, tenant_id: str, out_file: Path) -> Path:
    """Copy the tenant's CURRENT version into ``out_file`` (schema ``marts`` plus ``main.meta``).

    The file is written beside the target and renamed into place: a reader never sees half a file.
    """
    published_dir = Path(published_dir).resolve()
    version = current_version(published_dir, tenant_id)
    if version is None:
        raise SnapshotNotFound(f"no published snapshot for tenant {tenant_id}; run `auditoryx refresh`")
    folder = version_dir(published_dir, tenant_id, version)
    out_file = Path(out_file).resolve()
    out_file.parent.mkdir(parents=True, exist_ok=True)
    partial = out_file.with_name(out_file.name + ".partial")
    partial.unlink(missing_ok=True)
    conn = duckdb.connect(str(partial))
    try:
        conn.execute("CREATE SCHEMA marts")
        for mart in PUBLISHED_MARTS:
            natural_order(conn.read_parquet(str(folder / f"{mart}.parquet"), hive_partitioning=False),
                          mart).create(f"marts.{mart}")
        conn.read_parquet(str(folder / f"{META_TABLE}.parquet"), hive_partitioning=False).create(f"main.{META_TABLE}")
        conn.execute("CHECKPOINT")
    finally:
        conn.close()
    os.replace(partial, out_file)
    return out_file
