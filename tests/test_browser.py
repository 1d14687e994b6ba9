"""The app in a real headless Chromium: `streamlit run` as a subprocess, driven with Playwright.

One server and one browser serve the whole module. Screenshots of every view land in
`artifacts/screenshots/<view>.png` (gitignored) for a person to look at.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from interp import views
from interp.analysis.results import Results
from interp.concepts.files import (
    ConceptSequence,
    Span,
    all_sequences,
    builtin_concepts_dir,
    load_concepts,
)
from interp.extraction.pipeline import extract_lineage
from interp.extraction.settings import ExtractionSettings
from interp.models.lineage import Lineage, Stage, load_lineage

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
HEALTH_WAIT_S = 120
# Generous: two shared CPU cores, and the first page of a fresh home runs the demo lineage.
RENDER_MS = 180_000
DOWNLOAD_MS = 180_000

CHART = '[data-testid="stPlotlyChart"]'
EXCEPTION = '[data-testid="stException"]'
ERROR = '[data-testid="stAlertContentError"]'
SIDEBAR = '[data-testid="stSidebar"]'
PAGES = [*views.VIEWS, "concepts"]
UPLOAD = b"""\
set: browser
sequences:
  - id: browser-condition
    concept: Condition
    text: The tenant shall pay the rent unless the court orders otherwise.
    spans:
      - text: unless the court orders otherwise
