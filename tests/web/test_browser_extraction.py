"""A real browser extracts: Playwright for Python driving Debian's chromium (as
``test_browser.py``, whose launcher and login this test reuses).

Ana and Ben, in two browser contexts, type the rows of the ketamine-CRPS review-store
example's studies (Table 1 of Zhao, Wang & Wang 2018, as printed: "19(26)", "-") into the
extraction form, each blind to the other; Ben mistypes Webster's N (31 for 13), the planted
disagreement. While Ana types Kiefer 2008a's "93.5" after its N of 20, the GRIM finding
(no whole number of 20 patients gives 93.5%) appears next to that cell before anything is
saved. Cy reconciles the disagreement with a reason on the reconciliation page. The agreed
table is then the example's (``review.py``'s reading of Table 1), and the report built from it
pools the immediate relief rate, with the paper's method (DerSimonian-Laird, untransformed
proportions), as 68.8% (53.5% to 84.1%), the paper's 0.69 (0.53 to 0.84).

Skipped when chromium is absent, with the reason; fails instead when
``METAREVIEW_REQUIRE_BROWSER=1``. With ``METAREVIEW_SCREENSHOTS=DIR`` the test saves a
screenshot of each extraction page into DIR (``docs/screenshots`` holds the committed ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from metareview.cells import parse_cell
from tests.web.conftest import EXAMPLE, PROJECT, World, build_world
from tests.web.extraction_helpers import TABLE1, add_studies, typed_rows
from tests.web.test_browser import (
    ARGS,
    CHROMIUM,
    Reviewer,
    _require_browser,
    screenshot_dir,
    serve_world,
)

KIEFER = "Kiefer, R et al (2008a)"
WEBSTER = "Webster, L et al (2006)"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[World, str]]:
    """The example's world with its studies and form, served on a loopback port."""
    _require_browser()

    world = build_world(f"sqlite:///{tmp_path / 'browser.sqlite'}")
    add_studies(world.store)
    with serve_world(world) as base:
        yield world, base


def _fill(person: Reviewer, row: dict[str, str]) -> None:
    page = person.page
    for name, text in row.items():
        if name == "intervention":
            page.select_option(f"#f-{name}", text)
        else:
            page.fill(f"#f-{name}", text)  # as printed: "-" is read as not reported


def _extract(
    store, person: Reviewer, base: str, study: str, row: dict[str, str], shots: Path | None
) -> None:
    page = person.page
    assert page.goto(f"{base}/p/{PROJECT}/extract?study={study}").ok
    if study == KIEFER and person.user == "ana":
        # typed key by key: the finding must appear beside the cell before any save
        page.locator("#f-year").press_sequentially(row["year"])
        page.locator("#f-n").press_sequentially(row["n"])
        page.locator("#f-immediate_relief_pct").press_sequentially(row["immediate_relief_pct"])
        flag = page.locator(
            '.field[data-field="immediate_relief_pct"] ul.flags li[data-check="grim"]'
        )
        flag.wait_for(state="visible")
        assert flag.inner_text() == (
            "grim: 93.5% of n = 20 is 18.7 people; no whole number gives 93.5% "
            "(18/20 = 90%, 19/20 = 95%, 20/20 = 100%)."
        )
        assert page.inner_text("#reading-n") == "read as 20"
        # a range typed into the days field is refused beside it, as typed
        page.fill("#f-duration_days", "3-7")
        error = page.locator("#error-duration_days")
        error.wait_for(state="visible")
        assert "'3-7' reads as a range (3 to 7)" in error.inner_text()
        if shots is not None:
            page.screenshot(path=str(shots / "extraction-form-integrity.png"), full_page=True)
        assert store.extraction_sheet(PROJECT, study, "Ana").values == {}  # nothing saved
    _fill(person, row)
    with page.expect_navigation():
        page.click('button[value="submit"]')
    assert page.url.endswith(f"/p/{PROJECT}/extraction"), page.url


def _agreed_from_table1() -> dict[str, dict[str, object]]:
    """The values ``review.py`` reads off Table 1 (first counts, numbers, not reported)."""
    table = pd.read_csv(TABLE1, dtype=str, keep_default_na=False)
    rows = pd.read_csv(EXAMPLE / "studies.csv", dtype=str)
    out = {}
    for study, i in zip(rows["study"], rows["table1_row"].astype(int), strict=True):
        line = table.iloc[i]
        out[study] = {
            "year": int(line["Year"]),
            "n": int(parse_cell(line["N"]).value),
            "immediate_relief_pct": parse_cell(line["Immediate response (% relief)"]).value,
            "intervention": line["Intervention"],
            "duration_days": parse_cell(line["Duration of interventions (day)"]).value,
        }
    return out


