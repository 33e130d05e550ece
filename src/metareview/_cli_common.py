"""What every ``metareview`` command shares: the console and how an error ends a command."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

__all__ = ["console", "fail"]

console = Console()


def fail(error: Exception) -> NoReturn:
    """Print ``error``'s first line as one red line (never read as rich markup, so a message
    with ``[...]`` keeps its text) and exit with code 2, as typer does for usage errors."""
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    raise typer.Exit(code=2)
