"""scripts/install.py: pip's index configuration handed to uv (pure functions, no install)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "install_script", Path(__file__).resolve().parent.parent / "scripts" / "install.py")
install = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(install)

PIP_CONFIG_LIST = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.default-timeout='180'
:env:.find-links='/opt/wheels /opt/more-wheels'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.constraint='/etc/xdg/pip/constraints.txt'
user.index-url='https://mirror.example/simple'
not a config line
"""


def test_pip_config_list_is_read_without_its_scopes():
    options = install.parse_pip_config(PIP_CONFIG_LIST)
    assert options == {
        "cert": "/etc/ssl/certs/ca-certificates.crt",
        "default-timeout": "180",
        "find-links": "/opt/wheels /opt/more-wheels",
        "extra-index-url": "file:///opt/pypi/simple file:///opt/pypi-more/simple",
        "constraint": "/etc/xdg/pip/constraints.txt",
        "index-url": "https://mirror.example/simple",
    }


def test_uv_sees_the_same_indexes_as_pip_and_picks_across_them_like_pip():
    env = install.uv_environment(install.parse_pip_config(PIP_CONFIG_LIST), {"PATH": "/bin"})
    assert env["UV_INDEX_URL"] == "https://mirror.example/simple"
    assert env["UV_EXTRA_INDEX_URL"] == "file:///opt/pypi/simple file:///opt/pypi-more/simple"
    assert env["UV_FIND_LINKS"] == "/opt/wheels,/opt/more-wheels"
    assert env["SSL_CERT_FILE"] == "/etc/ssl/certs/ca-certificates.crt"
    assert env["UV_INDEX_STRATEGY"] == "unsafe-best-match"
    assert env["UV_HTTP_TIMEOUT"] == "180"
    assert env["PATH"] == "/bin"


def test_settings_already_in_the_environment_win():
    env = install.uv_environment({"index-url": "https://a/simple"},
                                 {"UV_INDEX_URL": "https://b/simple", "UV_INDEX_STRATEGY": "first-index"})
    assert env["UV_INDEX_URL"] == "https://b/simple"
    assert env["UV_INDEX_STRATEGY"] == "first-index"


def test_constraints_are_the_projects_pins_plus_existing_machine_files(tmp_path):
    machine = tmp_path / "constraints.txt"
    machine.write_text("torch<=2\n")
    files = install.constraint_files({"constraint": f"{machine} {tmp_path / 'missing.txt'}"})
    assert files == [str(install.PROJECT / "constraints.txt"), str(machine)]
