"""Large SQLite loads in a child process, through ADBC.

ADBC binds rows straight from Arrow (about twice the speed of sqlite3's executemany), but it links
its own copy of SQLite, and two copies in one process break each other's POSIX locks: the load
must not share a process with SQLAlchemy's pysqlite connections. So the parent hands the job to
``python -m operational.generator.sqlite_bulk`` (JSON on stdin), relays its progress lines and
returns its result. The child generates exactly the rows the parent would (same job, same seed).
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Callable

MARK = "@@generator "


class BulkLoadError(RuntimeError):
    """The child process failed; its error (and traceback) are in the message."""


def run_in_subprocess(path: Path, job, report: Callable[[str], None]):
    from operational.generator import GeneratedTenant

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    child = subprocess.Popen([sys.executable, "-m", "operational.generator.sqlite_bulk"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env)
    result, error = None, None
    try:
        child.stdin.write(json.dumps({"path": str(path), "job": dataclasses.asdict(job)}))
        child.stdin.close()
        for line in child.stdout:
            if not line.startswith(MARK):
                sys.stdout.write(line)
                continue
            message = json.loads(line[len(MARK):])
            if "progress" in message:
                report(message["progress"])
            elif "result" in message:
                result = [GeneratedTenant(**tenant) for tenant in message["result"]]
            elif "error" in message:
                error = message["error"]
        code = child.wait()
    except BaseException:
        child.kill()  # nothing was committed: the child's transaction dies with it
        child.wait()
        raise
    if error or code != 0 or result is None:
        raise BulkLoadError(error or f"bulk SQLite load exited with status {code}")
    return result


def _send(message: dict) -> None:
    sys.stdout.write(MARK + json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    from operational.generator import Job, load
    from operational.generator.writers import SqliteAdbcWriter

    request = json.loads(sys.stdin.read())
    try:
        with SqliteAdbcWriter(Path(request["path"]), bulk=True) as writer:
            tenants = load(writer, Job(**request["job"]), lambda text: _send({"progress": text}))
        _send({"result": [dataclasses.asdict(t) for t in tenants]})
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        _send({"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"})
        sys.exit(1)


if __name__ == "__main__":
    main()