def test_two_extract_blind_one_reconciles_and_grim_shows_while_typing(
    served, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    shots = screenshot_dir()
    rows = typed_rows()
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            ana, ben, cy = (Reviewer(browser, base, u, dialogs) for u in ("ana", "ben", "cy"))
            for study, row in rows.items():
                _extract(world.store, ana, base, study, row, shots)
                if study == KIEFER and shots is not None:
                    assert ben.page.goto(f"{base}/p/{PROJECT}/extraction").ok
                    ben.page.screenshot(path=str(shots / "extraction-studies-blinded.png"))
                mistyped = {**row, "n": "31"} if study == WEBSTER else row
                _extract(world.store, ben, base, study, mistyped, None)

            assert cy.page.goto(f"{base}/p/{PROJECT}/extraction").ok
            open_ = {
                e.get_attribute("data-study"): e.inner_text()
                for e in cy.page.query_selector_all("#studies tbody tr")
            }
            assert len(open_) == len(rows)
            assert [s for s, text in open_.items() if "to reconcile" in text] == [WEBSTER]
            assert cy.page.is_visible("#kappa")
            if shots is not None:
                cy.page.screenshot(path=str(shots / "extraction-studies.png"), full_page=True)
            with cy.page.expect_navigation():
                cy.page.click(f'tr[data-study="{WEBSTER}"] a')
            differs = cy.page.query_selector_all("#reconcile tr.differs")
            assert [e.get_attribute("data-field") for e in differs] == ["n"]
            assert differs[0].inner_text().split("\t")[:3] == ["n", "13", "31"]
            if shots is not None:
                cy.page.screenshot(path=str(shots / "extraction-reconcile.png"), full_page=True)
            form = cy.page.locator('#reconcile tr[data-field="n"] form')
            form.locator("input[name=value]").fill("13")
            form.locator("input[name=reason]").fill("Table 1 gives N = 13; 31 transposed")
            with cy.page.expect_navigation():
                form.locator("button").click()
            agreed = cy.page.inner_text('#reconcile tr[data-field="n"] .agreed')
            assert agreed == "13 — agreed by Cy: Table 1 gives N = 13; 31 transposed"
            assert "nan" not in cy.page.inner_text("#reconcile")
            assert cy.page.inner_text('#reconcile tr[data-field="year"] .agreed') == "2006"
            if shots is not None:
                cy.page.screenshot(path=str(shots / "extraction-reconciled.png"), full_page=True)
                assert cy.page.goto(f"{base}/p/{PROJECT}/extraction").ok
                cy.page.locator("#kappa").scroll_into_view_if_needed()
                cy.page.screenshot(path=str(shots / "extraction-kappa.png"), full_page=True)
        finally:
            browser.close()
    assert dialogs == [], f"JavaScript dialogs opened: {dialogs}"

    store = world.store
    form = store.extraction_form(PROJECT)
    table = store.studies_table(PROJECT, form).set_index("study")
    expected = _agreed_from_table1()
    agreed = table.astype(object).where(table.notna(), None)  # not reported: None, not NaN
    assert agreed.to_dict(orient="index") == expected
    kappa = store.extraction_kappa(PROJECT).set_index("field")
    assert kappa.loc["n", "agreement"] == 14 / 15
    assert kappa.loc["year", "kappa"] == 1.0

    from metareview.report.build import build_report

    out = tmp_path / "out"
    out.mkdir()
    table.reset_index().to_csv(out / "studies.csv", index=False)
    report = build_report(EXAMPLE, out / "report", table=out / "studies.csv")
    robustness = pd.read_csv(report.folder / "tables" / "immediate_robustness.csv")
    first = robustness.iloc[0]
    assert (first["method"], int(first["k"])) == (
        "DL, raw proportions, no continuity correction",
        8,
    )
    shown = [round(100 * first[c], 1) for c in ("estimate", "ci_lb", "ci_ub")]
    assert shown == [68.8, 53.5, 84.1]
