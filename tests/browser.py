"""Debian's Chromium for the browser tests, and the checks a report page must pass in it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
APT = "apt-get update && apt-get install -y chromium"


def ensure_chromium() -> str:
    """Debian's Chromium: installed here when root (CI is), else skipped off CI with the command to run."""
    if not shutil.which(CHROMIUM):
        if os.geteuid() != 0:
            if os.environ.get("CI") == "true":
                pytest.fail(f"the browser tests need Chromium: {APT}")
            pytest.skip(f"the browser tests need Chromium: sudo sh -c '{APT}'")
        subprocess.run(["sh", "-c", APT + " >/dev/null"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, timeout=900)
    return CHROMIUM


def inspect_page(page: Any, path: Path, screenshot: Path) -> dict[str, Any]:
    """Open a report file in ``page`` (a Playwright page, 1,400 px wide): console errors, horizontal overflow,
    images that did not load, the headline findings; a full-page screenshot to ``screenshot``."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    return {
        "errors": errors,
        "overflow": page.evaluate("document.documentElement.scrollWidth - window.innerWidth"),
        "broken_images": page.evaluate(
            "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt)"),
        "images": page.evaluate("document.images.length"),
        "findings": page.locator("#headline li").all_inner_texts(),
    }


def check_report(path: Path, name: str) -> dict[str, Any]:
    """A report page as a reader gets it, in headless Chromium at 1,400 px: no console error, no horizontal
    scrolling, every image loaded, three to six headline findings; its screenshot kept under
    .test-artifacts/screenshots/reports/."""
    from playwright.sync_api import sync_playwright

    shot = Path(__file__).resolve().parent.parent / ".test-artifacts" / "screenshots" / "reports" / f"{name}.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=ensure_chromium(), args=["--no-sandbox"])
        try:
            seen = inspect_page(browser.new_context(viewport={"width": 1400, "height": 900}).new_page(), path, shot)
        finally:
            browser.close()
    assert seen["errors"] == [], seen["errors"]
    assert seen["overflow"] <= 0, f"{name}: {seen['overflow']} px wider than the window"
    assert seen["broken_images"] == [] and seen["images"] > 0, seen
    assert 3 <= len(seen["findings"]) <= 6, seen["findings"]
    return seen
