"""Install the project into a virtual environment, with uv when it can be had, else with pip.

    python scripts/install.py VENV [--installer auto|uv|pip]

uv installs the same pinned set (``constraints.txt``) about 10-20x faster than pip on a cold
cache (``benchmarks/installer.py``; RESULTS.md, "Installer"). uv does not read pip's
configuration, so this script hands pip's index settings (``pip config list``: index-url,
extra-index-url, find-links, cert, trusted-host, constraint) to uv, and asks uv to pick the best
version across all indexes as pip does (``unsafe-best-match``), so both installers see the same
packages. ``auto`` (the default, also ``AUDITORYX_INSTALLER``) uses a ``uv`` on the PATH or
installs uv into the venv with pip; if uv fails for any reason it says so and falls back to pip.

Standard library only: it runs before anything is installed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
REQUIREMENT = ".[test]"


def parse_pip_config(text: str) -> dict[str, str]:
    """``pip config list`` output → {option: value}, later scopes overriding earlier ones.

    Lines look like ``global.extra-index-url='file:///a file:///b'`` or ``:env:.cert='/x'``;
    the scope (``global``, ``user``, ``site``, ``:env:``) is dropped."""
    options: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or "." not in key:
            continue
        option = key.rsplit(".", 1)[1].strip()
        options[option] = value.strip().strip("'\"")
    return options


def uv_environment(pip_options: dict[str, str], base: dict[str, str]) -> dict[str, str]:
    """The environment that makes uv resolve from the same indexes as pip."""
    env = dict(base)
    env.setdefault("UV_INDEX_STRATEGY", "unsafe-best-match")  # pip's rule: best version over all indexes
    env.setdefault("UV_HTTP_TIMEOUT", pip_options.get("default-timeout", "180"))
    mapping = {
        "index-url": "UV_INDEX_URL",
        "extra-index-url": "UV_EXTRA_INDEX_URL",
        "find-links": "UV_FIND_LINKS",
        "cert": "SSL_CERT_FILE",
        "trusted-host": "UV_INSECURE_HOST",
    }
    for option, variable in mapping.items():
        value = pip_options.get(option)
        if value and variable not in env:
            env[variable] = value
    if "UV_FIND_LINKS" in env:  # pip separates several with spaces; uv with commas
        env["UV_FIND_LINKS"] = ",".join(env["UV_FIND_LINKS"].split())
    return env


def constraint_files(pip_options: dict[str, str]) -> list[str]:
    """The project's pins plus any machine-wide constraint file pip is configured with."""
    files = [str(PROJECT / "constraints.txt")]
    files += [path for path in pip_options.get("constraint", "").split() if Path(path).is_file()]
    return files


def _pip_options(python: str) -> dict[str, str]:
    listed = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True)
    return parse_pip_config(listed.stdout) if listed.returncode == 0 else {}


def _find_uv(python: str) -> str | None:
    found = shutil.which("uv") or str(Path(python).with_name("uv"))
    if Path(found).is_file():
        return found
    print("installer: fetching uv with pip (a few seconds)", flush=True)
    done = subprocess.run([python, "-m", "pip", "install", "--quiet", "uv"], stdout=subprocess.DEVNULL)
    candidate = Path(python).with_name("uv")
    return str(candidate) if done.returncode == 0 and candidate.is_file() else None


def install_with_uv(python: str, options: dict[str, str]) -> bool:
    uv = _find_uv(python)
    if uv is None:
        print("installer: uv is not available; using pip", flush=True)
        return False
    # --compile-bytecode: pip writes .pyc files at install, uv does not; with PYTHONDONTWRITEBYTECODE
    # set (as on these machines) every process would compile each imported module again (+1-3 s)
    command = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", python, "-e", REQUIREMENT]
    for path in constraint_files(options):
        command += ["-c", path]
    done = subprocess.run(command, cwd=PROJECT, env=uv_environment(options, dict(os.environ)))
    if done.returncode != 0:
        print("installer: uv failed (see above); falling back to pip", flush=True)
    return done.returncode == 0


def install_with_pip(python: str) -> None:
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-c", str(PROJECT / "constraints.txt"),
                    "-e", REQUIREMENT], cwd=PROJECT, check=True)


PROJECT_PACKAGES = ("auditoryx", "operational", "ingestion", "warehouse", "pipelines", "dashboards", "reports", "api")


def compile_project(python: str) -> None:
    """The editable project's own modules as .pyc too (0.4 s once; ~0.5 s less per process start).
    A module edited later is compiled in memory again, as without this."""
    subprocess.run([python, "-m", "compileall", "-q", *PROJECT_PACKAGES], cwd=PROJECT, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venv", type=Path)
    parser.add_argument("--installer", choices=("auto", "uv", "pip"),
                        default=os.environ.get("AUDITORYX_INSTALLER", "auto") or "auto")
    args = parser.parse_args(argv)
    python = str((args.venv / "bin" / "python").absolute())
    if args.installer == "pip" or not install_with_uv(python, _pip_options(python)):
        if args.installer == "uv":
            print("installer: uv was required (--installer uv) and failed", file=sys.stderr)
            return 1
        install_with_pip(python)
    compile_project(python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
