"""Open a report in headless Chromium with the network blocked: what a reader's browser makes of it.

Used by perfsuite's own tests and by tools/measure_report.py: console errors, requests the page
tried to make outside the file, how long it took to show, how many case rows and charts rendered,
and a screenshot. Needs the `playwright` package and a Chromium on the machine (Debian: `apt-get
install chromium`); playwright's own browser download is never used.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """$PERFSUITE_CHROMIUM, else the first Chromium on PATH."""
    chosen = os.environ.get("PERFSUITE_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


@dataclass(frozen=True)
class PageCheck:
    console_errors: tuple[str, ...]  # console.error messages, uncaught exceptions and dialogs (an alert() ran)
    blocked: tuple[str, ...]  # requests for anything but the file itself (all refused)
    open_s: float  # navigation start to the case table drawn and two frames painted
    table_rows: int  # case rows drawn on the first page of the table
    charts: int  # SVG charts with a visible size
    overflow_px: int  # how much wider than the window the page is (0: nothing forces a horizontal scroll)
    title: str
    screenshot: Path | None


_SETTLED = """async () => {
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const charts = [...document.querySelectorAll('svg.chart')].filter(s => {
    const b = s.getBoundingClientRect();
    return b.width > 0 && b.height > 0 && (!s.checkVisibility || s.checkVisibility());  // not inside a closed <details>
  });
  const rows = [...document.querySelectorAll('#case-table tbody tr')].filter(tr => !tr.querySelector('td.muted'));
  const overflow = Math.max(0, document.documentElement.scrollWidth - window.innerWidth);
  return {charts: charts.length, rows: rows.length, overflow: overflow};
}"""


def open_report(path: Path, *, chromium: str, screenshot: Path | None = None, full_page: bool = True, timeout_s: float = 60.0) -> PageCheck:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    blocked: list[str] = []
    uri = Path(path).resolve().as_uri()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(offline=True, viewport={"width": 1366, "height": 900})

            def route(r: object) -> None:
                url = r.request.url  # type: ignore[attr-defined]
                if url == uri or url.startswith(uri + "#"):
                    r.continue_()  # type: ignore[attr-defined]
                else:
                    blocked.append(url)
                    r.abort()  # type: ignore[attr-defined]

            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
            page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
            start = time.perf_counter()
            page.goto(uri, wait_until="load", timeout=timeout_s * 1000)
            page.wait_for_function("document.body && document.body.dataset.ready === '1'", timeout=timeout_s * 1000)
            seen = page.evaluate(_SETTLED)
            open_s = time.perf_counter() - start
            title = page.title()
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=full_page)
        finally:
            browser.close()
    return PageCheck(tuple(errors), tuple(blocked), open_s, int(seen["rows"]), int(seen["charts"]), int(seen["overflow"]), title, screenshot)
