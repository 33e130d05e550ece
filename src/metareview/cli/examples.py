"""``metareview example``: list the bundled review folders, or copy one to edit and run.

The folders ship inside the package (:mod:`metareview.casestudies`), so a user who only ran
``pip install metareview`` has them; ``metareview report --example NAME`` runs one in place.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from metareview.cli._common import command, console, errors_end_the_command, fail

__all__ = ["example_command", "register"]


def example_command(
    name: Annotated[
        str | None,
        typer.Argument(help="A bundled example (none: list them).", metavar="NAME"),
    ] = None,
    destination: Annotated[
        Path | None,
        typer.Argument(help="Folder to copy it to (default ./NAME).", metavar="DEST"),
    ] = None,
) -> None:
    """List the bundled review folders, or copy one (protocol.toml and tables) to DEST."""
    from metareview.casestudies import example_folder, list_examples

    if name is None:
        for known in list_examples():
            print(known)
        return
    source = example_folder(name)
    target = Path(name) if destination is None else destination
    if target.exists():
        fail(f"DEST {str(target)!r} exists; give a new folder to copy {name!r} to.")
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("out", "__pycache__"))
    console.print(f"copied {name} to {target}; run: metareview report {target}")


def register(app: typer.Typer) -> None:
    """Add the ``example`` command to ``app``."""
    command(app, "example")(errors_end_the_command(example_command))
