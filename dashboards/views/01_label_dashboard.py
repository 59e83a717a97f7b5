"""Label dashboard: the layout is dashboards/label_page.py (data from queries.py, figures from
charts.py via label_figures.py, filters from filters.py). The filters live in the URL query, never
the tenant."""
from dashboards.label_page import render

render()
