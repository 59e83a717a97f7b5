"""Ingestion: operational database and file drops → validated DuckDB raw tables (no Dagster)."""