"""
SMALL_TEXT = "The lessee shall pay the rent within thirty days, unless the court orders otherwise."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200 and answer.read().strip() == b"ok"
    except OSError:
        return False


def log_tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@pytest.fixture(scope="module")
def browser_home(micro_demo, tmp_path_factory):
    """The module's user home (`app_home` is per test; one server needs one home), below a
    dot-folder as the default `~/.local/share/interp` is."""
    return tmp_path_factory.mktemp("browser") / ".local" / "share" / "interp"


@pytest.fixture(scope="module")
def demo_run(micro_demo, browser_home):
    """The run the app opens on a fresh start, made before the server starts: the first page
    then reads stored results, as it does for a user whose demo run exists."""
    from interp.store.locations import app_run_folder

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INTERP_DEMO_DIR", str(micro_demo))
        patch.setenv("INTERP_HOME", str(browser_home))
        lineage = load_lineage("demo")
        sequences = all_sequences(load_concepts(sorted(builtin_concepts_dir().glob("*.yaml"))))
        out = app_run_folder(lineage, sequences, dtype="auto", input_format="raw")
        extract_lineage(lineage, sequences, out, ExtractionSettings())
    return out


@pytest.fixture(scope="module")
def view_charts(demo_run):
    """How many charts each page shows first on the demo run, from the view registry."""
    results = Results(demo_run)
    counts = {"concepts": 0}
    for name, view in views.VIEWS.items():
        if view.unavailable(results):
            counts[name] = 0
            continue
        counts[name] = len(view.compute(results, **views.resolve_choices(view, results)).figures)
    return counts


@pytest.fixture(scope="module")
def small_run(micro_demo, tmp_path_factory):
    """A results folder of one single-span sequence: its bundle has few figures to render."""
    lineage = Lineage("micro", tuple(Stage(label, str(micro_demo / label)) for label in ("base", "cpt", "ift")), "base")
    start = SMALL_TEXT.index("unless")
    sequence = ConceptSequence("small-condition", "Condition", SMALL_TEXT,
                               (Span(start, len(SMALL_TEXT) - 1, SMALL_TEXT[start:-1]),))
    out = tmp_path_factory.mktemp("small-run") / "run"
    extract_lineage(lineage, [sequence], out, ExtractionSettings(device="cpu"))
    return out


@pytest.fixture(scope="module")
def server(micro_demo, browser_home, demo_run, small_run, tmp_path_factory):
    """`streamlit run app.py` on a free port; its base URL. Stopped (terminate, then kill) at the end.

    The small run's folder is a results root of the server, so the app may open it."""
    port = free_port()
    log = tmp_path_factory.mktemp("server-log") / "streamlit.log"
    env = {**os.environ, "INTERP_DEMO_DIR": str(micro_demo), "INTERP_HOME": str(browser_home),
           "INTERP_RESULTS_ROOTS": str(small_run.parent), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true"]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + HEALTH_WAIT_S
        while not healthy(f"{base}/_stcore/health"):
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}:\n{log_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer /_stcore/health within {HEALTH_WAIT_S} s:\n{log_tail(log)}")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
    assert "Traceback" not in log.read_text(errors="replace"), log_tail(log, 80)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


def new_context(browser, server):
    """A browser session of its own (a Streamlit session per page), downloads allowed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, base_url=server)
    context.set_default_timeout(RENDER_MS)
    return context


@pytest.fixture()
def page(browser, server):
    context = new_context(browser, server)
    yield context.new_page()
    context.close()


def wait_for_app(page) -> None:
    """Until the script run is over and every element is drawn (lazy ones start as skeletons)."""
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1')
    page.wait_for_function(
        "() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return app && app.getAttribute('data-test-script-state') === 'notRunning'"
        " && app.getAttribute('data-test-connection-state') === 'CONNECTED'"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]'); }",
        timeout=RENDER_MS,
    )


def open_view(page, view: str, charts: int) -> None:
    page.goto(f"/?view={view}")
    wait_for_app(page)
    if charts:
        page.wait_for_function(
            f"() => document.querySelectorAll('{CHART} .js-plotly-plot .main-svg').length >= {charts}",
            timeout=RENDER_MS,
        )
    elif view == "concepts":
        page.get_by_text("Your concept sequences").wait_for()
    else:  # a view this run cannot show (the demo is no pilot for Study size) says why
        page.get_by_text("Nothing to show here").wait_for()
    wait_for_app(page)


def assert_no_problem_shown(page) -> None:
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).all_inner_texts()
    assert page.locator(ERROR).count() == 0, page.locator(ERROR).all_inner_texts()


def full_page_screenshot(page, name: str) -> Path:
    """The whole app, not just the viewport: Streamlit scrolls inside its own container."""
    for _ in range(2):  # the layout can change with the viewport, so measure again
        height = page.evaluate(
            "() => Math.max(...['[data-testid=\"stMain\"]', '[data-testid=\"stAppViewContainer\"]', 'body']"
            ".map(s => document.querySelector(s)).filter(Boolean).map(e => e.scrollHeight))"
        )
        page.set_viewport_size({"width": 1400, "height": min(int(height) + 160, 12000)})
        page.wait_for_timeout(500)  # plotly relayouts after the resize
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ---------------------------------------------------------------- views

def wait_for_charts(page, charts: int) -> None:
    page.wait_for_function(
        f"() => document.querySelectorAll('{CHART} .js-plotly-plot .main-svg').length >= {charts}", timeout=RENDER_MS)
    wait_for_app(page)


def test_first_render_and_view_switches_are_timed(browser, server, view_charts, capsys):
    """A benchmark-style reading, printed, not asserted: the first render of the Overview after
    the server is up, then each view switch by a click on the picker (targets: 3 s, 0.5 s)."""
    context = new_context(browser, server)
    page = context.new_page()
    began = time.perf_counter()
    page.goto("/?view=overview")
    wait_for_charts(page, view_charts["overview"])
    timings = {"first render of the overview": time.perf_counter() - began}
    for name in [*views.VIEWS][1:] + ["overview"]:
        began = time.perf_counter()
        page.locator('[data-testid="stButtonGroup"] button').filter(has_text=re.compile(
            rf"^{re.escape(views.VIEWS[name].label)}$")).click()
        page.wait_for_function(f"() => window.location.search.includes('view={name}')")
        wait_for_charts(page, view_charts[name])
        timings[f"switch to {name}"] = time.perf_counter() - began
        assert_no_problem_shown(page)
    context.close()
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / "view-timings.txt").write_text(
        "".join(f"{label}: {seconds:.2f} s\n" for label, seconds in timings.items()))
    with capsys.disabled():
        print("\n" + "\n".join(f"  {label}: {seconds:.2f} s" for label, seconds in timings.items()))
    assert set(timings) == {"first render of the overview", *(f"switch to {n}" for n in views.VIEWS)}


@pytest.mark.parametrize("view", PAGES)
def test_every_view_renders_in_chromium(page, view, view_charts):
    open_view(page, view, view_charts[view])
    assert_no_problem_shown(page)
    assert page.locator(CHART).count() == view_charts[view]
    if view_charts[view]:
        assert page.locator(".js-plotly-plot").count() == view_charts[view]
    assert f"view={view}" in page.url
    shot = full_page_screenshot(page, view)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


# ---------------------------------------------------------------- selection

def chosen(page, label: str) -> str:
    """The value a view's select box shows under `label` (a combo box named by its label)."""
    return page.locator('[data-testid="stMain"]').get_by_role("combobox", name=label, exact=True).input_value()


def choose(page, label: str, option: str) -> None:
    """Pick `option` (its shown text) in the view's select box `label`, then wait for the rerun."""
    page.locator('[data-testid="stMain"]').get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.wait_for_timeout(300)  # the rerun starts after the click
    wait_for_app(page)


def test_clicking_a_head_map_cell_selects_that_head_for_tokens(page, demo_run, view_charts):
    results = Results(demo_run)
    layers, heads = results.shape
    heads_view = views.VIEWS["heads"]
    sequence = views.resolve_choices(heads_view, results)["sequence"]
    default = results.most_shifted_head(sequence=sequence, stage=results.stages[-1])
    layer, head = next((y, x) for y in range(layers) for x in range(heads) if (y, x) != default)
    open_view(page, "heads", view_charts["heads"])
    drag = page.locator(CHART).first.locator(".nsewdrag").first
    box = drag.bounding_box()
    # Heads along x, layers along y with layer 0 at the bottom.
    page.mouse.click(box["x"] + (head + 0.5) / heads * box["width"],
                     box["y"] + box["height"] - (layer + 0.5) / layers * box["height"])
    page.wait_for_function(f"() => location.search.includes('head={head}')", timeout=RENDER_MS)
    assert f"layer={layer}" in page.url
    # The clicked cell stays outlined (it was not marked at all).
    page.wait_for_function(f"() => (document.querySelector('{CHART} .js-plotly-plot').layout.shapes || [])"
                           f".some(s => s.type === 'rect' && s.x0 === {head - 0.5} && s.y0 === {layer - 0.5})",
                           timeout=RENDER_MS)
    page.locator('[data-testid="stButtonGroup"] button').filter(has_text=re.compile(
        rf"^{re.escape(views.VIEWS['tokens'].label)}$")).click()
    page.wait_for_function("() => location.search.includes('view=tokens')")
    wait_for_charts(page, view_charts["tokens"])
    assert "view=tokens" in page.url
    assert (chosen(page, "Layer"), chosen(page, "Head")) == (str(layer), str(head))
    assert_no_problem_shown(page)


def test_a_new_sequence_opens_on_its_own_most_moved_head_and_a_reload_keeps_the_selection(page, demo_run,
                                                                                           view_charts):
    results = Results(demo_run)
    stage = results.stages[-1]
    defaults = {s.id: results.most_shifted_head(sequence=s.id, stage=stage) for s in results.sequences}
    first = results.sequences[0].id
    other = next((s for s, head in defaults.items() if head != defaults[first]), None)
    assert other is not None, f"every sequence of the demo run moves most at {defaults[first]}"
    page.goto(f"/?view=tokens&sequence={first}")
    wait_for_charts(page, view_charts["tokens"])
    assert (chosen(page, "Layer"), chosen(page, "Head")) == tuple(map(str, defaults[first]))
    choose(page, "Sequence", f"{other} ({results.sequence(other).concept})")
    wait_for_charts(page, view_charts["tokens"])
    assert (chosen(page, "Layer"), chosen(page, "Head")) == tuple(map(str, defaults[other]))
    assert f"sequence={other}" in page.url
    choose(page, "Stage", results.stages[0])
    shown = {label: chosen(page, label) for label in ("Sequence", "Stage", "Layer", "Head")}
    page.reload()
    wait_for_charts(page, view_charts["tokens"])
    assert {label: chosen(page, label) for label in shown} == shown
    assert_no_problem_shown(page)


# ---------------------------------------------------------------- what the views draw

SELECT_BOXES = '[data-testid="stMain"] [data-testid="stSelectbox"] input[role="combobox"]'


def select_boxes(page) -> list[dict]:
    """Each view choice's box: its label, the value it shows, and whether that value is cut short."""
    return page.evaluate(f"""() => [...document.querySelectorAll('{SELECT_BOXES}')].map(box => ({{
        label: box.getAttribute('aria-label'), value: box.value, cut: box.scrollWidth > box.clientWidth + 1}}))""")


def test_view_choices_show_their_whole_value_and_all_means_all(page, view_charts):
    """Tokens cut its boxes ("negligence (", "Choose an o"); Text showed "Choose an option" for all
    layers and heads; a "Tokens shown" choice offered one option."""
    open_view(page, "tokens", view_charts["tokens"])
    boxes = select_boxes(page)
    assert {box["label"] for box in boxes} >= {"Sequence", "Stage", "Layer", "Head"}
    assert [box for box in boxes if box["cut"] or not box["value"]] == []
    assert "Tokens shown" not in {box["label"] for box in boxes}, "the demo stores the window only: one option"
    open_view(page, "text", view_charts["text"])
    shown = {box["label"]: box["value"] for box in select_boxes(page)}
    assert (shown["Layer"], shown["Head"], shown["Difference against"]) == ("all layers", "all heads", "(none)")
    assert_no_problem_shown(page)


TEXT_COVERED = f"""() => {{
    // Each token's text against the backgrounds of the tokens after it on its line.
    const notes = [...document.querySelectorAll('{CHART} .js-plotly-plot g.annotation')];
    const boxes = notes.map(note => [note.querySelector('text').getBoundingClientRect(),
                                     note.querySelector('rect.bg').getBoundingClientRect()]);
    const covered = [];
    boxes.forEach(([text], i) => boxes.slice(i + 1).forEach(([, bg], k) => {{
        const across = Math.min(text.right, bg.right) - Math.max(text.left, bg.left);
        const down = Math.min(text.bottom, bg.bottom) - Math.max(text.top, bg.top);
        if (across > 0.5 && down > 0.5) covered.push([notes[i].textContent, notes[i + 1 + k].textContent, across]);
    }}));
    return {{tokens: notes.length, covered}};
}}"""


@pytest.mark.parametrize("scale", [1, 2])
def test_the_text_view_covers_no_letter_of_any_token(browser, server, view_charts, scale):
    """The next token's background hid the last letter ("defendani", "claimani"), at 2× zoom too."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=scale,
                                  base_url=server)
    context.set_default_timeout(RENDER_MS)
    page = context.new_page()
    try:
        open_view(page, "text", view_charts["text"])
        found = page.evaluate(TEXT_COVERED)
        assert found["tokens"] > 50 and found["covered"] == []
    finally:
        context.close()


def test_head_grid_maps_are_large_enough_to_read(page, view_charts):
    """Eight maps to a row drew each about 90 px wide."""
    open_view(page, "grid", view_charts["grid"])
    widths = page.evaluate(f"""() => {{ const plot = document.querySelector('{CHART} .js-plotly-plot');
        const layout = plot._fullLayout;
        return Object.keys(layout).filter(k => /^xaxis[0-9]*$/.test(k)).map(k => layout[k]._length); }}""")
    assert len(widths) >= 4 and min(widths) >= 150


# ---------------------------------------------------------------- uploads

def sidebar_concept_choice(page):
    return page.locator(SIDEBAR).locator('[data-testid="stMultiSelect"]').filter(has_text="Concept sets")


def sequences_charted(page) -> list[str]:
    """The sequence ids along the x axis of the Overview's first chart (its traces' categories)."""
    return page.evaluate(f"() => [...new Set(document.querySelector('{CHART} .js-plotly-plot').data"
                         ".flatMap(trace => trace.x))]")


def test_an_upload_under_a_hidden_home_is_selected_run_and_shown(page, browser_home, tmp_path, demo_run):
    """Uploads reach the sidebar and the run whatever the home's path: the default home lies below
    `~/.local`, whose dot once hid every saved set from the sidebar until the server restarted."""
    assert any(part.startswith(".") for part in browser_home.parts)
    open_view(page, "concepts", 0)
    upload = tmp_path / "Browser Set.yaml"
    upload.write_bytes(UPLOAD)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(upload))
    page.get_by_text("Browser Set.yaml: kept as browser-set.yaml").wait_for()
    wait_for_app(page)
    assert_no_problem_shown(page)
    assert (browser_home / "concepts" / "browser-set.yaml").read_bytes() == UPLOAD
    # Selected at once: a tag in the sidebar's multiselect, beside the built-in sets.
    sidebar_concept_choice(page).get_by_text("yours: browser-set.yaml").wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(SIDEBAR).screenshot(path=str(SCREENSHOTS / "sidebar-after-upload.png"))

    # Run, pressed on the Concepts page: the Overview shows the new run with the uploaded sequence.
    page.locator(SIDEBAR).get_by_role("button", name="Run", exact=True).click()
    page.wait_for_function("() => location.search.includes('view=overview') && !location.search.includes("
                           f"'run={demo_run.name}')", timeout=RENDER_MS)
    page.wait_for_function(f"() => {{ const plot = document.querySelector('{CHART} .js-plotly-plot');"
                           " return plot && plot.data && plot.data.some(trace => [...trace.x].includes("
                           "'browser-condition')); }", timeout=RENDER_MS)
    wait_for_app(page)
    assert_no_problem_shown(page)
    builtin = [s.id for s in all_sequences(load_concepts(sorted(builtin_concepts_dir().glob("*.yaml"))))]
    assert sorted(sequences_charted(page)) == sorted([*builtin, "browser-condition"])
    caption = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="Results: ").inner_text()
    assert re.search(r"Results: runs/demo-[0-9a-f]{12} · ", caption) and str(browser_home) not in caption
    assert f"{len(builtin) + 1} sequences" in caption

    # A new session finds the set among the options, and can select it.
    fresh = page.context.new_page()
    open_view(fresh, "concepts", 0)
    choice = sidebar_concept_choice(fresh)
    assert choice.get_by_text("yours: browser-set.yaml").count() == 0  # kept, not selected
    choice.locator("input").click()
    option = fresh.get_by_role("option", name="yours: browser-set.yaml")
    option.wait_for()
    option.click()
    choice.get_by_text("yours: browser-set.yaml").wait_for()
    wait_for_app(fresh)
    assert_no_problem_shown(fresh)


# ---------------------------------------------------------------- downloads

def open_results_folder(page, folder: Path) -> None:
    page.goto("/?view=overview")
    wait_for_app(page)
    page.locator(SIDEBAR).get_by_text("an existing results folder").click()
    field = page.locator(SIDEBAR).locator('[data-testid="stTextInput"]').filter(has_text="Results folder").locator("input")
    field.fill(str(folder))
    field.press("Enter")
    page.get_by_text(f"Results: {folder.parent.name}/{folder.name}").wait_for()
    page.wait_for_function(f"() => document.querySelectorAll('{CHART} .js-plotly-plot .main-svg').length >= 1")
    wait_for_app(page)
    assert_no_problem_shown(page)


def download(page, label: str) -> bytes:
    """Click the first download button called `label`; the downloaded file's bytes."""
    button = page.locator('[data-testid="stDownloadButton"] button').filter(
        has_text=re.compile(rf"^{re.escape(label)}$")).first
    with page.expect_download(timeout=DOWNLOAD_MS) as caught:
        button.click()
    path = caught.value.path()
    assert caught.value.failure() is None
    return Path(path).read_bytes()


