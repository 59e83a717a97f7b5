"""`auditoryx demo` speaks to a person: a busy port is reported first, one login per role."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from auditoryx.demo import DemoLogin, format_logins, one_login_per_role, port_problem

AUDITORYX = str(Path(sys.executable).with_name("auditoryx"))


def test_one_login_per_role_takes_the_first_email_in_role_order():
    rows = [("CLIENT", "client7@x.example"), ("VIEWER", "viewer5@x.example"), ("CLIENT", "client6@x.example"),
            ("ORG_ADMIN", "admin@x.example")]
    assert one_login_per_role(rows) == [("ORG_ADMIN", "admin@x.example"), ("CLIENT", "client6@x.example"),
                                        ("VIEWER", "viewer5@x.example")]


def test_logins_are_grouped_by_tenant_and_aligned():
    lines = format_logins([DemoLogin("Northwind", "ORG_ADMIN", "admin@n.example"),
                           DemoLogin("Northwind", "VIEWER", "viewer5@n.example"),
                           DemoLogin("Aurora", "ORG_ADMIN", "admin@a.example")], "pw")
    assert lines == ["Demo logins (every password: pw)",
                     "  Northwind",
                     "    org admin  admin@n.example",
                     "    viewer     viewer5@n.example",
                     "  Aurora",
                     "    org admin  admin@a.example"]


def test_a_free_port_has_no_problem_and_a_busy_one_names_the_way_out():
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        problem = port_problem(busy)
        assert f"port {busy} is already in use" in problem and f"make demo PORT={busy + 1}" in problem
    assert port_problem(busy) is None  # released


def test_demo_on_a_busy_port_stops_at_once_and_creates_nothing(tmp_path):
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        result = subprocess.run([AUDITORYX, "demo", "--port", str(busy)], capture_output=True, text=True,
                                timeout=120, env={**os.environ, "AUDITORYX_VAR_DIR": str(tmp_path / "var")})
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: port {busy} is already in use (another `make demo` or server?): "
                                     f"stop it, or choose another port with `make demo PORT={busy + 1}` "
                                     f"(or `auditoryx demo --port {busy + 1}`)")
    assert not (tmp_path / "var").exists()
