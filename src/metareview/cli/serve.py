"""``metareview serve``: the web app on a review store.

The web app (:mod:`metareview.web`) is an optional extra; it is imported only when the command
runs, so the rest of the command line neither needs nor loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from metareview.cli._common import command, errors_end_the_command, fail
from metareview.cli.store import DEFAULT_STORE

__all__ = ["WEB_MISSING", "register", "serve_command"]

#: Printed (exit code 2) when the web app's extra is not installed.
WEB_MISSING = "the web app needs: pip install 'metareview[web]'"
#: Top-level modules whose absence means the ``web`` extra is not installed.
_WEB_MODULES = frozenset(
    {
        "metareview",
        "fastapi",
        "starlette",
        "uvicorn",
        "argon2",
        "multipart",
        "python_multipart",
        "itsdangerous",
    }
)


def serve_command(
    store: Annotated[
        str,
        typer.Option(
            "--store", help="SQLite file or SQLAlchemy URL of the review store.", metavar="URL"
        ),
    ] = DEFAULT_STORE,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on (127.0.0.1: this computer only).", metavar="ADDRESS"
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", metavar="PORT")] = 8000,
    protocol: Annotated[
        list[str] | None,
        typer.Option(
            "--protocol",
            help="A project's review folder (its protocol.toml: outcomes and extraction "
            "form), for the analysis page; repeat for several projects.",
            metavar="PROJECT=FOLDER",
        ),
    ] = None,
) -> None:
    """Serve the web app (screening, extraction, risk of bias, analysis) on a review store."""
    import importlib

    extra = {"protocols": _protocols(protocol)} if protocol else {}
    try:
        web = importlib.import_module("metareview.web")
        web.serve(store, host=host, port=port, **extra)
    except ImportError as error:
        # the web app, or one of its own dependencies, is not installed
        if (error.name or "").split(".")[0] not in _WEB_MODULES:
            raise
        fail(WEB_MISSING)


def _protocols(values: list[str]) -> dict[str, Path]:
    """``PROJECT=FOLDER`` values, each folder checked for its protocol.toml."""
    found = {}
    for value in values:
        project, sep, folder = value.partition("=")
        if not sep or not project or not folder:
            fail(f"--protocol must be PROJECT=FOLDER; got {value!r}.")
        path = Path(folder).expanduser()
        if not (path / "protocol.toml").is_file():
            fail(f"--protocol {value}: {path} has no protocol.toml.")
        found[project] = path
    return found


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    command(app, "serve")(errors_end_the_command(serve_command))
