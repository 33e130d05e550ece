"""Bundled case studies: published reviews reproduced from their own tables.

The review folders of the repository's ``examples/`` (each a ``protocol.toml`` with its
tables) ship inside the wheel as ``metareview/examples/NAME``, so they are found the same way
in a checkout and after ``pip install metareview``: :func:`example_folder` gives the folder,
``metareview report --example NAME`` runs one and ``metareview example NAME DEST`` copies
one to edit.
"""

from __future__ import annotations

from pathlib import Path as _Path

from metareview.exceptions import InputError as _InputError

__all__ = ["example_folder", "list_examples"]

_PACKAGE = _Path(__file__).resolve().parents[1]


def _examples_root() -> _Path:
    """``metareview/examples`` in an installed wheel, else the checkout's ``examples/``."""
    bundled = _PACKAGE / "examples"
    return bundled if bundled.is_dir() else _PACKAGE.parents[1] / "examples"


def list_examples() -> list[str]:
    """The names of the bundled review folders, sorted.

    Examples
    --------
    >>> list_examples()
    ['bcg-vaccine', 'ketamine-crps', 'ketamine-crps-review', 'stroke-length-of-stay']
    """
    root = _examples_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "protocol.toml").is_file())


def example_folder(name: str) -> _Path:
    """The folder of a bundled review (``protocol.toml`` and its tables).

    Parameters
    ----------
    name : str
        One of :func:`list_examples`, e.g. ``"ketamine-crps"`` (the seed review, Zhao, Wang &
        Wang, 2018, as printed) or ``"bcg-vaccine"`` (Colditz et al., 1994).

    Returns
    -------
    pathlib.Path
        The folder. It may be read-only (inside site-packages): write reports elsewhere, or
        copy the folder first (``metareview example NAME DEST``).

    Raises
    ------
    InputError
        ``name`` is not a bundled example; the message lists those that are.

    Examples
    --------
    >>> (example_folder("ketamine-crps") / "protocol.toml").is_file()
    True
    """
    names = list_examples()
    if name not in names:
        raise _InputError(
            f"example must be one of {', '.join(names) or '(none installed)'}; got {name!r}."
        )
    return _examples_root() / name