@pytest.fixture(scope="module")
def small_run_page(browser, server, small_run):
    """One page on the small run for every download test: downloads leave the page as it was."""
    context = new_context(browser, server)
    page = context.new_page()
    open_results_folder(page, small_run)
    yield page
    context.close()


def test_png_download_of_a_figure(small_run_page):
    data = download(small_run_page, "PNG")
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000


def test_svg_pdf_and_html_downloads_of_a_figure(small_run_page):
    svg = download(small_run_page, "SVG")
    assert svg.lstrip()[:5] in (b"<svg ", b"<?xml") and b"<svg" in svg[:500]
    assert b"Mean shift of the concept share" in svg
    assert download(small_run_page, "PDF")[:5] == b"%PDF-"
    html = download(small_run_page, "HTML")
    assert b"<html" in html[:500].lower() and b"Mean shift of the concept share" in html


def test_csv_download_of_a_table_carries_its_settings(small_run_page):
    import pandas as pd

    data = download(small_run_page, "CSV").decode("utf-8")
    assert data.startswith('# settings.table: "statistics"\n# settings.view: "overview"\n')
    assert '# settings.controls: 200\n' in data and "# provenance.run_id: " in data
    assert "skewness" in pd.read_csv(io.StringIO(data), comment="#").columns


def make_bundle(page) -> tuple[bytes, str]:
    """Press "Make the zip", wait for its download button, download the zip.

    A zip made for earlier choices stays on the page, stale, while the run for new choices is under
    way: its button must be gone before "Make the zip" is pressed, or it would be the one found."""
    button = page.locator('[data-testid="stDownloadButton"] button').filter(
        has_text=re.compile(r"^Download everything \(zip, [0-9.]+ MB\)$"))
    button.wait_for(state="detached", timeout=RENDER_MS)
    wait_for_app(page)
    page.get_by_role("button", name="Make the zip (manifest, index, figures and tables)").click()
    button.wait_for(timeout=DOWNLOAD_MS)
    wait_for_app(page)
    with page.expect_download(timeout=DOWNLOAD_MS) as caught:
        button.click()
    assert caught.value.failure() is None
    return Path(caught.value.path()).read_bytes(), caught.value.suggested_filename


