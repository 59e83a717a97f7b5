"""Streamlit dashboards (read-only): app.py routes, views/ lay out, queries.py reads, charts.py draws."""
