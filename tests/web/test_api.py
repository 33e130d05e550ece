"""The JSON API under /api/v1: the routes the issue lists, votes that are safe to retry,
clear statuses for votes that cannot be taken, simultaneous votes, and the OpenAPI schema."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from metareview.review.models import AuditLog, ScreeningDecision
from tests.web.conftest import PROJECT, World, password

A = f"/api/v1/projects/{PROJECT}"


def _script(world: World, user: str) -> TestClient:
    """A script's client: logs in through the API and sends the bearer token."""
    client = TestClient(world.app)
    body = client.post(
        "/api/v1/session", json={"username": user, "password": password(user)}
    ).json()
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {body['token']}"
    return client


def _count_votes(world: World, record_id: str) -> int:
    with world.store.session() as s:
        return s.scalar(
            select(func.count())
            .select_from(ScreeningDecision)
            .where(ScreeningDecision.record_id == record_id)
        )


def test_projects_next_vote_record_prisma(world: World) -> None:
    ana = _script(world, "ana")
    assert ana.get("/api/v1/projects").json() == [
        {"name": PROJECT, "role": "reviewer", "reviewer": "Ana"}
    ]
    first = ana.get(f"{A}/next", params={"stage": "title_abstract"}).json()
    units = world.record_ids()
    assert first["record"]["id"] == units[0]
    assert first["progress"] == {"total": len(units), "voted": 0, "left": len(units)}
    assert set(first["record"]) == {
        "id",
        "title",
        "abstract",
        "authors",
        "journal",
        "year",
        "doi",
        "pmid",
        "source",
        "duplicate_of",
    }
    response = ana.post(
        f"{A}/records/{units[0]}/votes", json={"stage": "title_abstract", "decision": "exclude"}
    )
    assert response.status_code == 201
    assert response.json() == {
        "record_id": units[0],
        "stage": "title_abstract",
        "decision": "exclude",
        "reason": None,
        "result": "recorded",
    }
    after = ana.get(f"{A}/next").json()
    assert after["record"]["id"] == units[1] and after["progress"]["voted"] == 1
    record = ana.get(f"{A}/records/{units[0]}").json()
    assert record["votes"]["title_abstract"] == [
        {"reviewer": "Ana", "decision": "exclude", "reason": None}
    ]
    assert record["status"] == {"title_abstract": "pending", "full_text": None}
    prisma = ana.get(f"{A}/prisma").json()
    assert prisma["complete"] is False
    assert prisma["open"] == {"title_abstract": len(units), "full_text": 0}
    assert prisma["counts"]["records_screened"] == 0  # nothing decided yet
    # search/README.md: 20 PubMed records, 19 Embase records (one malformed, kept)
    assert prisma["counts"]["records_databases"] == {"PubMed": 20, "Embase": 19}


def test_a_double_vote_is_stored_once(world: World) -> None:
    rid = world.record_ids()[0]
    ana = _script(world, "ana")
    body = {"stage": "title_abstract", "decision": "include"}
    results = [ana.post(f"{A}/records/{rid}/votes", json=body) for _ in range(3)]
    assert [r.status_code for r in results] == [201, 200, 200]
    assert [r.json()["result"] for r in results] == ["recorded", "unchanged", "unchanged"]
    assert _count_votes(world, rid) == 1
    with world.store.session() as s:
        entries = s.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.entity == "screening_decision", AuditLog.entity_id == rid)
        )
    assert entries == 1  # the repeats wrote nothing
    # a retry after the record became complete is still "unchanged", not an error
    ben = _script(world, "ben")
    assert ben.post(f"{A}/records/{rid}/votes", json=body).status_code == 201
    assert ana.post(f"{A}/records/{rid}/votes", json=body).json()["result"] == "unchanged"