def test_download_everything_is_a_zip_with_the_manifest(small_run_page, small_run):
    data, name = make_bundle(small_run_page)
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        names = bundle.namelist()
        assert names[0] == "manifest.json"
        manifest = bundle.read("manifest.json")
        assert b'"small-condition"' in manifest and b'"name": "screen"' in manifest
        assert {"figures/overview/shifts.html", "figures/plotly.min.js", "tables/overview/statistics.csv",
                "index.html", "index.csv"} <= set(names)
        assert not any(name.endswith(".png") for name in names), "images only when asked for"
        assert {"METHODS.md", "references.bib"} <= set(names)
    assert name.endswith("-c200-s0.zip")
    # A new choice drops the zip made for the old one: the button to make one is back.
    small_run_page.get_by_text("HTML, PNG, SVG and PDF figures").click()
    wait_for_app(small_run_page)
    small_run_page.get_by_text("Paper, page width (7 in)").click()
    wait_for_app(small_run_page)
    data, name = make_bundle(small_run_page)
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        names = set(bundle.namelist())
        assert {f"figures/overview/shifts.{fmt}" for fmt in ("png", "svg", "pdf", "html", "txt")} <= names
        assert bundle.read("figures/overview/shifts.png")[:8] == b"\x89PNG\r\n\x1a\n"
        assert bundle.read("figures/overview/shifts.pdf")[:5] == b"%PDF-"
        assert b'"name": "paper"' in bundle.read("manifest.json")
    assert name.endswith("-c200-s0-paper-page.zip")
    assert (small_run / "manifest.json").is_file()


