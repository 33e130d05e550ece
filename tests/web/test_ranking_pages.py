"""The screening page in relevance order, its stopping estimate, and the owners' stopping
page, at the HTTP level: the order, scores and estimate a reviewer gets are blind to other
reviewers' pending votes; stopping needs an owner, the CSRF token and a rule that says stop.

Team stop worked by hand: 27 records; one relevant record first, then 25 irrelevant, 1 left:
the hypergeometric p for recall below 95% is U / (n + U) = 1 / 26 = 0.038 < 0.05 (with 24
irrelevant and 2 left, 2 / 26 = 0.077: no stop).
"""

from __future__ import annotations

import re

from metareview.review.stopping import CONSECUTIVE_IRRELEVANT_MEASURED
from tests.web.conftest import PROJECT, World

P = f"/p/{PROJECT}"


def _page(world: World, user: str, **query: str) -> str:
    response = world.client(user).get(f"{P}/screen", params={"order": "relevance", **query})
    assert response.status_code == 200, response.text
    return response.text


def _shown(page: str) -> str | None:
    found = re.search(r'data-record-id="([^"]+)"', page)
    return found.group(1) if found else None


def _post(world: World, user: str, path: str, **data: str):
    client = world.client(user)
    return client.post(path, data={**data, "csrf_token": world.csrf(client)})


def test_relevance_order_follows_the_reviewers_own_ranking(world: World) -> None:
    page = _page(world, "ana")
    assert "<strong>relevance</strong>" in page
    assert "Records are shown in random order until at least one inclusion" in page
    assert "stopping now would leave 27 records unscreened" in page
    units = world.record_ids()
    world.store.decide(PROJECT, units[0], "Ana", "include")
    world.store.decide(PROJECT, units[1], "Ana", "exclude")
    ranked = world.store.ranked_queue(PROJECT, "Ana").queue
    page = _page(world, "ana", scores="1")
    assert _shown(page) == ranked["record_id"].iloc[0]
    assert f"Relevance score {ranked['score'].iloc[0]:.2f} (svm, trained on 2" in page
    assert "stopping now would leave 25 records unscreened" in page
    assert "Relevance score" not in _page(world, "ana")  # scores only on request
    # a vote keeps the order
    response = _post(
        world, "ana", f"{P}/screen/{_shown(page)}", decision="exclude", order="relevance"
    )
    assert response.status_code == 303
    assert "order=relevance" in response.headers["location"]
    bad = world.client("ana").get(f"{P}/screen", params={"order": "random"})
    assert bad.status_code == 422


def test_other_reviewers_pending_votes_leave_the_page_unchanged(world: World) -> None:
    units = world.record_ids()
    world.store.decide(PROJECT, units[0], "Ana", "include")
    world.store.decide(PROJECT, units[1], "Ana", "exclude")
    before = _page(world, "ana", scores="1")
    for i, record_id in enumerate(units[2:12]):  # Ben's votes, pending (2 votes needed)
        world.store.decide(PROJECT, record_id, "Ben", "include" if i % 2 else "exclude")
    after = _page(world, "ana", scores="1")
    assert after == before
    # the positive control: once Ana's records are complete, their outcomes may be used
    world.store.decide(PROJECT, units[0], "Ben", "include")
    world.store.decide(PROJECT, units[1], "Ben", "exclude")
    assert _page(world, "ben", scores="1") != _page(world, "ana", scores="1")


def test_owners_stop_screening_by_a_rule(world: World) -> None:
    units = world.record_ids()
    assert len(units) == 27
    world.store.decide(PROJECT, units[0], "Ana", "include")
    for record_id in units[1:25]:
        world.store.decide(PROJECT, record_id, "Ana", "exclude")
    page = world.client("olga").get(f"{P}/stopping")
    assert page.status_code == 200
    assert "cannot yet claim 95% recall" in page.text and "p = 0.077" in page.text
    refused = _post(world, "olga", f"{P}/stopping", rule="hypergeometric")
    assert refused.status_code == 409
    assert "the hypergeometric rule does not say stop yet" in refused.text
    world.store.decide(PROJECT, units[25], "Ben", "exclude")
    assert _post(world, "ana", f"{P}/stopping", rule="hypergeometric").status_code == 403
    no_token = world.client("olga").post(f"{P}/stopping", data={"rule": "hypergeometric"})
    assert no_token.status_code == 403
    done = _post(world, "olga", f"{P}/stopping", rule="hypergeometric")
    assert done.status_code == 303
    page = world.client("olga").get(f"{P}/stopping").text
    assert "by the statistical stopping criterion of Callaghan and Müller-Hansen" in page
    assert "The 1 records left unscreened are counted as records marked as ineligible" in page
    status = world.store.screening_status(PROJECT).set_index("record_id")
    assert status.loc[units[26], "status"] == "resolved"
    # the owner's page is not a reviewer's, nor a viewer's
    assert world.client("ana").get(f"{P}/stopping").status_code == 403
    assert world.client("vera").get(f"{P}/stopping").status_code == 403


def test_hostile_text_is_escaped_in_the_stopping_page(world: World) -> None:
    # the only free text on the page is the rule name the server chose and the counts; an
    # unknown rule posted by hand comes back in the error message, escaped
    response = _post(world, "olga", f"{P}/stopping", rule="<script>alert(1)</script>")
    assert response.status_code == 409
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_a_reviewer_relying_on_the_heuristic_is_warned_with_its_measured_failures(
    world: World, tmp_path
) -> None:
    # 27 + 100 records; Ana includes one, then excludes 60 in a row, 66 left. The heuristic
    # (50 in a row) would stop; the statistical rule would not: its sample of the 60 after
    # the inclusion, from 60 + 66, misses the one relevant record the null needs with
    # probability 66 / 126 = 0.52.
    ris = "".join(
        f"TY  - JOUR\nTI  - Synthetic record {i} on topic {i % 7}\nPY  - 2001\n"
        f"AB  - Words {i} about subject {i % 5}.\nER  - \n\n"
        for i in range(100)
    )
    (tmp_path / "more.ris").write_text(ris, encoding="utf-8")
    world.store.import_file(PROJECT, tmp_path / "more.ris", database="Other")
    units = world.record_ids()
    assert len(units) == 127
    world.store.decide(PROJECT, units[0], "Ana", "include")
    for record_id in units[1:61]:
        world.store.decide(PROJECT, record_id, "Ana", "exclude")
    page = _page(world, "ana")
    assert "cannot yet claim 95% recall with 95% confidence (p = 0.52" in page
    warning = re.search(r'<p class="error heuristic">(.*?)</p>', page, re.S)
    assert warning is not None
    text = warning.group(1)
    assert text.startswith("A heuristic would stop here — 60 irrelevant records in a row")
    below, runs, _lowest = CONSECUTIVE_IRRELEVANT_MEASURED[50]
    assert f"left recall below 95% in {below} of {runs} runs" in text
    assert text.endswith("keep screening until the estimate above is met.")
