"""Streamlit dashboards (read-only): app.py routes, pages/ lay out, queries.py reads, charts.py draws."""
