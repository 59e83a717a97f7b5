"""Login → label dashboard rendered, and page switches, in a real browser (Chromium/Playwright
against `streamlit run dashboards/server.py`, as `auditoryx serve` runs it).

Builds its own data under a temporary folder (the generator's first tenants on SQLite, one real
refresh), starts the server on a free port, then for each round opens a fresh browser context:
- open: from opening the app's URL until the login form can be filled;
- then the email and password are filled and the round waits ``--typing-seconds`` (a person takes
  at least that long to type them; the login page loads the dashboard's browser code meanwhile);
- login: from the click on "Log in" until the first KPI card shows, and until every KPI card shows
  a value, the top-performers chart (the page's last) is drawn and Streamlit's running indicator
  is gone (the dashboard rendered);
- page switches through the sidebar (client-side, as a person clicks): Roster, Projects,
  Data and quality, back to the Label dashboard, each until its heading and content are shown
  and the run has finished.
The first round is reported apart (cold server caches); the others as median, min and max.
The load average is printed before and after: targets (< 2 s login → dashboard, < 1 s page
switch) are for a quiet machine.

``--compare-root DIR`` also serves the app from another copy of the project (e.g. an earlier
commit: ``git archive <commit> | tar -x -C DIR``) on the same data and alternates the rounds
between the two servers, so that both see the same machine load: before and after in one run.

Usage: .venv/bin/python benchmarks/browser_pages.py [--rounds 6] [--tenants 3] [--scale 1.0]
       [--tenant-index 0] [--typing-seconds 1.5] [--compare-root DIR] [--chromium /usr/bin/chromium]
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password"
AS_OF = dt.date(2026, 6, 30)
TIMEOUT_MS = 60_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# (sidebar title, heading, a locator that shows the page's content is there)
SWITCHES = (
    ("Roster", "Roster", "[data-testid=stDataFrame]"),
    ("Projects", "Projects", "[data-testid=stMetricValue]"),
    ("Data and quality", "Data and quality", "[data-testid=stMetricValue]"),
    ("Label dashboard", None, ".st-key-top_performers_chart g.point"),
)


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(folder: Path, tenants: int, scale: float) -> tuple[dict[str, str], list]:
    """Generated tenants on SQLite, refreshed once; returns the server's environment and the tenants."""
    env = {
        "AUDITORYX_VAR_DIR": str(folder / "var"),
        "AUDITORYX_OPERATIONAL_URL": f"sqlite:///{folder / 'operational.sqlite'}",
        "AUDITORYX_WAREHOUSE_DIR": str(folder / "warehouse"),
        "AUDITORYX_AS_OF": AS_OF.isoformat(),
        "AUDITORYX_DEMO_PASSWORD": PASSWORD,
    }
    for name in [n for n in os.environ if n.startswith("AUDITORYX_")]:
        del os.environ[name]
    os.environ.update(env)
    from auditoryx.pipeline import refresh
    from auditoryx.settings import get_settings
    from operational.db import create_schema, make_engine
    from operational.generator import generate

    settings = get_settings()
    engine = make_engine(settings.operational_database_url)
    create_schema(engine)
    started = time.monotonic()
    created = generate(engine, tenants=tenants, seed=7, as_of=AS_OF, password=PASSWORD, scale=scale)
    engine.dispose()
    generated = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):
        refresh(settings)
    print(f"data: {len(created)} tenants, {sum(t.bookings for t in created):,} bookings; generated in "
          f"{generated - started:.1f} s, refreshed in {time.monotonic() - generated:.1f} s")
    return env, created


@contextlib.contextmanager
def server(folder: Path, env: dict[str, str], root: Path = ROOT, log_name: str = "streamlit"):
    """``streamlit run`` of ``root``'s dashboards/server.py (the project itself by default)."""
    port = _free_port()
    home = folder / "home"
    home.mkdir(exist_ok=True)
    full_env = {name: value for name, value in os.environ.items() if not name.startswith("AUDITORYX_")}
    full_env.update(env, HOME=str(home), PYTHONDONTWRITEBYTECODE="1",
                    PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    log_path = folder / f"{log_name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(root / "dashboards" / "server.py"),
         "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
         "--global.developmentMode", "false", "--client.toolbarMode", "viewer"],
        cwd=folder, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"streamlit exited: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("streamlit not healthy after 60 s")
            time.sleep(0.25)
        yield base
    finally:
        proc.terminate()  # only the server this script started
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _idle(page) -> None:
    page.locator("[data-testid=stStatusWidget]").wait_for(state="hidden", timeout=TIMEOUT_MS)


