"""The version of the metric definitions a snapshot was built with: the dbt project's version and
a digest of everything that defines the numbers (models, macros, seeds, tests, the project file).
Published in each snapshot's ``meta`` so that an export's manifest can name it."""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

DEFINING_FOLDERS = ("models", "macros", "seeds", "tests")
_VERSION_LINE = re.compile(r'^version:\s*["\']?([^"\'\s]+)', re.MULTILINE)


@lru_cache(maxsize=4)
def definitions_version(project_dir: Path) -> str:
    """``<dbt project version>+<12 hex digits>``; the digest changes when any defining file does."""
    project_dir = Path(project_dir)
    project_file = project_dir / "dbt_project.yml"
    text = project_file.read_text(encoding="utf-8")
    found = _VERSION_LINE.search(text)
    digest = hashlib.sha256()
    files = [project_file, *sorted(path for folder in DEFINING_FOLDERS for path in (project_dir / folder).rglob("*")
                                   if path.is_file())]
    for path in files:
        digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"{found.group(1) if found else '0'}+{digest.hexdigest()[:12]}"
