"""Screening through the pages (the forms a browser without JavaScript submits): the
example's whole dual screening by Ana and Ben, conflicts settled by Cy on the conflicts page,
and the dashboard's PRISMA counts equal to the library's ``prisma_counts``; skip and undo;
full-text retrieval and exclusion reasons; keywords highlighted."""

from __future__ import annotations

import re

from tests.web.conftest import PROJECT, World, example_ids, example_rows

P = f"/p/{PROJECT}"
USERS = {"Ana": "ana", "Ben": "ben", "Cy": "cy"}


def _post(world: World, user: str, path: str, **data: str):
    client = world.client(user)
    return client.post(path, data={**data, "csrf_token": world.csrf(client)})


def _shown(world: World, user: str, stage: str = "title_abstract", **query: str) -> str | None:
    page = world.client(user).get(f"{P}/screen", params={"stage": stage, **query}).text
    found = re.search(r'data-record-id="([^"]+)"', page)
    return found.group(1) if found else None


def test_the_example_screened_through_the_pages(world: World) -> None:
    ids = example_ids(world.store)
    decisions, resolutions = example_rows("decisions.csv"), example_rows("resolutions.csv")
    for stage in ("title_abstract", "full_text"):
        for row in (r for r in decisions if r["stage"] == stage):
            response = _post(
                world,
                USERS[row["reviewer"]],
                f"{P}/screen/{ids[row['record']]}",
                decision=row["decision"],
                stage=stage,
                reason=row["reason"],
            )
            assert response.status_code == 303, response.text
        page = world.client("cy").get(f"{P}/conflicts", params={"stage": stage}).text
        expected = {ids[r["record"]] for r in resolutions if r["stage"] == stage}
        assert (
            set(re.findall(r'class="record conflict" data-record-id="([^"]+)"', page)) == expected
        )
        for row in (r for r in resolutions if r["stage"] == stage):
            response = _post(
                world,
                "cy",
                f"{P}/conflicts/{ids[row['record']]}",
                decision=row["decision"],
                reason=row["reason"],
                stage=stage,
            )
            assert response.status_code == 303, response.text
    counts = world.store.prisma_counts(PROJECT)  # the library's counts
    api = world.client("vera").get(f"/api/v1/projects/{PROJECT}/prisma").json()
    assert api["complete"] is True
    assert api["counts"] == counts
    dashboard = world.client("vera").get(P).text
    shown = dict(re.findall(r'data-key="([^"]+)">(\d+)<', dashboard))
    assert int(shown["records_screened"]) == counts["records_screened"]
    assert int(shown["records_excluded"]) == counts["records_excluded"]
    assert int(shown["reports_assessed"]) == counts["reports_assessed"]
    assert int(shown["reports_included"]) == counts["reports_included"]
    for reason, n in counts["reports_excluded"].items():
        assert int(shown[f"reports_excluded.{reason}"]) == n
    figure = world.client("vera").get(f"{P}/prisma.png")
    assert figure.status_code == 200 and figure.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_skip_and_undo(world: World) -> None:
    units = world.record_ids()
    assert _shown(world, "ana") == units[0]
    assert _shown(world, "ana", skip=units[0]) == units[1]
    _post(world, "ana", f"{P}/screen/{units[1]}", decision="include", skip=units[0])
    assert _shown(world, "ana", skip=units[0]) == units[2]
    # undo: back to the last own vote while its record waits for votes, shown with the vote
    page = world.client("ana").get(f"{P}/screen", params={"undo": 1}).text
    assert f'data-record-id="{units[1]}"' in page and "<strong>include</strong>" in page
    _post(world, "ana", f"{P}/screen/{units[1]}", decision="exclude")
    votes = world.store.visible_votes(PROJECT, "title_abstract", "Ana")
    assert votes["decision"].tolist() == ["exclude"]
    # once Ben's vote completes the record, undo has nothing to go back to
    _post(world, "ben", f"{P}/screen/{units[1]}", decision="exclude")
    page = world.client("ana").get(f"{P}/screen", params={"undo": 1}).text
    assert "Nothing to undo" in page


