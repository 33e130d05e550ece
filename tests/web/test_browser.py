"""A real browser: Playwright for Python driving Debian's chromium (``/usr/bin/chromium``,
launched by its path -- Playwright's own browser downloads are never used).

Two reviewers, Ana and Ben, in two browser contexts, screen the ketamine-CRPS review-store
example by keyboard (i / e / m; at full text, e asks for a reason), following the example's
``decisions.csv``; the conflicts appear on the conflicts page and Cy, the third reviewer,
resolves them as ``resolutions.csv`` says; the dashboard's PRISMA counts then equal the
library's ``prisma_counts``. A record with hostile strings is screened too, and no JavaScript
dialog may open on any page.

Skipped when chromium is absent, with the reason; fails instead when
``METAREVIEW_REQUIRE_BROWSER=1`` (as in CI). With ``METAREVIEW_SCREENSHOTS=DIR`` the test
saves a screenshot of each page into DIR (``docs/screenshots`` holds the committed ones).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import (
    EXAMPLE,
    PROJECT,
    World,
    build_world,
    example_ids,
    example_rows,
    password,
)

CHROMIUM = os.environ.get("METAREVIEW_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KEYS = {"include": "i", "exclude": "e", "maybe": "m"}
HOSTILE_RIS = """TY  - JOUR
TI  - <script>alert("title")</script> ketamine "><img src=x onerror=alert(1)>
AB  - <svg onload=alert(2)> javascript:alert(3) <a href="javascript:alert(4)">click</a>
AU  - <b onmouseover=alert(5)>Evil</b>, A
PY  - 2021
ER  -{}
""".format(" ")


def _require_browser() -> None:
    missing = None
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        missing = f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (pip install playwright)"
    if missing:
        if os.environ.get("METAREVIEW_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(f"{missing}; METAREVIEW_REQUIRE_BROWSER is set", pytrace=False)
        pytest.skip(missing)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_world(world: Any) -> Iterator[str]:
    """Serve ``world.app`` with uvicorn on a free loopback port in a thread; yields the base
    URL, then stops the server and closes ``world.store``."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):  # bounded wait for the socket (not a timing assertion)
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        world.store.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[World, str]]:
    """The example's world served by uvicorn on a loopback port, in a thread."""
    _require_browser()

    world = build_world(f"sqlite:///{tmp_path / 'browser.sqlite'}")
    export = tmp_path / "hostile.ris"
    export.write_text(HOSTILE_RIS, encoding="utf-8")
    world.store.import_file(PROJECT, export, database="Test export (hostile strings)")
    world.store.set_keywords(
        PROJECT,
        ["ketamine", "CRPS", "complex regional pain syndrome"],
        ["rats", "mice"],
        actor="Olga",
    )
    with serve_world(world) as base:
        yield world, base


class Reviewer:
    """One person's browser context, logged in through the login form."""

    def __init__(self, browser, base: str, user: str, dialogs: list[str]) -> None:
        self.context = browser.new_context(viewport={"width": 1100, "height": 900})
        self.page = self.context.new_page()
        self.page.on("dialog", lambda d: (dialogs.append(f"{user}: {d.message}"), d.dismiss()))
        self.base, self.user = base, user
        assert self.page.goto(f"{base}/login").ok
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", password(user))
        with self.page.expect_navigation():
            self.page.click("button[type=submit]")
        assert self.page.url == f"{base}/", self.page.url

    def shown(self) -> str | None:
        record = self.page.query_selector("#record")
        return record.get_attribute("data-record-id") if record else None

    def key(self, key: str) -> None:
        self.in_place(lambda: self.page.keyboard.press(key))

    def in_place(self, action) -> None:
        """Run ``action`` and wait until app.js has put the server's answer in the page;
        the page must not have been reloaded (a reload would forget ``window.stayed``)."""
        count = "Number(document.documentElement.dataset.updates || 0)"
        before = self.page.evaluate(count)
        self.page.evaluate("window.stayed = true")
        action()
        # a selector, not wait_for_function: the pages' CSP forbids evaluating strings
        self.page.wait_for_selector(f"html[data-updates='{before + 1}']", state="attached")
        assert self.page.evaluate("window.stayed === true"), "the page was reloaded"


def _screen_one(
    person: Reviewer, stage: str, votes: dict[str, tuple[str, str]], shots: Path | None
) -> bool:
    """Vote on the record the page shows, by its key; False when nothing is left."""
    rid = person.shown()
    if rid is None:
        assert person.page.is_visible("#done")
        return False
    decision, reason = votes[rid]
    if shots is not None and not (shots / f"screen-{stage}.png").exists():
        person.page.screenshot(path=str(shots / f"screen-{stage}.png"), full_page=True)
    if stage == "full_text" and decision == "exclude":
        person.page.keyboard.press("e")  # asks for the reason first, and stays
        assert person.page.is_visible("#message") and person.shown() == rid
        assert person.page.evaluate("document.activeElement.id") in ("reason", "other-reason")
        person.page.fill("#other-reason", reason)
        if shots is not None and not (shots / "screen-full-text-reason.png").exists():
            person.page.screenshot(path=str(shots / "screen-full-text-reason.png"), full_page=True)
        person.in_place(lambda: person.page.press("#other-reason", "Enter"))
    else:
        person.key(KEYS[decision])
    return True


