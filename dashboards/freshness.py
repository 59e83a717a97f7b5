"""Pages that show a snapshot follow new versions by themselves: a small fragment re-reads the
tenant's CURRENT pointer every few seconds and reruns the page when a newer version is published
(e.g. after a booking's refresh). Reading the pointer is one small file; nothing else runs."""
from __future__ import annotations

from typing import Callable, TypeVar

import streamlit as st

from dashboards import queries

T = TypeVar("T")

POLL_SECONDS = 5


@st.fragment(run_every=POLL_SECONDS)
def follow_new_versions(tenant_id: str, shown_version: str | None) -> None:
    ref = queries.snapshot_ref(tenant_id)
    if ref is not None and ref.version != shown_version:
        st.rerun()


def published_or_stop(tenant_id: str, load: Callable[[], T | None], *, damaged: str, unavailable: str,
                      empty: str) -> T:
    """``load()`` the tenant's published data for a page, or show why there is none and stop the
    page: a damaged version (the page reruns once a repaired one is published), the snapshot not
    readable right now, or nothing published yet. A page whose data came from an older version
    than the one now published reruns to show the new one."""
    try:
        data = load()
    except queries.PublishedSnapshotDamaged as error:  # published, but the pointer or its folder is broken
        st.error(damaged, icon=":material/build:")
        follow_new_versions(tenant_id, error.version)
        st.stop()
    except queries.DashboardUnavailable:
        st.error(unavailable)
        st.stop()
    follow_new_versions(tenant_id, None if data is None else data.version)
    if data is None:
        st.info(empty, icon=":material/hourglass_empty:")
        st.stop()
    return data
