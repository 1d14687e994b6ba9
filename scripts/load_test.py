"""Several researchers at once: `python scripts/load_test.py [--sessions 5] [--cold] [--rounds 2]`.

Starts `streamlit run app.py` on a free localhost port with a temporary `INTERP_HOME`, opens N
Playwright browser contexts (N browser sessions of the app) in one headless Chromium at the same
moment, and times, per session: the first page (navigation until the Overview's charts are
drawn and the script is idle), each switch of view by a click on the picker, and the Tokens view.
It prints the figures and the targets of issue 15: first page under 5 s each, median view switch
under 1 s, Tokens under 2 s.

The home holds the demo run already (a server whose demo run exists); `--cold` starts from an
empty home instead, so the first session runs the demo and the others wait for it. The demo
lineage is built first if it is missing (about two minutes). The browser shares the machine's
CPUs with the server, so on a small machine the figures include the browser's own work: the
script prints the CPU seconds of each. `--server-only` leaves the browsers out: N sessions of
Streamlit's `AppTest` run the same clicks at once in one process, which times the server's
share alone (script runs, shared caches, the figures' serialisation), as it would be with the
browsers on the researchers' own machines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from screenshots import CHROMIUM_ARGS, free_port, wait_healthy  # noqa: E402  (scripts/ is on the path)

CHROMIUM = os.environ.get("BROWSER_PATH", "/usr/bin/chromium")
CHART = '[data-testid="stPlotlyChart"]'
PROBLEM = '[data-testid="stException"], [data-testid="stAlertContentError"]'
TIMEOUT_MS = 600_000
TARGETS = {"first page": 5.0, "median view switch": 1.0, "tokens": 2.0}


def prepare_home(home: Path, cold: bool) -> tuple[Path, dict[str, int]]:
    """Build the demo if needed, make its run in `home` unless `cold`; the run folder and the
    number of charts each view shows first (from the view registry, as the app draws them)."""
    from interp import views
    from interp.analysis.results import Results
    from interp.concepts.files import all_sequences, builtin_concepts_dir, load_concepts
    from interp.demo import ensure_demo
    from interp.extraction.pipeline import extract_lineage
    from interp.extraction.settings import ExtractionSettings
    from interp.models.lineage import load_lineage
    from interp.store.locations import app_run_folder

    ensure_demo(progress=True)
    os.environ["INTERP_HOME"] = str(home)
    lineage = load_lineage("demo")
    sequences = all_sequences(load_concepts(sorted(builtin_concepts_dir().glob("*.yaml"))))
    out = app_run_folder(lineage, sequences, dtype="auto", input_format="raw")
    with tempfile.TemporaryDirectory() as scratch:
        counted = out if not cold else Path(scratch) / "run"
        extract_lineage(lineage, sequences, counted, ExtractionSettings())
        results = Results(counted)
        charts = {}
        for name, view in views.VIEWS.items():
            chosen = views.resolve_choices(view, results)
            charts[name] = 0 if view.unavailable(results) else len(view.compute(results, **chosen).figures)
    return out, charts


async def wait_until_drawn(page, charts: int) -> None:
    """Until `charts` charts are drawn and the script run is over, with nothing still loading."""
    if charts:
        await page.wait_for_function(
            f"() => document.querySelectorAll('{CHART} .js-plotly-plot .main-svg').length >= {charts}",
            timeout=TIMEOUT_MS)
    await page.wait_for_function(
        "() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]'); }",
        timeout=TIMEOUT_MS)


async def one_session(browser, base: str, charts: dict[str, int], rounds: int, start: asyncio.Event) -> dict:
    """One researcher: the first page, then every view `rounds` times by clicking the picker."""
    from interp import views

    context = await browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=base)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    await start.wait()
    began = time.perf_counter()
    await page.goto("/?view=overview")
    await wait_until_drawn(page, charts["overview"])
    timings = {"first page": time.perf_counter() - began, "switches": [], "tokens": []}
    order = [*list(views.VIEWS)[1:], "overview"]
    for _ in range(rounds):
        for name in order:
            began = time.perf_counter()
            label = re.compile(rf"^{re.escape(views.VIEWS[name].label)}$")
            await page.locator('[data-testid="stButtonGroup"] button').filter(has_text=label).click()
            await page.wait_for_function(f"() => window.location.search.includes('view={name}')", timeout=TIMEOUT_MS)
            await wait_until_drawn(page, charts[name])
            seconds = time.perf_counter() - began
            timings["switches"].append(seconds)
            if name == "tokens":
                timings["tokens"].append(seconds)
    timings["problems"] = await page.locator(PROBLEM).all_inner_texts()
    return timings


async def drive(base: str, sessions: int, charts: dict[str, int], rounds: int, server) -> tuple[list[dict], dict]:
    """Every session at once; their timings, and the CPU seconds the server and the browser spent."""
    import psutil
    from playwright.async_api import async_playwright

    server = psutil.Process(server.pid)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        start = asyncio.Event()
        tasks = [asyncio.create_task(one_session(browser, base, charts, rounds, start)) for _ in range(sessions)]
        await asyncio.sleep(1.0)  # every context open before any navigates: they start together
        # The browser's processes (one renderer per context, kept open until read) are below this one.
        before = {"server": cpu_seconds(server), "browser": cpu_seconds(psutil.Process(), include_self=False),
                  "wall": time.perf_counter()}
        start.set()
        results = await asyncio.gather(*tasks)
        after = {"server": cpu_seconds(server), "browser": cpu_seconds(psutil.Process(), include_self=False),
                 "wall": time.perf_counter()}
        await browser.close()
    return results, {key: after[key] - before[key] for key in before}


def cpu_seconds(process, include_self: bool = True) -> float:
    """User and system CPU time so far of a process (unless `include_self` is false) and of every
    process below it (psutil); processes that end in between are skipped."""
    import psutil

    try:
        members = ([process] if include_self else []) + process.children(recursive=True)
    except psutil.Error:
        return 0.0
    total = 0.0
    for member in members:
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def drive_server_only(home: Path, sessions: int, rounds: int) -> tuple[list[dict], dict]:
    """N `AppTest` sessions in threads of this process, started together, clicking as the browsers do."""
    import threading

    import psutil
    from streamlit.testing.v1 import AppTest

    from interp import views

    os.environ["INTERP_HOME"] = str(home)
    start, results = threading.Barrier(sessions), [None] * sessions

    def one(index: int) -> None:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT_MS / 1000)
        at.query_params["view"] = "overview"
        start.wait(60)
        began = time.perf_counter()
        at.run()
        timings = {"first page": time.perf_counter() - began, "switches": [], "tokens": []}
        for _ in range(rounds):
            for name in [*list(views.VIEWS)[1:], "overview"]:
                began = time.perf_counter()
                at.segmented_control(key="view").set_value(name).run()
                timings["switches"].append(time.perf_counter() - began)
                if name == "tokens":
                    timings["tokens"].append(timings["switches"][-1])
        timings["problems"] = [e.value for e in at.exception] + [e.value for e in at.error]
        results[index] = timings

    process = psutil.Process()
    before = {"server": cpu_seconds(process), "browser": 0.0, "wall": time.perf_counter()}
    threads = [threading.Thread(target=one, args=(index,)) for index in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = {"server": cpu_seconds(process), "browser": 0.0, "wall": time.perf_counter()}
    return results, {key: after[key] - before[key] for key in before}


def report(results: list[dict], sessions: int, cold: bool, load: float, cpu: dict[str, float]) -> list[str]:
    """The figures, one line each, and whether each target is met."""
    firsts = [r["first page"] for r in results]
    medians = [statistics.median(r["switches"]) for r in results]
    tokens = [t for r in results for t in r["tokens"]]
    lines = [
        f"{sessions} session(s) at once, {'cold start (the first runs the demo)' if cold else 'demo run already made'}, "
        f"{os.cpu_count()} CPU(s), load average {load:.2f} just before",
        "first page per session (s): " + ", ".join(f"{t:.2f}" for t in firsts),
        "median view switch per session (s): " + ", ".join(f"{t:.2f}" for t in medians),
        "tokens view (s): " + ", ".join(f"{t:.2f}" for t in tokens),
        f"median view switch over all sessions: {statistics.median([t for r in results for t in r['switches']]):.2f} s",
    ]
    checks = {"first page": max(firsts), "median view switch": max(medians), "tokens": max(tokens)}
    for name, worst in checks.items():
        verdict = "met" if worst < TARGETS[name] else "MISSED"
        lines.append(f"target {name} < {TARGETS[name]:.0f} s: worst {worst:.2f} s, {verdict}")
    if cpu["browser"]:
        lines.append(f"CPU seconds during the sessions: server {cpu['server']:.1f}, browser {cpu['browser']:.1f}, "
                     f"in {cpu['wall']:.1f} s of wall time (the browser runs on the same {os.cpu_count()} CPU(s))")
    else:
        lines.append(f"CPU seconds during the sessions: server {cpu['server']:.1f} in {cpu['wall']:.1f} s of wall time")
    problems = [p for r in results for p in r["problems"]]
    lines.append(f"errors shown: {len(problems)}" + (f" ({problems[0][:120]!r} ...)" if problems else ""))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="times each session visits every view")
    parser.add_argument("--cold", action="store_true", help="start from an empty home: the first page runs the demo")
    parser.add_argument("--server-only", action="store_true", help="sessions of AppTest in this process, no browser")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="interp-load-") as scratch:
        home = Path(scratch) / "home"
        _, charts = prepare_home(home, args.cold)
        if args.server_only:
            load = os.getloadavg()[0]
            results, cpu = drive_server_only(home, args.sessions, args.rounds)
            print("\n".join(["server only (Streamlit AppTest sessions, no browser)",
                             *report(results, args.sessions, args.cold, load, cpu)]))
            return 0
        port = free_port()
        env = {**os.environ, "INTERP_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        log = Path(scratch) / "streamlit.log"
        with open(log, "wb") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base)
            load = os.getloadavg()[0]
            results, cpu = asyncio.run(drive(base, args.sessions, charts, args.rounds, server))
        finally:
            server.terminate()
            server.wait(timeout=30)
        lines = report(results, args.sessions, args.cold, load, cpu)
        if "Traceback" in log.read_text(errors="replace"):
            lines.append("the server logged a traceback:\n" + log.read_text(errors="replace")[-3000:])
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
