"""Dagster orchestration: thin assets over the plain functions of auditoryx/, ingestion/, warehouse/."""
