"""Pages that show a snapshot follow new versions by themselves: a small fragment re-reads the
tenant's CURRENT pointer every few seconds and reruns the page when a newer version is published
(e.g. after a booking's refresh). Reading the pointer is one small file; nothing else runs."""
from __future__ import annotations

import streamlit as st

from dashboards import queries

POLL_SECONDS = 5


@st.fragment(run_every=POLL_SECONDS)
def follow_new_versions(tenant_id: str, shown_version: str | None) -> None:
    ref = queries.snapshot_ref(tenant_id)
    if ref is not None and ref.version != shown_version:
        st.rerun()
