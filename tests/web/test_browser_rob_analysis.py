"""A real browser (Playwright + Debian's chromium, as ``test_browser``) on the risk-of-bias
and analysis pages of the ketamine-CRPS review-store example.

Ana and Ben each answer the RoB 2 signalling questions of one study in their own browser
context; the page shows the algorithm's suggestion after saving; Ben's override without a
reason is refused next to the form; once both are done the disagreement appears on the
disagreements page and Olga records the consensus; the traffic-light and summary figures
then render (SVG). On the analysis page a changed choice redraws the page (the select submits
itself), and the pooled immediate rate with the published method reads 68.8% (53.5% to
84.1%), the report's. No JavaScript dialog may open. ``METAREVIEW_SCREENSHOTS=DIR`` saves a
screenshot of each page.
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
from tests.web.test_rob_analysis import LOW_ANSWERS, PROJECT, seeded_world

STUDY = "Goebel, A et al (2015)"
#: assessments of other studies, entered through the store by both reviewers alike, so that
#: the figures show every judgement level
OTHERS = {
    "Correl, G et al (2004)": {"1.2": "NI"},
    "Webster, L et al (2006)": {"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "Y", "2.5": "N"},
    "Kiefer, R et al (2008a)": {"3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "N"},
    "Schwartzman, R et al (2009)": {"4.3": "Y", "4.4": "Y", "4.5": "Y"},
    "Patil, S et al (2012)": {},
}


def _seed_others(store) -> None:
    for study, changes in OTHERS.items():
        answers = {**LOW_ANSWERS, **changes}
        for reviewer in ("Ana", "Ben"):
            suggested = store.assess_rob(
                PROJECT, study, "RoB2", reviewer=reviewer, answers=answers, judgements={}
            )
            store.assess_rob(
                PROJECT, study, "RoB2", reviewer=reviewer, answers=answers, judgements=suggested
            )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[object, str]]:
    _require_browser()

    world = seeded_world(tmp_path)
    with serve_world(world) as base:
        yield world, base


def _assess(person: Reviewer, base: str, answers: dict[str, str], judgements: dict[str, str]):
    page = person.page
    assert page.goto(f"{base}/p/{PROJECT}/rob").ok
    assert page.url == f"{base}/p/{PROJECT}/rob", page.url
    with page.expect_navigation():
        page.click(f'tr[data-study="{STUDY}"] a')
    assert "/rob/assess?" in page.url, page.url
    for number, answer in answers.items():
        page.select_option(f'select[name="q_{number}"]', answer)
    with page.expect_navigation():
        page.click("#save")
    assert page.is_visible("#saved")
    # the algorithm's suggestion now shows beside each domain
    suggested = page.inner_text('fieldset[data-domain="D1"] .suggested')
    assert "Low" in suggested
    for domain, level in judgements.items():
        page.select_option(f'select[name="j_{domain}"]', level)
    with page.expect_navigation():
        page.click("#save")


def test_rob_and_analysis_in_the_browser(served) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    shots = screenshot_dir()
    dialogs: list[str] = []
    low = dict.fromkeys(("D1", "D2", "D3", "D4", "D5", "Overall"), "Low")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            ana, ben, olga = (Reviewer(browser, base, u, dialogs) for u in ("ana", "ben", "olga"))
            _assess(ana, base, LOW_ANSWERS, low)
            assert ana.page.is_visible("#saved")
            if shots is not None:
                ana.page.screenshot(path=str(shots / "rob-assess.png"), full_page=True)
            # Ben answers 1.3 Y (baseline imbalance): the algorithm suggests Some concerns
            ben_answers = {**LOW_ANSWERS, "1.3": "Y"}
            page = ben.page
            assert page.goto(f"{base}/p/{PROJECT}/rob").ok
            with page.expect_navigation():
                page.click(f'tr[data-study="{STUDY}"] a')
            assert not page.is_visible("#others")  # Ana's judgements stay hidden
            for number, answer in ben_answers.items():
                page.select_option(f'select[name="q_{number}"]', answer)
            for domain, level in low.items():
                page.select_option(f'select[name="j_{domain}"]', level)
            with page.expect_navigation():
                page.click("#save")
            assert "the algorithm suggests 'Some concerns'" in page.inner_text("p[role=alert]")
            assert page.is_visible('fieldset[data-domain="D1"] .field-error')
            assert "Some concerns" in page.inner_text('fieldset[data-domain="D1"] .suggested')
            if shots is not None:
                page.screenshot(path=str(shots / "rob-override-refused.png"), full_page=True)
            page.fill('textarea[name="s_D1"]', "imbalance in age only; judged chance")
            with page.expect_navigation():
                page.click("#save")
            assert page.is_visible("#saved") and page.is_visible("#others")
            # no disagreement (both Low in every domain): the figures render at once
            _seed_others(world.store)
            assert olga.page.goto(f"{base}/p/{PROJECT}/rob").ok
            for figure in ("#rob-traffic", "#rob-summary"):
                width = olga.page.eval_on_selector(figure, "img => img.naturalWidth")
                assert width > 100, figure
            if shots is not None:
                olga.page.screenshot(path=str(shots / "rob-figures.png"), full_page=True)
            # the analysis page: choices redraw; the published method's rate is the report's
            page = ana.page
            assert page.goto(f"{base}/p/{PROJECT}/analysis").ok
            with page.expect_navigation():
                page.select_option('select[name="measure"]', "PR")
            with page.expect_navigation():
                page.select_option('select[name="method"]', "DL")
            with page.expect_navigation():
                page.select_option('select[name="test"]', "z")
            assert "measure=PR" in page.url and "method=DL" in page.url
            assert page.inner_text("#pooled-published .estimate") == "68.8%"
            assert page.inner_text("#pooled-published .ci") == "53.5% to 84.1%"
            assert page.eval_on_selector("#forest", "img => img.naturalWidth") > 100
            if shots is not None:
                page.screenshot(path=str(shots / "analysis.png"), full_page=True)
        finally:
            browser.close()
    assert dialogs == []
    table, _ = world.store.rob_agreed_table(PROJECT, "RoB2")
    assert table.loc[STUDY].tolist() == ["Low"] * 6
    assert table.loc["Webster, L et al (2006)", "Overall"] == "High"
