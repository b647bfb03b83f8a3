"""The report in a real browser: Debian's headless Chromium, driven over the DevTools protocol.

One small demo report is generated for the module; the index and every section page are
opened from disk (``file://``) and checked as a reader's browser sees them: every image
decodes, every link between pages (and to an anchor) resolves, figures fit the page
without distortion, the console stays free of errors, and no request leaves for the
network (every request is ``file:`` or ``data:``; the others are blocked and reported).

The protocol runs over a pipe (``--remote-debugging-pipe``: commands on the browser's
fd 3, replies on its fd 4, each message JSON ended by a NUL byte), so the test needs no
websocket client and opens no port. A screenshot of the index is kept as an artifact,
``tests/artifacts/index.png``.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse
from urllib.request import url2pathname

import pytest

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium is not installed at /usr/bin/chromium (apt-get install chromium; "
        ".ci/run installs it)",
    ),
]

#: Flags for a quiet, isolated, offline-minded headless browser.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)

#: Where the screenshot of the index is kept. The folder ignores itself in git (it holds
#: its own ``.gitignore``, as ``.pytest_cache`` does).
ARTIFACTS = Path(__file__).parent / "artifacts"

#: Width of the viewport: narrower than the widest figures, so they must scale down.
VIEWPORT = (1100, 900)

#: Runs in the page once it has loaded: loads lazy images, waits for every image to
#: decode, then reports images, links, element ids and the page's width.
INSPECT = """
(async () => {
  const images = [...document.images];
  for (const img of images) img.loading = "eager";
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  return {
    images: images.map(img => {
      const box = img.getBoundingClientRect();
      return {src: img.getAttribute("src").slice(0, 60), naturalWidth: img.naturalWidth,
              naturalHeight: img.naturalHeight, width: box.width, height: box.height,
              inOutput: img.closest(".jp-RenderedImage") !== null};
    }),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    ids: [...document.querySelectorAll("[id]")].map(e => e.id),
    pageWidth: document.documentElement.clientWidth,
    scrollHeight: document.documentElement.scrollHeight,
    nav: [...document.querySelectorAll("nav.eda-bar a")].map(a => a.textContent),
  };
})()
"""


class DevTools:
    """A headless Chromium and one page, driven over the DevTools protocol on a pipe."""

    def __init__(self, profile: Path, timeout: float = 20.0) -> None:
        self.timeout = timeout
        self.events: list[dict] = []
        self._buffer = b""
        self._next_id = 0
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def give_pipes_to_the_browser() -> None:  # runs in the child, before exec
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=give_pipes_to_the_browser,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        try:
            self.session = self._open_page()
        except BaseException:
            self.close()
            raise

    def _open_page(self) -> str:
        """Open a blank page with its events on and the network barred; its session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=session)
        # Anything that is not a local file is refused before it leaves (and still reported).
        self.call("Network.setBlockedURLs",
                  {"urls": ["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]},
                  session=session)
        width, height = VIEWPORT
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                  session=session)
        return session

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        """Wait for an event of the page's session (or take it if it already came)."""
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == self.session:
                    return self.events.pop(i)
            self.events.append(self._receive())

    def _receive(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError(f"Chromium sent nothing for {self.timeout:.0f} s")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise ConnectionError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, path: Path) -> dict:
        """Load a file, wait for it and every image in it, and return what INSPECT sees."""
        self.call("Page.navigate", {"url": path.as_uri()}, session=self.session)
        self.wait_for("Page.loadEventFired")
        result = self.call("Runtime.evaluate",
                           {"expression": INSPECT, "awaitPromise": True, "returnByValue": True},
                           session=self.session)
        return result["result"]["value"]

    def screenshot(self, target: Path, height: int) -> Path:
        """Save the whole page, ``height`` pixels tall, as a PNG."""
        width = VIEWPORT[0]
        shot = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        }, session=self.session)
        target.write_bytes(base64.b64decode(shot["data"]))
        return target

    def take_events(self) -> list[dict]:
        """The events received so far, emptied."""
        events, self.events = self.events, []
        return events

    def close(self) -> None:
        """Close the browser (killed if it does not quit within 10 s) and the pipes."""
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError, TimeoutError, ConnectionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


# --------------------------------------------------------------------------- the report, seen


@pytest.fixture(scope="module")
def report(demo_report):
    """The shared demo report (tests/conftest.py), run through the whole suite."""
    result = demo_report[2]
    assert result.ok, [r.error for r in result.records]
    return result