def test_votes_that_cannot_be_taken_get_clear_statuses(world: World) -> None:
    first, second = world.record_ids()[:2]
    ana, ben = _script(world, "ana"), _script(world, "ben")
    vote = {"stage": "title_abstract", "decision": "include"}
    ana.post(f"{A}/records/{first}/votes", json=vote)
    ben.post(f"{A}/records/{first}/votes", json={**vote, "decision": "exclude"})
    changed = ana.post(f"{A}/records/{first}/votes", json={**vote, "decision": "maybe"})
    assert changed.status_code == 409 and "complete" in changed.json()["detail"]
    wrong_stage = ana.post(
        f"{A}/records/{second}/votes", json={"stage": "full_text", "decision": "include"}
    )
    assert (
        wrong_stage.status_code == 409
        and "not at the full_text stage" in wrong_stage.json()["detail"]
    )
    bad = ana.post(f"{A}/records/{second}/votes", json={"decision": "perhaps"})
    assert bad.status_code == 422 and "decision" in bad.json()["detail"]
    unknown = ana.post(f"{A}/records/p9-nothing/votes", json=vote)
    assert unknown.status_code == 404 and "not in project" in unknown.json()["detail"]
    assert ana.get(f"{A}/records/p9-nothing").status_code == 404
    assert ana.get(f"{A}/next", params={"stage": "abstract"}).status_code == 422
    assert _count_votes(world, second) == 0


def test_full_text_exclusion_needs_a_reason(world: World) -> None:
    rid = world.record_ids()[0]
    ana, ben = _script(world, "ana"), _script(world, "ben")
    for client in (ana, ben):
        client.post(f"{A}/records/{rid}/votes", json={"decision": "include"})
    assert ana.get(f"{A}/next", params={"stage": "full_text"}).json()["record"]["id"] == rid
    missing = ana.post(
        f"{A}/records/{rid}/votes",
        json={"stage": "full_text", "decision": "exclude", "reason": "  "},
    )
    assert missing.status_code == 422 and "needs a reason" in missing.json()["detail"]
    ok = ana.post(
        f"{A}/records/{rid}/votes",
        json={"stage": "full_text", "decision": "exclude", "reason": "wrong design"},
    )
    assert ok.status_code == 201 and ok.json()["reason"] == "wrong design"


def test_simultaneous_votes_on_one_record_both_count(world: World) -> None:
    rid = world.record_ids()[0]
    clients = {"ana": _script(world, "ana"), "ben": _script(world, "ben")}
    start = threading.Barrier(2)
    statuses = {}

    def vote(user: str) -> None:
        start.wait()
        statuses[user] = (
            clients[user].post(f"{A}/records/{rid}/votes", json={"decision": "include"}).status_code
        )

    threads = [threading.Thread(target=vote, args=(u,)) for u in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == {"ana": 201, "ben": 201}
    assert _count_votes(world, rid) == 2
    status = world.store.screening_status(PROJECT).set_index("record_id").loc[rid]
    assert (status["status"], status["decision"]) == ("agreed", "include")


def test_logout_through_the_api(world: World) -> None:
    ana = _script(world, "ana")
    assert ana.delete("/api/v1/session").status_code == 204
    assert ana.get("/api/v1/projects").status_code == 401


def test_openapi_documents_the_api(world: World) -> None:
    schema = TestClient(world.app).get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths) == {
        "/api/v1/session",
        "/api/v1/projects",
        "/api/v1/projects/{project}/next",
        "/api/v1/projects/{project}/records/{record_id}/votes",
        "/api/v1/projects/{project}/records/{record_id}",
        "/api/v1/projects/{project}/prisma",
        *(
            f"/api/v1/projects/{{project}}/extraction/{name}"
            for name in ("studies", "sheet", "check", "reconciliation", "kappa")
        ),
    }
    assert set(paths["/api/v1/session"]) == {"post", "delete"}
    vote = paths["/api/v1/projects/{project}/records/{record_id}/votes"]["post"]
    body = vote["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert set(fields) == {"stage", "decision", "reason"}
    assert {"201", "409", "422"} <= set(vote["responses"])
