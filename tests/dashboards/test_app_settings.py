"""dashboards/app_settings.py: one settings object while the environment is the same."""
from __future__ import annotations

from auditoryx.settings import get_settings
from dashboards.app_settings import settings


def test_same_object_until_an_auditoryx_variable_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITORYX_VAR_DIR", str(tmp_path / "one"))
    first = settings()
    assert settings() is first
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")  # not read by the settings: still the same
    assert settings() is first
    monkeypatch.setenv("AUDITORYX_VAR_DIR", str(tmp_path / "two"))
    second = settings()
    assert second is not first and second.resolved_var_dir == (tmp_path / "two").resolve()
    monkeypatch.setenv("AUDITORYX_FRESHNESS_HOURS", "3")
    assert settings().freshness_hours == 3
    monkeypatch.delenv("AUDITORYX_FRESHNESS_HOURS")
    assert settings().freshness_hours == get_settings().freshness_hours


def test_a_relative_folder_follows_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDITORYX_VAR_DIR", "var")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert settings().resolved_var_dir == (tmp_path / "a" / "var").resolve()
    monkeypatch.chdir(tmp_path / "b")
    assert settings().resolved_var_dir == (tmp_path / "b" / "var").resolve()