def screenshot_dir() -> Path | None:
    """The folder named by ``METAREVIEW_SCREENSHOTS`` (created), or None: no screenshots."""
    if not os.environ.get("METAREVIEW_SCREENSHOTS"):
        return None
    shots = Path(os.environ["METAREVIEW_SCREENSHOTS"])
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def test_two_reviewers_screen_by_keyboard_and_a_third_resolves(served, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    shots = screenshot_dir()
    ids = example_ids(world.store)
    hostile = world.store.records(PROJECT).query("source == 'hostile.ris'")["id"].iloc[0]
    votes: dict[str, dict[str, dict[str, tuple[str, str]]]] = {}
    for row in example_rows("decisions.csv"):
        votes.setdefault(row["reviewer"], {}).setdefault(row["stage"], {})[ids[row["record"]]] = (
            row["decision"],
            row["reason"],
        )
    for name in ("Ana", "Ben"):
        votes[name]["title_abstract"][hostile] = ("exclude", "")
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            ana, ben, cy, olga = (
                Reviewer(browser, base, u, dialogs) for u in ("ana", "ben", "cy", "olga")
            )
            if shots is not None:
                login = browser.new_page()
                assert login.goto(f"{base}/login").ok
                login.screenshot(path=str(shots / "login.png"))
                login.close()
                olga.page.screenshot(path=str(shots / "projects.png"))
            for stage in ("title_abstract", "full_text"):
                # the two reviewers work side by side, a record each in turn
                done = {"Ana": 0, "Ben": 0}
                for person in (ana, ben):
                    assert person.page.goto(f"{base}/p/{PROJECT}/screen?stage={stage}").ok
                active = {"Ana": ana, "Ben": ben}
                while active:
                    for name, person in list(active.items()):
                        if _screen_one(
                            person, stage, votes[name][stage], shots if name == "Ana" else None
                        ):
                            done[name] += 1
                        else:
                            del active[name]
                assert done == {"Ana": len(votes["Ana"][stage]), "Ben": len(votes["Ben"][stage])}
                expected = {
                    ids[r["record"]]: r
                    for r in example_rows("resolutions.csv")
                    if r["stage"] == stage
                }
                assert cy.page.goto(f"{base}/p/{PROJECT}/conflicts?stage={stage}").ok
                shown = {
                    e.get_attribute("data-record-id")
                    for e in cy.page.query_selector_all("article.conflict")
                }
                assert shown == set(expected)
                if shots is not None:
                    cy.page.screenshot(path=str(shots / f"conflicts-{stage}.png"), full_page=True)
                for rid, row in expected.items():
                    form = cy.page.locator(f'article[data-record-id="{rid}"] form.resolve')
                    form.locator("input[name=reason]").fill(row["reason"])
                    with cy.page.expect_navigation():
                        form.locator(f'button[value="{row["decision"]}"]').click()
                assert cy.page.is_visible("#no-conflicts")
            counts = world.store.prisma_counts(PROJECT)
            assert olga.page.goto(f"{base}/p/{PROJECT}").ok
            cells = {
                e.get_attribute("data-key"): int(e.inner_text())
                for e in olga.page.query_selector_all("#prisma td[data-key]")
            }
            flat = {
                "duplicates_removed": counts["duplicates_removed"],
                "records_screened": counts["records_screened"],
                "records_excluded": counts["records_excluded"],
                "reports_sought": counts["reports_sought"],
                "reports_not_retrieved": counts["reports_not_retrieved"],
                "reports_assessed": counts["reports_assessed"],
                "reports_included": counts["reports_included"],
                "studies_included": counts["studies_included"],
                **{f"records_databases.{k}": v for k, v in counts["records_databases"].items()},
                **{f"reports_excluded.{k}": v for k, v in counts["reports_excluded"].items()},
                **{
                    f"records_removed_other.{k}": v
                    for k, v in (counts["records_removed_other"] or {}).items()
                },
            }
            assert cells == flat
            assert olga.page.is_visible("img.prisma")
            if shots is not None:
                olga.page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
                assert olga.page.goto(f"{base}/p/{PROJECT}/members").ok
                with olga.page.expect_navigation():
                    olga.page.click("form[action$='/invites'] button")
                olga.page.screenshot(path=str(shots / "members.png"), full_page=True)
                assert olga.page.goto(f"{base}/p/{PROJECT}/allocation").ok
                olga.page.screenshot(path=str(shots / "allocation.png"), full_page=True)
                assert olga.page.goto(f"{base}/p/{PROJECT}/sources").ok
                olga.page.screenshot(path=str(shots / "sources.png"), full_page=True)
                world.store.create_project("dedup")
                world.store.add_member("dedup", "olga", "owner", by="olga")
                for name in ("pubmed.nbib", "embase.ris"):
                    world.store.import_file("dedup", EXAMPLE / "search" / name)
                assert olga.page.goto(f"{base}/p/dedup/duplicates").ok
                olga.page.screenshot(path=str(shots / "duplicates.png"))
            # the hostile record, shown again to its reviewer: still text, nothing runs
            assert ana.page.goto(f"{base}/p/{PROJECT}/conflicts").ok
            assert ana.page.goto(f"{base}/api/v1/projects/{PROJECT}/records/{hostile}").ok
            assert re.search(r"<script>alert", ana.page.inner_text("body"))
        finally:
            browser.close()
    assert dialogs == [], f"JavaScript dialogs opened: {dialogs}"


def test_skips_or_fails_with_the_reason_when_chromium_is_missing(monkeypatch) -> None:
    import tests.web.test_browser as module

    monkeypatch.setattr(module, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("METAREVIEW_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="chromium not found"):
        _require_browser()
    monkeypatch.setenv("METAREVIEW_REQUIRE_BROWSER", "0")
    with pytest.raises(pytest.skip.Exception, match="chromium not found"):
        _require_browser()
