"""A refresh killed with SIGKILL while publishing (moving files, between two pointer flips) leaves
every served snapshot readable and unchanged, or already complete in its new version; the next run
repairs everything with no clean-up (the earlier stages: test_kill.py; the scenarios:
kill_scenarios.py). A file of its own so that xdist --dist loadfile can run it on the other worker."""
from __future__ import annotations

import pytest

from tests.e2e.kill_scenarios import PUBLISHING, check_sigkill_keeps_snapshots_and_rerun_repairs


@pytest.mark.parametrize("scenario", PUBLISHING)
def test_sigkill_keeps_snapshots_and_rerun_repairs(kill_prepared, tmp_path, monkeypatch, scenario):
    check_sigkill_keeps_snapshots_and_rerun_repairs(kill_prepared, tmp_path, monkeypatch, scenario)