# ---------------------------------------------------------------- the address

WARNING = '[data-testid="stAlertContentWarning"]'


def test_an_opened_results_folder_is_what_a_reload_shows(page, small_run, demo_run):
    """Opened over the demo run, the small run takes its place in the address, so a reload (or the
    link) shows the small run, never the demo run the page opened with."""
    from urllib.parse import parse_qs, urlparse

    open_results_folder(page, small_run)
    query = parse_qs(urlparse(page.url).query)
    assert query["folder"] == [f"{small_run.parent.name}/{small_run.name}"] and "run" not in query, page.url
    page.reload()
    caption = page.get_by_text(f"Results: {small_run.parent.name}/{small_run.name}")
    caption.wait_for()
    wait_for_charts(page, 1)
    assert " 1 sequences " in caption.inner_text()
    assert_no_problem_shown(page)
    assert page.locator(WARNING).count() == 0


def test_a_sequence_the_run_lacks_is_refused_with_a_note(page, demo_run, view_charts):
    results = Results(demo_run)
    first = results.sequences[0]
    page.goto("/?view=tokens&sequence=no-such-sequence")
    wait_for_charts(page, view_charts["tokens"])
    note = page.locator(WARNING).filter(has_text="no-such-sequence")
    assert note.count() == 1
    assert note.inner_text().split("\n")[-1] == (f"The address names sequence 'no-such-sequence', which this view does not offer for "
                                 f"this run; it shows '{first.id}'.")
    assert chosen(page, "Sequence") == f"{first.id} ({first.concept})"
    assert_no_problem_shown(page)
