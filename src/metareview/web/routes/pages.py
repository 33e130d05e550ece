"""Login, logout, invite links, and the list of the caller's projects (with project creation
for administrators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from metareview.exceptions import InputError
from metareview.web.auth import (
    SESSION_COOKIE,
    login_keys,
    pre_csrf_token,
    require_session,
    set_pre_csrf_cookie,
    set_session_cookie,
)
from metareview.web.routes._common import redirect, render, store_of

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only local paths: an open redirect would let a link send users elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _anonymous_form(
    request: Request, template: str, status: int = 200, **context: object
) -> Response:
    token = pre_csrf_token(request)
    response = render(request, template, None, status=status, pre_csrf=token, **context)
    set_pre_csrf_cookie(request, response, token)
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return _anonymous_form(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    limiter = request.app.state.limiter
    keys = login_keys(request, username)
    wait = limiter.retry_after(keys)
    if wait is not None:
        response = _anonymous_form(
            request,
            "login.html",
            status=429,
            next=_safe_next(next),
            error=f"Too many failed logins; try again in {wait} s.",
        )
        response.headers["Retry-After"] = str(wait)
        return response
    found = store_of(request).login(username, password)
    if found is None:
        limiter.failed(keys)
        return _anonymous_form(
            request,
            "login.html",
            status=401,
            next=_safe_next(next),
            error="Wrong user name or password.",
        )
    limiter.succeeded(keys[0])
    response = redirect(_safe_next(next))
    set_session_cookie(request, response, found[0])
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    require_session(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        store_of(request).logout(token)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/invite/{token}")
def invite_page(request: Request, token: str) -> Response:
    try:
        info = store_of(request).invite_info(token)
    except InputError as exc:
        raise HTTPException(410, str(exc)) from exc
    return _anonymous_form(request, "invite.html", invite=info, token=token, error=None)


@router.post("/invite/{token}")
def accept_invite(
    request: Request,
    token: str,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    reviewer_name: Annotated[str, Form()] = "",
) -> Response:
    store = store_of(request)
    try:
        info = store.invite_info(token)
    except InputError as exc:
        raise HTTPException(410, str(exc)) from exc
    try:
        store.accept_invite(token, username, password, reviewer_name.strip() or None)
    except InputError as exc:
        return _anonymous_form(
            request, "invite.html", status=422, invite=info, token=token, error=str(exc)
        )
    found = store.login(username, password)
    response = redirect(f"/p/{info.project}" if info.project else "/")
    if found is not None:
        set_session_cookie(request, response, found[0])
    return response


@router.get("/")
def home(request: Request) -> Response:
    session = require_session(request)
    store = store_of(request)
    projects = store.user_projects(session.user.id)
    users = store.users() if session.user.admin else []
    return render(request, "home.html", session, projects=projects, users=users, error=None)


@router.post("/projects")
def create_project(
    request: Request,
    name: Annotated[str, Form()],
    reviewer_name: Annotated[str, Form()] = "",
) -> Response:
    session = require_session(request)
    if not session.user.admin:
        raise HTTPException(403, "only administrators create projects.")
    name = name.strip()
    if "/" in name or not name:
        raise InputError(f"name: a project name must be non-empty and without '/'; got {name!r}.")
    store = store_of(request)
    store.create_project(name)
    store.add_member(
        name,
        session.user.username,
        "owner",
        by=session.user.username,
        reviewer_name=reviewer_name.strip() or None,
    )
    return redirect(f"/p/{name}")


@router.post("/users/{username}/deactivate")
def deactivate_user(
    request: Request,
    username: str,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """An administrator deactivates an account: no more logins or votes; its votes stay."""
    session = require_session(request)
    if not session.user.admin:
        raise HTTPException(403, "only administrators deactivate accounts.")
    store_of(request).deactivate_user(username, by=session.user.username, reason=reason)
    return redirect("/")