@pytest.fixture(scope="module")
def seen(report, tmp_path_factory):
    """Every page as Chromium saw it: page path -> (what INSPECT found, events on loading)."""
    browser = DevTools(tmp_path_factory.mktemp("chromium-profile"))
    try:
        pages = {}
        for path in [report.index_html, *(r.html for r in report.records)]:
            view = browser.open(path)
            pages[path] = (view, browser.take_events())
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / ".gitignore").write_text("# written by tests/test_browser.py\n*\n")
        shot = ARTIFACTS / "index.png"
        browser.open(report.index_html)
        browser.screenshot(shot, pages[report.index_html][0]["scrollHeight"])
        pages[report.index_html][1].extend(browser.take_events())
    finally:
        browser.close()
    print(f"\nscreenshot of the index: {shot}")
    return pages


def file_path(url: str) -> Path:
    return Path(url2pathname(unquote(urlparse(url).path)))


def test_every_image_decodes(report, seen):
    for path, (view, _) in seen.items():
        broken = [img["src"] for img in view["images"] if img["naturalWidth"] <= 0]
        assert not broken, f"{path.name}: images that did not decode: {broken}"
    figures = report.out_dir / "figures"
    with_figures = [r for r in report.records if any(figures.glob(f"{r.name[:2]}_*.png"))]
    assert len(seen[report.index_html][0]["images"]) == len(with_figures) > 0
    for record in with_figures:
        assert seen[record.html][0]["images"], f"{record.name} shows no figure"


def test_every_link_between_pages_resolves(seen):
    ids = {path: set(view["ids"]) for path, (view, _) in seen.items()}
    checked = 0
    for path, (view, _) in seen.items():
        for link in view["links"]:
            if urlparse(link).scheme != "file":
                continue  # a plain hyperlink in the text; it loads nothing
            page, fragment = urldefrag(link)
            target = file_path(page)
            assert target.is_file(), f"{path.name} links to a missing file: {link}"
            if fragment:
                assert target in ids, f"{path.name} links into a page not in the report: {link}"
                assert {fragment, unquote(fragment)} & ids[target], \
                    f"{path.name} links to a missing anchor: {link}"
            checked += 1
    assert checked > 2 * len(seen)


def test_sections_link_the_index_and_their_neighbours(report, seen):
    pages = [r.html for r in report.records]
    for i, page in enumerate(pages):
        links = {file_path(urldefrag(link)[0]) for link in seen[page][0]["links"]}
        neighbours = {report.index_html, *pages[max(i - 1, 0):i + 2]}
        assert neighbours <= links, page.name
        assert seen[page][0]["nav"][0] == "EDA report"
    index_links = {file_path(link) for link in seen[report.index_html][0]["links"]}
    assert set(pages) <= index_links


def test_figures_fit_the_page_and_keep_their_shape(report, seen):
    for record in report.records:
        view, _ = seen[record.html]
        for img in (i for i in view["images"] if i["inOutput"]):
            assert 0 < img["width"] <= view["pageWidth"], (record.name, img["src"])
            shown = img["width"] / img["height"]
            natural = img["naturalWidth"] / img["naturalHeight"]
            assert shown == pytest.approx(natural, rel=0.02), (record.name, img["src"])
    widest = max(img["naturalWidth"] for view, _ in seen.values() for img in view["images"])
    assert widest > VIEWPORT[0], "no figure wider than the page: scaling was not exercised"


def test_console_has_no_errors(seen):
    for path, (_, events) in seen.items():
        errors = [
            e["params"] for e in events
            if e.get("method") == "Runtime.exceptionThrown"
            or (e.get("method") == "Runtime.consoleAPICalled"
                and e["params"]["type"] in ("error", "assert"))
            or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
        ]
        assert not errors, f"{path.name}: {errors}"


def test_nothing_is_requested_from_the_network(seen):
    for path, (_, events) in seen.items():
        urls = [e["params"]["request"]["url"] for e in events
                if e.get("method") == "Network.requestWillBeSent"]
        assert urls, f"{path.name}: no request seen at all; is the Network domain on?"
        outside = [u for u in urls if urlparse(u).scheme not in ("file", "data")]
        assert not outside, f"{path.name} requested {outside}"


def test_index_screenshot_is_kept(seen):
    assert (ARTIFACTS / "index.png").read_bytes().startswith(b"\x89PNG")
