"""The ``metareview`` command line: a thin shell over the library.

- :mod:`~metareview.cli.stats`: ``rma``, ``bias``, ``forest``, ``funnel``, ``leave1out``,
  ``influence``, ``gosh``, ``permutest``, ``batch``, ``escalc``, ``seed``, ``report``;
- :mod:`~metareview.cli.store`: ``store ...`` (the review store);
- :mod:`~metareview.cli.screen`: ``screen`` (the blinded screener, ``--ranked``) and
  ``stop-screening`` (end screening by a stopping rule);
- :mod:`~metareview.cli.simulate`: ``simulate-screening`` (replay a labelled data set);
- :mod:`~metareview.cli.serve`: ``serve`` (the web app);
- :mod:`~metareview.cli.mv`: ``rma-mv`` (multilevel / multivariate models), ``nma`` (network
  meta-analysis);
- :mod:`~metareview.cli.examples`: ``example`` (the bundled review folders).

Every command exits with code 0 on success and 2 on an error (one red line naming the
command's own flags, never a traceback), as typer does for usage errors. Nothing heavy is
imported before a command runs, so ``metareview --help`` starts fast.
"""

from __future__ import annotations

import copy as _copy
import gc as _gc
import sys as _sys
from typing import Annotated as _Annotated

import typer

from metareview.cli import examples, mv, screen, serve, simulate, stats, store
from metareview.cli._common import new_app as _new_app
from metareview.cli._common import pause_collector as _pause_collector

__all__ = ["app", "asked_for", "main"]

app = _new_app("metareview: systematic review and meta-analysis, from data to report.")


def _print_version(value: bool) -> None:
    if value:
        from metareview._version import __version__

        print(f"metareview {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: _Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """metareview: systematic review and meta-analysis, from data to report."""


stats.register(app)
store.register(app)
screen.register(app)
simulate.register(app)
serve.register(app)
mv.register(app)
examples.register(app)


def asked_for(args: list[str]) -> typer.Typer:
    """``app`` holding only the command or group that ``args`` (the command line after
    ``metareview``) starts with, or ``app`` itself when they start with anything else (an
    option, ``--help``, a misspelt command, which typer matches against all of them).

    typer builds the click command of every registered command each time the app runs
    (~0.02 s for the 38 of metareview); the one asked for parses, helps and fails alike
    alone (issue 21.19).
    """
    name = args[0] if args else None
    commands = [info for info in app.registered_commands if info.name == name]
    groups = [info for info in app.registered_groups if info.name == name]
    if not commands and not groups:
        return app
    asked = _copy.copy(app)
    asked.registered_commands, asked.registered_groups = commands, groups
    return asked


def main() -> None:
    """Entry point of the ``metareview`` console script.

    The cyclic garbage collector is paused while the command starts (see
    :func:`metareview.cli._common.pause_collector`). When the command is done, every object
    still alive is frozen (:func:`gc.freeze`) before the interpreter exits: its shutdown would
    otherwise run the collector over all of them -- the ORM's mappings, numpy, the modules --
    for memory the operating system takes back anyway (~0.2 s of a 0.7 s store command,
    ~0.06 s of ``rma``; issue 21.19).
    Files, database connections and ``atexit`` handlers are closed as before: a command
    closes what it opens, and exit handlers do not depend on the collector.
    """
    _pause_collector()  # until the command runs
    try:
        asked_for(_sys.argv[1:])()
    finally:
        _gc.freeze()
