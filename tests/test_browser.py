"""The published site in a real browser: headless Chromium on a localhost copy of the smoke build.

Needs Debian's ``chromium`` (``apt-get install -y chromium``, done by ``.ci/run``) and the
``playwright`` Python package (the ``dev`` extra). Without them these tests are skipped, except
under CI (``CI=true``), where a missing browser is a failure. Screenshots of every page go to
``$CAE_SCREENSHOTS_DIR``, else ``_build/screenshots/``; the path is printed.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from bs4 import BeautifulSoup

from .conftest import PAGES, REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# What a widget shows when no widget manager renders it: a dead widget.
WIDGET_FALLBACKS = ("HBox(children", "VBox(children", "interactive(children", "IntProgress(", "FloatProgress(")


def page_path(name: str) -> str:
    return "index.html" if name == "index" else f"book/{name}.html"


def screenshots_dir() -> Path:
    folder = Path(os.environ.get("CAE_SCREENSHOTS_DIR") or REPO / "_build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output for failures
        pass


@pytest.fixture(scope="module")
def site(smoke_book) -> str:
    """The smoke build served over HTTP on localhost (as any static host would), its base URL."""
    html = smoke_book.require_success()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright."""
    missing = "" if CHROMIUM.exists() else f"{CHROMIUM} (apt-get install -y chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = missing or "the playwright package (pip install -e '.[dev]')"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test needs {missing}")
        pytest.skip(f"the browser test needs {missing}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class Visit:
    """One page opened in a fresh browser context, with everything that went wrong on the way."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.external: list[str] = []
        self.failed: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.console_errors.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url}: HTTP {r.status}"))
        self.page.route("**/*", self._only_localhost)
        self.page.goto(url, wait_until="networkidle")

    def _only_localhost(self, route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).hostname not in LOCAL_HOSTS:
            self.external.append(url)
            route.abort()  # never let the test itself reach the internet
        else:
            route.continue_()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, site):
    visits = []

    def open_page(name: str) -> Visit:
        visits.append(Visit(browser, site + page_path(name)))
        return visits[-1]

    yield open_page
    for v in visits:
        v.close()


@functools.cache
def _fetch(url: str) -> tuple[int, frozenset[str]]:
    """HTTP status of a local URL and, for a page, the ids a link's #fragment may point to."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()
            ids = BeautifulSoup(body, "html.parser").find_all(id=True) if url.endswith(".html") else []
            return response.status, frozenset(tag["id"] for tag in ids)
    except urllib.error.HTTPError as error:
        return error.code, frozenset()


def test_built_pages_and_styles_load_nothing_from_another_host(smoke_book):
    """A scan of the files themselves (no browser needed): every script, style, image and font is local."""
    html = smoke_book.require_success()
    loaded = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src"}
    external = []
    for page in html.rglob("*.html"):
        soup = BeautifulSoup(page.read_text(), "html.parser")
        for tag, attr in loaded.items():
            for element in soup.find_all(tag, attrs={attr: True}):
                # <link rel="canonical"/"prev"/"next"> are plain links; anything else is fetched.
                if tag == "link" and set(element.get("rel", [])) <= {"canonical", "prev", "next", "index", "search"}:
                    continue
                if urlsplit(element[attr]).netloc:
                    external.append(f"{page.relative_to(html)}: <{tag} {attr}={element[attr]}>")
    for css in html.rglob("*.css"):
        text = css.read_text(errors="replace")
        remote = re.findall(r"(?:url\(|@import)\s*['\"]?https?://[^)'\"]+", text)
        external += [f"{css.relative_to(html)}: {m}" for m in remote]
    assert not external, "\n".join(external)


@pytest.mark.parametrize("name", ["index"] + PAGES)
def test_page_loads_cleanly_offline_with_working_images_and_links(visit, name):
    v = visit(name)
    page = v.page
    page.wait_for_timeout(500)  # let the widget manager render, then fetch what it asks for (fonts)
    page.evaluate("document.fonts.ready.then(() => true)")
    page.wait_for_load_state("networkidle")
    shot = screenshots_dir() / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")

    assert not v.external, f"requests that left localhost: {v.external}"
    assert not v.failed, f"failed requests: {v.failed}"
    assert not v.console_errors, f"console errors: {v.console_errors}"
    broken = page.eval_on_selector_all("img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0))"
                                       ".map(e => e.currentSrc.slice(0, 80) || e.outerHTML.slice(0, 80))")
    assert not broken, f"images that did not load: {broken}"
    text = page.inner_text("body")
    assert not [f for f in WIDGET_FALLBACKS if f in text], "a widget shows as text: its state was not saved"
    views = page.locator("script[type='application/vnd.jupyter.widget-view+json']").count()
    assert page.locator(".jupyter-widgets").count() >= views, "a widget output was not rendered"

    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    local = {h for h in hrefs if urlsplit(h).hostname in LOCAL_HOSTS}
    assert local, "a page with no internal links: the navigation is missing"
    for href in sorted(local):
        target, fragment = urldefrag(href)
        status, ids = _fetch(target)
        assert status == 200, f"{href} -> HTTP {status}"
        if fragment and target.endswith(".html"):
            assert fragment in ids, f"{href}: no element with id {fragment!r}"


def test_explorer_has_a_numbered_figure_citations_and_typeset_math(visit):
    page = visit("explorer").page
    caption = page.locator("figcaption", has_text="gaussian noise")
    assert caption.count() == 1 and caption.inner_text().startswith("Fig")
    assert page.locator("a[href*='references.html']").count() > 0, "the citations do not link to the bibliography"
    page.wait_for_selector("mjx-container", timeout=10_000)  # MathJax, served by the site itself, ran


def test_explorer_slider_changes_the_pictures_without_a_kernel(visit):
    v = visit("explorer")
    page = v.page
    slider = page.locator(".widget-hslider .noUi-base").first
    slider.wait_for(state="visible", timeout=20_000)

    def shown(alt: str) -> str:
        """The src of the one case image with this alt text that is visible now."""
        srcs = page.eval_on_selector_all(
            f"table.cae-explorer-case img[alt='{alt}']",
            "els => els.filter(e => e.offsetParent !== null).map(e => e.src)",
        )
        assert len(srcs) == 1, f"{len(srcs)} visible '{alt}' images: the stacks are not switching"
        return srcs[0]

    before = {alt: shown(alt) for alt in ("input", "single-layer CAE: output", "two-layer CAE: output")}
    page.locator(".widget-hslider .noUi-handle").first.focus()
    page.keyboard.press("End")  # the top level: pure noise
    page.wait_for_function(
        "src => [...document.querySelectorAll(\"table.cae-explorer-case img[alt='input']\")]"
        ".some(e => e.offsetParent !== null && e.src !== src)", arg=before["input"], timeout=10_000,
    )
    after = {alt: shown(alt) for alt in before}
    assert all(after[alt] != before[alt] for alt in before), "the slider moved but the pictures did not change"
    assert "100%" in page.locator(".widget-hslider").first.inner_text()

    page.get_by_role("button", name="shuffled").first.click()  # another noise kind: another input
    page.wait_for_timeout(300)
    assert shown("input") != after["input"]
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshots_dir() / "explorer-after-slider.png"), full_page=True)
    assert not v.external and not v.failed and not v.console_errors, (v.external, v.failed, v.console_errors)