def test_full_text_retrieval_and_reasons(world: World) -> None:
    first, second = world.record_ids()[:2]
    for user in ("ana", "ben"):
        for rid in (first, second):
            _post(world, user, f"{P}/screen/{rid}", decision="include")
    assert _shown(world, "ana", "full_text") == first
    no_reason = _post(world, "ana", f"{P}/screen/{first}", decision="exclude", stage="full_text")
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.text
    _post(
        world,
        "ana",
        f"{P}/screen/{first}",
        decision="exclude",
        stage="full_text",
        other_reason="wrong population",
    )
    page = world.client("ana").get(f"{P}/screen", params={"stage": "full_text"}).text
    assert '<option value="wrong population">' in page  # the menu offers her reason again
    # Ben's menu does not: Ana's reason is on a record Ben has not voted on
    assert (
        "wrong population"
        not in world.client("ben").get(f"{P}/screen", params={"stage": "full_text"}).text
    )
    response = _post(
        world, "ben", f"{P}/records/{second}/retrieval", retrieved="no", note="not available"
    )
    assert response.status_code == 303
    assert _shown(world, "ben", "full_text") == first  # the second left the stage
    counts = world.client("olga").get(f"/api/v1/projects/{PROJECT}/prisma").json()["counts"]
    assert counts["reports_not_retrieved"] == 1


def test_keywords_are_highlighted(world: World) -> None:
    response = _post(world, "olga", f"{P}/keywords", include="ketamine, CRPS", exclude="rat*")
    assert response.status_code == 303
    assert world.store.keywords(PROJECT) == {"include": ["ketamine", "CRPS"], "exclude": ["rat*"]}
    ids = example_ids(world.store)
    page = world.client("ana").get(f"{P}/screen", params={"record": ids["pubmed.nbib:2"]}).text
    assert re.search(r'<mark class="kw-in">ketamine</mark>', page, re.IGNORECASE)
    bad = _post(world, "olga", f"{P}/keywords", include="***")
    assert bad.status_code == 422 and "no letter or digit" in bad.text


def test_viewer_and_owner_pages(world: World) -> None:
    olga = world.client("olga")
    response = _post(world, "olga", f"{P}/invites", role="reviewer")
    link = re.search(r'value="(http://testserver/invite/[^"]+)"', response.text).group(1)
    assert world.store.invite_info(link.rsplit("/", 1)[1]).role == "reviewer"
    members = olga.get(f"{P}/members").text
    assert all(name in members for name in ("ana", "ben", "vera", "Cy"))
    dashboard = world.client("vera").get(P).text
    assert "Audit log" not in dashboard and "Screen titles" not in dashboard
    assert "Audit log" in olga.get(P).text


def test_allocation_page_gives_each_reviewer_their_records(world: World) -> None:
    response = _post(
        world,
        "olga",
        f"{P}/allocation",
        stage="title_abstract",
        reviewers=["Ana", "Ben", "Cy"],
        per_record="2",
    )
    assert response.status_code == 303
    page = world.client("olga").get(f"{P}/allocation").text
    assigned = {n: int(v) for n, v in re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td>", page)}
    units = len(world.record_ids())
    assert (
        sum(assigned.values()) == 2 * units and max(assigned.values()) - min(assigned.values()) <= 1
    )
    for name, user in USERS.items():
        mine = world.store.assigned_records(PROJECT, "title_abstract", name)
        api = world.client(user).get(f"/api/v1/projects/{PROJECT}/next").json()
        assert api["record"]["id"] in mine and api["progress"]["total"] == len(mine), user
    _post(world, "olga", f"{P}/allocation/reassign", stage="title_abstract", reviewer="Cy")
    assert world.store.assigned_records(PROJECT, "title_abstract", "Cy") == set()