def one_round(browser, base: str, tenant, typing_seconds: float = 0.0) -> dict[str, float]:
    """One fresh browser context: log in, then switch through the pages; seconds per step."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    times: dict[str, float] = {}
    try:
        page = context.new_page()
        opened = time.perf_counter()
        page.goto(base)
        email = page.get_by_label("Email", exact=True)
        email.wait_for(timeout=TIMEOUT_MS)
        times["open → login form"] = time.perf_counter() - opened
        email.fill(tenant.admin_email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.wait_for_timeout(typing_seconds * 1000)
        clicked = time.perf_counter()
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name=tenant.name, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
        values = page.locator("[data-testid=stMetricValue]")
        values.first.wait_for(timeout=TIMEOUT_MS)
        times["login → first KPI card"] = time.perf_counter() - clicked
        page.locator(".st-key-top_performers_chart g.point").first.wait_for(timeout=TIMEOUT_MS)
        for index in range(values.count()):
            values.nth(index).wait_for(timeout=TIMEOUT_MS)
        _idle(page)
        times["login → dashboard rendered"] = time.perf_counter() - clicked
        for title, heading, content in SWITCHES:
            clicked = time.perf_counter()
            page.locator("[data-testid=stSidebarNavLink]", has_text=title).click()
            expect(page.get_by_role("heading", name=heading or tenant.name, exact=True)).to_be_visible(
                timeout=TIMEOUT_MS)
            page.locator(content).first.wait_for(timeout=TIMEOUT_MS)
            _idle(page)
            times[f"switch → {title}"] = time.perf_counter() - clicked
    finally:
        context.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="fresh browser contexts (the first is cold)")
    parser.add_argument("--tenants", type=int, default=3, help="generated tenants (the first three: USD, EUR, JPY)")
    parser.add_argument("--scale", type=float, default=1.0, help="the generator's size factor")
    parser.add_argument("--tenant-index", type=int, default=0, help="which generated tenant logs in")
    parser.add_argument("--typing-seconds", type=float, default=1.5,
                        help="pause between filling the login form and clicking Log in (a person typing)")
    parser.add_argument("--compare-root", type=Path, default=None,
                        help="another copy of the project served on the same data, rounds alternating")
    parser.add_argument("--chromium", default=os.environ.get("AUDITORYX_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="auditoryx-browser-bench-") as tmp:
        folder = Path(tmp)
        env, tenants = build(folder, args.tenants, args.scale)
        tenant = tenants[args.tenant_index]
        print(f"tenant: {tenant.name} ({tenant.bookings:,} bookings); typing pause {args.typing_seconds:g} s; "
              f"load average before: {_load()}")
        roots = {"this": ROOT}
        if args.compare_root is not None:
            roots = {f"compare ({args.compare_root})": args.compare_root.resolve(), "this": ROOT}
        results: dict[str, list[dict[str, float]]] = {label: [] for label in roots}
        with contextlib.ExitStack() as stack:
            bases = {label: stack.enter_context(server(folder, env, root, log_name=f"streamlit-{index}"))
                     for index, (label, root) in enumerate(roots.items())}
            p = stack.enter_context(sync_playwright())
            os.environ["HOME"] = str(folder / "home")  # the Playwright driver and Chromium write here
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            stack.callback(browser.close)
            for number in range(args.rounds):
                for label, base in bases.items():
                    results[label].append(one_round(browser, base, tenant, args.typing_seconds))
                    print(f"round {number + 1} [{label}]: "
                          + ", ".join(f"{k} {v:.2f} s" for k, v in results[label][-1].items())
                          + f" (load {_load()})")
        print(f"load average after: {_load()}")
        for label, rounds in results.items():
            warm = rounds[1:] or rounds
            print(f"\n[{label}]\n{'step':34} {'cold':>7} {'median':>7} {'min':>7} {'max':>7}   target")
            for step in rounds[0]:
                values = [r[step] for r in warm]
                target = "< 2 s" if step.startswith("login") else "" if step.startswith("open") else "< 1 s"
                print(f"{step:34} {rounds[0][step]:7.2f} {statistics.median(values):7.2f} {min(values):7.2f} "
                      f"{max(values):7.2f}   {target}")


if __name__ == "__main__":
    main()
