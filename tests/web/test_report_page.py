"""The owner's report and studies CSV from the store's agreed extraction table, at the HTTP
level: who may (the authorisation matrix), that the report is ``metareview report``'s own
(the same results paragraph as the CLI's report of the folder read with the same table),
the PRISMA counts and the stopping-rule sentence from the store, a protocol kept in the
store instead of ``serve --protocol``, and hostile strings escaped.
"""

from __future__ import annotations

import io
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from metareview.report.build import build_report
from metareview.web import create_app
from metareview.web.routes import report
from tests.web.conftest import PROJECT as WORLD_PROJECT
from tests.web.conftest import World
from tests.web.test_rob_analysis import EXAMPLE, PROJECT, USERS, seeded_world

CALLERS = tuple(USERS)
OWNER_ONLY = (303, 403, 404, 403, 200)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = seeded_world(tmp_path_factory.mktemp("ketamine-report"))
    yield world
    for client in world.clients.values():
        client.close()
    world.store.close()


@pytest.mark.parametrize("path", ["report", "report?download=1", "report/studies.csv"])
def test_report_and_studies_are_for_owners_only(seeded: World, path: str) -> None:
    got = []
    for caller in CALLERS:
        response = seeded.client(USERS[caller]).get(f"/p/{PROJECT}/{path}")
        got.append(response.status_code)
        if caller == "anonymous":
            assert response.headers["location"].startswith("/login?next=")
    assert tuple(got) == OWNER_ONLY


def test_every_new_route_is_in_the_matrix() -> None:
    routes = {(m, r.path) for r in report.router.routes for m in r.methods}
    assert routes == {
        ("GET", "/p/{project}/report"),
        ("GET", "/p/{project}/report/studies.csv"),
    }


def _paragraph(html: str, heading: str) -> str:
    return re.search(rf'<h2 id="{heading}">[^<]*</h2>\s*<p>(.*?)</p>', html, re.S).group(1)


def test_the_report_is_the_clis_report_of_the_agreed_table(seeded: World, tmp_path: Path) -> None:
    owner = seeded.client("olga")
    studies = owner.get(f"/p/{PROJECT}/report/studies.csv")
    assert studies.status_code == 200
    assert studies.headers["content-disposition"] == (
        f'attachment; filename="{PROJECT}-studies.csv"'
    )
    table = tmp_path / "studies.csv"
    table.write_bytes(studies.content)
    agreed = pd.read_csv(table, dtype=str, keep_default_na=False)
    # the example's agreed table, written by its review.py from the same store
    expected = pd.read_csv(EXAMPLE / "studies.csv", dtype=str, keep_default_na=False)
    assert agreed["study"].tolist() == expected["study"].tolist()

    page = owner.get(f"/p/{PROJECT}/report")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == report.REPORT_CSP
    assert "script-src" not in report.REPORT_CSP  # default-src 'none': no script at all
    html = page.text
    cli = build_report(EXAMPLE, tmp_path / "out", table=table).html.read_text(encoding="utf-8")
    assert _paragraph(html, "results") == _paragraph(cli, "results")
    # the paper's method reproduces its pooled rate: 68.8% (53.5%, 84.1%), as the CLI's
    assert "68.8%" in html and "53.5%" in html and "84.1%" in html
    # the store's PRISMA counts, not the protocol's, with the figure
    counts = seeded.store.prisma_counts(PROJECT)
    identified = sum(counts["records_databases"].values())
    assert (
        f"resolutions: {identified} records identified, {counts['studies_included']}\nstudies"
        in html
    )
    assert '<img alt="PRISMA flow diagram" src="data:image/png;base64,' in html
    assert re.search(rf"project\s+<code>{PROJECT}</code>", html)
    assert "agreed extraction table of the review store" in _paragraph(html, "methods")
    # the example's protocol cites no paper: the heading said "Reproduction of:" and nothing
    assert "Reproduction of the published numbers in the protocol's [published] section" in html
    assert 'href="tables/' not in html  # the CSV files are not served beside the page
    download = owner.get(f"/p/{PROJECT}/report?download=1")
    assert download.headers["content-disposition"] == (
        f'attachment; filename="{PROJECT}-report.html"'
    )


def test_exports_page_links_both(seeded: World) -> None:
    page = seeded.client("olga").get(f"/p/{PROJECT}/exports")
    assert f'href="/p/{PROJECT}/report"' in page.text
    assert f'href="/p/{PROJECT}/report/studies.csv"' in page.text


# ------------------------------------------------------- a protocol kept in the store

