"""The authorisation matrix: every route x anonymous / viewer / reviewer of another project /
reviewer / owner -> the expected HTTP status.

Pages send an anonymous caller to the login page (303); the API answers 401. A member of
another project gets 404 (the project's existence is not disclosed); a member whose role
does not allow the route gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from metareview.web.routes import allocation, api, duplicates, pages, project, ranking, screening
from tests.web.conftest import EXAMPLE, PROJECT, World

NBIB = EXAMPLE / "search" / "pubmed.nbib"

CALLERS = ("anonymous", "viewer", "other", "reviewer", "owner")
USERS = {"anonymous": None, "viewer": "vera", "other": "otto", "reviewer": "ana", "owner": "olga"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {rid}: the first record; {rid2}: the second
    expected: tuple[int, int, int, int, int]  # per CALLERS
    form: dict | None = None
    json: dict | None = None
    files: bool = False  # a multipart upload of the example's PubMed export


P = f"/p/{PROJECT}"
A = f"/api/v1/projects/{PROJECT}"
ROUTES = [
    Route("GET", "/", (303, 200, 200, 200, 200)),
    Route("POST", "/projects", (303, 403, 403, 403, 303), form={"name": "new review"}),
    Route(
        "POST", "/users/sam/deactivate", (303, 403, 403, 403, 303), form={"reason": "left the team"}
    ),
    Route("GET", P, (303, 200, 404, 200, 200)),
    Route("GET", f"{P}/screen", (303, 403, 404, 200, 200)),
    Route("GET", f"{P}/screen?stage=full_text", (303, 403, 404, 200, 200)),
    Route("GET", f"{P}/screen?order=relevance", (303, 403, 404, 200, 200)),
    Route("GET", f"{P}/stopping", (303, 403, 404, 403, 200)),
    Route(
        "POST",
        f"{P}/stopping",
        (303, 403, 404, 403, 409),  # no vote yet: the rule does not say stop
        form={"rule": "hypergeometric"},
    ),
    Route(
        "POST",
        f"{P}/screen/{{rid}}",
        (303, 403, 404, 303, 303),
        form={"decision": "maybe", "stage": "title_abstract"},
    ),
    Route(
        "POST",
        f"{P}/records/{{rid2}}/retrieval",
        (303, 403, 404, 303, 303),
        form={"retrieved": "yes"},
    ),
    Route("GET", f"{P}/conflicts", (303, 200, 404, 200, 200)),
    Route(
        "POST",
        f"{P}/conflicts/{{rid}}",
        (303, 403, 404, 409, 409),
        form={"decision": "include", "reason": "x"},
    ),
    Route("GET", f"{P}/prisma.png", (303, 409, 404, 409, 409)),
    Route("GET", f"{P}/members", (303, 403, 404, 403, 200)),
    Route("GET", f"{P}/sources", (303, 200, 404, 200, 200)),
    Route("GET", f"{P}/duplicates", (303, 403, 404, 403, 200)),
    Route(
        "POST",
        f"{P}/duplicates/merge",
        (303, 403, 404, 403, 303),
        form={"record_a": "{free}", "record_b": "{free2}"},
    ),
    Route(
        "POST",
        f"{P}/duplicates/not-duplicates",
        (303, 403, 404, 403, 303),
        form={"record_a": "{free}", "record_b": "{free2}"},
    ),
    Route(
        "POST",
        f"{P}/duplicates/withdraw",
        (303, 403, 404, 403, 422),  # nothing to undo
        form={"record_a": "{free}", "record_b": "{free2}"},
    ),
    Route("POST", f"{P}/duplicates/unmerge", (303, 403, 404, 403, 303), form={"group_id": "1"}),
    Route("POST", f"{P}/duplicates/auto-merge", (303, 403, 404, 403, 303)),
    Route("GET", f"{P}/allocation", (303, 403, 404, 403, 200)),
    Route(
        "POST",
        f"{P}/allocation",
        (303, 403, 404, 403, 303),
        form={"stage": "title_abstract", "reviewers": ["Ana", "Ben", "Cy"]},
    ),
    Route(
        "POST",
        f"{P}/allocation/reassign",
        (303, 403, 404, 403, 422),  # not allocated
        form={"stage": "title_abstract", "reviewer": "Cy"},
    ),
    Route("POST", f"{P}/import", (303, 403, 404, 403, 200), files=True),
    Route("POST", f"{P}/invites", (303, 403, 404, 403, 200), form={"role": "viewer"}),
    Route("POST", f"{P}/keywords", (303, 403, 404, 403, 303), form={"include": "ketamine"}),
    Route(
        "POST",
        f"{P}/members/sam/remove",
        (303, 403, 404, 403, 303),
        form={"reason": "left the team"},
    ),
    Route(
        "POST",
        f"{P}/unblind",
        (303, 403, 404, 403, 303),
        form={"stage": "full_text", "reason": "analysis"},
    ),
    Route("GET", "/api/v1/projects", (401, 200, 200, 200, 200)),
    Route("GET", f"{A}/next", (401, 403, 404, 200, 200)),
    Route("GET", f"{A}/next?stage=full_text", (401, 403, 404, 200, 200)),
    Route(
        "POST",
        f"{A}/records/{{rid}}/votes",
        (401, 403, 404, 201, 201),
        json={"stage": "title_abstract", "decision": "include"},
    ),
    Route("GET", f"{A}/records/{{rid}}", (401, 200, 404, 200, 200)),
    Route("GET", f"{A}/prisma", (401, 200, 404, 200, 200)),
    Route("GET", "/openapi.json", (200, 200, 200, 200, 200)),
    Route("GET", "/login", (200, 200, 200, 200, 200)),
]


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
def test_route_by_role(world: World, route: Route) -> None:
    rid, rid2 = world.record_ids()[:2]
    path = route.path.format(rid=rid, rid2=rid2)
    records = world.store.records(PROJECT)
    free = records.loc[records["duplicate_group"].isna(), "id"].tolist()  # in no group
    got = {}
    for caller in CALLERS:
        client = world.client(USERS[caller])
        headers = {}
        data = {
            k: v.format(free=free[0], free2=free[1]) if isinstance(v, str) else v
            for k, v in (route.form or {}).items()
        }
        if USERS[caller] is not None:
            token = world.csrf(client)
            headers["X-CSRF-Token"] = token
            data["csrf_token"] = token
        if route.method == "GET":
            response = client.get(path)
        elif route.files:
            upload = {"files": ("pubmed.nbib", NBIB.read_bytes(), "text/plain")}
            response = client.post(path, data=data, files=upload)
        elif route.json is not None:
            response = client.post(path, json=route.json, headers=headers)
        else:
            response = client.post(path, data=data)
        got[caller] = response.status_code
        if response.status_code == 303 and caller == "anonymous":
            assert response.headers["location"].startswith("/login?next=")
    assert got == dict(zip(CALLERS, route.expected, strict=True))


def test_every_route_is_in_the_matrix(world: World) -> None:
    """A new route must be added to ROUTES (and so get its row of expected statuses)."""
    covered = {
        (
            r.method,
            r.path.split("?")[0].replace("{rid2}", "{record_id}").replace("{rid}", "{record_id}"),
        )
        for r in ROUTES
    }
    covered = {
        (
            m,
            p.replace(f"/p/{PROJECT}", "/p/{project}")
            .replace(f"/projects/{PROJECT}", "/projects/{project}")
            .replace("/members/sam/", "/members/{username}/")
            .replace("/users/sam/", "/users/{username}/"),
        )
        for m, p in covered
    }
    routes = {
        (method, route.path)
        for module in (allocation, api, duplicates, pages, project, ranking, screening)
        for route in module.router.routes
        for method in route.methods
        if method in ("GET", "POST")
    }
    assert len(routes) > 20
    untested = (
        routes
        - covered
        - {
            ("GET", "/invite/{token}"),
            ("POST", "/invite/{token}"),
            ("POST", "/login"),
            ("POST", "/logout"),
            ("POST", "/api/v1/session"),
        }
    )
    assert not untested, f"routes missing from the authorisation matrix: {sorted(untested)}"
