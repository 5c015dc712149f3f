"""The documentation site in a browser: nothing overflows its column, at 1,400 and 400 px.

The site is built, served on loopback and opened in headless Chromium (Debian's `chromium`
and `chromium-driver`, which `.ci/run` installs) at a desktop and a phone width. In each page,
every code block and diagram must fit its column (its content no wider than its box, its box
inside the page), and a screenshot of Home, Getting started and Architecture is taken at each
width. Where Chromium is missing the test skips, unless PURECALLERID_REQUIRE_CHROMIUM is set
(CI): then it fails.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PAGES = {"home": "index.html", "getting-started": "getting-started.html"}
PAGES["architecture"] = "architecture.html"
WIDTHS = (1400, 400)
# Chromium's own flags for a closed network: no background connections, no first-run work.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# Every code block and diagram of the page's content whose content is wider than its box, or
# whose box runs past the page's right edge: what a reader would find cut off. (Tables scroll
# in a box of their own, by design of the theme.)
MEASURE = """
const page = document.documentElement.clientWidth;
const found = [];
const blocks = '.md-content pre, .md-content pre > code, .md-content svg';
for (const el of document.querySelectorAll(blocks)) {
  const box = el.getBoundingClientRect();
  if (el.scrollWidth > el.clientWidth + 1 || box.right > page + 1) {
    found.push(`${el.tagName} ${el.scrollWidth}>${el.clientWidth} px: `
      + (el.textContent || '').trim().slice(0, 50));
  }
}
return {page: page, blocks: document.querySelectorAll('.md-content pre').length, found: found};
"""


def _available() -> bool:
    return Path(CHROMIUM).exists() and Path(DRIVER).exists()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """The site, built from this checkout and served on a loopback port; its pages."""
    if not _available():
        if os.environ.get("PURECALLERID_REQUIRE_CHROMIUM"):
            pytest.fail("Chromium and chromedriver are required here (.ci/run installs them)")
        pytest.skip("no Chromium here (apt-get install chromium chromium-driver)")
    built = tmp_path_factory.mktemp("site")
    subprocess.run(  # noqa: S603 - our own docs build
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(built)],
        cwd=ROOT,
        check=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    handler = functools.partial(_Quiet, directory=str(built))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pages = sorted(
        str(p.relative_to(built))
        for p in built.rglob("*.html")
        if p.name != "404.html" and "assets" not in p.parts
    )
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_: Any) -> None:
        """No access log in the test output."""


@pytest.fixture(scope="module")
def browser(site: tuple[str, list[str]]) -> Iterator[Any]:
    """Headless Chromium, driven through chromedriver."""
    from selenium import webdriver  # noqa: PLC0415 - a dev dependency for this test only
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_overflows_its_column(
    width: int, site: tuple[str, list[str]], browser: Any, tmp_path: Path
) -> None:
    """Every page of the site; a screenshot of Home, Getting started and Architecture."""
    url, pages = site
    assert set(PAGES.values()) <= set(pages)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    shots = Path(os.environ.get("PURECALLERID_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with_code = 0
    for page in pages:
        browser.get(f"{url}/{page}")
        seen = browser.execute_script(MEASURE)
        # The emulated width is the page's (less a desktop scroll bar).
        assert width - 20 <= seen["page"] <= width, seen
        with_code += seen["blocks"] > 0
        problems.extend(f"{page} at {width} px: {what}" for what in seen["found"])
    assert with_code >= len(pages) // 2, "few pages with code: the check would be empty"
    for name, page in PAGES.items():
        browser.get(f"{url}/{page}")
        shot = shots / f"{name}-{width}.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 1000, shot
    assert problems == []
