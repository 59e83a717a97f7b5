"""A refresh killed with SIGKILL during extraction or the dbt build leaves every served snapshot
readable and unchanged; the next run repairs everything with no clean-up (the publishing stages:
test_kill_publish.py; the scenarios: kill_scenarios.py)."""
from __future__ import annotations

import pytest

from tests.e2e.kill_scenarios import EARLY, PUBLISHING, SCENARIOS, check_sigkill_keeps_snapshots_and_rerun_repairs


@pytest.mark.parametrize("scenario", EARLY)
def test_sigkill_keeps_snapshots_and_rerun_repairs(kill_prepared, tmp_path, monkeypatch, scenario):
    check_sigkill_keeps_snapshots_and_rerun_repairs(kill_prepared, tmp_path, monkeypatch, scenario)


def test_the_two_files_run_every_scenario_once():
    assert sorted(EARLY + PUBLISHING) == sorted(SCENARIOS)
