"""Compose a newly written version's page answers for publishing to store beside its files.

``store_page_answers`` is what ``warehouse.publish.publish_tenants`` calls (``annotate``) for each
tenant version it has written, before the version's CURRENT names it: the default view of the
label dashboard, the projects page, the data-quality pages and the rows every artist's page selects from, composed
by the page's own code (dashboards/queries.py, quality_queries.py, roster_queries.py) from the
version's files, then written with dashboards/page_answers.py. The pages read them on a first
view (``queries._read_snapshot``); filtered views are composed as before.

The pages of one version share its files and statement results while they are composed, in caches
of that composing only (``queries.private_caches``): the publishing process keeps no reader or
frame of the versions it wrote.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from dashboards import page_answers, queries
from dashboards.parquet_pages import version_folder
from dashboards.quality_queries import DATA_QUALITY_DETAILS_KEY, _details
from dashboards.roster_queries import ARTIST_ROWS_KEY, every_artist_rows


def page_answers_of(published_dir: str | Path, tenant_id: str, version: str) -> list[tuple[tuple, Any]]:
    """(memo key, answer) of every stored page of the version, composed now."""
    ref = queries.SnapshotRef(str(published_dir), tenant_id, version)
    with queries.private_caches():
        answers = [(queries.LABEL_DEFAULT_KEY, queries._label_dashboard(ref, {})),
                   (queries.PROJECTS_KEY, queries._project_health(ref)),
                   (queries.DATA_QUALITY_KEY, queries._data_quality(ref)),
                   (DATA_QUALITY_DETAILS_KEY, _details(ref)),
                   (ARTIST_ROWS_KEY, every_artist_rows(ref))]
    return answers


def store_page_answers(published_dir: Path, tenant_id: str, version: str) -> int:
    """Compose and write the version's page answers (its folder must not be named by CURRENT
    yet); returns how many were written."""
    answers = page_answers_of(published_dir, tenant_id, version)
    return page_answers.write_answers(version_folder(published_dir, tenant_id, version), tenant_id, version, answers)
