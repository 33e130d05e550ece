"""CSRF, sessions (cookie flags, fixation, logout), the login rate limit, invite links, and
hostile strings from real exports rendered harmless."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from metareview.review import Store
from metareview.review.accounts import Invite, LoginSession, utc_now
from metareview.web import create_app
from metareview.web.auth import SESSION_COOKIE, RateLimiter
from tests.web.conftest import PROJECT, World, login, password, pre_csrf

P = f"/p/{PROJECT}"
A = f"/api/v1/projects/{PROJECT}"


# -- CSRF ---------------------------------------------------------------------------------
def test_form_post_without_or_with_a_wrong_csrf_token_is_refused(sqlite_world: World) -> None:
    w = sqlite_world
    rid = w.record_ids()[0]
    ana, ben = w.client("ana"), w.client("ben")
    for token in (None, "", "forged", w.csrf(ben)):  # none, empty, made up, another user's
        data = {"decision": "include"} | ({} if token is None else {"csrf_token": token})
        response = ana.post(f"{P}/screen/{rid}", data=data)
        assert response.status_code == 403, token
        assert "CSRF" in response.text
    assert w.store.visible_votes(PROJECT, "title_abstract", "Ana").empty
    ok = ana.post(f"{P}/screen/{rid}", data={"decision": "include", "csrf_token": w.csrf(ana)})
    assert ok.status_code == 303


def test_api_post_with_the_cookie_needs_the_csrf_header(sqlite_world: World) -> None:
    w = sqlite_world
    rid = w.record_ids()[0]
    ana = w.client("ana")
    body = {"stage": "title_abstract", "decision": "include"}
    assert ana.post(f"{A}/records/{rid}/votes", json=body).status_code == 403
    assert (
        ana.post(
            f"{A}/records/{rid}/votes", json=body, headers={"X-CSRF-Token": "forged"}
        ).status_code
        == 403
    )
    assert w.store.visible_votes(PROJECT, "title_abstract", "Ana").empty
    # a bearer token is never sent by a browser on its own: no CSRF token needed
    script = TestClient(w.app)
    token = script.post(
        "/api/v1/session", json={"username": "ana", "password": password("ana")}
    ).json()["token"]
    script.cookies.clear()
    response = script.post(
        f"{A}/records/{rid}/votes", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201


def test_login_and_invite_forms_need_their_pre_login_token(sqlite_world: World) -> None:
    w = sqlite_world
    client = TestClient(w.app, follow_redirects=False)
    response = client.post("/login", data={"username": "ana", "password": password("ana")})
    assert response.status_code == 403
    token = w.store.create_invite(PROJECT, "reviewer", by="olga")
    response = client.post(
        f"/invite/{token}", data={"username": "newbie", "password": "long enough pw"}
    )
    assert response.status_code == 403
    assert "newbie" not in [u.username for u in w.store.users()]


# -- sessions -----------------------------------------------------------------------------
def test_session_cookie_flags(sqlite_world: World) -> None:
    client = TestClient(sqlite_world.app, follow_redirects=False)
    cookie = login(client, "ana").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    secure = TestClient(sqlite_world.app, base_url="https://testserver", follow_redirects=False)
    cookie = login(secure, "ana").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie


def test_login_issues_a_new_session_id(sqlite_world: World) -> None:
    """Session fixation: an id planted in the browser before login is not the one used."""
    client = TestClient(sqlite_world.app, follow_redirects=False)
    planted = "attacker-chosen-session-id"
    client.cookies.set(SESSION_COOKIE, planted)
    assert client.get("/").status_code == 303  # the planted id is no session
    response = login(client, "ana")
    new = response.cookies.get(SESSION_COOKIE)
    assert new and new != planted
    assert sqlite_world.store.session_user(planted) is None
    other = TestClient(sqlite_world.app, follow_redirects=False)
    assert login(other, "ana").cookies.get(SESSION_COOKIE) != new  # a new id per login


def test_logout_ends_the_session_on_the_server(sqlite_world: World) -> None:
    w = sqlite_world
    client = TestClient(w.app, follow_redirects=False)
    login(client, "ana")
    token = client.cookies.get(SESSION_COOKIE)
    assert client.post("/logout", data={"csrf_token": w.csrf(client)}).status_code == 303
    replay = TestClient(w.app, follow_redirects=False)
    replay.cookies.set(SESSION_COOKIE, token)
    assert replay.get("/").status_code == 303
    assert replay.get("/api/v1/projects").status_code == 401


def test_expired_session_is_refused(sqlite_world: World) -> None:
    w = sqlite_world
    client = w.client("ana")
    with w.store.session() as s:
        s.execute(update(LoginSession).values(expires_at=utc_now() - timedelta(seconds=1)))
    assert client.get("/").status_code == 303


def test_deactivated_user_cannot_log_in_and_keeps_votes(sqlite_world: World) -> None:
    w = sqlite_world
    rid = w.record_ids()[0]
    ana = w.client("ana")
    ana.post(
        f"{A}/records/{rid}/votes",
        json={"decision": "include"},
        headers={"X-CSRF-Token": w.csrf(ana)},
    )
    olga = w.client("olga")
    assert 'action="/users/ana/deactivate"' in olga.get("/").text
    response = olga.post(
        "/users/ana/deactivate", data={"reason": "left the team", "csrf_token": w.csrf(olga)}
    )
    assert response.status_code == 303
    assert ana.get("/").status_code == 303  # the session ended
    fresh = TestClient(w.app, follow_redirects=False)
    assert login(fresh, "ana").status_code == 401
    votes = w.store.visible_votes(PROJECT, "title_abstract", "Olga")
    assert w.store.screening_status(PROJECT).set_index("record_id").loc[rid, "n_votes"] == 1
    assert votes.empty  # still blinded for others: the vote is kept, not shown


def test_owner_removes_a_member_whose_votes_stay(sqlite_world: World) -> None:
    w = sqlite_world
    rid = w.record_ids()[0]
    sam = w.client("sam")
    sam.post(
        f"{A}/records/{rid}/votes",
        json={"decision": "exclude"},
        headers={"X-CSRF-Token": w.csrf(sam)},
    )
    olga = w.client("olga")
    olga.post(f"{P}/members/sam/remove", data={"reason": "left", "csrf_token": w.csrf(olga)})
    assert sam.get(P).status_code == 404
    assert w.store.screening_status(PROJECT).set_index("record_id").loc[rid, "n_votes"] == 1
    assert "Sam: 1" in olga.get(P).text


# -- rate limit ---------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeated_failed_logins_get_429_until_the_window_passes(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    store.accept_invite(store.bootstrap_invite(), "olga", password("olga"))
    clock = FakeClock()
    app = create_app(store, rate_limiter=RateLimiter(max_failures=5, window=900, clock=clock))
    client = TestClient(app, follow_redirects=False)
    statuses = [login(client, "olga", "wrong password!").status_code for _ in range(5)]
    assert statuses == [401] * 5
    blocked = login(client, "olga")  # even the right password, while blocked
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    api = client.post("/api/v1/session", json={"username": "olga", "password": "x" * 12})
    assert api.status_code == 429 and "Retry-After" in api.headers
    clock.now += 901
    assert login(client, "olga").status_code == 303
    store.close()


def test_api_login_answers_401_for_a_wrong_password(sqlite_world: World) -> None:
    client = TestClient(sqlite_world.app)
    response = client.post("/api/v1/session", json={"username": "ana", "password": "nope"})
    assert response.status_code == 401
    response = client.post("/api/v1/session", json={"username": "nobody", "password": "nope"})
    assert response.status_code == 401
    response = client.post("/api/v1/session", json={"username": "ana", "password": password("ana")})
    body = response.json()
    assert response.status_code == 200 and body["username"] == "ana"
    assert set(body) == {"username", "admin", "token", "csrf_token"}


# -- invites ------------------------------------------------------------------------------
def test_invite_link_works_once(sqlite_world: World) -> None:
    w = sqlite_world
    token = w.store.create_invite(PROJECT, "viewer", by="olga")
    client = TestClient(w.app, follow_redirects=False)
    form = {
        "username": "new viewer",
        "password": "long enough pw",
        "csrf_token": pre_csrf(client, f"/invite/{token}"),
    }
    response = client.post(f"/invite/{token}", data=form)
    assert response.status_code == 303 and response.headers["location"] == f"/p/{PROJECT}"
    assert client.get(f"/p/{PROJECT}").status_code == 200  # logged in, as a viewer
    again = TestClient(w.app, follow_redirects=False)
    assert again.get(f"/invite/{token}").status_code == 410
    assert "used already" in again.get(f"/invite/{token}").text


def test_expired_and_unknown_invites_are_refused(sqlite_world: World) -> None:
    w = sqlite_world
    token = w.store.create_invite(PROJECT, "reviewer", by="olga")
    with w.store.session() as s:
        s.execute(update(Invite).values(expires_at=utc_now() - timedelta(seconds=1)))
    client = TestClient(w.app)
    assert client.get(f"/invite/{token}").status_code == 410
    assert "expired" in client.get(f"/invite/{token}").text
    assert client.get("/invite/not-a-token").status_code == 410


def test_short_password_is_refused_with_a_message(sqlite_world: World) -> None:
    w = sqlite_world
    token = w.store.create_invite(PROJECT, "reviewer", by="olga")
    client = TestClient(w.app, follow_redirects=False)
    form = {
        "username": "shorty",
        "password": "short",
        "csrf_token": pre_csrf(client, f"/invite/{token}"),
    }
    response = client.post(f"/invite/{token}", data=form)
    assert response.status_code == 422 and "at least 10 characters" in response.text
    assert w.store.invite_info(token).role == "reviewer"  # still usable


def test_bootstrap_link_only_on_an_empty_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    first = store.bootstrap_invite()
    second = store.bootstrap_invite()
    store.accept_invite(first, "admin", "admin-password")
    client = TestClient(create_app(store))
    assert client.get(f"/invite/{second}").status_code == 410
    with pytest.raises(ValueError, match="has accounts already"):
        store.bootstrap_invite()
    store.close()


# -- hostile strings ----------------------------------------------------------------------
HOSTILE_TITLE = '<script>alert("title")</script> Ketamine for CRPS'
HOSTILE_ABSTRACT = '"><img src=x onerror=alert(1)> ketamine <svg onload=alert(2)>'
HOSTILE_AUTHOR = "<b onmouseover=alert(3)>Evil</b>, A"
HOSTILE_JOURNAL = "javascript:alert(4)"
HOSTILE_DOI = '10.1000/x"><script>alert(6)</script>'  # the importer takes it as a DOI

RIS = f"""TY  - JOUR
TI  - {HOSTILE_TITLE}
AB  - {HOSTILE_ABSTRACT}
AU  - {HOSTILE_AUTHOR}
JO  - {HOSTILE_JOURNAL}
DO  - {HOSTILE_DOI}
UR  - javascript:alert(7)
PY  - 2020
ER  -{" "}
"""


def _assert_harmless(html: str) -> None:
    for raw in (
        "<script>",
        "<img src=x",
        "<svg onload",
        "<b onmouseover",
        'href="javascript:',
        "href='javascript:",
    ):
        assert raw not in html, raw
    assert "&lt;script&gt;" in html or "&lt;img" in html


def test_hostile_record_is_escaped_on_every_page(sqlite_world: World, tmp_path: Path) -> None:
    w = sqlite_world
    export = tmp_path / "hostile.ris"
    export.write_text(RIS, encoding="utf-8")
    w.store.import_file(PROJECT, export, database="Hostile")
    w.store.set_keywords(PROJECT, ["ketamine", "<script>"], ["onerror"], actor="Olga")
    rid = w.store.records(PROJECT).query("source == 'hostile.ris'")["id"].iloc[0]
    ana = w.client("ana")
    page = ana.get(f"{P}/screen?record={rid}").text
    _assert_harmless(page)
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in page
    assert '&#34;&gt;&lt;img src=x <mark class="kw-ex">onerror</mark>=alert(1)&gt;' in page
    # the DOI becomes a doi.org link with the DOI percent-encoded; the URL field is not linked
    assert 'href="https://doi.org/10.1000/x%22%3E%3Cscript%3Ealert%286%29%3C/script%3E"' in page
    assert "javascript:alert(7)" not in page
    # the record in conflict, on the conflicts page
    for user, decision in (("ana", "include"), ("ben", "exclude")):
        client = w.client(user)
        client.post(
            f"{A}/records/{rid}/votes",
            json={"decision": decision},
            headers={"X-CSRF-Token": w.csrf(client)},
        )
    conflicts = w.client("cy").get(f"{P}/conflicts").text
    assert rid in conflicts
    _assert_harmless(conflicts)
    dashboard = w.client("olga").get(P).text
    _assert_harmless(dashboard)
    assert '<mark class="kw-in">&lt;script&gt;</mark>' in dashboard
    # JSON carries the text as data; browsers never render it as HTML (application/json)
    response = ana.get(f"{A}/records/{rid}")
    assert response.headers["content-type"] == "application/json"
    assert response.json()["record"]["title"] == HOSTILE_TITLE


def test_hostile_project_and_user_names_are_escaped(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    name = '<img src=x onerror=alert("u")>'
    store.accept_invite(store.bootstrap_invite(), name, "admin-password")
    project = "<script>alert('p')</script>"
    store.create_project(project)
    store.add_member(project, name, "owner", by=name, reviewer_name='"><svg onload=alert(1)>')
    client = TestClient(create_app(store), follow_redirects=False)
    login(client, name, "admin-password")
    html = client.get("/").text
    _assert_harmless(html)
    assert "&lt;img src=x onerror=alert(&#34;u&#34;)&gt;" in html
    store.close()


def test_every_response_carries_a_strict_content_security_policy(sqlite_world: World) -> None:
    for path in ("/login", "/", f"{P}/screen", "/api/v1/projects"):
        response = sqlite_world.client("ana").get(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    static = TestClient(sqlite_world.app).get("/static/app.js")
    assert static.status_code == 200 and "keydown" in static.text


def test_login_redirect_goes_only_to_local_paths(sqlite_world: World) -> None:
    client = TestClient(sqlite_world.app, follow_redirects=False)
    token = pre_csrf(client)
    for target, expected in (
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        (f"{P}/screen", f"{P}/screen"),
    ):
        response = client.post(
            "/login",
            data={
                "username": "ana",
                "password": password("ana"),
                "csrf_token": token,
                "next": target,
            },
        )
        assert response.headers["location"] == expected
    assert re.search(r'name="next" value="/"', client.get("/login?next=//evil").text)
