"""Who is asking, and may they: session cookies, CSRF tokens, the login rate limit and the
role checks every route makes before it calls the store.

- The session cookie (``metareview_session``) is HttpOnly, SameSite=Lax, and Secure when the
  request came over HTTPS; a login always issues a new session id (the store's
  :meth:`~metareview.review.accounts.AccountsMixin.login`), so a session id planted before
  login is worthless (no session fixation).
- Every state-changing request carries a CSRF token: the session's token in a form field
  (``csrf_token``) or, for the JSON API, in the ``X-CSRF-Token`` header. Forms used before
  login (login, invite) use a double-submit token: a random cookie that the form repeats.
  A script may instead send ``Authorization: Bearer <session id>``, which a browser never
  adds to a cross-site request, so it needs no CSRF token. One app-wide dependency,
  :func:`csrf_guard`, checks every request whose method is not GET, HEAD or OPTIONS before
  its route runs, so a route cannot forget it; the one route it lets through without a token
  is listed in ``NO_CSRF`` with its reason.
- Failed logins are counted per user name and per client address in a sliding window;
  past ``MAX_FAILURES`` the login answers 429 with ``Retry-After`` until the window passes.
- Project routes ask :func:`require_member` for the caller's role: not a member -> 404 (a
  project's existence is not disclosed), a member without the role -> 403.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from fastapi import HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from metareview.review import Store
from metareview.review.accounts import ProjectRole, SessionInfo

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "Caller",
    "LoginRequiredError",
    "RateLimiter",
    "check_csrf",
    "check_pre_csrf",
    "csrf_guard",
    "current_session",
    "pre_csrf_token",
    "require_member",
    "require_session",
    "set_session_cookie",
]

SESSION_COOKIE = "metareview_session"
CSRF_COOKIE = "metareview_csrf"  # the double-submit token of the forms used before login
MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


class LoginRequiredError(Exception):
    """Raised by routes that need a login; pages redirect to /login, the API answers 401."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The logged-in caller of a project route: their session and their role there."""

    session: SessionInfo
    role: ProjectRole
    bearer: bool  # authenticated by an Authorization header, not by the cookie

    @property
    def reviewer(self) -> str | None:
        """The reviewer name they screen under (None for a viewer)."""
        return self.role.reviewer


def _token(request: Request) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), True
    return request.cookies.get(SESSION_COOKIE), False


def current_session(request: Request) -> SessionInfo | None:
    """The session of the request (cookie or bearer token), or None."""
    store: Store = request.app.state.store
    token, _bearer = _token(request)
    return store.session_user(token)


def require_session(request: Request) -> SessionInfo:
    """The session of the request; :class:`LoginRequiredError` when there is none."""
    found = current_session(request)
    if found is None:
        raise LoginRequiredError
    return found


def require_member(request: Request, project: str, roles: tuple[str, ...]) -> Caller:
    """The caller, if a member of ``project`` with one of ``roles``; else 401/404/403."""
    store: Store = request.app.state.store
    token, bearer = _token(request)
    session, role = store.session_role(token, project)
    if session is None:
        raise LoginRequiredError
    if role is None:
        raise HTTPException(404, f"project {project!r} not found (or you are not a member).")
    if role.role not in roles:
        raise HTTPException(
            403, f"your role in {project!r} is {role.role}; this needs {' or '.join(roles)}."
        )
    return Caller(session=session, role=role, bearer=bearer)


def check_csrf(request: Request, session: SessionInfo, submitted: str | None) -> None:
    """403 unless ``submitted`` (form field or X-CSRF-Token header) is the session's token,
    or the request authenticated with a bearer token."""
    if _token(request)[1]:
        return
    given = submitted or request.headers.get("x-csrf-token") or ""
    if not secrets.compare_digest(given.encode(), session.csrf_token.encode()):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again.")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# forms shown before login: their token is the double-submit cookie's
PRE_LOGIN_FORMS = frozenset({("POST", "/login"), ("POST", "/invite/{token}")})
# state-changing routes without a CSRF token, and why none is needed
NO_CSRF = {
    ("POST", "/api/v1/session"): "a login with a JSON body (application/json only), which "
    "no cross-site form can send and no cross-site script may without a CORS grant"
}


async def csrf_guard(request: Request) -> None:
    """The app-wide CSRF check (see the module docstring): 403 for a state-changing request
    without the right token, :class:`LoginRequiredError` for one without a session."""
    if request.method in SAFE_METHODS:
        return
    route = request.scope.get("route")
    key = (request.method, getattr(route, "path", request.url.path))
    if key in NO_CSRF:
        return
    submitted = None
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get("csrf_token")  # parsed once, kept by the request
        submitted = field if isinstance(field, str) else None
    if key in PRE_LOGIN_FORMS:
        check_pre_csrf(request, submitted)
        return
    if _token(request)[1]:
        return
    session = await run_in_threadpool(current_session, request)  # a query: off the loop
    if session is None:
        raise LoginRequiredError
    check_csrf(request, session, submitted)


def pre_csrf_token(request: Request) -> str:
    """The double-submit token of a form shown before login (kept in the cookie)."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)


def set_pre_csrf_cookie(request: Request, response: Response, token: str) -> None:
    """Send the pre-login CSRF cookie (HttpOnly: the form carries its copy)."""
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def check_pre_csrf(request: Request, submitted: str | None) -> None:
    """403 unless the form's token equals the pre-login CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    if not cookie or not secrets.compare_digest((submitted or "").encode(), cookie.encode()):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again.")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """Send the session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
        max_age=7 * 24 * 3600,
    )


class RateLimiter:
    """Failed logins per key in a sliding window (thread-safe, in this process's memory).

    A key (``"user:<name>"`` or ``"ip:<address>"``) is blocked once it has ``max_failures``
    failures within ``window`` seconds; a successful login clears the user's count.
    """

    def __init__(
        self, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS, clock=time.monotonic
    ) -> None:
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def retry_after(self, keys: list[str]) -> int | None:
        """Seconds until the first blocked key is free again, or None when none is blocked."""
        now = self.clock()
        with self._lock:
            waits = [
                self.window - (now - t[0])
                for k in keys
                if len(t := self._trim(k, now)) >= self.max_failures
            ]
        return max(1, int(max(waits)) + 1) if waits else None

    def failed(self, keys: list[str]) -> None:
        """Count one failure against each key."""
        now = self.clock()
        with self._lock:
            for key in keys:
                self._trim(key, now).append(now)

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key``."""
        with self._lock:
            self._failures.pop(key, None)


def login_keys(request: Request, username: str) -> list[str]:
    """The rate-limit keys of a login attempt: the user name and the client address."""
    host = request.client.host if request.client else "unknown"
    return [f"user:{username.strip().lower()}", f"ip:{host}"]