HOSTILE_TITLE = '<script>alert("title")</script> & co'
HOSTILE_STUDIES = (
    "<img src=x onerror=alert(1)> 2001",
    'Smith & "Jones" 2004',
    "</td></tr>Lee 2010",
)
PROTOCOL = f"""
[review]
title = {HOSTILE_TITLE!r}
question = "<b>How</b> many respond?"

[extraction.fields.n]
type = "integer"
min = 1
required = true

[extraction.fields.responders]
type = "integer"
min = 0
required = true

[columns]
study = "study"
n = "n"

[outcomes.response]
label = "Response <i>rate</i>"
data = "proportion"
xi = "responders"
"""
VALUES = (
    {"n": "20", "responders": "12"},
    {"n": "31", "responders": "15"},
    {"n": "44", "responders": "30"},
)


@pytest.fixture
def stored(sqlite_world: World) -> World:
    """The web tests' project screened by Ana alone and stopped by a rule, three studies
    with hostile labels extracted by Ana and Ben, the form set from the whole protocol."""
    store, project = sqlite_world.store, WORLD_PROJECT
    store.set_reviewers_per_record(project, 1, actor="Olga")
    ids = sqlite_world.record_ids()
    for rid in ids[:3]:
        store.decide(project, rid, "Ana", "include")
    for rid in ids[3:5]:
        store.decide(project, rid, "Ana", "exclude")
    store.stop_screening(project, by="Olga", rule="consecutive_irrelevant", n_irrelevant=2)
    for rid, label in zip(ids[:3], HOSTILE_STUDIES, strict=True):
        store.decide(project, rid, "Ana", "include", stage="full_text")
        store.assign_study(project, label, [rid], actor="Olga", new=True)
    section = tomllib.loads(PROTOCOL)["extraction"]
    store.set_extraction_form(project, section, actor="olga", protocol=PROTOCOL)
    for label, values in zip(HOSTILE_STUDIES, VALUES, strict=True):
        for who in ("Ana", "Ben"):
            store.save_extraction(project, label, who, values)
            store.submit_extraction(project, label, who)
    return sqlite_world


def test_a_stored_protocol_needs_no_flag_and_hostile_strings_are_escaped(stored: World) -> None:
    assert stored.app.state.protocols == {}  # no serve --protocol
    owner = stored.client("olga")
    page = owner.get(f"/p/{WORLD_PROJECT}/report")
    assert page.status_code == 200, page.text
    html = page.text
    for raw in (HOSTILE_TITLE, *HOSTILE_STUDIES, "<b>How</b>", "<i>rate</i>"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; &amp; co" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html.lower() and "<img src=x" not in html
    # the stopping rule's methods sentence, from the store, first in the methods
    stop = stored.store.screening_stops(WORLD_PROJECT)[0]
    methods = _paragraph(html, "methods")
    assert methods.startswith("Title and abstract screening was prioritised by relevance")
    assert "consecutive" in methods or "irrelevant" in methods
    assert stop.methods_text().split(":")[0] in methods
    counts = stored.store.prisma_counts(WORLD_PROJECT)
    assert counts["records_removed_automation"] > 0
    assert "PRISMA 2020 flow counted by the review store" in html
    # the analysis page reads the same stored protocol
    analysis = stored.client("vera").get(f"/p/{WORLD_PROJECT}/analysis")
    assert analysis.status_code == 200, analysis.text
    studies = owner.get(f"/p/{WORLD_PROJECT}/report/studies.csv")
    frame = pd.read_csv(io.StringIO(studies.text), dtype=str)
    assert frame["study"].tolist() == list(HOSTILE_STUDIES)


def test_report_waits_for_a_complete_study_and_a_protocol(sqlite_world: World) -> None:
    owner = sqlite_world.client("olga")
    missing = owner.get(f"/p/{WORLD_PROJECT}/report")
    assert missing.status_code == 404 and "has no protocol" in missing.text
    assert owner.get(f"/p/{WORLD_PROJECT}/report/studies.csv").status_code == 404
    app = create_app(sqlite_world.store, protocols={WORLD_PROJECT: EXAMPLE})
    sqlite_world.app = app
    sqlite_world.clients.clear()
    owner = sqlite_world.client("olga")
    none_yet = owner.get(f"/p/{WORLD_PROJECT}/report")
    assert none_yet.status_code == 409 and "nothing to pool" in none_yet.text


def test_a_stored_protocol_that_does_not_load_is_named_as_such(stored: World) -> None:
    bad = PROTOCOL.replace('xi = "responders"', 'events = "responders"')
    section = tomllib.loads(bad)["extraction"]
    stored.store.set_extraction_form(WORLD_PROJECT, section, actor="olga", protocol=bad)
    for path in ("report", "analysis"):
        answer = stored.client("olga").get(f"/p/{WORLD_PROJECT}/{path}")
        assert answer.status_code == 422
        assert "the stored protocol.toml: [outcomes.response]: unknown key(s)" in answer.text
        assert "metareview-live-" not in answer.text  # not the temporary copy's path
