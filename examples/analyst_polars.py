"""Revenue by month and the top performers of one tenant, with Polars.

Run after `make demo` (any tenant slug or id; the demo's are printed by `make demo`):

    .venv/bin/python examples/analyst_polars.py northwind-records

`connect` opens the tenant's current published snapshot read-only (the same confined reader as
the dashboards); `query` runs one SELECT with bound parameters and returns a Polars DataFrame.
"""
from __future__ import annotations

import sys

import polars as pl

from warehouse.analyst import connect


def main(tenant: str, top: int = 5) -> None:
    with connect(tenant) as snap:
        meta = snap.meta()
        revenue = snap.query("SELECT month, booking_type, recognized_revenue, pipeline_revenue "
                             "FROM fct_revenue_monthly")
        performers = snap.query("SELECT rank, artist_name, recognized_revenue, completed_bookings "
                                "FROM top_performers WHERE rank <= ?", [top])

    by_month = (
        revenue.group_by("month")
        .agg(pl.col("recognized_revenue").sum().alias("recognized"),
             pl.col("pipeline_revenue").sum().alias("pipeline"))
        .sort("month")
        .with_columns(pl.col("recognized").cum_sum().alias("recognized_cumulative"))
    )
    currency = meta["base_currency"]
    print(f"{meta['tenant_name']} ({meta['tenant_slug']}), as of {meta['as_of']}, amounts in {currency}")
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True):
        print("\nRevenue by month")
        print(by_month)
        print(f"\nTop {top} performers (last 90 days)")
        print(performers.sort("rank"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "northwind-records")
