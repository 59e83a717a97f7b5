"""Warehouse: the DuckDB build database, publishing tenant versions, confined readers."""
