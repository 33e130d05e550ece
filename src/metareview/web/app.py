"""The web app for review teams: :func:`create_app` builds it on a store, :func:`serve` runs it.

Pages are rendered on the server (Jinja2, autoescaped) and work without JavaScript; the
project's own ``static/app.js`` adds the screening keys. Every response carries a strict
Content-Security-Policy (scripts and styles from this app only, nothing inline), so even a
hostile title that slipped past escaping could not run. Errors from the store become HTTP
answers: an :class:`~metareview.exceptions.InputError` is 422 (its message is shown), a
:class:`~metareview.exceptions.StoreError` 409.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from metareview.exceptions import InputError, StoreError
from metareview.review import Store
from metareview.stats.agreement import KAPPA_CI_NOTE, kappa_ci_shown
from metareview.web.auth import LoginRequiredError, RateLimiter, csrf_guard
from metareview.web.highlight import highlight

__all__ = ["create_app", "serve"]

HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # invite links carry their token in the path
    "Cache-Control": "no-store",
}
STAGE_LABELS = {"title_abstract": "Title and abstract", "full_text": "Full text"}


class SecurityHeaders:
    """ASGI middleware: ``SECURITY_HEADERS`` on every HTTP response that does not set them.

    A plain ASGI wrapper of ``send`` rather than ``@app.middleware("http")`` (Starlette's
    ``BaseHTTPMiddleware``), which runs every request in an extra task and streams the
    response through a memory channel: about a tenth of the server's CPU per vote request in
    a py-spy profile of ``bench/bench_web.py``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.globals["stage_labels"] = STAGE_LABELS
    env.globals["kappa_ci_shown"] = kappa_ci_shown
    env.globals["kappa_ci_note"] = KAPPA_CI_NOTE
    env.filters["highlight"] = highlight
    env.filters["doi_url"] = lambda doi: "https://doi.org/" + quote(str(doi), safe="/")
    return Jinja2Templates(env=env)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(
    store: Store | str | Path,
    *,
    rate_limiter: RateLimiter | None = None,
    protocols: Mapping[str, str | Path] | None = None,
) -> FastAPI:
    """The FastAPI app serving ``store`` (a :class:`Store`, a URL or a SQLite file path).

    Parameters
    ----------
    store : Store, str or Path
        The review store; opened (and migrated) when given as a URL or path.
    rate_limiter : RateLimiter, optional
        Counts failed logins (default: 5 failures per user name or client address in 15
        minutes, then 429).
    protocols : mapping, optional
        Project name -> its review folder (``protocol.toml``: outcomes and extraction form),
        for the analysis page.

    Examples
    --------
    >>> from metareview.review import Store
    >>> app = create_app(Store.open("sqlite://"))
    >>> sorted(app.openapi()["paths"]["/api/v1/session"])
    ['delete', 'post']
    """
    from metareview.web.routes import (
        allocation,
        analysis,
        api,
        duplicates,
        exports,
        extraction,
        extraction_api,
        files,
        pages,
        project,
        ranking,
        report,
        rob,
        screening,
    )

    app = FastAPI(
        title="metareview",
        version="1",
        description="Blinded screening for review teams. The JSON API under "
        "/api/v1 uses the same accounts, roles and blinding as the "
        "pages: log in with POST /api/v1/session, then send the "
        "returned token as `Authorization: Bearer <token>` (or keep "
        "the cookie and send `X-CSRF-Token` on every POST).",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(csrf_guard)],  # every state-changing route, before it runs
    )
    app.state.store = store if isinstance(store, Store) else Store.open(store)
    app.state.templates = _templates()
    app.state.limiter = rate_limiter or RateLimiter()
    app.state.protocols = {name: Path(folder) for name, folder in (protocols or {}).items()}
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (
        pages,
        project,
        screening,
        duplicates,
        allocation,
        extraction,
        ranking,
        rob,
        analysis,
        api,
        extraction_api,
        files,
        exports,
        report,
    ):
        app.include_router(module.router)

    app.add_middleware(SecurityHeaders)

    def _error(
        request: Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=status, headers=headers)
        return app.state.templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "message": message, "session": None},
            status_code=status,
            headers=headers,
        )

    @app.exception_handler(LoginRequiredError)
    async def _login(request: Request, _exc: LoginRequiredError) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"detail": "log in first: POST /api/v1/session."},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> Response:
        return _error(request, 422, str(exc))

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> Response:
        return _error(request, 409, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return _error(request, 422, f"the request is not valid: {problems}")

    return app


def serve(
    store_url: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    protocols: Mapping[str, str | Path] | None = None,
) -> None:
    """Run the app on ``store_url`` with uvicorn at ``http://host:port`` until stopped
    (``protocols``: project -> review folder, as :func:`create_app`).

    On a store without accounts, prints a one-time link that creates the first account
    (an administrator); there is no default password.
    """
    import uvicorn

    store = Store.open(store_url)
    if not store.has_users():
        token = store.bootstrap_invite()
        shown = "localhost" if host in ("0.0.0.0", "::") else host
        print(
            "No accounts yet. Open this one-time link to create the administrator account:\n"
            f"  http://{shown}:{port}/invite/{token}",
            file=sys.stderr,
            flush=True,
        )
    app = create_app(store, protocols=protocols)
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")
