"""The extraction JSON API over HTTP: the authorisation matrix of every route of
``web/routes/extraction_api.py`` (anonymous 401, a member of another project 404, a viewer
403 where extracting is needed), CSRF with the cookie and none with a bearer token, blinding,
and the statuses of refused values (422 with ``errors``), a value stored meanwhile (409 with
``stored``) and a reconciliation of a field changed since (409)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from metareview.web.auth import SESSION_COOKIE
from metareview.web.routes import extraction_api
from tests.web.conftest import PROJECT, World, build_world
from tests.web.extraction_helpers import add_studies, typed_rows

A = f"/api/v1/projects/{PROJECT}/extraction"
CALLERS = ("anonymous", "viewer", "other", "reviewer", "owner")
USERS = {"anonymous": None, "viewer": "vera", "other": "otto", "reviewer": "ana", "owner": "olga"}
KIEFER = "Kiefer, R et al (2008a)"
GOEBEL = "Goebel, A et al (2015)"
ROWS = typed_rows()


@pytest.fixture
def team(tmp_path: Path) -> Iterator[World]:
    world = build_world(f"sqlite:///{tmp_path / 'api.sqlite'}")
    add_studies(world.store, limit=8)
    yield world
    for client in world.clients.values():
        client.close()
    world.store.close()


def _post(world: World, user: str, path: str, body: dict):
    client = world.client(user)
    return client.post(path, json=body, headers={"X-CSRF-Token": world.csrf(client)})


def _submit(world: World, user: str, study: str, row: dict[str, str]) -> None:
    answer = _post(world, user, f"{A}/sheet", {"study": study, "values": row, "submit": True})
    assert answer.status_code == 200, answer.text


def test_authorisation_matrix_of_every_api_route(team: World) -> None:
    for who in ("ana", "ben"):
        _submit(team, who, GOEBEL, {**ROWS[GOEBEL], "n": "6" if who == "ben" else "5"})
    cases = [
        ("GET", f"{A}/studies", None, (401, 200, 404, 200, 200)),
        ("GET", f"{A}/sheet?study={KIEFER}", None, (401, 403, 404, 200, 200)),
        (
            "POST",
            f"{A}/sheet",
            {"study": KIEFER, "values": {"year": "2008"}},
            (401, 403, 404, 200, 200),
        ),
        (
            "POST",
            f"{A}/check",
            {"study": KIEFER, "values": ROWS[KIEFER]},
            (401, 403, 404, 200, 200),
        ),
        ("GET", f"{A}/reconciliation?study={GOEBEL}", None, (401, 200, 404, 200, 200)),
        ("POST", f"{A}/reconciliation", "reconcile", (401, 403, 404, 200, 200)),
        ("GET", f"{A}/kappa", None, (401, 200, 404, 200, 200)),
    ]
    covered = set()
    for method, path, body, expected in cases:
        covered.add((method, path.split("?")[0]))
        for caller, status in zip(CALLERS, expected, strict=True):
            user = USERS[caller]
            client = team.client(user)
            headers = {"X-CSRF-Token": team.csrf(client)} if user else {}
            if body == "reconcile":
                rows = team.client("olga").get(f"{A}/reconciliation", params={"study": GOEBEL})
                token = {r["field"]: r["token"] for r in rows.json()}["n"]
                body_ = {
                    "study": GOEBEL,
                    "field": "n",
                    "value": 5,
                    "reason": caller,
                    "token": token,
                }
                answer = client.post(path, json=body_, headers=headers)
            elif method == "POST":
                answer = client.post(path, json=body, headers=headers)
            else:
                answer = client.get(path)
            assert answer.status_code == status, (method, path, caller, answer.text[:300])
            assert answer.headers["content-type"].startswith("application/json")
    routes = {
        (m, r.path.replace("{project}", PROJECT))
        for r in extraction_api.router.routes
        for m in r.methods
    }
    assert routes == covered


def test_csrf_with_the_cookie_none_with_a_bearer_token(team: World) -> None:
    ana = team.client("ana")
    body = {"study": KIEFER, "values": {"year": "2008"}}
    assert ana.post(f"{A}/sheet", json=body).status_code == 403
    bearer = TestClient(team.app, base_url="http://testserver")
    token = ana.cookies.get(SESSION_COOKIE)
    answer = bearer.post(f"{A}/sheet", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert team.store.extraction_sheet(PROJECT, KIEFER, "Ana").values == {"year": 2008}
    bearer.close()


def test_statuses_of_refused_stale_and_blinded(team: World) -> None:
    refused = _post(
        team, "ana", f"{A}/sheet", {"study": KIEFER, "values": {"year": 1889, "n": "7-8"}}
    )
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"year", "n"}
    first = team.client("ana").get(f"{A}/sheet", params={"study": KIEFER}).json()
    assert first["values"] == {} and first["tokens"] == {}
    ok = _post(team, "ana", f"{A}/sheet", {"study": KIEFER, "values": {"n": 777}, "seen": {}})
    assert ok.status_code == 200
    stale = _post(team, "ana", f"{A}/sheet", {"study": KIEFER, "values": {"n": 21}, "seen": {}})
    assert stale.status_code == 409 and stale.json()["stored"] == {"n": 777}
    # Ben learns that someone extracts Kiefer, not what
    ben = team.client("ben")
    assert ben.get(f"{A}/sheet", params={"study": KIEFER}).json()["extractors"] == 1
    blinded = ben.get(f"{A}/reconciliation", params={"study": KIEFER})
    assert blinded.status_code == 409 and "stay blinded" in blinded.json()["detail"]
    for path in ("/studies", "/kappa", f"/sheet?study={KIEFER}"):
        assert "777" not in ben.get(f"{A}{path}").text
    assert ben.get(f"{A}/kappa").json() == []
    unknown = ben.get(f"{A}/sheet", params={"study": "Nobody 1999"})
    assert unknown.status_code == 404


def test_reconciliation_over_the_api(team: World) -> None:
    _submit(team, "ana", KIEFER, ROWS[KIEFER])
    _submit(team, "ben", KIEFER, {**ROWS[KIEFER], "n": "2"})
    frozen = _post(team, "ana", f"{A}/sheet", {"study": KIEFER, "values": {"n": "21"}})
    assert frozen.status_code == 409 and "extraction is complete" in frozen.json()["detail"]
    rows = {
        r["field"]: r
        for r in team.client("cy").get(f"{A}/reconciliation", params={"study": KIEFER}).json()
    }
    assert rows["n"]["values"] == {"Ana": 20, "Ben": 2} and rows["n"]["differs"] is True
    body = {
        "study": KIEFER,
        "field": "n",
        "value": 20,
        "reason": "Table 1",
        "token": rows["n"]["token"],
    }
    assert _post(team, "cy", f"{A}/reconciliation", body).status_code == 200
    again = _post(team, "olga", f"{A}/reconciliation", {**body, "value": 2})
    assert again.status_code == 409 and again.json()["stored"] == {"n": 20}
    no_reason = _post(team, "olga", f"{A}/reconciliation", {**body, "reason": " "})
    assert no_reason.status_code == 422
    kappa = {k["field"]: k for k in team.client("vera").get(f"{A}/kappa").json()}
    assert kappa["n"]["agreement"] == 0.0 and kappa["n"]["kappa"] is not None
