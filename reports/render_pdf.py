"""The HTML report printed to PDF by headless Chromium (where it is installed).

``/usr/bin/chromium`` (or ``AUDITORYX_CHROMIUM``, or ``chromium``/``chromium-browser``/
``google-chrome`` on PATH) runs ``--headless --print-to-pdf`` on the report's HTML file with a
throwaway profile and a virtual-time budget so that the Plotly charts are drawn before printing.
Without a browser, :class:`PdfUnavailable` says so (the other formats are still written).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from auditoryx.errors import AuditoryxError

DEFAULT_CHROMIUM = "/usr/bin/chromium"
TIMEOUT_SECONDS = 120


class PdfUnavailable(AuditoryxError):
    """PDF export needs headless Chromium, which is not installed here."""


def find_chromium() -> str | None:
    configured = os.environ.get("AUDITORYX_CHROMIUM", "").strip()
    candidates = [configured] if configured else [DEFAULT_CHROMIUM]
    if not configured:
        candidates += [shutil.which(name) or "" for name in ("chromium", "chromium-browser", "google-chrome")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def html_to_pdf(html_file: Path, pdf_file: Path, *, chromium: str | None = None) -> Path:
    browser = chromium or find_chromium()
    if browser is None:
        raise PdfUnavailable("PDF export needs headless Chromium (/usr/bin/chromium, or set AUDITORYX_CHROMIUM); "
                             "not found on this machine: choose other formats (xlsx, html, csv, parquet)")
    html_file, pdf_file = Path(html_file).resolve(), Path(pdf_file).resolve()
    with tempfile.TemporaryDirectory(prefix="auditoryx-chromium-") as profile:
        command = [browser, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                   "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}",
                   "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
                   "--virtual-time-budget=15000", f"--print-to-pdf={pdf_file}", html_file.as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise AuditoryxError(f"Chromium did not print the PDF within {TIMEOUT_SECONDS} s") from None
    if not pdf_file.is_file() or pdf_file.stat().st_size == 0 or not pdf_file.read_bytes()[:5] == b"%PDF-":
        tail = (result.stderr or result.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise AuditoryxError(f"Chromium could not print the PDF (exit {result.returncode}): {tail[0]}")
    return pdf_file
