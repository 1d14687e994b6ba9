"""PNG, SVG and PDF of plotly figures from one headless Chromium, each figure laid out once.

Kaleido 1.x launches the browser and opens its tabs on a page with plotly.js loaded. Its own
render call (`calc_fig`) reloads the tab after every image (4.8 MB of plotly.js parsed again:
three quarters of the time per image on the demo) and lays a figure out anew for each format.
Here every tab gets a small script instead: plotly lays the figure out once into an SVG; the
PNG is that SVG drawn onto a canvas at the chosen scale (what `Plotly.toImage` does for PNG);
the PDF is Chromium's print of a page showing that SVG (what kaleido does for PDF, which keeps
text as text with its TrueType font embedded). A tab goes from one figure to the next without
a reload, and the tabs work in parallel on a shared queue.

The browser lives in an asyncio loop on a daemon thread; `submit` returns a future at once, so
a caller can compute the next figures while earlier ones render, and every wait has a timeout,
so a browser that dies cannot hang the caller. A caller that stops early (an export that failed)
cancels its renders and waits for them to stop (`cancel`); every render's outcome is collected,
so nothing is left to print "Task exception was never retrieved" when the process ends.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from interp.core.errors import InterpError
from interp.core.palette import DEFAULT_FIGURE_SIZE
from interp.export.styles import figure_title

IMAGE_FORMATS = ("png", "svg", "pdf")
CHROMIUM_MISSING = (
    "Chromium not found: install Debian's chromium package (apt-get install chromium), "
    "or point BROWSER_PATH at a Chromium, for PNG/SVG/PDF export"
)
# Installed into every tab: `interpRender(figure, options)` resolves to {svg, png (base64)} and
# leaves the page showing the figure at its size, for `Page.printToPDF`.
RENDER_SCRIPT = r"""
(() => {
  const page = document.createElement('style');
  document.head.appendChild(page);
  const image = document.createElement('img');
  image.style.display = 'block';
  document.body.replaceChildren(image);
  window.interpRender = async (figure, options) => {
    const {width, height, scale, formats} = options;
    document.title = options.title || 'figure';  // the PDF's title
    const svg = await Plotly.toImage(
      {data: figure.data || [], layout: figure.layout || {}, config: figure.config || {}},
      {format: 'svg', width, height, scale: 1, imageDataOnly: true});
    const out = {};
    if (formats.includes('svg')) out.svg = svg;
    if (!formats.includes('png') && !formats.includes('pdf')) return out;
    // The page shows the SVG (what the PDF prints); the PNG draws that same image onto a canvas
    // at `scale`, as Plotly.Snapshot.svgToImg would (the same pixels), without decoding it twice.
    page.textContent = `@page { size: ${width}px ${height}px; margin: 0 } html, body { margin: 0; padding: 0 }`;
    await new Promise((resolve, reject) => {
      image.onload = resolve;
      image.onerror = () => reject(new Error('Chromium could not draw the SVG plotly made'));
      image.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
    });
    if (formats.includes('png')) {
      const canvas = document.createElement('canvas');
      canvas.width = Math.round(width * scale);
      canvas.height = Math.round(height * scale);
      canvas.getContext('2d').drawImage(image, 0, 0, canvas.width, canvas.height);
      const url = canvas.toDataURL('image/png');
      if (!url.startsWith('data:image/png;base64,') || url.length < 100) {
        throw new Error(`the PNG came out empty (${canvas.width} x ${canvas.height} px)`);
      }
      out.png = url.slice(url.indexOf(',') + 1);
    }
    return out;
  };
  return true;
})()
"""
PDF_OPTIONS = {"printBackground": True, "preferCSSPageSize": True, "pageRanges": "1",
               "marginTop": 0, "marginBottom": 0, "marginLeft": 0, "marginRight": 0}


@dataclass(frozen=True)
class RenderJob:
    """One figure to render: its JSON (as `plotly.io.json.to_json_plotly` writes it, so it is
    also a JavaScript expression), the formats wanted, its size in CSS pixels, the PNG scale,
    its name in messages and its title (the PDF's)."""

    spec_json: str
    formats: tuple[str, ...]
    width: float
    height: float
    png_scale: float = 2.0
    name: str = "figure"
    title: str = ""


def figure_job(spec: dict, formats: Sequence[str], png_scale: float = 2.0, name: str = "figure",
               spec_json: str | None = None, title: str | None = None) -> RenderJob:
    """The render job of a figure dict (`fig.to_dict()`, styled or not); `spec_json` is the dict
    as `to_json_plotly` writes it, when the caller has it already; `title` defaults to the
    figure's own."""
    if title is None:
        title = figure_title(spec)
    if spec_json is None:
        from plotly.io.json import to_json_plotly

        spec_json = to_json_plotly(spec)
    layout = spec.get("layout", {})
    return RenderJob(spec_json, tuple(formats), float(layout.get("width") or DEFAULT_FIGURE_SIZE[0]),
                     float(layout.get("height") or DEFAULT_FIGURE_SIZE[1]), png_scale, name, title)


async def _cancel_pending() -> None:
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _reply_error(reply: Any) -> str | None:
    """The first line of what went wrong in a DevTools reply (a protocol error or a JavaScript
    exception), or None when it succeeded."""
    if not isinstance(reply, dict):
        return f"unexpected reply {reply!r:.200}"
    if "error" in reply:
        return str(reply["error"].get("message", reply["error"]))
    details = reply.get("result", {}).get("exceptionDetails")
    if details:
        exception = details.get("exception", {})
        text = exception.get("description") or exception.get("value") or details.get("text", "JavaScript error")
        return str(text).strip().splitlines()[0]
    return None


class _ImageCache:
    """The most recently rendered images, up to `limit` bytes in all, keyed by what made them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[str, dict[str, bytes]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(job: RenderJob) -> str:
        digest = hashlib.sha256(job.spec_json.encode("utf-8"))
        digest.update(repr((job.formats, job.width, job.height, job.png_scale, job.title)).encode("utf-8"))
        return digest.hexdigest()

    def get(self, key: str) -> dict[str, bytes] | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: str, images: dict[str, bytes]) -> None:
        size = sum(map(len, images.values()))
        with self._lock:
            if key in self._items or size > self.limit:
                return
            self._items[key] = images
            self._size += size
            while self._size > self.limit:
                _, dropped = self._items.popitem(last=False)
                self._size -= sum(map(len, dropped.values()))


class FigureExporter:
    """One kaleido browser with `tabs` tabs, opened on first use and reused until `close()`.

    `starts` counts browser launches, `rendered` figures laid out; the last `cache_bytes` of
    images are kept for figures asked for again. After a failed render the browser is closed;
    the next call opens a new one.
    """

    def __init__(self, tabs: int | None = None, timeout: float = 90.0, cache_bytes: int = 256 * 2**20) -> None:
        self.tabs = tabs or max(1, min(4, os.cpu_count() or 1))
        self.timeout = timeout
        self.starts = 0
        self.rendered = 0  # figures laid out in the browser (not answered from the cache)
        self._cache = _ImageCache(cache_bytes)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._browser: Any = None
        self._idle: asyncio.Queue | None = None
        self._failure: str | None = None
        # The render task behind each pending future (touched on the loop's thread only).
        self._tasks: dict[concurrent.futures.Future, asyncio.Task] = {}

    def _submit(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _start(self) -> str | None:
        """Open the browser unless it is open; return why it cannot be opened, or None."""
        with self._lock:
            if self._browser is not None or self._failure is not None:
                return self._failure
            import kaleido  # deferred: importing it is slow and only images need it
            from choreographer.errors import ChromeNotFoundError

            # mathjax=False: the default loads MathJax from a CDN, a network call per start.
            try:
                browser = kaleido.Kaleido(n=self.tabs, timeout=self.timeout, mathjax=False)
            except ChromeNotFoundError:
                return CHROMIUM_MISSING  # not remembered: Chromium may be installed later
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="interp-kaleido", daemon=True)
            self._thread.start()
            self.starts += 1
            try:
                self._submit(browser.open(), self.timeout)
                self._idle = self._submit(self._prepare_tabs(browser), self.timeout)
            except Exception as error:  # noqa: BLE001 - any launch failure is the reason given
                detail = error.args[0] if error.args else error
                try:
                    self._submit(browser.close(), 10)
                except Exception:  # noqa: BLE001 - there may be no process left to close
                    pass
                self._failure = (f"Chromium could not be started for PNG/SVG/PDF export: "
                                 f"{type(error).__name__}: {detail}")
                self._stop_loop()
                return self._failure
            self._browser = browser
            return None

    async def _prepare_tabs(self, browser: Any) -> asyncio.Queue:
        """Take kaleido's tabs (plotly.js loaded) and install the render script in each."""
        idle: asyncio.Queue = asyncio.Queue()
        for _ in range(self.tabs):
            tab = (await browser.tabs_ready.get()).tab
            reply = await tab.send_command("Runtime.evaluate", params={"expression": RENDER_SCRIPT,
                                                                       "returnByValue": True})
            problem = _reply_error(reply)
            if problem:
                raise RuntimeError(f"the render script failed in a tab: {problem}")
            idle.put_nowait(tab)
        return idle

    def _stop_loop(self) -> None:
        """Cancel what still runs on the loop (a failed launch leaves a watchdog), then stop it."""
        if self._loop is not None:
            try:
                self._submit(_cancel_pending(), 10)
            except Exception:  # noqa: BLE001 - the loop is stopped below either way
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
        self._loop = self._thread = self._idle = None
        self._tasks = {}

    def close(self) -> None:
        """Close the browser; the next image opens a new one."""
        with self._lock:
            if self._browser is not None:
                try:
                    self._submit(self._browser.close(), 30)
                except Exception:  # noqa: BLE001 - a browser that already died needs no closing
                    pass
                self._browser = None
            self._stop_loop()
            self._failure = None

    def available(self) -> tuple[bool, str]:
        """Whether images can be made (opening the browser if needed) and, if not, why."""
        failure = self._start()
        return (False, failure) if failure else (True, "PNG, SVG and PDF export available")

    def submit(self, job: RenderJob) -> concurrent.futures.Future:
        """Queue a figure; the future gives `{format: bytes}` or raises `InterpError` (one line).

        A figure rendered before with the same JSON, size, scale and formats comes from the
        cache: a bundle made again after one setting changed renders only the figures it changed."""
        unknown = [fmt for fmt in job.formats if fmt not in IMAGE_FORMATS]
        if unknown or not job.formats:
            raise InterpError(f"image format must be one of {', '.join(IMAGE_FORMATS)}, got {unknown or 'none'}")
        failure = self._start()
        if failure:
            raise InterpError(failure)
        key = _ImageCache.key(job)
        cached = self._cache.get(key)
        if cached is not None:
            future: concurrent.futures.Future = concurrent.futures.Future()
            future.set_result(cached)
            return future
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.add_done_callback(lambda done: self._cache.put(key, done.result())
                                 if not done.cancelled() and done.exception() is None else None)
        self._loop.call_soon_threadsafe(self._start_render, job, future)
        return future

    def _start_render(self, job: RenderJob, future: concurrent.futures.Future) -> None:
        """On the loop: the render task of `future`, its outcome handed over when it ends."""
        if future.cancelled():
            return
        task = self._loop.create_task(self._render(job))
        self._tasks[future] = task

        def settle(done: asyncio.Task) -> None:
            self._tasks.pop(future, None)
            # Collected whatever becomes of it: a cancelled render ends in the browser's own error.
            error = None if done.cancelled() else done.exception()
            if future.cancelled():
                return
            if done.cancelled():
                future.cancel()
            elif error is not None:
                future.set_exception(error)
            else:
                future.set_result(done.result())

        task.add_done_callback(settle)

    def cancel(self, futures: Sequence[concurrent.futures.Future], timeout: float = 30.0) -> None:
        """Cancel submitted renders and wait until each has stopped (other callers' go on)."""
        for future in futures:
            future.cancel()
        loop = self._loop
        if loop is None or not futures:
            return

        async def stop() -> None:
            tasks = [self._tasks[future] for future in futures if future in self._tasks]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        stopping = stop()
        try:
            asyncio.run_coroutine_threadsafe(stopping, loop).result(timeout)
        except RuntimeError:  # the loop was closed meanwhile, and its renders with it
            stopping.close()
        except concurrent.futures.TimeoutError:
            self.close()  # renders that do not stop go with the browser

    async def _render(self, job: RenderJob) -> dict[str, bytes]:
        tab = await self._idle.get()
        try:
            self.rendered += 1
            # A timeout in this task (not `wait_for`, whose inner task would end unobserved when cancelled).
            async with asyncio.timeout(self.timeout) as limit:
                return await self._render_in(tab, job)
        except InterpError:
            raise
        except Exception as error:  # noqa: BLE001 - a dead browser fails in many ways; one line for each
            if isinstance(error, TimeoutError) or limit.expired():
                raise InterpError(f"export of figure '{job.name}' took longer than {self.timeout:g} s") from None
            raise InterpError(f"export of figure '{job.name}' failed: {type(error).__name__}: {error}") from error
        finally:
            self._idle.put_nowait(tab)

    async def _render_in(self, tab: Any, job: RenderJob) -> dict[str, bytes]:
        options = {"width": job.width, "height": job.height, "scale": job.png_scale, "formats": list(job.formats),
                   "title": job.title}
        reply = await tab.send_command("Runtime.evaluate", params={
            "expression": f"interpRender({job.spec_json}, {json.dumps(options)})",
            "awaitPromise": True, "returnByValue": True,
        })
        problem = _reply_error(reply)
        if problem:
            raise InterpError(f"{'/'.join(f.upper() for f in job.formats)} export of figure '{job.name}' failed: {problem}")
        value = reply["result"]["result"]["value"]
        images = {}
        if "svg" in job.formats:
            images["svg"] = value["svg"].encode("utf-8")
        if "png" in job.formats:
            images["png"] = base64.b64decode(value["png"])
        if "pdf" in job.formats:
            printed = await tab.send_command("Page.printToPDF", params=PDF_OPTIONS)
            problem = _reply_error(printed)
            if problem:
                raise InterpError(f"PDF export of figure '{job.name}' failed: {problem}")
            images["pdf"] = base64.b64decode(printed["result"]["data"])
        return images

    def wait(self, future: concurrent.futures.Future, queued: int = 1) -> dict[str, bytes]:
        """A submitted figure's images, waiting at most as long as `queued` renders may take.

        A failure closes the browser (the next call opens a new one) and raises `InterpError`.
        """
        try:
            return future.result(self.timeout * (1 + queued / self.tabs))
        except InterpError:
            self.close()
            raise
        except concurrent.futures.TimeoutError:
            self.close()
            raise InterpError(f"image export took longer than {self.timeout:g} s per figure") from None

    def figures_bytes(self, figures: Sequence[Any], fmt: str, png_scale: float = 2.0) -> list[bytes]:
        """Several `go.Figure`s in one format (png at `png_scale`), rendered in parallel."""
        if fmt not in IMAGE_FORMATS:
            raise InterpError(f"image format must be one of {', '.join(IMAGE_FORMATS)}, got {fmt!r}")
        jobs = [figure_job(fig.to_dict(), (fmt,), png_scale) for fig in figures]
        return [images[fmt] for images in self.render(jobs)]

    def figure_bytes(self, fig: Any, fmt: str) -> bytes:
        """One figure as png (scale 2), svg or pdf."""
        return self.figures_bytes([fig], fmt)[0]

    def render(self, jobs: Sequence[RenderJob]) -> list[dict[str, bytes]]:
        """Several figures at once, spread over the tabs, in the order given."""
        futures = [self.submit(job) for job in jobs]
        try:
            return [self.wait(future, len(futures)) for future in futures]
        finally:
            self.cancel([future for future in futures if not future.done()])
