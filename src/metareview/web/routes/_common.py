"""Helpers shared by the page routes: the store of the app, rendering with the caller's
session, and the redirect after a form (POST, redirect, GET)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from metareview.review import Store
from metareview.review.accounts import SessionInfo


def store_of(request: Request) -> Store:
    """The app's store."""
    return request.app.state.store


def render(
    request: Request, template: str, session: SessionInfo | None, status: int = 200, **context: Any
) -> Response:
    """``template`` rendered with ``session`` (for the menu and the CSRF token)."""
    return request.app.state.templates.TemplateResponse(
        request, template, {"session": session, **context}, status_code=status
    )


def redirect(path: str, **query: Any) -> RedirectResponse:
    """303 See Other to ``path`` with ``query`` (None values left out)."""
    params = {k: v for k, v in query.items() if v not in (None, "")}
    return RedirectResponse(path + ("?" + urlencode(params) if params else ""), status_code=303)
