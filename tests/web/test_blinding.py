"""Blinding at the HTTP level: no page or JSON response lets a reviewer (or a viewer) learn
another reviewer's vote on a record that is not complete, until an owner unblinds the stage.

The strongest check: Ana votes *include* on a record, then changes it to *exclude* while the
record still waits for Ben's vote; every response Ben and Vera get is the same, byte for
byte, after either vote -- so nothing in them depends on Ana's pending vote.
"""

from __future__ import annotations

import re

from tests.web.conftest import PROJECT, World

P = f"/p/{PROJECT}"
A = f"/api/v1/projects/{PROJECT}"


def _vote(
    world: World,
    user: str,
    rid: str,
    decision: str,
    stage: str = "title_abstract",
    reason: str | None = None,
):
    client = world.client(user)
    return client.post(
        f"{A}/records/{rid}/votes",
        json={"stage": stage, "decision": decision, "reason": reason},
        headers={"X-CSRF-Token": world.csrf(client)},
    )


def _views(world: World, user: str, rid: str) -> dict[str, str]:
    """Every GET response of ``user`` that could show something about ``rid``."""
    client = world.client(user)
    paths = [
        P,
        f"{P}/conflicts",
        f"{P}/conflicts?stage=full_text",
        f"{A}/records/{rid}",
        f"{A}/prisma",
        "/api/v1/projects",
        "/",
    ]
    if user != "vera":
        paths += [
            f"{P}/screen",
            f"{P}/screen?record={rid}",
            f"{A}/next",
            f"{P}/screen?stage=full_text",
        ]
    token = world.csrf(client)
    # the CSRF token is the caller's own and fixed per session; blank it for the comparison
    return {p: client.get(p).text.replace(token, "CSRF") for p in paths}


def test_pending_vote_is_invisible_to_the_other_reviewer_and_viewer(world: World) -> None:
    rid = world.record_ids()[0]
    assert _vote(world, "ana", rid, "include").status_code == 201
    seen = {user: _views(world, user, rid) for user in ("ben", "vera")}
    assert _vote(world, "ana", rid, "exclude").json()["result"] == "revised"
    for user in ("ben", "vera"):
        after = _views(world, user, rid)
        changed = [p for p in after if after[p] != seen[user][p]]
        assert changed == [], f"{user} sees a difference after Ana changed her vote: {changed}"
    record = world.client("ben").get(f"{A}/records/{rid}").json()
    assert record["votes"]["title_abstract"] == []
    assert record["status"]["title_abstract"] is None
    # the record is still Ben's next one, as if Ana had not voted
    assert world.client("ben").get(f"{A}/next").json()["record"]["id"] == rid


def test_votes_are_shown_once_the_record_is_complete(world: World) -> None:
    rid = world.record_ids()[0]
    _vote(world, "ana", rid, "include")
    _vote(world, "ben", rid, "exclude")
    for user in ("ben", "vera", "cy"):
        votes = world.client(user).get(f"{A}/records/{rid}").json()["votes"]["title_abstract"]
        assert {(v["reviewer"], v["decision"]) for v in votes} == {
            ("Ana", "include"),
            ("Ben", "exclude"),
        }
    page = world.client("cy").get(f"{P}/conflicts").text
    assert rid in page and "<strong>Ana</strong>: include" in page


def test_unblinding_shows_pending_votes(world: World) -> None:
    rid = world.record_ids()[0]
    _vote(world, "ana", rid, "include")
    assert world.client("vera").get(f"{A}/records/{rid}").json()["votes"]["title_abstract"] == []
    olga = world.client("olga")
    response = olga.post(
        f"{P}/unblind",
        data={"stage": "title_abstract", "reason": "analysis", "csrf_token": world.csrf(olga)},
    )
    assert response.status_code == 303
    votes = world.client("vera").get(f"{A}/records/{rid}").json()["votes"]["title_abstract"]
    assert [(v["reviewer"], v["decision"]) for v in votes] == [("Ana", "include")]
    # and the dashboard now shows agreement statistics for the stage
    assert "Krippendorff" in world.client("vera").get(P).text


def test_own_vote_is_shown_back_to_its_reviewer_only(world: World) -> None:
    rid = world.record_ids()[0]
    _vote(world, "ana", rid, "maybe")
    page = world.client("ana").get(f"{P}/screen?record={rid}").text
    assert re.search(r"Your vote: <strong>maybe</strong>", page)
    assert "Your vote" not in world.client("ben").get(f"{P}/screen?record={rid}").text


def test_a_record_page_of_a_complete_record_is_refused(world: World) -> None:
    rid = world.record_ids()[0]
    _vote(world, "ana", rid, "exclude")
    _vote(world, "ben", rid, "exclude")
    assert world.client("cy").get(f"{P}/screen?record={rid}").status_code == 409
    assert world.client("cy").get(f"{P}/screen?record=nonexistent").status_code == 404


def test_dashboard_shows_kappa_ci_within_its_range(world: World) -> None:
    """Issue 21.21: with 4 complete records the large-sample CI of kappa passes 1; the page
    shows it cut at 1, marked, with the note (the numbers keep the formula's bound)."""
    rids = world.record_ids()[:4]
    for rid, ana, ben in zip(rids, "ieie", "ieee", strict=True):
        _vote(world, "ana", rid, {"i": "include", "e": "exclude"}[ana])
        _vote(world, "ben", rid, {"i": "include", "e": "exclude"}[ben])
    olga = world.client("olga")
    olga.post(
        f"{P}/unblind",
        data={"stage": "title_abstract", "reason": "analysis", "csrf_token": world.csrf(olga)},
    )
    page = world.client("vera").get(P).text
    assert "0.500 (" in page and ", 1.000)*" in page
    assert "* The large-sample CI of kappa" in page
