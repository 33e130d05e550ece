"""Every state-changing route of the app refuses a request without the right CSRF token.

The routes are read from the app itself, so a route added later (by any module) is checked
too: for each route with a method other than GET/HEAD, a logged-in owner and administrator
sends the request by cookie with no token, an empty one, a made-up one and another user's;
each answer must be 403 with the CSRF message, and the store must be unchanged. The forms
shown before login (login, invite) are checked against their double-submit cookie, and the one
route exempted (the JSON login) must be the only one.
"""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from metareview.web.auth import NO_CSRF, PRE_LOGIN_FORMS, SAFE_METHODS
from tests.web.conftest import World

MESSAGE = "missing or wrong CSRF token"
SAMPLE = {"project": "crps", "username": "ana", "token": "x", "record_id": "r1"}


def _writing_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route of ``app`` whose method changes state. FastAPI keeps an
    included router as one entry of ``app.routes`` (its ``original_router`` holds the
    routes, under the include's prefix)."""

    def walk(routes, prefix: str):
        for route in routes:
            if isinstance(route, APIRoute):
                for method in sorted(route.methods - SAFE_METHODS):
                    yield method, prefix + route.path
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)

    return list(walk(app.routes, ""))


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE.get(m.group(1), "1"), path)


def test_every_writing_route_needs_the_csrf_token(sqlite_world: World) -> None:
    w = sqlite_world
    routes = _writing_routes(w.app)
    assert len(routes) >= 23  # the app's routes were found (23 when this test was written)
    olga, ben = w.client("olga"), w.client("ben")
    others = w.csrf(ben)
    before = len(w.store.audit_log())
    checked = []
    for method, path in routes:
        if (method, path) in NO_CSRF or (method, path) in PRE_LOGIN_FORMS:
            continue
        for token in (None, "", "forged", others):
            form = {"reason": "x"} | ({} if token is None else {"csrf_token": token})
            answer = olga.request(method, _url(path), data=form)
            assert answer.status_code == 403 and MESSAGE in answer.text, (method, path, token)
            headers = {} if token is None else {"X-CSRF-Token": token}
            answer = olga.request(method, _url(path), json={}, headers=headers)
            assert answer.status_code == 403 and MESSAGE in answer.text, (method, path, token)
        checked.append((method, path))
    assert len(w.store.audit_log()) == before  # nothing was written
    assert ("POST", "/p/{project}/screen/{record_id}") in checked
    assert ("POST", "/api/v1/projects/{project}/records/{record_id}/votes") in checked
    # the right token passes the check (the route then answers for itself)
    answer = olga.post("/p/crps/keywords", data={"include": "ketamine", "csrf_token": w.csrf(olga)})
    assert answer.status_code == 303


def test_forms_before_login_need_their_cookie_token(sqlite_world: World) -> None:
    w = sqlite_world
    routes = set(_writing_routes(w.app))
    assert routes >= PRE_LOGIN_FORMS
    anonymous = w.client(None)
    for method, path in PRE_LOGIN_FORMS:
        anonymous.get("/login")  # sets the double-submit cookie
        for token in (None, "", "forged"):
            form = {"username": "ana", "password": "ana-password"}
            form |= {} if token is None else {"csrf_token": token}
            answer = anonymous.request(method, _url(path), data=form)
            assert answer.status_code == 403 and MESSAGE in answer.text, (method, path, token)


def test_only_the_json_login_is_exempt(sqlite_world: World) -> None:
    routes = set(_writing_routes(sqlite_world.app))
    assert set(NO_CSRF) == {("POST", "/api/v1/session")} and set(NO_CSRF) <= routes
    # and it takes JSON only: a cross-site form post of the same fields is refused
    answer = sqlite_world.client(None).post(
        "/api/v1/session", data={"username": "ana", "password": "ana-password"}
    )
    assert answer.status_code == 422


def test_anonymous_writes_ask_for_a_login_first(sqlite_world: World) -> None:
    anonymous = sqlite_world.client(None)
    assert anonymous.post("/p/crps/keywords", data={"include": "x"}).status_code == 303
    api = anonymous.post("/api/v1/projects/crps/records/r1/votes", json={"decision": "include"})
    assert api.status_code == 401
