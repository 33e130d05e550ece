"""A real browser (Playwright + Debian's chromium, as ``test_browser``) on the owner's exports
page and the report built from the store's agreed table, for the ketamine-CRPS review-store
example: the page links the report and the studies CSV; the report opens with its style and
figures under its own Content-Security-Policy (no violation reported, no script), shows the
published method's 68.8% and the PRISMA flow counted by the store. No JavaScript dialog may
open. ``METAREVIEW_SCREENSHOTS=DIR`` saves ``exports.png``, ``report.png`` (the top of the
report) and ``report-prisma.png`` (its PRISMA figure).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.test_browser import (
    ARGS,
    CHROMIUM,
    Reviewer,
    _require_browser,
    screenshot_dir,
    serve_world,
)
from tests.web.test_rob_analysis import PROJECT, seeded_world


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[object, str]]:
    _require_browser()
    world = seeded_world(tmp_path)
    with serve_world(world) as base:
        yield world, base


def test_exports_page_and_report_in_the_browser(served) -> None:
    from playwright.sync_api import sync_playwright

    _world, base = served
    shots = screenshot_dir()
    dialogs: list[str] = []
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            olga = Reviewer(browser, base, "olga", dialogs)
            page = olga.page
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            assert page.goto(f"{base}/p/{PROJECT}/exports").ok
            assert page.get_attribute("#studies", "href") == f"/p/{PROJECT}/report/studies.csv"
            if shots is not None:
                page.screenshot(path=str(shots / "exports.png"), full_page=True)
            with page.expect_navigation():
                page.click("#report")
            assert page.url == f"{base}/p/{PROJECT}/report", page.url
            assert page.title().endswith("metareview report")
            # the report's own style applies (its inline <style> is allowed by its policy)
            assert page.eval_on_selector("h2", "h => getComputedStyle(h).borderBottomStyle") == (
                "solid"
            )
            text = page.inner_text("body")
            assert "68.8%" in text and "53.5% to 84.1%" in text
            assert "PRISMA 2020 flow counted by the review store" in text
            prisma = page.query_selector('img[alt="PRISMA flow diagram"]')
            assert prisma.evaluate("img => img.naturalWidth") > 100
            if shots is not None:
                page.screenshot(path=str(shots / "report.png"))
                prisma.screenshot(path=str(shots / "report-prisma.png"))
        finally:
            browser.close()
    assert dialogs == []
    assert console == []  # no CSP violation, no error
