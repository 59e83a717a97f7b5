"""AuditoryX Analytics: Streamlit entry point (`streamlit run dashboards/server.py` serves it).

Routes only (dashboards/router.py): a login page for anonymous sessions; once logged in, the
pages the user's role and grants allow (dashboards/navigation.py asks the permission module).

Page files live in ``views/`` (not ``pages/``), so Streamlit's legacy "pages/ folder" mode never
runs a page without this router; every page still starts with ``session.require_user()``.
"""
from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # `streamlit run` puts dashboards/ on the path, not the project
    sys.path.insert(0, str(_ROOT))

from dashboards.router import route  # noqa: E402

route()
